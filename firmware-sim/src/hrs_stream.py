"""Heart Rate Measurement notifications over time, batched as a strap's firmware batches them.

A sensor sends about one notification per second of its own clock, holding the intervals
detected since the previous one; what does not fit one payload (ATT_MTU 23 → 9 RR values with
a uint8 HR) waits for the next, and the oldest is dropped past 20 buffered (Nordic's
``ble_hrs.c``: ``rr_interval[BLE_HRS_MAX_BUFFERED_RR_INTERVALS = 20]``). The displayed heart
rate is the mean of the last four intervals, as straps smooth it; without contact the value
is 0 and the contact bit is cleared (intervals detected just before the loss still go out).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from .device import Notification
from .hrs_encoder import HRM_UUID, encode_hrm, max_rr_per_notification
from .sensor import SensedBeats

__all__ = ["HrsBehaviour", "hrs_notifications"]

_RR_BUFFER = 20
_HR_AVERAGE_BEATS = 4


@dataclass(frozen=True, slots=True)
class HrsBehaviour:
    """How a profile fills its Heart Rate Measurement notifications."""

    send_rr: bool = True  # False: HR-broadcast watches (no RR intervals)
    contact_supported: bool = True
    notify_period_s: float = 1.0  # on the device's own crystal
    clock_drift_ppm: float = 0.0  # crystal error against true time
    phase_s: float = 0.0  # where in its period the device's timer sits


def hrs_notifications(
    sensed: SensedBeats, behaviour: HrsBehaviour, *, from_s: float, until_s: float
) -> Iterator[Notification]:
    """Notifications sent in (from_s, until_s], seconds from the simulation start.

    Beats detected in the period before ``from_s`` are in the buffer when notifications start,
    as they would be on a strap that was already running.
    """
    rate = 1.0 + behaviour.clock_drift_ppm * 1e-6  # device seconds per true second
    period = behaviour.notify_period_s / rate  # true seconds
    # The device measures intervals with its own crystal: ticks scale by `rate`, rounded so that
    # their running sum never drifts from the scaled true sum (error < 1 tick at any length).
    scaled_sum = 0.0
    emitted = 0
    k = int((from_s - behaviour.phase_s) // period) + 1
    last_t = behaviour.phase_s + (k - 1) * period
    pending: deque[int] = deque(maxlen=_RR_BUFFER)
    recent: deque[int] = deque(maxlen=_HR_AVERAGE_BEATS)
    per_packet = max_rr_per_notification(hr_uint16=False, energy=False)
    n_seconds = sensed.contact.size
    times, ticks = sensed.t_s, sensed.rr_1024
    i = int(sensed.in_range(last_t - period, last_t).start)
    while True:
        t = behaviour.phase_s + k * period
        if t > until_s:
            return
        k += 1
        while i < times.size and times[i] <= t:
            rr = int(ticks[i])
            if rr > 0:
                scaled_sum += rr * rate
                rr = round(scaled_sum) - emitted
                emitted += rr
                pending.append(rr)
                recent.append(rr)
            else:
                recent.clear()  # a new chain: old intervals say nothing about the rate now
            i += 1
        second = min(max(int(t), 0), n_seconds - 1)
        contact = bool(sensed.contact[second])
        if not contact:
            recent.clear()  # intervals detected before the loss are still sent, with the contact bit clear
        hr = round(60 * 1024 * len(recent) / sum(recent)) if recent else 0
        rr_out: list[int] = []
        if behaviour.send_rr:
            rr_out = [pending.popleft() for _ in range(min(per_packet, len(pending)))]
        else:
            pending.clear()
        payload = encode_hrm(
            hr_bpm=min(hr, 255),
            rr_1024=rr_out,
            contact=contact if behaviour.contact_supported else None,
        )
        yield Notification(t, HRM_UUID, payload)
