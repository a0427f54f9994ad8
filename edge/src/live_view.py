"""The live terminal read-out: one line per indicator record."""

from __future__ import annotations

import time
from typing import TextIO

from vagus.signal import Indicators

__all__ = ["LiveView", "format_record"]


def _num(value: float | None, spec: str) -> str:
    return "–".rjust(len(format(0.0, spec))) if value is None else format(value, spec)


def format_record(device_id: str, record: Indicators) -> str:
    """One line: ``2026-11-26 14:02:05  strap   60 s  HR  62.1 bpm  RMSSD  41.2 ms  SDNN  55.0 ms  q 1.00``
    then ``breathing 14.8/min  stress  31 low`` for a 60-s window.

    Records of windows of 2 minutes and more show LF/HF, which shorter windows cannot support, instead
    of the breathing rate; the stress score (a wellness indicator, not a diagnosis) or why it is
    withheld follows when the agent computed one.
    """
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.t_end_utc_s))
    line = (
        f"{stamp}  {device_id}  {record.window_nominal_s:4.0f} s  HR {_num(record.hr_bpm, '5.1f')} bpm  "
        f"RMSSD {_num(record.rmssd_ms, '5.1f')} ms  SDNN {_num(record.sdnn_ms, '5.1f')} ms  "
        f"q {record.quality:.2f}"
    )
    if record.window_nominal_s >= 120:
        line += f"  LF/HF {_num(record.lf_hf, '4.2f')}"
    else:
        line += f"  breathing {_num(record.breathing_rate_brpm, '4.1f')}/min"
    if record.stress_score is not None:
        line += f"  stress {record.stress_score:3.0f} {record.stress_level}"
    elif record.gate_reason is not None:
        line += f"  stress – ({record.gate_reason.replace('_', ' ')})"
    if record.window_s < record.window_nominal_s - 1e-6:
        line += f"  (warming up {record.window_s:.0f}/{record.window_nominal_s:.0f} s)"
    return line


class LiveView:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def show(self, device_id: str, record: Indicators) -> None:
        self._stream.write(format_record(device_id, record) + "\n")
        self._stream.flush()
