"""One wearable's path from bytes to indicators: decode → time beats → rolling windows.

The link never lets a bad payload escape: a decode failure is counted, handed to the sink to
be set aside, and the stream goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from vagus.errors import PayloadError
from vagus.signal import Beat, BeatSource, Indicators, RollingWindow, WindowConfig

from .beat_clock import BeatClock
from .hrs import HEART_RATE_MEASUREMENT_UUID, decode_hrm
from .transport import Transport

__all__ = ["DeviceLink", "LinkCounters", "LinkSink"]


class LinkSink(Protocol):
    """Where a link's output goes (the agent: store and display)."""

    def on_beats(self, beats: list[Beat]) -> None: ...

    def on_indicators(self, records: list[Indicators]) -> None: ...

    def on_rejected(
        self, device_id: str, t_utc_s: float, characteristic: str, payload: bytes, error: PayloadError
    ) -> None: ...


@dataclass(slots=True)
class LinkCounters:
    notifications: int = 0
    beats: int = 0
    rejected_payloads: int = 0
    payload_warnings: int = 0
    disconnects: int = 0


class DeviceLink:
    """Connects one transport and turns its Heart Rate Measurement notifications into records."""

    def __init__(self, transport: Transport, sink: LinkSink, window: WindowConfig | None = None) -> None:
        self.transport = transport
        self.device_id = transport.device_id
        self._sink = sink
        self._clock = BeatClock()
        self._window = RollingWindow(self.device_id, window)
        self._contact: bool | None = None
        self.counters = LinkCounters()
        self.last_hr_bpm: int | None = None

    async def start(self) -> None:
        await self.transport.connect(self._on_disconnect)
        await self.transport.subscribe(HEART_RATE_MEASUREMENT_UUID, self.on_notify)

    async def stop(self) -> None:
        await self.transport.disconnect()

    def _on_disconnect(self) -> None:
        self.counters.disconnects += 1
        self._clock.mark_gap()

    def on_notify(self, characteristic: str, payload: bytes, arrival_utc_s: float) -> None:
        self.counters.notifications += 1
        try:
            hrm = decode_hrm(payload)
        except PayloadError as exc:
            self.counters.rejected_payloads += 1
            self._sink.on_rejected(self.device_id, arrival_utc_s, characteristic, payload, exc)
            return
        if hrm.warnings:
            self.counters.payload_warnings += 1
        self.last_hr_bpm = hrm.hr_bpm
        if hrm.sensor_contact is False and self._contact is not False:
            self._clock.mark_gap()  # beats resume after contact loss on a fresh chain
        self._contact = hrm.sensor_contact
        placed = self._clock.place(list(hrm.rr_ms), arrival_utc_s)
        beats = [
            Beat(
                device_id=self.device_id,
                t_utc_s=p.t_utc_s,
                rr_ms=rr_ms,
                rr_1024=rr_1024,
                source=BeatSource.HRS,
                contact=hrm.sensor_contact,
                gap_before=p.gap_before,
            )
            for p, rr_ms, rr_1024 in zip(placed, hrm.rr_ms, hrm.rr_1024, strict=True)
        ]
        if not beats:
            return
        self.counters.beats += len(beats)
        self._sink.on_beats(beats)
        records: list[Indicators] = []
        for beat in beats:
            records.extend(self._window.push(beat))
        if records:
            self._sink.on_indicators(records)
