"""The live terminal read-out: one line per indicator record, and one per change of a device's link."""

from __future__ import annotations

import time
from typing import TextIO

from vagus.signal import Indicators

from .link_state import LinkEvent

__all__ = ["LiveView", "format_link_event", "format_record"]


def _num(value: float | None, spec: str) -> str:
    return "–".rjust(len(format(0.0, spec))) if value is None else format(value, spec)


def _stamp(t_utc_s: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t_utc_s))


def format_record(device_id: str, record: Indicators, *, battery_pct: int | None = None) -> str:
    """One line: ``2026-11-26 14:02:05  strap   60 s  HR  62.1 bpm  RMSSD  41.2 ms  SDNN  55.0 ms  q 1.00``
    then ``breathing 14.8/min  stress  31 low`` for a 60-s window, and ``battery 87 %`` once read.

    Records of windows of 2 minutes and more show LF/HF, which shorter windows cannot support, instead
    of the breathing rate; the stress score (a wellness indicator, not a diagnosis) or why it is
    withheld follows when the agent computed one.
    """
    line = (
        f"{_stamp(record.t_end_utc_s)}  {device_id}  {record.window_nominal_s:4.0f} s  "
        f"HR {_num(record.hr_bpm, '5.1f')} bpm  "
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
    if battery_pct is not None:
        line += f"  battery {battery_pct} %"
    return line


def format_link_event(event: LinkEvent) -> str:
    """``2026-11-26 14:02:05  strap  link backoff (connect failed: TimeoutError), retry in 4.2 s``."""
    line = f"{_stamp(event.t_utc_s)}  {event.device_id}  link {event.state.value}"
    if event.reason:
        line += f" ({event.reason})"
    if event.retry_in_s is not None:
        line += f", retry in {event.retry_in_s:.1f} s"
    return line


class LiveView:
    """Writes records and link changes to a terminal; remembers each device's latest battery level."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.battery_pct: dict[str, int] = {}

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()

    def show(self, device_id: str, record: Indicators) -> None:
        self._write(format_record(device_id, record, battery_pct=self.battery_pct.get(device_id)))

    def show_link_event(self, event: LinkEvent) -> None:
        self._write(format_link_event(event))

    def show_battery(self, device_id: str, t_utc_s: float, level_pct: int) -> None:
        """A new battery reading: a line when it is the first or it changed, then on every record line."""
        if self.battery_pct.get(device_id) != level_pct:
            self._write(f"{_stamp(t_utc_s)}  {device_id}  battery {level_pct} %")
        self.battery_pct[device_id] = level_pct
