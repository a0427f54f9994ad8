"""``vagus checkin``: answer a nudge, or report how you feel, from the terminal.

Stores the answer in the local store with the indicators of that moment (``vagus.edge.checkins``),
then applies the safety rule (``vagus.edge.safety``, docs/safety.md): when the person's own check-ins
call for it, the support resources are printed. Nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from vagus.errors import ConfigError

__all__ = ["add_checkin_parser", "main", "run_checkin"]

ANSWERS = ("stressed", "not_stressed", "need_help", "snooze")
_SAID = {
    "stressed": "stressed",
    "not_stressed": "not stressed",
    "need_help": "you could use some help",
    "snooze": "snooze",
}


def _stress_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 5:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 (calm) to 5 (very stressed), got {text!r}")
    return value


def _minutes_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1440:
        raise argparse.ArgumentTypeError(f"expected minutes > 0 and at most 1440 (a day), got {text!r}")
    return value


def add_checkin_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "checkin",
        help="answer a nudge or say how you feel (stressed, not_stressed, need_help, snooze)",
        description="Store your answer in the local store, with your body's indicators at that moment, so you can "
        "see your triggers and patterns and how well the stress score matches how you feel. `snooze` pauses "
        "nudges (default 60 minutes). If your own check-ins show persistent stress, or you answer need_help, "
        "vagus shows the support contacts from your config ([[safety.resources]], docs/safety.md), at most "
        "once a day. Nothing is sent anywhere.",
    )
    p.add_argument("answer", choices=ANSWERS, metavar="ANSWER", help="one of: " + ", ".join(ANSWERS))
    p.add_argument("--minutes", type=_minutes_arg, metavar="N", help="with snooze: how long (default 60)")
    p.add_argument("--stress", type=_stress_arg, metavar="1-5", help="how stressed you feel, 1 (calm) to 5")
    p.add_argument("--nudge", metavar="ID", help="the id of the nudge you are answering")
    p.add_argument("--config", type=Path, metavar="PATH", help="config file (default: $VAGUS_CONFIG or ~/.config)")
    p.set_defaults(func=_cmd_checkin)


def _cmd_checkin(args: argparse.Namespace) -> int:
    return run_checkin(args)


def run_checkin(
    args: argparse.Namespace,
    *,
    now_utc_s: Callable[[], float] = time.time,
    out: TextIO | None = None,
) -> int:
    """Store the check-in of ``args`` and print what happened (and the safety message, if due)."""
    from vagus.config import load_config
    from vagus.edge.checkins import record_checkin
    from vagus.edge.safety import check_safety
    from vagus.edge.store import Store

    out = out or sys.stdout
    if args.minutes is not None and args.answer != "snooze":
        raise ConfigError("--minutes goes with snooze only")
    config = load_config(args.config)
    safety = config.safety
    now = now_utc_s()
    with Store(config.store.path) as store:
        try:
            checkin = record_checkin(
                store,
                args.answer,
                now,
                source="cli",
                self_stress_1to5=args.stress,
                nudge_id=args.nudge,
                snooze_minutes=args.minutes,
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        message = check_safety(store, now, safety)
    print(_confirmation(checkin), file=out)
    if message is not None:
        print("", file=out)
        print(message.render(), file=out)
    return 0


def _confirmation(checkin: Any) -> str:
    at = datetime.fromtimestamp(checkin.t_utc_s).strftime("%H:%M")
    if checkin.answer == "snooze":
        until = datetime.fromtimestamp(checkin.t_utc_s + 60 * checkin.snooze_minutes).strftime("%H:%M")
        head = f"Noted at {at}: nudges are snoozed until {until}."
    else:
        rating = f", {checkin.self_stress_1to5}/5" if checkin.self_stress_1to5 is not None else ""
        head = f"Noted at {at}: {_SAID[checkin.answer]}{rating}."
    if checkin.stress_score is None and checkin.rmssd_ms is None:
        return head + " (No indicators from the last 5 minutes to keep with it.)"
    parts = []
    if checkin.stress_score is not None:
        parts.append(f"stress score {checkin.stress_score:.0f}")
    if checkin.rmssd_ms is not None:
        parts.append(f"RMSSD {checkin.rmssd_ms:.0f} ms")
    if checkin.hr_bpm is not None:
        parts.append(f"HR {checkin.hr_bpm:.0f} bpm")
    return head + " Kept with that moment's " + ", ".join(parts) + "."


def main(argv: Sequence[str] | None = None) -> int:
    """``vagus checkin`` on its own (tests, and ``python -m vagus.checkin_cli``)."""
    from vagus.command import run_verb

    return run_verb("checkin", add_checkin_parser, argv)


if __name__ == "__main__":
    sys.exit(main())
