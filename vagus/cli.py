"""The ``vagus`` command.

vagus is a wellness self-monitoring tool, not a medical device: its readings and scores are
not a diagnosis.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import sys
from pathlib import Path

from vagus import __version__
from vagus.errors import ConfigError

__all__ = ["main"]

DISCLAIMER = "vagus is a wellness self-monitoring tool, not a medical device; its readings are not a diagnosis."


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or math.isnan(value):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vagus",
        description="Self-hosted stress and sleep monitoring from BLE wearables. " + DISCLAIMER,
    )
    parser.add_argument("--version", action="version", version=f"vagus {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run the edge agent and show live HR and RMSSD",
        description="Run the edge agent: read beats, compute indicators, store them locally and show "
        "them live. Stops on Ctrl-C, SIGTERM or after --duration. " + DISCLAIMER,
    )
    run.add_argument(
        "--sim", action="store_true", help="read simulated wearables (a scenario, sim.scenario) instead of BLE ones"
    )
    run.add_argument(
        "--scenario", metavar="NAME|FILE", help="with --sim: a built-in scenario (vagus sim scenarios) or a TOML file"
    )
    run.add_argument("--people", type=int, metavar="N", help="with --sim: simulate N people wearing the devices")
    run.add_argument("--replay", type=Path, metavar="CAPTURE", help="replay a capture (vagus sim capture) instead")
    run.add_argument(
        "--duration", type=_positive_float, metavar="SECONDS", help="stop after this many wall-clock seconds"
    )
    run.add_argument(
        "--speed",
        type=_positive_float,
        default=1.0,
        metavar="N",
        help="with --sim: simulated time runs N times faster than the wall clock (default 1; inf: flat out)",
    )
    run.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="config file (default: $XDG_CONFIG_HOME/vagus/config.toml)",
    )
    run.add_argument("--db", type=Path, metavar="PATH", help="local store (overrides store.path)")
    run.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="with --sim: seed of the simulated people and devices (overrides sim.seed)",
    )
    run.add_argument("--quiet", action="store_true", help="do not print live lines")
    run.add_argument(
        "--health-file",
        type=Path,
        metavar="PATH",
        help="touch PATH while indicator records flow (for a container healthcheck: python -m vagus.heartbeat)",
    )
    run.set_defaults(func=_cmd_run)

    analyze = commands.add_parser(
        "analyze",
        help="HRV of a recorded RR file (one RR in ms per line, CSV with a header, Polar .hrm)",
        description="Compute HRV indices of a recorded RR file, whole or in sliding windows. " + DISCLAIMER,
    )
    analyze.add_argument("file", type=Path, metavar="FILE")
    analyze.add_argument("--format", choices=("lines", "csv", "hrm"), help="file format (default: detected)")
    analyze.add_argument("--strict", action="store_true", help="reject values <= 0 instead of dropping them")
    analyze.add_argument("--window", type=_positive_float, metavar="SECONDS", help="sliding window length")
    analyze.add_argument("--step", type=_positive_float, metavar="SECONDS", help="sliding window step")
    analyze.add_argument("--json", action="store_true", help="print JSON")
    analyze.add_argument(
        "--correction",
        choices=("none", "lipponen2019", "malik"),
        default="none",
        help="artifact correction before analysis (default: none)",
    )
    analyze.add_argument(
        "--preset",
        choices=("vagus", "neurokit2", "pyhrv", "hrv"),
        default="vagus",
        help="conventions of a library, to compare with its published numbers (default: vagus)",
    )
    analyze.set_defaults(func=_cmd_analyze)

    bridge = commands.add_parser(
        "bridge",
        help="run the MQTT → InfluxDB bridge (server side)",
        description="Write the agents' summaries from MQTT into InfluxDB and confirm them; see docs/sync.md.",
    )
    bridge.add_argument("--config", type=Path, metavar="PATH", help="the bridge's config file (TOML)")
    bridge.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    bridge.add_argument(
        "--health-file", type=Path, metavar="PATH", help="touch PATH while connected (for a container healthcheck)"
    )
    bridge.set_defaults(func=_cmd_bridge)

    # Each command's module adds its parser (argparse only): what a verb needs loads when it runs.
    from vagus import (
        breathe_cli,
        checkin_cli,
        decode_cli,
        doctor_cli,
        erase_cli,
        export_cli,
        init_cli,
        report_cli,
        scan_cli,
        sim_cli,
    )

    sim_cli.add_sim_parser(commands)
    decode_cli.add_decode_parser(commands)
    scan_cli.add_scan_parser(commands)
    doctor_cli.add_doctor_parser(commands)
    breathe_cli.add_breathe_parser(commands)
    checkin_cli.add_checkin_parser(commands)
    report_cli.add_report_parser(commands)
    export_cli.add_export_parser(commands)
    erase_cli.add_erase_parser(commands)
    init_cli.add_init_parser(commands)
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from vagus.run import RunOptions, run_agent  # the agent's imports load only for this command

    if args.sim and args.replay is not None:
        raise ConfigError("--sim and --replay exclude each other")
    ble = not args.sim and args.replay is None  # the config's [[devices]], over Bluetooth
    if ble:
        given = [
            flag
            for flag, value in (("--scenario", args.scenario), ("--people", args.people), ("--seed", args.seed))
            if value is not None
        ]
        if given or args.speed != 1.0:
            raise ConfigError(f"{(given or ['--speed'])[0]} applies to simulated wearables: add --sim")
    if args.seed is not None and args.seed < 0:
        raise ConfigError(f"--seed: expected a whole number >= 0, got {args.seed}")
    if args.people is not None and not 1 <= args.people <= 100:
        raise ConfigError(f"--people: expected 1–100, got {args.people}")
    options = RunOptions(
        config_path=args.config,
        db_path=args.db,
        duration_s=args.duration,
        speed=args.speed,
        seed=args.seed,
        quiet=args.quiet,
        scenario=args.scenario,
        people=args.people,
        replay=args.replay,
        ble=ble,
        health_file=args.health_file,
    )
    return asyncio.run(run_agent(options, out=sys.stdout, stop_signals=(signal.SIGINT, signal.SIGTERM)))


def _cmd_analyze(args: argparse.Namespace) -> int:
    from vagus.analyze import AnalyzeOptions, run_analyze

    return run_analyze(
        AnalyzeOptions(
            path=args.file,
            fmt=args.format,
            strict=args.strict,
            window_s=args.window,
            step_s=args.step,
            as_json=args.json,
            correction=args.correction,
            preset=args.preset,
        )
    )


def _cmd_bridge(args: argparse.Namespace) -> int:
    from vagus.sync.bridge import main as bridge_main  # paho and influxdb-client load only here

    return bridge_main(
        [
            *(["--config", str(args.config)] if args.config else []),
            *(["--health-file", str(args.health_file)] if args.health_file else []),
            *("--log-level", args.log_level),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    from vagus.command import finish

    args = build_parser().parse_args(argv)
    return finish(lambda: args.func(args))
