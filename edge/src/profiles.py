"""What a device link reads from each kind of wearable, and how the bytes become beats, motion or HR.

A **read profile** (``[[devices]] profile``, :class:`ReadProfile`) picks a **reader**: which
characteristics to subscribe to, which commands start the device's streams, and how each payload
becomes a :class:`Readout` (beat intervals of one source, accelerometer samples, an HR-only
reading, a battery level). The device link (device_link.py) owns the connection, the beat clock
and the windows; the reader owns the protocol.

============ ===================================================================================
profile      reads
============ ===================================================================================
heart_rate   Heart Rate Measurement 0x2A37: RR intervals (source ``hrs``); a device that sends
             none (a watch broadcasting HR) gives HR-only readings
polar_pmd    0x2A37 plus Polar PMD (ble.md §2): the feature read, then GET_MEASUREMENT_SETTINGS and
             REQUEST_MEASUREMENT_START per stream. Beats come from **one** source: PPI where the
             device offers it (Verity Sense, source ``pmd_ppi``), else ECG R-peaks when
             ``ecg = true`` and the device offers ECG (H10, source ``ecg``), else the strap's own
             0x2A37 RR (``hrs``). ``acc = true`` (default) also starts the accelerometer (motion)
colmi_ring   the Colmi UART (ble.md §3): real-time heart rate (``69 01 01``, kept going with
             ``69 01 03`` every 30 s), battery (``03``) every 10 min; HR only, no beat intervals
============ ===================================================================================

Which beat source wins on a Polar device, and why: PPI or ECG intervals, when running, replace the
0x2A37 RR (the strap derives those from the same heart, so using both would put every beat into
the windows twice); 0x2A37 is still read for skin contact, heart rate and the stall watchdog. If
an ECG or PPI stream cannot be started (refused, no neurokit2 for ECG, stopped by the device), the
reader falls back to the 0x2A37 RR at once and says so in the log, once.

PPI intervals flagged by the device (Polar's guidance, ``PpiData.md``: discard intervals with the
movement "blocker" bit set or without skin contact) are skipped: they keep their place on the time
line (so the next beat is timed right) but are not beats, and the next kept beat starts a new chain
(``gap_before``). An interval whose error estimate exceeds ``max(30 ms, 10 % of itself)`` is skipped
likewise (an interval that uncertain swamps beat-to-beat variability of 20–50 ms); each skip is counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import msgspec.structs
import numpy as np

from vagus.clock import Clock
from vagus.errors import PayloadError
from vagus.signal import BeatSource, Indicators, NullReason, WindowConfig

from . import colmi, pmd
from .ecg_peaks import EcgPeakStream, neurokit2_available
from .hrs import HEART_RATE_MEASUREMENT_UUID, decode_hrm
from .transport import NotifyHandler, Transport

__all__ = [
    "HEART_RATE",
    "PROFILE_NAMES",
    "ColmiReader",
    "HeartRateReader",
    "HrOnlyWindows",
    "Interval",
    "PolarPmdReader",
    "ProfiledTransport",
    "ReadProfile",
    "Reader",
    "Readout",
    "is_hr_only",
    "make_reader",
    "profile_of",
]

log = logging.getLogger(__name__)

PROFILE_NAMES = ("heart_rate", "polar_pmd", "colmi_ring")
_CP_TIMEOUT_S = 5.0  # a control-point answer comes within a connection interval or two
_COLMI_KEEP_ALIVE_S = 30.0  # assumption: colmi_r02_client documents no real-time timeout
_PPI_MAX_ERROR_MS = 30.0
_PPI_MAX_ERROR_SHARE = 0.10
_ACC_MIN_RATE_HZ = 25  # ENMO needs no more; the lowest offered rate at or above this is chosen


@dataclass(frozen=True, slots=True)
class ReadProfile:
    """What to read from a wearable (module docstring). ``ecg``/``acc`` apply to ``polar_pmd`` only."""

    name: str = "heart_rate"
    ecg: bool = False
    acc: bool = True

    def __post_init__(self) -> None:
        if self.name not in PROFILE_NAMES:
            raise ValueError(f"profile must be one of {PROFILE_NAMES}, got {self.name!r}")


HEART_RATE = ReadProfile()


def profile_of(transport: object) -> ReadProfile:
    """A transport's ``read_profile`` attribute, or the Heart Rate profile."""
    profile = getattr(transport, "read_profile", None)
    return profile if isinstance(profile, ReadProfile) else HEART_RATE


class ProfiledTransport:
    """A transport with the profile it is to be read with (``vagus run`` wraps each device in one)."""

    def __init__(self, inner: Transport, profile: ReadProfile) -> None:
        self.inner = inner
        self.read_profile = profile

    @property
    def device_id(self) -> str:
        return self.inner.device_id

    async def connect(self, on_disconnect: Callable[[], None]) -> None:
        await self.inner.connect(on_disconnect)

    async def subscribe(self, characteristic_uuid: str, on_notify: NotifyHandler) -> None:
        await self.inner.subscribe(characteristic_uuid, on_notify)

    async def read(self, characteristic_uuid: str) -> bytes:
        return bytes(await self.inner.read(characteristic_uuid))

    async def write(self, characteristic_uuid: str, data: bytes) -> None:
        await self.inner.write(characteristic_uuid, data)

    async def disconnect(self) -> None:
        await self.inner.disconnect()


# -- what a payload becomes -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Interval:
    """One beat interval (ms; raw 1/1024-s ticks where the source has them).

    ``skip``: placed on the time line, not a beat (a PPI interval the device flagged unreliable).
    """

    rr_ms: float
    rr_1024: int | None = None
    contact: bool | None = None
    skip: bool = False


@dataclass(frozen=True, slots=True)
class Readout:
    """What one notification said. Empty fields: it said nothing of that kind.

    ``anchor_utc_s``: host time at which the last interval ended, where the source knows it better
    than the arrival (ECG peaks, found a second or more after they happened); None: the arrival.
    ``hr_only``: an HR reading that came without beat intervals from a device giving none.
    ``gap``: the beat stream broke before these intervals (a lost ECG frame).
    """

    intervals: tuple[Interval, ...] = ()
    source: BeatSource | None = None
    anchor_utc_s: float | None = None
    hr_bpm: int | None = None
    hr_only: bool = False
    contact: bool | None = None
    motion_t_utc_s: np.ndarray | None = None
    motion_xyz: np.ndarray | None = None
    battery_pct: int | None = None
    gap: bool = False
    warnings: bool = False


_NOTHING = Readout()


class Reader(Protocol):
    """The protocol side of a device link (one per link, kept across reconnects)."""

    @property
    def has_motion(self) -> bool: ...

    async def start(self, transport: Transport, on_notify: NotifyHandler, clock: Clock) -> None:
        """Subscribe and start the device's streams; ValueError if the device lacks the essential characteristic."""
        ...

    def on_notify(self, characteristic: str, payload: bytes, arrival_utc_s: float) -> Readout:
        """Decode one notification; raise ``PayloadError`` for a malformed one."""
        ...

    def next_poll_s(self) -> float | None:
        """When :meth:`poll` is next due (injected-clock POSIX s), None: never."""
        ...

    async def poll(self, transport: Transport, now_utc_s: float) -> None: ...

    def reset(self) -> None:
        """The link dropped or the beat chain broke: restart beat-stream state (decoders, ECG peaks)."""
        ...


class HeartRateReader:
    """``heart_rate``: Heart Rate Measurement only."""

    has_motion = False

    async def start(self, transport: Transport, on_notify: NotifyHandler, clock: Clock) -> None:
        await transport.subscribe(HEART_RATE_MEASUREMENT_UUID, on_notify)

    def on_notify(self, characteristic: str, payload: bytes, arrival_utc_s: float) -> Readout:
        hrm = decode_hrm(payload)
        return Readout(
            intervals=tuple(
                Interval(ms, ticks, hrm.sensor_contact) for ms, ticks in zip(hrm.rr_ms, hrm.rr_1024, strict=True)
            ),
            source=BeatSource.HRS,
            hr_bpm=hrm.hr_bpm,
            hr_only=not hrm.rr_present,
            contact=hrm.sensor_contact,
            warnings=bool(hrm.warnings),
        )

    def next_poll_s(self) -> float | None:
        return None

    async def poll(self, transport: Transport, now_utc_s: float) -> None:
        return None

    def reset(self) -> None:
        return None


def _choose(offered: dict[pmd.SettingType, tuple[int | float, ...]], *, rate: str) -> dict[pmd.SettingType, int]:
    """Settings for a start request from a GET_MEASUREMENT_SETTINGS answer.

    Sample rate: ``"max"`` (ECG: every sample sharpens the R peak), or ``"low"``: the lowest offered at
    or above 25 Hz (ACC: motion needs no more, and fewer frames cost less radio time and CPU).
    Resolution, range and channels: the largest offered (no clipping while running). FACTOR and
    SECURITY are what the device reports, not choices: they are left out of the request.
    """
    S = pmd.SettingType
    chosen: dict[pmd.SettingType, int] = {}
    for key, values in offered.items():
        if key in (S.FACTOR, S.SECURITY) or not values:
            continue
        ints = sorted(int(v) for v in values)
        if key == S.SAMPLE_RATE and rate == "low":
            chosen[key] = next((v for v in ints if v >= _ACC_MIN_RATE_HZ), ints[-1])
        else:
            chosen[key] = ints[-1]
    return chosen


class PolarPmdReader(HeartRateReader):
    """``polar_pmd``: 0x2A37 plus PMD PPI / ECG / ACC (module docstring)."""

    def __init__(self, profile: ReadProfile, device_id: str = "") -> None:
        self.profile = profile
        self._device = device_id
        self._decoder = pmd.PmdDataDecoder()
        self._waiting: dict[tuple[int, int], asyncio.Future[pmd.PmdControlPointResponse]] = {}
        self.beat_source = BeatSource.HRS
        self._acc_on = False
        self.has_motion = False  # an ACC stream has run on this link
        self._ecg: EcgPeakStream | None = None
        self._ecg_fs = 0.0
        self._acc_fs = 0.0
        self._ecg_last_ts = 0
        self._said: set[str] = set()
        self.skipped_intervals = 0
        self.started: list[str] = []  # streams running on the current connection, e.g. ["ppi", "acc"]

    def _once(self, key: str, level: int, message: str, *args: object) -> None:
        if key not in self._said:
            self._said.add(key)
            log.log(level, message, *args)

    async def start(self, transport: Transport, on_notify: NotifyHandler, clock: Clock) -> None:
        await transport.subscribe(HEART_RATE_MEASUREMENT_UUID, on_notify)
        self.beat_source = BeatSource.HRS
        self._acc_on = False
        self.started = []
        self.reset()
        try:
            await transport.subscribe(pmd.PMD_CONTROL_POINT_UUID, on_notify)
            await transport.subscribe(pmd.PMD_DATA_UUID, on_notify)
            features = pmd.decode_features(await transport.read(pmd.PMD_CONTROL_POINT_UUID))
        except (ValueError, PayloadError) as exc:
            self._once("no-pmd", logging.WARNING, "a polar_pmd device offers no usable PMD service (%s): HRS only", exc)
            return
        M = pmd.MeasurementType
        if features.supports(M.PPI):
            if await self._start(transport, clock, M.PPI, None):
                self.beat_source = BeatSource.PMD_PPI
        elif self.profile.ecg and features.supports(M.ECG):
            if not neurokit2_available():
                self._once(
                    "no-nk",
                    logging.ERROR,
                    "ecg = true needs neurokit2 (pip install 'vagus[analysis]'); reading the strap's own RR instead",
                )
            else:
                settings = await self._settings(transport, clock, M.ECG)
                chosen = _choose(settings or {}, rate="max") if settings is not None else None
                if chosen is not None and await self._start(transport, clock, M.ECG, chosen):
                    self._ecg_fs = float(chosen.get(pmd.SettingType.SAMPLE_RATE, 130))
                    self._decoder.configure(M.ECG, sample_rate_hz=self._ecg_fs)
                    self._ecg = EcgPeakStream(self._ecg_fs)
                    self.beat_source = BeatSource.ECG
        elif self.profile.ecg:
            self._once("no-ecg", logging.WARNING, "ecg = true but the device offers no ECG: reading its own RR")
        if self.profile.acc and features.supports(M.ACC):
            settings = await self._settings(transport, clock, M.ACC)
            if settings is not None:
                chosen = _choose(settings, rate="low")
                if await self._start(transport, clock, M.ACC, chosen):
                    factor = settings.get(pmd.SettingType.FACTOR, (1.0,))[0]
                    self._acc_fs = float(chosen.get(pmd.SettingType.SAMPLE_RATE, 0))
                    self._decoder.configure(M.ACC, sample_rate_hz=self._acc_fs, factor=float(factor))
                    self._acc_on = self.has_motion = True

    async def _ask(self, transport: Transport, clock: Clock, request: bytes) -> pmd.PmdControlPointResponse | None:
        """Write a control-point request and wait for its answer (None: no answer in time)."""
        key = (request[0], request[1] & 0x3F)
        fut: asyncio.Future[pmd.PmdControlPointResponse] = asyncio.get_running_loop().create_future()
        self._waiting[key] = fut
        try:
            await transport.write(pmd.PMD_CONTROL_POINT_UUID, request)
            timer = asyncio.ensure_future(clock.sleep(_CP_TIMEOUT_S))
            try:
                await asyncio.wait({fut, timer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                timer.cancel()
            return fut.result() if fut.done() else None
        finally:
            self._waiting.pop(key, None)

    async def _settings(
        self, transport: Transport, clock: Clock, mtype: pmd.MeasurementType
    ) -> dict[pmd.SettingType, tuple[int | float, ...]] | None:
        answer = await self._ask(transport, clock, pmd.encode_get_settings_request(mtype))
        if answer is None or not answer.ok:
            self._refused(mtype, "settings", answer)
            return None
        return dict(answer.settings or {})

    async def _start(
        self,
        transport: Transport,
        clock: Clock,
        mtype: pmd.MeasurementType,
        settings: dict[pmd.SettingType, int] | None,
    ) -> bool:
        answer = await self._ask(transport, clock, pmd.encode_start_request(mtype, settings))
        if answer is None or not answer.ok:
            self._refused(mtype, "start", answer)
            return False
        self.started.append(mtype.name.lower())
        return True

    def _refused(self, mtype: pmd.MeasurementType, what: str, answer: pmd.PmdControlPointResponse | None) -> None:
        why = "no answer" if answer is None else f"status {answer.status_name or answer.status}"
        self._once(f"refused-{mtype.name}", logging.WARNING, "PMD %s %s refused (%s)", mtype.name, what, why)

    def on_notify(self, characteristic: str, payload: bytes, arrival_utc_s: float) -> Readout:
        if characteristic == pmd.PMD_DATA_UUID:
            return self._data(payload, arrival_utc_s)
        if characteristic == pmd.PMD_CONTROL_POINT_UUID:
            return self._control(payload)
        out = super().on_notify(characteristic, payload, arrival_utc_s)
        if self.beat_source is not BeatSource.HRS:
            # PPI or ECG gives the beats; 0x2A37 still tells contact and HR (module docstring).
            return dataclasses.replace(out, intervals=(), hr_only=False)
        return out

    def _control(self, payload: bytes) -> Readout:
        message = pmd.decode_cp_indication(payload)
        if isinstance(message, pmd.PmdMeasurementStopped):
            stopped = set(message.measurement_types)
            if pmd.MeasurementType.ACC in stopped:
                self._acc_on = False
            if {pmd.MeasurementType.PPI, pmd.MeasurementType.ECG} & stopped and self.beat_source is not BeatSource.HRS:
                log.warning("the device stopped its %s stream: reading its own RR until reconnected", self.beat_source)
                self.beat_source = BeatSource.HRS
                self._ecg = None
                return Readout(gap=True)
            return _NOTHING
        fut = self._waiting.get((message.op_code, message.measurement_type))
        if fut is not None and not fut.done():
            fut.set_result(message)
        return _NOTHING

    def _data(self, payload: bytes, arrival_utc_s: float) -> Readout:
        frame = self._decoder.decode(payload)
        M = pmd.MeasurementType
        mtype = frame.measurement_type
        if mtype == M.PPI and self.beat_source is BeatSource.PMD_PPI:
            return self._ppi(frame)
        if mtype == M.ECG and self.beat_source is BeatSource.ECG and self._ecg is not None:
            return self._ecg_frame(frame, arrival_utc_s)
        if mtype == M.ACC and self._acc_on:
            xyz = np.asarray(frame.samples, dtype=np.float64).reshape(-1, 3)
            n = xyz.shape[0]
            stamps = frame.sample_timestamps_ns
            if stamps is not None and frame.timestamp_ns:
                # Device times, shifted so the last sample is at arrival: the host clock, not the strap's.
                rel = (np.asarray(stamps, dtype=np.float64) - stamps[-1]) / 1e9
                t = arrival_utc_s + rel
            else:
                t = arrival_utc_s - (n - 1 - np.arange(n)) / max(self._acc_fs, 1.0)
            return Readout(motion_t_utc_s=t, motion_xyz=xyz, warnings=bool(frame.warnings))
        return Readout(warnings=bool(frame.warnings))

    def _ppi(self, frame: pmd.PmdDataFrame) -> Readout:
        kept: list[Interval] = []
        for s in frame.samples:
            bad = (
                s.blocker
                or s.contact is False
                or s.pp_error_estimate_ms > max(_PPI_MAX_ERROR_MS, _PPI_MAX_ERROR_SHARE * s.pp_ms)
            )
            if bad:
                self.skipped_intervals += 1
            kept.append(Interval(float(s.pp_ms), None, s.contact, skip=bad))
        contact = next((s.contact for s in reversed(frame.samples)), None)
        return Readout(intervals=tuple(kept), source=BeatSource.PMD_PPI, contact=contact, warnings=bool(frame.warnings))

    def _ecg_frame(self, frame: pmd.PmdDataFrame, arrival_utc_s: float) -> Readout:
        assert self._ecg is not None  # noqa: S101 — a type-narrowing invariant, not input validation
        values = [s if isinstance(s, int) else getattr(s, "microvolts", None) for s in frame.samples]
        if any(v is None for v in values):
            return _NOTHING  # frame type 3 carries no single-lead µV
        n = len(values)
        gap = False
        if self._ecg_last_ts and frame.timestamp_ns:
            expected_ns = n * 1e9 / self._ecg_fs
            if frame.timestamp_ns - self._ecg_last_ts > 1.5 * expected_ns or frame.timestamp_ns <= self._ecg_last_ts:
                self._ecg.reset()  # a lost frame: the peaks on either side are no interval
                gap = True
        self._ecg_last_ts = frame.timestamp_ns
        found = self._ecg.push(np.asarray(values, dtype=np.float64))
        if not found:
            return Readout(gap=gap)
        last_pos = found[-1][1]
        behind_s = (self._ecg.samples_seen - 1 - last_pos) / self._ecg_fs
        return Readout(
            intervals=tuple(Interval(rr) for rr, _ in found),
            source=BeatSource.ECG,
            anchor_utc_s=arrival_utc_s - behind_s,
            gap=gap,
        )

    def reset(self) -> None:
        self._decoder.reset()
        self._ecg_last_ts = 0
        if self._ecg is not None:
            self._ecg.reset()
        for fut in self._waiting.values():
            fut.cancel()


class ColmiReader:
    """``colmi_ring``: real-time heart rate and battery over the ring's UART (HR only)."""

    has_motion = False

    def __init__(self, *, battery_every_s: float = 600.0) -> None:
        self._battery_every_s = battery_every_s
        self._keep_alive_due: float | None = None
        self._battery_due: float | None = None

    async def start(self, transport: Transport, on_notify: NotifyHandler, clock: Clock) -> None:
        await transport.subscribe(colmi.UART_TX_UUID, on_notify)
        await transport.write(colmi.UART_RX_UUID, colmi.real_time_start_request())
        await transport.write(colmi.UART_RX_UUID, colmi.battery_request())
        now = clock.now_utc_s()
        self._keep_alive_due = now + _COLMI_KEEP_ALIVE_S
        self._battery_due = now + self._battery_every_s

    def on_notify(self, characteristic: str, payload: bytes, arrival_utc_s: float) -> Readout:
        message = colmi.decode_colmi(payload)
        if isinstance(message, colmi.ColmiBattery):
            return Readout(battery_pct=message.level_percent, warnings=bool(message.warnings))
        if isinstance(message, colmi.ColmiRealTimeReading) and message.kind == colmi.RealTimeKind.HEART_RATE:
            if message.error_code == 1:  # "worn incorrectly" (Gadgetbridge)
                return Readout(hr_only=True, contact=False)
            if message.ok:
                return Readout(hr_bpm=message.value, hr_only=True, contact=True)
        return _NOTHING  # still measuring (value 0), a temporary error, other replies

    def next_poll_s(self) -> float | None:
        if self._keep_alive_due is None or self._battery_due is None:
            return None
        return min(self._keep_alive_due, self._battery_due)

    async def poll(self, transport: Transport, now_utc_s: float) -> None:
        # The next time is set before writing, so a failed write is not retried in a tight loop.
        if self._keep_alive_due is not None and now_utc_s >= self._keep_alive_due:
            self._keep_alive_due = now_utc_s + _COLMI_KEEP_ALIVE_S
            await transport.write(colmi.UART_RX_UUID, colmi.real_time_start_request(keep_alive=True))
        if self._battery_due is not None and now_utc_s >= self._battery_due:
            self._battery_due = now_utc_s + self._battery_every_s
            await transport.write(colmi.UART_RX_UUID, colmi.battery_request())

    def reset(self) -> None:
        return None  # no beat-stream state; the poll schedule restarts with the next start()


def make_reader(profile: ReadProfile, device_id: str = "", *, battery_every_s: float = 600.0) -> Reader:
    if profile.name == "polar_pmd":
        return PolarPmdReader(profile, device_id)
    if profile.name == "colmi_ring":
        return ColmiReader(battery_every_s=battery_every_s)
    return HeartRateReader()


# -- HR-only records --------------------------------------------------------------------------------

_NOT_COMPUTED = frozenset({"breathing_rate_brpm", "stress_score", "stress_level", "gate_reason", "activity_state"})
_NULL_REASONS = {
    f.name: NullReason.NOT_COMPUTED if f.name in _NOT_COMPUTED else NullReason.TOO_FEW_BEATS
    for f in msgspec.structs.fields(Indicators)
    if f.default is None and f.name != "hr_bpm"
}


def is_hr_only(record: Indicators) -> bool:
    """A record of heart rate without beat intervals (:class:`HrOnlyWindows`)."""
    return record.n_beats == 0 and record.hr_bpm is not None


@dataclass(slots=True)
class _Reading:
    t_utc_s: float
    hr_bpm: int | None  # None: no valid reading (not worn)


@dataclass(slots=True)
class HrOnlyWindows:
    """Heart-rate readings of a device without beat intervals → Indicators with ``hr_bpm`` only.

    The same window lengths and step as the beat windows (``WindowConfig``), on arrival time: every
    ``step_s`` each window ending then reports the mean of its valid readings (``n_beats`` 0;
    ``quality`` the share of readings that were valid; every HRV field null, ``too_few_beats``).
    The shortest window reports from ``warmup_s`` into a stretch, longer ones once full; a stretch
    ends at a gap (disconnect, lost contact). The stress stage gates these ``hr_only``.
    """

    device_id: str
    config: WindowConfig = field(default_factory=WindowConfig)
    _readings: deque[_Reading] = field(default_factory=deque)
    _segment_start_s: float | None = None
    _next_end_s: float | None = None

    def mark_gap(self) -> None:
        self._readings.clear()
        self._segment_start_s = None
        self._next_end_s = None

    def push(self, t_utc_s: float, hr_bpm: int | None) -> list[Indicators]:
        cfg = self.config
        out: list[Indicators] = []
        if self._segment_start_s is None:
            self._segment_start_s = t_utc_s
            self._next_end_s = math.floor(t_utc_s / cfg.step_s) * cfg.step_s + cfg.step_s
        assert self._next_end_s is not None  # noqa: S101 — a type-narrowing invariant, not input validation
        self._readings.append(_Reading(t_utc_s, hr_bpm))  # first: a reading at a window's end belongs to it
        while t_utc_s >= self._next_end_s:
            out.extend(self._report(self._next_end_s))
            self._next_end_s += cfg.step_s
        horizon = t_utc_s - max(cfg.windows_s) - cfg.step_s
        while self._readings and self._readings[0].t_utc_s < horizon:
            self._readings.popleft()
        return out

    def _report(self, t_end_s: float) -> list[Indicators]:
        cfg = self.config
        start = self._segment_start_s
        assert start is not None  # noqa: S101 — a type-narrowing invariant, not input validation
        shortest = cfg.windows_s[0]
        out = []
        for w in cfg.windows_s:
            span = min(w, t_end_s - start)
            if span < (cfg.warmup_s if w == shortest else w - 1e-6):
                continue
            t_start = t_end_s - span
            inside = [r for r in self._readings if t_start < r.t_utc_s <= t_end_s]
            valid = [r.hr_bpm for r in inside if r.hr_bpm is not None]
            if not valid:
                continue
            out.append(
                Indicators(
                    device_id=self.device_id,
                    t_start_utc_s=t_start,
                    t_end_utc_s=t_end_s,
                    window_s=span,
                    n_beats=0,
                    quality=len(valid) / len(inside),
                    window_nominal_s=w,
                    hr_bpm=round(sum(valid) / len(valid), 1),
                    null_reasons=dict(_NULL_REASONS),
                )
            )
        return out
