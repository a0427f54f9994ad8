"""The device link's state machine on a virtual clock: backoff timing, reconnects, stalls, battery, scanning.

The transport double below follows the transport contract (notifications only while connected,
nothing remembered across a drop); the reference times are recomputed from the backoff formula
with the same seeded random source, so a wrong wait, a missing re-subscribe or a retry storm
shows as a mismatch.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from vagus.clock import SimClock
from vagus.edge.device_link import DeviceLink
from vagus.edge.gatt_info import BATTERY_LEVEL_UUID
from vagus.edge.hrs import HEART_RATE_MEASUREMENT_UUID as HRM
from vagus.edge.link_state import Backoff, LinkEvent, LinkPolicy, LinkState, Locatable
from vagus.sim import encode_hrm

T0 = 1_790_000_000.0
RR_1024 = 1024  # one beat a second


class FakeStrap:
    """A transport double: scripted connect outcomes; one beat a second while connected and not silenced."""

    def __init__(self, clock: SimClock, *, fail_connects: int = 0, fail_after_s: float = 10.0, battery=b"\x57"):
        self.clock = clock
        self.fail_connects = fail_connects
        self.fail_after_s = fail_after_s  # a failing attempt takes this long (the simulator's 10-s timeout)
        self.battery = battery
        self.connected = False
        self.silent = False  # connected, but no notifications (a stalled stream)
        self.connect_times: list[float] = []
        self.subscribes = 0
        self.disconnects = 0
        self.reads: list[float] = []
        self._on_disconnect = None
        self._handler = None
        self._feeder: asyncio.Task | None = None

    @property
    def device_id(self) -> str:
        return "fake"

    async def connect(self, on_disconnect) -> None:
        self.connect_times.append(self.clock.now_utc_s())
        if self.fail_connects:
            self.fail_connects -= 1
            await self.clock.sleep(self.fail_after_s)
            raise TimeoutError("out of range")
        self.connected = True
        self._on_disconnect = on_disconnect
        self._handler = None

    async def subscribe(self, characteristic_uuid: str, on_notify) -> None:
        if not self.connected:
            raise ConnectionError("not connected")
        if characteristic_uuid != HRM:
            raise ValueError(f"no characteristic {characteristic_uuid}")
        self.subscribes += 1
        self._handler = on_notify
        if self._feeder is None or self._feeder.done():
            self._feeder = asyncio.ensure_future(self._feed())

    async def _feed(self) -> None:
        payload = encode_hrm(hr_bpm=60, rr_1024=[RR_1024], contact=True)
        while self.connected:
            await self.clock.sleep(1.0)
            if self.connected and not self.silent and self._handler is not None:
                self._handler(HRM, payload, self.clock.now_utc_s())

    async def read(self, characteristic_uuid: str) -> bytes:
        if not self.connected:
            raise ConnectionError("not connected")
        if characteristic_uuid != BATTERY_LEVEL_UUID or self.battery is None:
            raise ValueError(f"no characteristic {characteristic_uuid}")
        self.reads.append(self.clock.now_utc_s())
        return self.battery

    async def write(self, characteristic_uuid: str, data: bytes) -> None:
        raise ValueError("no writable characteristic")

    async def disconnect(self) -> None:
        self.disconnects += 1
        self.connected = False
        self._handler = None

    def drop(self) -> None:
        """The device goes out of range: an unsolicited disconnect."""
        self.connected = False
        self._handler = None
        assert self._on_disconnect is not None
        self._on_disconnect()


class Sink:
    def __init__(self) -> None:
        self.beats = []
        self.records = []

    def on_beats(self, beats) -> None:
        self.beats.extend(beats)

    def on_indicators(self, records) -> None:
        self.records.extend(records)

    def on_rejected(self, *args) -> None:
        raise AssertionError("nothing malformed is sent")


class Observer:
    def __init__(self) -> None:
        self.events: list[LinkEvent] = []
        self.battery: list[tuple[float, int]] = []

    def on_link_event(self, event: LinkEvent) -> None:
        self.events.append(event)

    def on_battery(self, device_id: str, t_utc_s: float, level_pct: int) -> None:
        self.battery.append((t_utc_s, level_pct))


def link_for(strap, clock, *, seed: int = 3, **policy) -> tuple[DeviceLink, Sink, Observer]:
    sink, observer = Sink(), Observer()
    link = DeviceLink(strap, sink, clock=clock, policy=LinkPolicy(**policy), observer=observer, rng=random.Random(seed))  # noqa: S311 — jitter or reproducible simulation, not a secret
    return link, sink, observer


async def test_failed_connects_back_off_exactly_on_the_injected_clock():
    clock = SimClock(T0)
    strap = FakeStrap(clock, fail_connects=4)
    backoff = Backoff(initial_s=2.0, factor=2.0, max_s=60.0, jitter=0.3)
    link, _, observer = link_for(strap, clock, backoff=backoff, seed=11)
    await link.start(wait=False)
    await clock.sleep(200.0)
    await link.stop()
    # The reference: each failed attempt takes 10 s, then waits delay_s(n) drawn from the same seed.
    rng = random.Random(11)  # noqa: S311 — jitter or reproducible simulation, not a secret
    t, expected = T0, []
    for n in range(4):
        expected.append((LinkState.CONNECTING, t, None))
        t += 10.0
        delay = backoff.delay_s(n, rng)
        expected.append((LinkState.BACKOFF, t, delay))
        t += delay
    expected.append((LinkState.CONNECTING, t, None))
    expected.append((LinkState.STREAMING, t, None))
    got = [(e.state, e.t_utc_s, e.retry_in_s) for e in observer.events[: len(expected)]]
    assert [g[0] for g in got] == [x[0] for x in expected]
    for (_, t_got, d_got), (_, t_want, d_want) in zip(got, expected, strict=True):
        assert t_got == pytest.approx(t_want, abs=1e-6)  # one ulp of a POSIX time is 2.4e-7 s
        assert d_got == d_want
    assert strap.connect_times == pytest.approx([e[1] for e in expected if e[0] is LinkState.CONNECTING], abs=1e-6)
    assert observer.events[-1].state is LinkState.STOPPED and link.counters.failed_connects == 4
    assert all("connect failed: TimeoutError" in e.reason for e in observer.events if e.state is LinkState.BACKOFF)


async def test_a_drop_reconnects_at_once_resubscribes_and_starts_a_new_chain():
    clock = SimClock(T0)
    strap = FakeStrap(clock)
    link, sink, observer = link_for(strap, clock, backoff=Backoff(jitter=0.0))
    await link.start()
    await clock.sleep(30.5)
    strap.fail_connects = 2  # still out of range for the first two attempts
    strap.drop()
    await clock.sleep(60.0)
    await link.stop()
    states = [(e.state, e.reason) for e in observer.events]
    assert states[:4] == [
        (LinkState.CONNECTING, None),
        (LinkState.STREAMING, None),
        (LinkState.CONNECTING, "dropped"),  # the first retry is immediate
        (LinkState.BACKOFF, "connect failed: TimeoutError (out of range)"),
    ]
    drop_t = T0 + 30.5
    # Retries at the drop, after 10 s + 2 s, after 10 s + 4 s: streaming again at drop + 26 s.
    assert strap.connect_times[1:] == pytest.approx([drop_t, drop_t + 12.0, drop_t + 26.0], abs=1e-6)
    assert strap.subscribes == 2 and link.counters.disconnects == 1 and link.counters.connects == 2
    gaps = [b for b in sink.beats if b.gap_before]
    assert len(gaps) == 2 and gaps[1].t_utc_s > drop_t + 26.0
    before = [b for b in sink.beats if b.t_utc_s < drop_t]
    after = [b for b in sink.beats if b.t_utc_s > drop_t]
    assert len(before) == 30 and len(after) == pytest.approx(60 - 26, abs=1)
    # No window spans the hole: every record ends before the drop or starts after the reconnect.
    assert sink.records and all(r.t_end_utc_s <= drop_t or r.t_start_utc_s >= drop_t + 25.0 for r in sink.records)


async def test_a_device_that_drops_at_once_is_not_hammered():
    clock = SimClock(T0)
    strap = FakeStrap(clock)
    link, _, observer = link_for(strap, clock, backoff=Backoff(initial_s=1.0, factor=2.0, max_s=8.0, jitter=0.0))
    await link.start()
    for _ in range(6):  # accepts every connection and drops it 0.5 s later
        await clock.sleep(0.5)
        strap.drop()
        while not strap.connected:
            await clock.sleep(0.01)
    await link.stop()
    waits = [e.retry_in_s for e in observer.events if e.state is LinkState.BACKOFF]
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


async def test_a_silent_stream_is_reconnected_by_the_watchdog():
    clock = SimClock(T0)
    strap = FakeStrap(clock)
    link, sink, observer = link_for(strap, clock, stall_s=15.0)
    await link.start()
    await clock.sleep(20.5)
    strap.silent = True  # the link stays up, the notifications stop (ble.md §4.4)
    await clock.sleep(14.0)
    assert link.counters.stalls == 0  # 14.5 s of silence: not yet
    await clock.sleep(2.0)
    strap.silent = False
    await clock.sleep(30.0)
    assert link.counters.stalls == 1 and strap.disconnects == 1 and strap.subscribes == 2
    (stall,) = [e for e in observer.events if e.reason == "no data for 15 s"]
    assert stall.state is LinkState.CONNECTING and stall.t_utc_s == pytest.approx(T0 + 20.0 + 15.0, abs=1e-6)
    await link.stop()
    assert sum(b.gap_before for b in sink.beats) == 2


async def test_steady_one_hertz_notifications_never_trip_the_watchdog():
    clock = SimClock(T0)
    strap = FakeStrap(clock)
    link, sink, observer = link_for(strap, clock, stall_s=15.0)
    await link.start()
    await clock.sleep(3600.0)
    await link.stop()
    assert link.counters.stalls == 0 and [e.state for e in observer.events] == [
        LinkState.CONNECTING,
        LinkState.STREAMING,
        LinkState.STOPPED,
    ]
    assert len(sink.beats) == 3600


async def test_battery_is_read_on_connecting_and_every_ten_minutes():
    clock = SimClock(T0)
    strap = FakeStrap(clock, battery=bytes([87]))
    link, _, observer = link_for(strap, clock)
    await link.start()
    await clock.sleep(1900.0)
    assert strap.reads == pytest.approx([T0, T0 + 600.0, T0 + 1200.0, T0 + 1800.0], abs=1e-6)
    assert observer.battery == [(t, 87) for t in strap.reads] and link.battery_pct == 87
    await link.stop()


async def test_a_device_without_a_battery_service_is_asked_once():
    clock = SimClock(T0)
    strap = FakeStrap(clock, battery=None)
    link, _, observer = link_for(strap, clock)
    await link.start()
    await clock.sleep(1900.0)
    await link.stop()
    assert len(strap.reads) == 0 and observer.battery == [] and link.battery_pct is None
    assert link.counters.stalls == 0 and link.counters.battery_errors == 0


async def test_a_device_without_heart_rate_is_left_alone():
    class NoHeartRate(FakeStrap):
        async def subscribe(self, characteristic_uuid, on_notify):
            raise ValueError("the device has no characteristic 2a37")

    clock = SimClock(T0)
    strap = NoHeartRate(clock)
    link, _, observer = link_for(strap, clock)
    await link.start(wait=False)
    await clock.sleep(100.0)
    assert link.task is not None and link.task.done() and link.task.exception() is None
    assert len(strap.connect_times) == 1 and strap.disconnects == 1
    assert observer.events[-1].state is LinkState.STOPPED and "cannot be read" in observer.events[-1].reason
    with pytest.raises(ValueError, match="2a37"):
        await link_for(NoHeartRate(clock), clock)[0].start()


async def test_start_and_wait_raises_the_first_failure_and_stops():
    clock = SimClock(T0)
    strap = FakeStrap(clock, fail_connects=1)
    link, _, observer = link_for(strap, clock)
    with pytest.raises(TimeoutError):
        await link.start()
    assert link.task is not None and link.task.done()
    assert observer.events[-1].state is LinkState.STOPPED and len(strap.connect_times) == 1


async def test_stop_during_backoff_is_prompt_and_disconnects():
    clock = SimClock(T0)
    strap = FakeStrap(clock, fail_connects=100)
    link, _, observer = link_for(strap, clock, backoff=Backoff(initial_s=50.0, max_s=100.0, jitter=0.0))
    await link.start(wait=False)
    await clock.sleep(15.0)  # in the first 50-s backoff
    assert link.state is LinkState.BACKOFF
    await link.stop()
    assert clock.now_utc_s() == T0 + 15.0 and strap.disconnects == 1
    assert observer.events[-1] == LinkEvent("fake", LinkState.STOPPED, T0 + 15.0, "stopped")
    await link.stop()  # twice is fine
    assert [e.state for e in observer.events].count(LinkState.STOPPED) == 1


class NamedStrap(FakeStrap):
    """A strap known only by name: found by the third search."""

    def __init__(self, clock: SimClock) -> None:
        super().__init__(clock)
        self.searches: list[float] = []

    @property
    def located(self) -> bool:
        return len(self.searches) >= 3

    async def locate(self) -> None:
        await self.clock.sleep(5.0)  # a scan window
        self.searches.append(self.clock.now_utc_s())
        if not self.located:
            raise LookupError("no wearable named 'Polar H10' heard")


async def test_a_device_known_by_name_is_scanned_for_with_backoff():
    clock = SimClock(T0)
    strap = NamedStrap(clock)
    assert isinstance(strap, Locatable) and not isinstance(FakeStrap(clock), Locatable)
    backoff = Backoff(initial_s=2.0, jitter=0.0)
    link, _, observer = link_for(strap, clock, backoff=backoff)
    await link.start(wait=False)
    await clock.sleep(60.0)
    await link.stop()
    states = [e.state for e in observer.events]
    assert states == [LinkState.SCANNING, LinkState.BACKOFF] * 2 + [
        LinkState.SCANNING,
        LinkState.CONNECTING,
        LinkState.STREAMING,
        LinkState.STOPPED,
    ]
    assert strap.searches == pytest.approx([T0 + 5.0, T0 + 12.0, T0 + 21.0], abs=1e-6)
    assert strap.connect_times == pytest.approx([T0 + 21.0], abs=1e-6)
    assert observer.events[1].reason == "not found: LookupError (no wearable named 'Polar H10' heard)"


def test_policy_rejects_nonsense():
    for kwargs in ({"stall_s": 0.0}, {"battery_every_s": -1.0}):
        with pytest.raises(ValueError, match="must be > 0"):
            LinkPolicy(**kwargs)
    with pytest.raises(ValueError, match="backoff"):
        Backoff(initial_s=0.0)


async def test_stop_while_start_waits_ends_the_wait():
    clock = SimClock(T0)
    strap = FakeStrap(clock, fail_connects=1, fail_after_s=30.0)
    link, _, _ = link_for(strap, clock)
    waiting = asyncio.ensure_future(link.start())
    await clock.sleep(5.0)
    await link.stop()
    with pytest.raises(ConnectionAbortedError):
        await waiting
    assert strap.disconnects >= 1 and link.state is LinkState.STOPPED


async def test_a_failed_subscribe_closes_the_connection_and_retries():
    class FlakySubscribe(FakeStrap):
        failures = 1

        async def subscribe(self, characteristic_uuid, on_notify):
            if self.failures:
                self.failures -= 1
                raise ConnectionError("start_notify failed")
            await super().subscribe(characteristic_uuid, on_notify)

    clock = SimClock(T0)
    strap = FlakySubscribe(clock)
    link, sink, observer = link_for(strap, clock, backoff=Backoff(initial_s=2.0, jitter=0.0))
    await link.start(wait=False)
    await clock.sleep(30.0)
    await link.stop()
    assert strap.connect_times == [T0, T0 + 2.0] and strap.disconnects == 2  # after the failure, and at stop
    assert [e.state for e in observer.events][:4] == [
        LinkState.CONNECTING,
        LinkState.BACKOFF,
        LinkState.CONNECTING,
        LinkState.STREAMING,
    ]
    assert link.counters.failed_connects == 1 and link.counters.connects == 1 and len(sink.beats) == 28
