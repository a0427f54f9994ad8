"""A simulated chest strap on the standard Heart Rate Service (Polar H10-like).

It behaves as the Nordic reference firmware does: beats are buffered as they happen and sent
about once a second of the strap's own clock, as many RR values as fit the ATT MTU, the rest
carried over to the next notification (the oldest dropped past 20 buffered). The strap's
crystal can run ``clock_drift_ppm`` fast or slow against the host clock.

It offers the edge's transport interface (connect / subscribe / disconnect, payloads with
their arrival time) structurally, without importing the edge, and reads time only from the
injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

from vagus.clock import Clock

from .hrs_encoder import HRM_UUID, encode_hrm, max_rr_per_notification
from .physiology import RestingHeart

__all__ = ["SimulatedStrap"]

_RR_BUFFER = 20  # Nordic ble_hrs: rr_interval[20]; the oldest is dropped when full
_HR_AVERAGE_BEATS = 4


class SimulatedStrap:
    """One simulated strap delivering Heart Rate Measurement notifications."""

    def __init__(
        self,
        *,
        clock: Clock,
        heart: RestingHeart | None = None,
        device_id: str = "sim-strap-1",
        notify_period_s: float = 1.0,
        clock_drift_ppm: float = 0.0,
        record_truth: bool = False,
    ) -> None:
        self._clock = clock
        self._heart = heart or RestingHeart()
        self._device_id = device_id
        self._period_s = notify_period_s
        self._rate = 1.0 + clock_drift_ppm * 1e-6  # strap seconds per host second
        self._task: asyncio.Task[None] | None = None
        self._on_disconnect: Callable[[], None] | None = None
        self.truth: list[tuple[float, int]] | None = [] if record_truth else None  # (host t, ticks)
        self.notifications_sent = 0

    @property
    def device_id(self) -> str:
        return self._device_id

    async def connect(self, on_disconnect: Callable[[], None]) -> None:
        self._on_disconnect = on_disconnect

    async def subscribe(self, characteristic_uuid: str, on_notify: Callable[[str, bytes, float], None]) -> None:
        if characteristic_uuid.lower() != HRM_UUID:
            raise ValueError(f"the simulated strap has no notifying characteristic {characteristic_uuid}")
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(on_notify), name=f"sim:{self._device_id}")

    async def disconnect(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self, on_notify: Callable[[str, bytes, float], None]) -> None:
        host0_s = self._clock.now_utc_s()
        heart = self._heart
        strap0_s = heart.t_s
        pending: deque[int] = deque(maxlen=_RR_BUFFER)
        recent: deque[int] = deque(maxlen=_HR_AVERAGE_BEATS)
        next_rr = heart.next_rr_1024()
        per_packet = max_rr_per_notification(hr_uint16=False, energy=False)
        k = 0
        while True:
            k += 1
            notify_strap_s = strap0_s + k * self._period_s
            while heart.t_s <= notify_strap_s:
                pending.append(next_rr)
                recent.append(next_rr)
                if self.truth is not None:
                    self.truth.append((host0_s + (heart.t_s - strap0_s) / self._rate, next_rr))
                next_rr = heart.next_rr_1024()
            rr = [pending.popleft() for _ in range(min(per_packet, len(pending)))]
            hr = round(60 * 1024 * len(recent) / sum(recent)) if recent else 0
            payload = encode_hrm(hr_bpm=min(hr, 255), rr_1024=rr, contact=True)
            await self._clock.sleep(host0_s + k * self._period_s / self._rate - self._clock.now_utc_s())
            self.notifications_sent += 1
            on_notify(HRM_UUID, payload, self._clock.now_utc_s())
