"""One wearable's path from bytes to indicators, kept up for as long as the agent runs.

A link supervises its transport with a small state machine (link_state.py)::

    scanning ─▶ connecting ─▶ streaming ─(drop, stall)─▶ connecting ─(fails)─▶ backoff ─▶ connecting …

``scanning`` only for a transport that must find its device first (:class:`Locatable`). After a
drop the first reconnect is immediate; failures then wait :class:`Backoff` delays on the injected
clock, so accelerated runs are exact. Every (re)connect subscribes again, because a wearable
forgets its notification settings when the link drops (ble.md §2). A drop, a stall and contact
loss mark a gap in the beat clock, so the next beat starts a new chain and no window spans the
hole. Battery Level is read on connecting and every ``battery_every_s`` while streaming.

What is read depends on the transport's read profile (profiles.py: ``heart_rate``, ``polar_pmd``,
``colmi_ring``): its reader subscribes, starts the streams and turns payloads into beat intervals of
one source, accelerometer samples and HR-only readings. Beats go to the window engine; a device
that gives heart rate without beat intervals gets HR-only records (:class:`HrOnlyWindows`), never
for a window that holds beats. Where the device has an accelerometer, every record's
``activity_state`` says whether the wearer moved in it (motion.py), which the stress stage gates on.

The link never lets a bad payload escape: a decode failure is counted, handed to the sink to be
set aside, and the stream goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from dataclasses import dataclass
from typing import Protocol

import msgspec.structs

from vagus.clock import Clock, RealClock
from vagus.errors import PayloadError
from vagus.signal import Beat, Indicators, RollingWindow, WindowConfig

from .beat_clock import BeatClock
from .gatt_info import BATTERY_LEVEL_UUID, decode_battery_level
from .link_state import LinkEvent, LinkObserver, LinkPolicy, LinkState, Locatable
from .motion import MotionTracker
from .profiles import HrOnlyWindows, Readout, ReadProfile, make_reader, profile_of
from .transport import Transport

__all__ = ["DeviceLink", "LinkCounters", "LinkSink"]

log = logging.getLogger(__name__)

# A streaming stretch at least this long counts as a success: the failure count restarts and the
# next drop is retried at once. A link that drops sooner backs off instead, so a device that
# accepts and drops every connection is not hammered (and a simulated one cannot spin at one instant).
_STABLE_S = 10.0


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
    disconnects: int = 0  # unsolicited drops reported by the transport
    connects: int = 0
    failed_connects: int = 0  # failed connects and failed searches
    stalls: int = 0  # streaming without notifications for stall_s: reconnected
    battery_errors: int = 0
    skipped_intervals: int = 0  # PPI intervals the device flagged unreliable (profiles.py)
    hr_only_readings: int = 0  # heart-rate readings without beat intervals
    motion_samples: int = 0  # accelerometer samples


class DeviceLink:
    """Keeps one transport connected and turns its notifications into records.

    ``clock`` should be the clock the transport stamps arrivals with (the agent passes its own);
    it times the backoff, the stall watchdog, the battery poll and the events. ``rng`` draws the
    backoff jitter (seed it for reproducible runs). ``profile``: what to read (profiles.py); by
    default the transport's ``read_profile`` attribute, else the Heart Rate Service.
    """

    def __init__(
        self,
        transport: Transport,
        sink: LinkSink,
        window: WindowConfig | None = None,
        *,
        clock: Clock | None = None,
        policy: LinkPolicy | None = None,
        observer: LinkObserver | None = None,
        rng: random.Random | None = None,
        profile: ReadProfile | None = None,
    ) -> None:
        self.transport = transport
        self.device_id = transport.device_id
        self.clock: Clock = clock or RealClock()
        self.policy = policy or LinkPolicy()
        self._sink = sink
        self._observer = observer
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 — jitter or reproducible simulation, not a secret
        self._beats = BeatClock()
        self._window = RollingWindow(self.device_id, window)
        self.profile = profile or profile_of(transport)
        self.reader = make_reader(self.profile, self.device_id, battery_every_s=self.policy.battery_every_s)
        self.motion = MotionTracker()
        self._hr_only = HrOnlyWindows(self.device_id, window or WindowConfig())
        self._last_beat_s = -math.inf
        self._contact: bool | None = None
        self._dropped = asyncio.Event()
        self._last_rx_s = 0.0  # on self.clock
        self._battery_supported = True
        self._task: asyncio.Task[None] | None = None
        self.state: LinkState | None = None
        self.events: list[LinkEvent] = []  # this link's state changes, oldest first
        self.battery_pct: int | None = None
        self.counters = LinkCounters()
        self.last_hr_bpm: int | None = None

    # -- life cycle ---------------------------------------------------------------------------------

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The supervising task once started (done when stopped, or when the device cannot be read)."""
        return self._task

    async def start(self, *, wait: bool = True) -> None:
        """Start supervising the link.

        ``wait=True``: return once the first connect succeeded and notifications are on, or raise
        what the first attempt failed with (the link is then stopped). ``wait=False`` (the agent):
        return at once; the link keeps trying with backoff.
        """
        if self._task is not None:
            return
        first: asyncio.Future[None] | None = asyncio.get_running_loop().create_future() if wait else None
        self._task = asyncio.ensure_future(self._supervise(first))
        if first is None:
            return
        try:
            await asyncio.shield(first)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop supervising and disconnect the transport (safe to call twice)."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.transport.disconnect()
        if self.state is not LinkState.STOPPED:
            self._emit(LinkState.STOPPED, "stopped")

    # -- the state machine --------------------------------------------------------------------------

    def _emit(self, state: LinkState, reason: str | None = None, retry_in_s: float | None = None) -> None:
        self.state = state
        event = LinkEvent(self.device_id, state, self.clock.now_utc_s(), reason, retry_in_s)
        self.events.append(event)
        if self._observer is not None:
            self._observer.on_link_event(event)

    async def _supervise(self, first: asyncio.Future[None] | None) -> None:
        try:
            await self._keep_up(first)
        finally:
            if first is not None and not first.done():
                first.set_exception(ConnectionAbortedError("the link was stopped before it connected"))

    async def _keep_up(self, first: asyncio.Future[None] | None) -> None:
        failures = 0
        reason: str | None = None
        while True:
            if isinstance(self.transport, Locatable) and not self.transport.located:
                self._emit(LinkState.SCANNING, reason)
                try:
                    await self.transport.locate()
                except (LookupError, OSError) as exc:
                    if first is not None and not first.done():
                        first.set_exception(exc)
                        return
                    failures = await self._back_off(failures, f"not found: {_describe(exc)}")
                    reason = None
                    continue
            self._emit(LinkState.CONNECTING, reason)
            try:
                await self._connect()
            except ValueError as exc:  # the device lacks what its profile reads: retrying cannot help
                if first is not None and not first.done():
                    first.set_exception(exc)
                log.warning("a device cannot be read and is left alone: %s", exc)
                self._emit(LinkState.STOPPED, f"cannot be read: {exc}")
                return
            except Exception as exc:  # any transport failure is retried: the agent must outlive it
                if first is not None and not first.done():
                    first.set_exception(exc)
                    return
                failures = await self._back_off(failures, f"connect failed: {_describe(exc)}")
                reason = None
                continue
            streaming_since_s = self.clock.now_utc_s()
            self._emit(LinkState.STREAMING)
            if first is not None and not first.done():
                first.set_result(None)
            reason = await self._stream()
            if self.clock.now_utc_s() - streaming_since_s >= _STABLE_S:
                failures = 0
            else:
                failures = await self._back_off(failures, reason)
                reason = None

    async def _connect(self) -> None:
        self.counters.connects += 1
        self._dropped.clear()
        try:
            await self.transport.connect(self._on_disconnect)
        except BaseException:
            self.counters.connects -= 1
            self.counters.failed_connects += 1
            raise
        try:
            await self.reader.start(self.transport, self.on_notify, self.clock)
        except BaseException:
            self.counters.connects -= 1
            self.counters.failed_connects += 1
            # Connected but not streaming: close it, so the next attempt starts from a fresh connection.
            with contextlib.suppress(Exception):
                await self.transport.disconnect()
            raise
        self._last_rx_s = self.clock.now_utc_s()

    async def _back_off(self, failures: int, reason: str | None) -> int:
        delay_s = self.policy.backoff.delay_s(failures, self._rng)
        self._emit(LinkState.BACKOFF, reason, retry_in_s=delay_s)
        await self.clock.sleep(delay_s)
        return failures + 1

    async def _stream(self) -> str:
        """Wait while streaming (reading the battery when due); return why streaming ended."""
        policy = self.policy
        battery_due_s = self.clock.now_utc_s()
        while True:
            now = self.clock.now_utc_s()
            if self._dropped.is_set():
                return "dropped"
            if policy.stall_s is not None and now - self._last_rx_s >= policy.stall_s:
                # The link is up but silent: reconnecting restarts the stream (ble.md §4.4).
                self.counters.stalls += 1
                self._mark_gap()
                await self.transport.disconnect()
                return f"no data for {policy.stall_s:g} s"
            if self._battery_supported and now >= battery_due_s:
                await self._read_battery()
                battery_due_s = now + policy.battery_every_s
                continue
            poll_s = self.reader.next_poll_s()
            if poll_s is not None and now >= poll_s:
                await self._poll_reader(now)
                continue
            wake_s = battery_due_s if self._battery_supported else float("inf")
            if poll_s is not None:
                wake_s = min(wake_s, poll_s)
            if policy.stall_s is not None:
                wake_s = min(wake_s, self._last_rx_s + policy.stall_s)
            await self._until_dropped_or(wake_s - now)

    async def _poll_reader(self, now: float) -> None:
        try:
            await self.reader.poll(self.transport, now)
        except Exception as exc:  # a lost link is reported apart; a failed poll must not end streaming
            log.info("a periodic device command failed: %s", type(exc).__name__)

    async def _until_dropped_or(self, timeout_s: float) -> None:
        dropped = asyncio.ensure_future(self._dropped.wait())
        if timeout_s == float("inf"):
            await dropped
            return
        sleeper = asyncio.ensure_future(self.clock.sleep(timeout_s))
        try:
            await asyncio.wait({dropped, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in (dropped, sleeper):
                fut.cancel()

    async def _read_battery(self) -> None:
        try:
            level = decode_battery_level(await self.transport.read(BATTERY_LEVEL_UUID))
        except ValueError:
            self._battery_supported = False  # the device has no Battery Service: stop asking
            return
        except PayloadError as exc:
            self.counters.battery_errors += 1
            log.info("a battery level was malformed (%s)", exc.problem.value)
            return
        except Exception as exc:  # a battery read is optional; a real drop is reported apart
            self.counters.battery_errors += 1
            log.info("battery read failed: %s", type(exc).__name__)
            return
        self._battery(level.level_percent)

    def _battery(self, level_pct: int) -> None:
        self.battery_pct = level_pct
        if self._observer is not None:
            self._observer.on_battery(self.device_id, self.clock.now_utc_s(), level_pct)

    def _on_disconnect(self) -> None:
        self.counters.disconnects += 1
        self._mark_gap()
        self._dropped.set()

    def _mark_gap(self) -> None:
        """The beat chain broke (drop, stall, contact loss): nothing may bridge the hole."""
        self._beats.mark_gap()
        self._hr_only.mark_gap()
        self.reader.reset()

    # -- notifications ------------------------------------------------------------------------------

    def on_notify(self, characteristic: str, payload: bytes, arrival_utc_s: float) -> None:
        self.counters.notifications += 1
        self._last_rx_s = self.clock.now_utc_s()
        try:
            out = self.reader.on_notify(characteristic, payload, arrival_utc_s)
        except PayloadError as exc:
            self.counters.rejected_payloads += 1
            self._sink.on_rejected(self.device_id, arrival_utc_s, characteristic, payload, exc)
            return
        if out.warnings:
            self.counters.payload_warnings += 1
        if out.battery_pct is not None:
            self._battery(out.battery_pct)
        if out.hr_bpm is not None:
            self.last_hr_bpm = out.hr_bpm
        if out.contact is False and self._contact is not False:
            self._mark_gap()  # beats resume after contact loss on a fresh chain
        if out.contact is not None or out.hr_bpm is not None:
            self._contact = out.contact
        if out.motion_xyz is not None and out.motion_t_utc_s is not None:
            self.motion.push(out.motion_t_utc_s, out.motion_xyz)
            self.counters.motion_samples += len(out.motion_xyz)
        if out.gap:
            self._beats.mark_gap()
        records = self._beats_of(out, arrival_utc_s)
        if out.hr_only:
            self.counters.hr_only_readings += 1
            hr = out.hr_bpm if out.contact is not False and out.hr_bpm else None
            # Never for a window that holds beats: one device, one kind of record per window.
            records += [r for r in self._hr_only.push(arrival_utc_s, hr) if r.t_start_utc_s > self._last_beat_s]
        if records:
            self._sink.on_indicators([self._with_motion(r) for r in records])

    def _beats_of(self, out: Readout, arrival_utc_s: float) -> list[Indicators]:
        if not out.intervals or out.source is None:
            return []
        anchor = arrival_utc_s if out.anchor_utc_s is None else out.anchor_utc_s
        placed = self._beats.place([i.rr_ms for i in out.intervals], anchor)
        beats: list[Beat] = []
        gap = False
        for p, interval in zip(placed, out.intervals, strict=True):
            if interval.skip:
                gap = True  # the next kept beat starts a new chain: its interval is not the one before
                self.counters.skipped_intervals += 1
                continue
            beats.append(
                Beat(
                    device_id=self.device_id,
                    t_utc_s=p.t_utc_s,
                    rr_ms=interval.rr_ms,
                    rr_1024=interval.rr_1024,
                    source=out.source,
                    contact=interval.contact,
                    gap_before=p.gap_before or gap,
                )
            )
            gap = False
        if not beats:
            return []
        self.counters.beats += len(beats)
        self._last_beat_s = beats[-1].t_utc_s
        self._sink.on_beats(beats)
        records: list[Indicators] = []
        for beat in beats:
            records.extend(self._window.push(beat))
        return records

    def _with_motion(self, record: Indicators) -> Indicators:
        """``record`` with ``activity_state`` from the accelerometer, where the device has one."""
        if not self.reader.has_motion:
            return record
        state = self.motion.state(record.t_start_utc_s, record.t_end_utc_s)
        if state is None:
            return record
        reasons = {k: v for k, v in record.null_reasons.items() if k != "activity_state"}
        return msgspec.structs.replace(record, activity_state=state, null_reasons=reasons)


def _describe(exc: BaseException) -> str:
    """The root error's type, and its message unless it might carry a device address (bleak's often do)."""
    while exc.__cause__ is not None:  # BleConnectError wraps the last attempt's error
        exc = exc.__cause__
    name = type(exc).__name__
    text = str(exc)
    if not text or any(ch == ":" for ch in text.replace(": ", "")):
        return name
    return f"{name} ({text})"
