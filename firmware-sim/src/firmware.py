"""Device firmware for each simulated profile: a GATT table, answers to writes, notification streams.

Profiles (bytes per ``../shared/research/ble.md``; see docs/simulator.md):

* ``h10`` — a Polar H10-like chest strap: Heart Rate Service with RR and contact, Battery,
  Device Information, Body Sensor Location (chest), and Polar PMD with ECG (130 Hz) and
  accelerometer streams started through the control point.
* ``hr_watch`` — a watch in HR-broadcast mode: Heart Rate Service without RR or contact bits.
* ``verity`` — a Polar Verity Sense-like optical sensor: Heart Rate Service without RR, and PMD
  with PPI (beat-to-beat intervals with error estimates and skin-contact flags) and accelerometer.
* ``colmi_ring`` — a Colmi R02-like ring speaking its 16-byte UART protocol: real-time heart rate
  on request, battery, set-time, heart-rate log.

Every firmware is pure (no clock, no event loop): :class:`vagus.sim.device.SimulatedDevice`
paces it. Inputs come as one :class:`WearerSignals` per device.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from . import colmi_encoder as colmi
from . import gatt_info as gatt
from .device import Notification, StreamChanges
from .hrs_encoder import HRM_UUID
from .hrs_stream import HrsBehaviour, hrs_notifications
from .sensor import Heartbeats, SensedBeats

__all__ = ["PROFILES", "ColmiFirmware", "HrsFirmware", "WearerSignals", "make_firmware"]


@dataclass(frozen=True, slots=True)
class WearerSignals:
    """What one device can observe of its wearer over the simulated span.

    ``heart`` are the true R peaks (with ectopic beats); ``sensed`` what this device's detector
    reports; ``activity`` and ``hr_bpm`` hold one value per second (0 still … ~2.5 running; the
    true mean heart rate). ``seed`` makes device-level noise (ECG, accelerometer) reproducible.
    """

    t0_utc_s: float
    duration_s: int
    heart: Heartbeats
    sensed: SensedBeats
    activity: np.ndarray
    hr_bpm: np.ndarray
    seed: int

    def second(self, t_s: float) -> int:
        return min(max(int(t_s), 0), self.duration_s - 1)


class HrsFirmware:
    """Heart Rate Service + Battery + Device Information (the ``h10`` strap's and ``hr_watch``'s base)."""

    def __init__(
        self,
        signals: WearerSignals,
        *,
        profile: str,
        behaviour: HrsBehaviour,
        battery: gatt.BatteryModel,
        info: gatt.DeviceInformation,
        body_location: gatt.BodySensorLocation | None,
    ) -> None:
        self.signals = signals
        self._profile = profile
        self._behaviour = behaviour
        self._battery = battery
        self._table = dict(info.characteristics())
        if body_location is not None:
            self._table[gatt.BODY_SENSOR_LOCATION_UUID] = gatt.encode_body_sensor_location(body_location)

    @property
    def profile(self) -> str:
        return self._profile

    def notifying(self) -> frozenset[str]:
        return frozenset({HRM_UUID})

    def battery_percent(self, t_s: float) -> int:
        return self._battery.level_at(max(0.0, t_s) / 3600.0)

    def read(self, characteristic: str, t_s: float) -> bytes:
        if characteristic == gatt.BATTERY_LEVEL_UUID:
            return gatt.encode_battery_level(self.battery_percent(t_s))
        try:
            return self._table[characteristic]
        except KeyError:
            raise ValueError(f"{self._profile} has no readable characteristic {characteristic}") from None

    def heart_rate_stream(self, from_s: float) -> Iterator[Notification]:
        return hrs_notifications(self.signals.sensed, self._behaviour, from_s=from_s, until_s=self.signals.duration_s)

    def subscribe(self, characteristic: str, t_s: float) -> StreamChanges:
        if characteristic == HRM_UUID:
            return StreamChanges(started={HRM_UUID: self.heart_rate_stream(t_s)})
        return StreamChanges()

    def write(self, characteristic: str, data: bytes, t_s: float) -> StreamChanges:
        raise ValueError(f"{self._profile} has no writable characteristic {characteristic}")

    def link_lost(self, t_s: float) -> None:
        return None


# -- the Colmi ring ---------------------------------------------------------------------------------

# Real-time readings: one per second, the first few 0 while the ring's PPG settles (the client
# discards zeros). The cadence and settling count are assumptions: colmi_r02_client collects
# readings until it has enough non-zero ones and documents no interval.
_RING_READING_PERIOD_S = 1.0
_RING_SETTLING_READINGS = 3
_RING_LOG_INTERVAL_MIN = 5


class ColmiFirmware:
    """A Colmi R02-like ring: requests arrive on the UART RX characteristic, replies on TX."""

    profile = "colmi_ring"

    def __init__(self, signals: WearerSignals, *, battery: gatt.BatteryModel) -> None:
        self.signals = signals
        self._battery = battery
        self._log_settings = colmi.HrLogSettings(enabled=True, interval_min=_RING_LOG_INTERVAL_MIN)
        self.rejected_writes = 0

    def notifying(self) -> frozenset[str]:
        return frozenset({colmi.UART_TX_UUID})

    def read(self, characteristic: str, t_s: float) -> bytes:
        try:  # Device Information, as a real R02 exposes it (ble.md §3); battery goes over the UART
            return gatt.COLMI_R02_INFO.characteristics()[characteristic]
        except KeyError:
            raise ValueError(f"the ring has no readable characteristic {characteristic}") from None

    def subscribe(self, characteristic: str, t_s: float) -> StreamChanges:
        return StreamChanges()

    def link_lost(self, t_s: float) -> None:
        return None

    def _reply(self, t_s: float, *packets: bytes) -> StreamChanges:
        return StreamChanges(responses=[Notification(t_s, colmi.UART_TX_UUID, p) for p in packets])

    def write(self, characteristic: str, data: bytes, t_s: float) -> StreamChanges:  # noqa: PLR0911 (one per command)
        if characteristic != colmi.UART_RX_UUID:
            raise ValueError(f"the ring has no writable characteristic {characteristic}")
        try:
            request = colmi.parse_request(data)
        except ValueError:
            # A real ring ignores a packet whose checksum does not add up; so does this one.
            self.rejected_writes += 1
            return StreamChanges()
        message = request.message
        match message:
            case colmi.RealTimeStart(kind=colmi.RealTimeKind.HEART_RATE, action=colmi.RealTimeAction.START):
                return StreamChanges(started={"realtime": self._real_time(t_s)})
            case colmi.RealTimeStart():
                return StreamChanges()  # keep-alive of a running reading, or a kind not modelled
            case colmi.RealTimeStop():
                return StreamChanges(stopped=["realtime"])
            case colmi.BatteryRequest():
                level = self._battery.level_at(max(0.0, t_s) / 3600.0)
                return self._reply(t_s, colmi.encode_battery(level, charging=False))
            case colmi.SetTimeRequest():
                return self._reply(t_s, colmi.encode_set_time_response())
            case colmi.HrLogSettingsRead():
                return self._reply(t_s, colmi.encode_hr_log_settings(self._log_settings))
            case colmi.HrLogSettingsWrite(settings=settings):
                self._log_settings = settings
                return self._reply(t_s, colmi.encode_hr_log_settings(settings, sub_command=2))
            case colmi.HrLogRequest(start=start):
                return self._reply(t_s, *self._hr_log(start.astimezone(UTC).date(), t_s))
            case _:
                return self._reply(t_s, colmi.encode_error(request.command))

    def _reading_bpm(self, t_s: float) -> int | None:
        """Mean rate of the beats detected in the last 5 s; None without skin contact."""
        s = self.signals
        if not s.sensed.contact[s.second(t_s)]:
            return None
        window = s.sensed.in_range(t_s - 5.0, t_s)
        ticks = s.sensed.rr_1024[window]
        ticks = ticks[ticks > 0]
        return round(60 * 1024 / float(np.mean(ticks))) if ticks.size else 0

    def _real_time(self, from_s: float) -> Iterator[Notification]:
        k = 0
        while True:
            k += 1
            t = from_s + k * _RING_READING_PERIOD_S
            if t > self.signals.duration_s:
                return
            bpm = self._reading_bpm(t)
            if bpm is None:  # worn incorrectly (Gadgetbridge reads error 1 so)
                reading = colmi.RealTimeReading(colmi.RealTimeKind.HEART_RATE, 0, error_code=1)
            else:
                value = 0 if k <= _RING_SETTLING_READINGS else min(bpm, 255)
                reading = colmi.RealTimeReading(colmi.RealTimeKind.HEART_RATE, value)
            yield Notification(t, colmi.UART_TX_UUID, colmi.encode_real_time_reading(reading))

    def _hr_log(self, day: date, t_s: float) -> tuple[bytes, ...]:
        """The day's log at the configured interval: the true mean rate over each slot, up to now."""
        s = self.signals
        interval = self._log_settings.interval_min
        if not self._log_settings.enabled:
            return (colmi.encode_hr_log_no_data(),)
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        values: list[int] = []
        for slot in range(1440 // interval):
            start = midnight + slot * interval * 60 - s.t0_utc_s
            end = min(start + interval * 60, t_s)
            lo, hi = max(0, math.floor(start)), min(s.duration_s, math.floor(end))
            worn = s.sensed.worn[lo:hi] if hi > lo else np.empty(0, dtype=bool)
            if hi <= lo or not worn.any():
                values.append(0)
                continue
            values.append(min(255, round(float(np.mean(s.hr_bpm[lo:hi][worn])))))
        while values and values[-1] == 0:
            values.pop()
        if not any(values):
            return (colmi.encode_hr_log_no_data(),)
        return colmi.encode_hr_log(day, interval, values)


# -- profile table ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    description: str
    has_rr: bool
    streams: tuple[str, ...]  # what the device can send, for `vagus sim profiles`


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("h10", "chest strap (Polar H10-like): HRS with RR, PMD ECG 130 Hz + accelerometer", True,
                ("hrs+rr", "pmd:ecg", "pmd:acc", "battery", "device-information")),
        Profile("hr_watch", "watch in HR-broadcast mode: HRS without RR", False,
                ("hrs", "battery", "device-information")),
        Profile("verity", "optical sensor (Polar Verity Sense-like): HRS, PMD PPI + accelerometer", True,
                ("hrs", "pmd:ppi", "pmd:acc", "battery", "device-information")),
        Profile("colmi_ring", "smart ring (Colmi R02-like): 16-byte UART packets, real-time HR, log, battery",
                False, ("uart:realtime-hr", "uart:hr-log", "uart:battery", "device-information")),
    )
}  # fmt: skip


def make_firmware(profile: str, signals: WearerSignals, *, clock_drift_ppm: float = 0.0, phase_s: float = 0.0):  # noqa: ANN201
    """The firmware of ``profile`` observing ``signals``."""
    if profile == "h10":
        from .pmd_firmware import H10Firmware

        return H10Firmware(signals, clock_drift_ppm=clock_drift_ppm, phase_s=phase_s)
    if profile == "verity":
        from .pmd_firmware import VerityFirmware

        return VerityFirmware(signals, clock_drift_ppm=clock_drift_ppm, phase_s=phase_s)
    if profile == "hr_watch":
        return HrsFirmware(
            signals,
            profile="hr_watch",
            behaviour=HrsBehaviour(
                send_rr=False, contact_supported=False, clock_drift_ppm=clock_drift_ppm, phase_s=phase_s
            ),
            battery=gatt.WATCH_BROADCAST_BATTERY,
            info=gatt.DeviceInformation("Simulated", "HR watch", None, "1.0", None, None),
            body_location=gatt.BodySensorLocation.WRIST,
        )
    if profile == "colmi_ring":
        return ColmiFirmware(signals, battery=gatt.RING_BATTERY)
    raise ValueError(f"unknown device profile {profile!r}; known: {', '.join(PROFILES)}")
