"""``vagus run``: wire the configured devices, store, clock and live view into an agent.

Three sources of wearables: the simulator (``--sim``), a capture (``--replay``), or the real ones
listed in the config's ``[[devices]]`` tables, read over BLE through
:class:`~vagus.edge.ble_transport.BleTransport` (imported only on that path, with bleak).
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from vagus.agent_messages import PersonChannel
from vagus.agent_sync import AgentSync
from vagus.clock import Clock, RealClock, SimClock
from vagus.config import Config, DeviceSection, load_config
from vagus.edge import Agent, AgentConfig, Store
from vagus.edge.link_log import add_battery, add_link_event
from vagus.edge.link_state import LinkEvent, LinkPolicy
from vagus.edge.live_view import LiveView
from vagus.edge.profiles import ProfiledTransport, ReadProfile
from vagus.errors import ConfigError
from vagus.heartbeat import Heartbeat
from vagus.signal import Indicators, WindowConfig

__all__ = ["BleHooks", "RunOptions", "run_agent"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunOptions:
    config_path: Path | None = None
    db_path: Path | None = None
    duration_s: float | None = None
    speed: float = 1.0
    seed: int | None = None
    quiet: bool = False
    scenario: str | None = None  # overrides sim.scenario
    people: int | None = None  # overrides sim.people
    replay: Path | None = None  # a capture to replay instead of simulating
    ble: bool = False  # read the config's [[devices]] over BLE instead of simulating
    health_file: Path | None = None  # touched while records flow (vagus.heartbeat)


@dataclass(frozen=True, slots=True)
class BleHooks:
    """Seams of the BLE path for tests without a radio (tests/ble_test_backend.py).

    ``client_backend`` is passed to ``BleakClient(…, backend=…)``; ``scan`` replaces
    :func:`vagus.edge.ble_transport.scan` for devices configured by name; ``clock`` replaces the wall clock.
    """

    client_backend: type | None = None
    scan: Callable[..., Awaitable[list[Any]]] | None = None
    clock: Clock | None = None


# How the agent reads each simulated profile (vagus.edge.profiles, docs/edge-ble.md): the strap
# through PMD with its accelerometer (beats from its own RR: ECG would need the `analysis` extra),
# the optical sensor through PMD PPI and accelerometer, the watch through the Heart Rate Service
# (HR only: it sends no RR), the ring through its UART (HR only).
_SIM_PROFILES: dict[str, ReadProfile] = {
    "h10": ReadProfile("polar_pmd", ecg=False, acc=True),
    "verity": ReadProfile("polar_pmd", ecg=False, acc=True),
    "hr_watch": ReadProfile("heart_rate"),
    "colmi_ring": ReadProfile("colmi_ring"),
}


def read_profile(device: DeviceSection) -> ReadProfile:
    """The read profile of a configured wearable (``ecg`` off, ``acc`` on unless the config says)."""
    return ReadProfile(device.profile, ecg=bool(device.ecg), acc=True if device.acc is None else device.acc)


def _simulated(options: RunOptions, config: Config, clock: SimClock, out: TextIO) -> tuple[list[Any], float]:
    """The transports of the configured scenario, and how long (simulated seconds) it lasts."""
    import dataclasses

    from vagus.sim import build_world, draw_population
    from vagus.sim_cli import load_any_scenario

    sim = config.sim
    scenario = load_any_scenario(options.scenario or sim.scenario)
    seed = sim.seed if options.seed is None else options.seed
    if sim.mean_hr_bpm is not None or sim.breathing_rate_brpm is not None:
        drawn_seed = scenario.seed if seed is None else seed
        first = scenario.people[0] if scenario.people else draw_population(1, drawn_seed)[0]
        overrides = {"resting_hr_bpm": sim.mean_hr_bpm, "breathing_rate_brpm": sim.breathing_rate_brpm}
        first = dataclasses.replace(first, **{k: v for k, v in overrides.items() if v is not None})
        scenario = dataclasses.replace(scenario, people=(first, *scenario.people[1:]))
    try:
        world = build_world(
            scenario,
            t0_utc_s=clock.now_utc_s(),
            people=options.people or sim.people,
            seed=seed,
            clock_drift_ppm=sim.clock_drift_ppm,
        )
    except ValueError as exc:
        raise ConfigError(f"sim.scenario {scenario.source}: {exc}") from exc
    skipped = [d for d in world.devices_setup if d.profile not in _SIM_PROFILES]
    for d in skipped:
        out.write(f"vagus: {d.name} ({d.profile}) is not read: this agent has no reader for its profile\n")
    people = ", ".join(f"{p.person_id} (resting HR {p.resting_hr_bpm:.0f})" for p in world.people)
    out.write(f"vagus: scenario {scenario.name!r} ({scenario.description or 'no description'}); {people}\n")
    devices = world.devices(clock, profiles=tuple(_SIM_PROFILES))
    transports = [ProfiledTransport(d, _SIM_PROFILES[d.firmware.profile]) for d in devices]
    return transports, float(scenario.timeline.duration_s)


def _replayed(path: Path, clock_speed: float, out: TextIO) -> tuple[list[Any], SimClock, float]:
    from vagus.sim import ReplayDevice, read_capture
    from vagus.sim.capture import CaptureError
    from vagus.sim.hrs_encoder import HRM_UUID

    try:
        t0, events = read_capture(path)
    except (CaptureError, OSError) as exc:
        raise ConfigError(f"--replay: {exc}") from exc
    clock = SimClock(t0, speed=clock_speed)
    names = sorted({e.device for e in events if e.kind == "notify" and e.characteristic == HRM_UUID})
    if not names:
        raise ConfigError(f"--replay: {path} holds no Heart Rate Measurement notifications")
    end = max((e.t_utc_s for e in events), default=t0)
    out.write(f"vagus: replaying {path} ({', '.join(names)}; {(end - t0) / 3600:.2f} h)\n")
    return [ReplayDevice(events, name, clock) for name in names], clock, end - t0


# How long a search for a device configured by name listens (seconds of radio time).
_SCAN_S = 10.0


class _NamedWearable:
    """A wearable configured by advertised name: found by a scan (the link's ``scanning`` state),
    then read through a :class:`BleTransport` on the address the scan found.

    Its ``device_id`` is the configured name, so its records keep one identity across address changes.
    """

    def __init__(self, spec: DeviceSection, clock: Clock, hooks: BleHooks) -> None:
        from vagus.edge import ble_transport

        assert spec.name is not None  # noqa: S101 — a type-narrowing invariant, not input validation
        self._spec = spec
        self._name = spec.name
        self._clock = clock
        self._hooks = hooks
        self._ble = ble_transport
        service = {
            "heart_rate": ble_transport.HEART_RATE_SERVICE_UUID,
            "polar_pmd": ble_transport.POLAR_PMD_SERVICE_UUID,
            "colmi_ring": ble_transport.COLMI_UART_SERVICE_UUID,
        }
        self._service = service[spec.profile]
        self.read_profile = read_profile(spec)
        self._inner: Any = None

    @property
    def device_id(self) -> str:
        return self._name

    @property
    def located(self) -> bool:
        return self._inner is not None

    async def locate(self) -> None:
        scan = self._hooks.scan or self._ble.scan
        results = await scan(_SCAN_S, adapter=self._spec.adapter, service_uuids=[self._service])
        wanted = self._name.casefold()
        found = next((r for r in results if r.name and r.name.casefold().startswith(wanted)), None)
        if found is None:
            raise LookupError(f"no {self._spec.profile} wearable named {self._name!r} heard in {_SCAN_S:g} s")
        self._inner = _ble_transport(found.device or found.address, self._spec.adapter, self._clock, self._hooks)

    def _require(self) -> Any:
        if self._inner is None:
            raise ConnectionError(f"{self._name!r} has not been found yet")
        return self._inner

    async def connect(self, on_disconnect: Callable[[], None]) -> None:
        await self._require().connect(on_disconnect)

    async def subscribe(self, characteristic_uuid: str, on_notify: Callable[[str, bytes, float], None]) -> None:
        await self._require().subscribe(characteristic_uuid, on_notify)

    async def read(self, characteristic_uuid: str) -> bytes:
        return bytes(await self._require().read(characteristic_uuid))

    async def write(self, characteristic_uuid: str, data: bytes) -> None:
        await self._require().write(characteristic_uuid, data)

    async def disconnect(self) -> None:
        if self._inner is not None:
            await self._inner.disconnect()


def _ble_transport(target: Any, adapter: str | None, clock: Clock, hooks: BleHooks) -> Any:
    from vagus.edge.ble_transport import BleTransport

    # One attempt per connect: the device link owns the retry loop and its backoff (and reports
    # every attempt as a state change).
    return BleTransport(target, clock=clock, adapter=adapter, attempts=1, client_backend=hooks.client_backend)


def _wearables(config: Config, clock: Clock, hooks: BleHooks, out: TextIO) -> list[Any]:
    """Transports for the config's ``[[devices]]``; ConfigError pointing to ``vagus scan`` if there are none."""
    if not config.devices:
        raise ConfigError(
            "no wearable configured: run `vagus scan` to find yours, then add it to the config file as\n"
            '  [[devices]]\n  address = "CE:5F:FD:D3:C6:D1"\n'
            "(docs/configuration.md); or try `vagus run --sim` with simulated wearables"
        )
    transports = [
        ProfiledTransport(_ble_transport(d.address, d.adapter, clock, hooks), read_profile(d))
        if d.address
        else _NamedWearable(d, clock, hooks)
        for d in config.devices
    ]
    out.write(f"vagus: reading {len(transports)} BLE wearable(s) of the config's [[devices]]\n")
    return transports


async def run_agent(
    options: RunOptions,
    *,
    out: TextIO,
    stop_signals: Sequence[signal.Signals] = (),
    ble_hooks: BleHooks | None = None,
) -> int:
    """Run the agent on real, simulated or replayed wearables until a stop signal, ``duration_s`` of
    wall time, or the end of the scenario or capture. A stop disconnects every wearable first."""
    config = load_config(options.config_path)
    db_path = options.db_path or Path(config.store.path)
    span_s: float | None = None
    if options.ble:
        hooks = ble_hooks or BleHooks()
        clock: Clock = hooks.clock or RealClock()
        transports = _wearables(config, clock, hooks, out)
    elif options.replay is not None:
        transports, clock, span_s = _replayed(options.replay, options.speed, out)
    else:
        clock = SimClock(RealClock().now_utc_s(), speed=options.speed)
        transports, span_s = _simulated(options, config, clock, out)
    if options.ble:
        out.write(f"vagus: store {db_path}\n")
    else:
        speed = "as fast as possible" if math.isinf(options.speed) else f"{options.speed:g}x"
        out.write(f"vagus: speed {speed}; store {db_path}\n")
    out.write("Wellness self-monitoring, not a medical device. Ctrl-C to stop.\n")
    out.flush()
    with Store(db_path) as store:
        await _run_on(_Feed(transports, clock, span_s), options, config, store, out=out, stop_signals=stop_signals)
    return 0


@dataclass(frozen=True, slots=True)
class _Feed:
    """The wearables' transports, the clock they run on, and how long the feed lasts (None: a live one)."""

    transports: list[Any]
    clock: Clock
    span_s: float | None


async def _run_on(
    feed: _Feed,
    options: RunOptions,
    config: Config,
    store: Store,
    *,
    out: TextIO,
    stop_signals: Sequence[signal.Signals],
) -> None:
    transports, clock, span_s = feed.transports, feed.clock, feed.span_s
    sig = config.signal
    view = LiveView(out)
    channel: PersonChannel | None = None

    def on_checkin(message: Any) -> None:
        if channel is not None:
            channel.on_checkin(message)

    with AgentSync(config, store, on_checkin=on_checkin) as sync:
        # Simulated and replayed wearables are not the person's body: their nudges stay in the terminal.
        desktop = config.nudges.desktop and options.ble
        channel = PersonChannel(store, sync, config.safety, out=None if options.quiet else out, desktop=desktop)
        heartbeat = Heartbeat(options.health_file)

        def each_record() -> None:
            heartbeat.beat()
            assert channel is not None  # noqa: S101 — set just above
            channel.poll()

        report = _Report(store, view, sync, quiet=options.quiet, each_record=each_record)
        agent = Agent(
            transports=transports,
            store=store,
            clock=clock,
            config=AgentConfig(
                window=WindowConfig(
                    windows_s=tuple(sig.windows_s),
                    step_s=sig.step_s,
                    warmup_s=sig.warmup_s,
                    correction=sig.correction,
                    spectral=sig.spectral,
                    nonlinear=sig.nonlinear,
                ),
                beats_retention_s=config.store.beats_retention_days * 86_400.0,
                # A replay is no radio: its silences are the capture's outages, and reconnecting a
                # replay restarts it, so the stall watchdog is for live links only.
                link=LinkPolicy(stall_s=None) if options.replay is not None else LinkPolicy(),
                nudges=config.nudges,
            ),
            on_indicators=report.on_indicators,
            on_nudge=channel.on_nudge,
            on_weekly=channel.on_weekly,
            on_night=sync.submit_night,
            on_link_event=report.on_link_event,
            on_battery=report.on_battery,
        )
        channel.nudges = agent.nudges
        sync.announce_devices(t.device_id for t in transports)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in stop_signals:
            loop.add_signal_handler(signum, stop.set)
        timer = loop.call_later(options.duration_s, stop.set) if options.duration_s is not None else None

        async def end_of_feed(span_s: float) -> None:
            await clock.sleep(span_s + 1.0)
            out.write("vagus: the simulated feed has ended\n")
            stop.set()

        ender = asyncio.ensure_future(end_of_feed(span_s)) if span_s is not None else None
        try:
            await agent.run(stop)
        finally:
            if ender is not None:
                ender.cancel()
            if timer is not None:
                timer.cancel()
            for signum in stop_signals:
                loop.remove_signal_handler(signum)
        beats = sum(link.counters.beats for link in agent.links)
        rejected = sum(link.counters.rejected_payloads for link in agent.links)
        drops = sum(link.counters.disconnects + link.counters.stalls for link in agent.links)
        out.write(
            f"vagus: stopped; the store holds {store.count('indicators')} indicator rows; "
            f"{beats} beats, {rejected} rejected payloads, {drops} dropped links this run\n"
        )


class _Report:
    """Where the agent's records, link events and battery levels go: the live view (unless quiet),
    sync (records; link state and battery as device status), and the store (link events and battery
    levels through link_log.py)."""

    def __init__(
        self, store: Store, view: LiveView, sync: AgentSync, *, quiet: bool, each_record: Callable[[], None]
    ) -> None:
        self._each_record = each_record  # the liveness file; relaying messages other processes showed
        self._store = store
        self._view = view
        self._sync = sync
        self._quiet = quiet

    def on_indicators(self, device_id: str, record: Indicators) -> None:
        self._each_record()
        if not self._quiet:
            self._view.show(device_id, record)
        self._sync.submit(device_id, record)

    def on_link_event(self, event: LinkEvent) -> None:
        add_link_event(self._store, event)
        self._sync.device_status(event.device_id, event.t_utc_s, link_state=event.state.value)
        if not self._quiet:
            self._view.show_link_event(event)

    def on_battery(self, device_id: str, t_utc_s: float, level_pct: int) -> None:
        add_battery(self._store, device_id, t_utc_s, level_pct)
        self._sync.device_status(device_id, t_utc_s, battery_pct=level_pct)
        if not self._quiet:
            self._view.show_battery(device_id, t_utc_s, level_pct)
