"""``vagus scan``: list the wearables advertising nearby, with their signal strength and what vagus can read.

Only this command's verb imports bleak (through :mod:`vagus.edge.ble_transport`), so the rest of
the CLI starts without it.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from typing import TextIO

__all__ = ["add_scan_parser", "format_results", "run_scan"]

# What each recognised profile gives vagus, for the listing's legend.
_PROFILE_NOTES = {
    "heart_rate": "Heart Rate Service 0x180D (HR and RR intervals)",
    "polar_pmd": "Polar Measurement Data (ECG, PPI, accelerometer)",
    "colmi_ring": "Colmi ring UART (HR, HR log, battery)",
}


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 < value <= 300 or math.isnan(value):
        raise argparse.ArgumentTypeError(f"expected 0 < seconds ≤ 300, got {text!r}")
    return value


def add_scan_parser(commands: argparse._SubParsersAction) -> None:
    scan = commands.add_parser(
        "scan",
        help="list nearby BLE wearables (name, address, RSSI, supported profiles)",
        description="Scan for wearables advertising the Heart Rate Service (0x180D), Polar Measurement Data "
        "or the Colmi ring UART service, and list them strongest first. A device that is connected to a "
        "phone usually stops advertising: disconnect it there first. See docs/edge-ble.md.",
    )
    scan.add_argument("--timeout", type=_timeout, default=5.0, metavar="S", help="scan for S seconds (default 5)")
    scan.add_argument("--adapter", metavar="HCI", help="Bluetooth adapter to scan with, e.g. hci0 (default: BlueZ's)")
    scan.set_defaults(func=_cmd_scan)


def format_results(results: list, timeout_s: float) -> str:  # list[ScanResult]
    """The listing: one line per wearable (address, RSSI dBm, name, profiles), or why there is none."""
    if not results:
        return (
            f"no wearable heard in {timeout_s:g} s. Is it worn (many straps sleep without skin contact), "
            "in range, and not connected to a phone or another app?\n"
        )
    rows = [("ADDRESS", "RSSI", "NAME", "PROFILES")]
    rows += [(r.address, f"{r.rssi_dbm}", r.name or "(no name)", ", ".join(r.profiles)) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:<{widths[2]}}  {d}".rstrip() for a, b, c, d in rows]
    seen = sorted({p for r in results for p in r.profiles}, key=list(_PROFILE_NOTES).index)
    lines += ["", *(f"{p}: {_PROFILE_NOTES[p]}" for p in seen)]
    return "\n".join(lines) + "\n"


def run_scan(timeout_s: float, adapter: str | None, *, out: TextIO, err: TextIO) -> int:
    from vagus.edge.ble_transport import BleUnavailableError, check_adapter, scan

    try:
        check_adapter(adapter)
    except ValueError as exc:
        print(f"vagus: error: {exc}", file=err)
        return 2
    try:
        results = asyncio.run(scan(timeout_s, adapter=adapter))
    except BleUnavailableError as exc:
        print(f"vagus: error: Bluetooth is not available: {exc}", file=err)
        return 1
    out.write(format_results(results, timeout_s))
    return 0


def _cmd_scan(args: argparse.Namespace) -> int:
    return run_scan(args.timeout, args.adapter, out=sys.stdout, err=sys.stderr)
