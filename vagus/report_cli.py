"""``vagus report``: write the HTML report of a day or a night (vagus.report), or print the nudge report.

    vagus report [--day YYYY-MM-DD | --night [YYYY-MM-DD]] [--out FILE] [--config PATH]
    vagus report --nudges [--days N] [--config PATH]

The store is the configured one (``[store] path``, ``vagus.config.load_config``). Without ``--day`` or
``--night`` the newest day in the store is reported. Times are shown in this computer's time zone
(its UTC offset at noon of the reported day) unless ``--utc-offset`` says otherwise. Exit status: 0
written, 1 no store or nothing to report, 2 a usage error.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

from vagus.errors import ConfigError, StoreError

__all__ = ["add_report_parser", "local_utc_offset_min", "main", "run_report"]


_NEWEST = date.max  # `--night` without a date (not a string, so argparse passes it through unconverted)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (expected YYYY-MM-DD)") from None


def add_report_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "report",
        help="write a self-contained HTML report of a day or a night from the local store",
        description="Write one HTML file (no scripts, nothing fetched) with the panels of the Today and Nights "
        "dashboards: stress by level, heart rate, RMSSD, breathing rate, nudges and check-ins, and sleep. "
        "A wellness indicator, not a diagnosis. With --nudges, print the nudge report instead. "
        "Exit status: 0 done, 1 no store or nothing to report, 2 usage error. See docs/report.md.",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--day", type=_iso_date, metavar="YYYY-MM-DD", help="the day to report (default: newest)")
    which.add_argument(
        "--night",
        type=_iso_date,
        nargs="?",
        const=_NEWEST,
        metavar="YYYY-MM-DD",
        help="the night that starts on the evening of this date (no date: the newest night)",
    )
    which.add_argument("--nudges", action="store_true", help="print the nudge report (text) instead")
    p.add_argument("--days", type=int, default=7, metavar="N", help="with --nudges: days to cover (default 7)")
    p.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="where to write the HTML ('-': standard output; default: "
        "vagus-day-DATE.html or vagus-night-DATE.html here)",
    )
    p.add_argument(
        "--utc-offset", type=int, metavar="MIN", help="local time minus UTC in minutes (default: this computer's)"
    )
    p.add_argument("--device", metavar="ID", help="the device to draw (default: the one with the most minutes)")
    p.add_argument("--config", type=Path, metavar="PATH", help="config file (default: $VAGUS_CONFIG, else the XDG one)")
    p.set_defaults(func=_cmd_report)


def local_utc_offset_min(day: date | None) -> int:
    """This computer's UTC offset in minutes at noon of ``day`` (now, without one)."""
    moment = datetime.now() if day is None else datetime(day.year, day.month, day.day, 12)
    offset = moment.astimezone().utcoffset()
    return 0 if offset is None else round(offset.total_seconds() / 60)


def _nudge_report(store_path: Path, days: int, out: TextIO) -> int:
    if importlib.util.find_spec("vagus.report_nudges") is None:
        print("vagus: this vagus has no nudge report yet (vagus.report_nudges is not installed)", file=sys.stderr)
        return 1
    if days < 1:
        raise ConfigError(f"--days must be ≥ 1, got {days}")
    from vagus.edge import Store

    render = importlib.import_module("vagus.report_nudges").render_nudge_report
    with Store(store_path) as store:
        out.write(render(store, days=days))
    return 0


def run_report(
    store_path: Path,
    *,
    day: date | None = None,
    night: bool = False,
    out_path: Path | None = None,
    utc_offset_min: int | None = None,
    device_id: str | None = None,
    support: Sequence[tuple[str, str]] | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Write the report; say where on stderr (the HTML itself goes to ``out`` when ``out_path`` is '-')."""
    from vagus.report import build_report, latest_day

    if day is None:
        offset = local_utc_offset_min(None) if utc_offset_min is None else utc_offset_min
        try:
            day = latest_day(store_path, night=night, utc_offset_min=offset)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        if day is None:
            what = "nights" if night else "readings"
            raise StoreError(f"the local store {store_path} holds no {what} yet; run the agent first (`vagus run`)")
    offset = local_utc_offset_min(day) if utc_offset_min is None else utc_offset_min
    try:
        page = build_report(
            store_path, day=day, night=night, utc_offset_min=offset, device_id=device_id, support=support
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if out_path is not None and str(out_path) == "-":
        out.write(page)
        return 0
    target = out_path or Path(f"vagus-{'night' if night else 'day'}-{day.isoformat()}.html")
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the report to {target}: {exc}") from exc
    print(f"vagus: wrote {target} ({len(page.encode()) // 1024} KB)", file=sys.stderr)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from vagus.config import load_config

    config = load_config(args.config)
    store_path = Path(config.store.path)
    safety = config.safety
    support = [(r.name, r.how()) for r in safety.resources] if safety.enabled else None
    if args.nudges:
        return _nudge_report(store_path, args.days, sys.stdout)
    return run_report(
        store_path,
        day=args.day if args.night in (None, _NEWEST) else args.night,
        night=args.night is not None,
        out_path=args.out,
        utc_offset_min=args.utc_offset,
        device_id=args.device,
        support=support,
    )


def main(argv: list[str] | None = None) -> int:
    """``vagus report`` on its own (tests, or before it is wired into ``vagus``)."""
    from vagus.command import run_verb

    return run_verb("report", add_report_parser, argv)
