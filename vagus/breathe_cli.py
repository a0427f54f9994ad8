"""``vagus breathe``'s parser; the exercise itself is :mod:`vagus.breathe` (loaded when it runs, so
``vagus --help`` stays free of numpy and the agent)."""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["add_breathe_parser", "main"]


def _rate_arg(text: str) -> float | None:
    if text == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    from vagus.edge.pacer import RATE_RANGE_BRPM

    lo, hi = RATE_RANGE_BRPM
    if not lo <= value <= hi:
        raise argparse.ArgumentTypeError(f"expected breaths per minute in {lo:g}–{hi:g}, or 'auto', got {text!r}")
    return value


def add_breathe_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "breathe",
        help="a guided slow-breathing exercise (6/min) with live RMSSD and 0.1-Hz power",
        description="Breathe with a bar that fills as you breathe in and empties as you breathe out, about 6 "
        "breaths a minute by default. With a wearable (or a simulated one, --sim) it shows your RMSSD and the "
        "0.1-Hz power of your heart rhythm, which rises as breathing and heartbeat fall into resonance. The "
        "exercise is recorded in the local store. Wellness self-monitoring, not a medical device.",
    )
    p.add_argument(
        "--rate", type=_rate_arg, default="6", metavar="BRPM",
        help="breaths per minute (default 6), or 'auto': your resonance rate from past exercises",
    )  # fmt: skip
    p.add_argument("--minutes", type=float, default=2.0, help="length of the paced part (default 2, 1–30)")
    p.add_argument(
        "--ratio", type=float, default=0.4, metavar="SHARE",
        help="share of each breath spent breathing in (default 0.4: in 4 s, out 6 s at 6/min)",
    )  # fmt: skip
    source = p.add_mutually_exclusive_group()
    source.add_argument("--sim", action="store_true", help="a simulated chest strap (default with no wearable set up)")
    source.add_argument("--config", type=Path, metavar="PATH", help="config file with your [[devices]]")
    p.add_argument("--db", type=Path, metavar="PATH", help="the local store (default: the config's)")
    p.add_argument("--nudge", metavar="ID", help="the id of the nudge this exercise answers")
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    p.add_argument("--speed", type=float, default=1.0, help=argparse.SUPPRESS)  # simulated clock, for tests
    p.set_defaults(func=_cmd_breathe)


def _cmd_breathe(args: argparse.Namespace) -> int:
    from vagus.breathe import BreatheOptions, run_breathe

    options = BreatheOptions(
        rate_brpm=args.rate,
        minutes=args.minutes,
        inhale_share=args.ratio,
        sim=args.sim,
        config_path=args.config,
        db_path=args.db,
        speed=args.speed,
        seed=args.seed,
        nudge_id=args.nudge,
    )
    return asyncio.run(run_breathe(options, out=sys.stdout, stop_signals=(signal.SIGINT, signal.SIGTERM)))


def main(argv: Sequence[str] | None = None) -> int:
    """``vagus breathe`` on its own (tests, and ``python -m vagus.breathe_cli``)."""
    from vagus.command import run_verb

    return run_verb("breathe", add_breathe_parser, argv)


if __name__ == "__main__":
    sys.exit(main())
