"""The live terminal read-out: one line per indicator record."""

from __future__ import annotations

import time
from typing import TextIO

from vagus.signal import Indicators

__all__ = ["LiveView", "format_record"]


def _num(value: float | None, spec: str) -> str:
    return "  –  " if value is None else format(value, spec)


def format_record(device_id: str, record: Indicators, *, nominal_window_s: float) -> str:
    """``2026-11-26 14:02:05  sim-strap-1  HR  62.1 bpm  RMSSD  41.2 ms  SDNN  55.0 ms  q 1.00``."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.t_end_utc_s))
    line = (
        f"{stamp}  {device_id}  HR {_num(record.hr_bpm, '5.1f')} bpm  "
        f"RMSSD {_num(record.rmssd_ms, '5.1f')} ms  SDNN {_num(record.sdnn_ms, '5.1f')} ms  "
        f"q {record.quality:.2f}"
    )
    if record.window_s < nominal_window_s - 1e-6:
        line += f"  (warming up {record.window_s:.0f}/{nominal_window_s:.0f} s)"
    return line


class LiveView:
    def __init__(self, stream: TextIO, *, nominal_window_s: float) -> None:
        self._stream = stream
        self._window_s = nominal_window_s

    def show(self, device_id: str, record: Indicators) -> None:
        self._stream.write(format_record(device_id, record, nominal_window_s=self._window_s) + "\n")
        self._stream.flush()
