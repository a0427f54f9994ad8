"""A simulated world: people following a scenario, wearing devices, with ground truth.

``build_world(scenario)`` turns a :class:`~vagus.sim.scenario.Scenario` into people (drawn from
the population with the scenario's seed, or given by it), their physiology, and per device what
its detector reports (artifacts, contact loss, non-wear) and when its link is down. From a world:

* :meth:`World.devices` — :class:`~vagus.sim.device.SimulatedDevice` transports on a clock, for
  the agent (``vagus run --sim``) and tests;
* :func:`render` — every notification an eager host would receive, without an event loop (what
  ``vagus sim capture`` writes and the generation benchmark times);
* :meth:`World.write_labels` — the ground truth beside the bytes (:mod:`vagus.sim.labels`).

With ``people`` > 1 every device of the scenario is worn by each person (``strap`` becomes
``p000-strap``, ``p001-strap``, …): a quick way to simulate a household or load-test an agent.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vagus.clock import Clock

from . import colmi_encoder as colmi
from . import pmd_encoder as pmd
from .device import LinkOutage, Notification, SimulatedDevice, StreamMerge
from .firmware import PROFILES, WearerSignals, make_firmware
from .hrs_encoder import HRM_UUID
from .labels import SecondTruth, write_device_labels, write_manifest
from .physiology import Physiology, State, simulate
from .population import Person, draw_population
from .scenario import DeviceSpec, EventKind, Scenario, Timeline
from .sensor import ArtifactRates, Interval, sense, with_ectopic_beats

__all__ = ["HOST_PLANS", "DeviceSetup", "World", "build_world", "render", "strap_at_rest"]

# Optical sensors (wrist, ring, arm) miss and add beats more often than ECG straps; the rates
# are assumptions (per hour of wear), the strap's are ArtifactRates' defaults.
_OPTICAL = ArtifactRates(ectopic_per_h=0.0, missed_per_h=6.0, extra_per_h=3.0)
_RATES = {"h10": ArtifactRates(ectopic_per_h=0.0), "hr_watch": _OPTICAL, "verity": _OPTICAL, "colmi_ring": _OPTICAL}

# What an eager host does after connecting, per profile: subscribe to everything and start every
# stream. Both the in-process feed's tests and the offline renderer follow the same plan.
_ACC_50HZ = {pmd.SettingType.SAMPLE_RATE: (50,), pmd.SettingType.RESOLUTION: (16,), pmd.SettingType.RANGE: (8,)}
_START = pmd.ControlPointOpcode.REQUEST_MEASUREMENT_START
HOST_PLANS: dict[str, tuple[tuple[str, str, bytes], ...]] = {
    "h10": (
        ("subscribe", HRM_UUID, b""),
        ("subscribe", pmd.PMD_CONTROL_POINT_UUID, b""),
        ("subscribe", pmd.PMD_DATA_UUID, b""),
        ("write", pmd.PMD_CONTROL_POINT_UUID, bytes.fromhex("02000001820001010e00")),  # ECG 130 Hz (ble.md §2)
        (
            "write",
            pmd.PMD_CONTROL_POINT_UUID,
            pmd.encode_cp_request(_START, pmd.MeasurementType.ACC, settings=_ACC_50HZ),
        ),
    ),
    "verity": (
        ("subscribe", HRM_UUID, b""),
        ("subscribe", pmd.PMD_CONTROL_POINT_UUID, b""),
        ("subscribe", pmd.PMD_DATA_UUID, b""),
        ("write", pmd.PMD_CONTROL_POINT_UUID, bytes.fromhex("0203")),  # PPI takes no settings
    ),
    "hr_watch": (("subscribe", HRM_UUID, b""),),
    "colmi_ring": (
        ("subscribe", colmi.UART_TX_UUID, b""),
        ("write", colmi.UART_RX_UUID, colmi.RealTimeStart(colmi.RealTimeKind.HEART_RATE).to_packet()),
    ),
}


@dataclass(frozen=True, slots=True)
class DeviceSetup:
    """One simulated device: who wears it, what it observes, when its link is down."""

    name: str
    profile: str
    person_id: str
    signals: WearerSignals
    outages: tuple[LinkOutage, ...]
    clock_drift_ppm: float
    phase_s: float

    def firmware(self):  # noqa: ANN201 (one of the profile firmware classes)
        return make_firmware(self.profile, self.signals, clock_drift_ppm=self.clock_drift_ppm, phase_s=self.phase_s)

    def connected_mask(self) -> np.ndarray:
        mask = np.ones(self.signals.duration_s, dtype=bool)
        for o in self.outages:
            mask[int(o.start_s) : int(np.ceil(o.end_s))] = False
        return mask


@dataclass(slots=True)
class World:
    scenario: Scenario
    t0_utc_s: float
    people: list[Person]
    physiology: dict[str, Physiology]
    devices_setup: list[DeviceSetup]
    build_s: float = 0.0
    meta: dict[str, object] = field(default_factory=dict)

    def devices(self, clock: Clock, *, profiles: tuple[str, ...] | None = None) -> list[SimulatedDevice]:
        """Transports for the agent, paced by ``clock`` (which should start at ``t0_utc_s``)."""
        return [
            SimulatedDevice(
                d.firmware(), clock=clock, t0_utc_s=self.t0_utc_s, device_id=d.name, outages=list(d.outages)
            )
            for d in self.devices_setup
            if profiles is None or d.profile in profiles
        ]

    def write_labels(self, folder: Path) -> list[Path]:
        """The manifest and, per device, its per-second and per-beat truth (see vagus.sim.labels)."""
        paths = [
            write_manifest(
                folder,
                {
                    "scenario": self.scenario.name,
                    "source": self.scenario.source,
                    "seed": self.scenario.seed,
                    "t0_utc_s": self.t0_utc_s,
                    "duration_s": self.scenario.timeline.duration_s,
                    "people": [asdict(p) for p in self.people],
                    "devices": [
                        {
                            "name": d.name,
                            "profile": d.profile,
                            "person": d.person_id,
                            "clock_drift_ppm": d.clock_drift_ppm,
                        }
                        for d in self.devices_setup
                    ],
                },
            )
        ]
        for d in self.devices_setup:
            phys = self.physiology[d.person_id]
            truth = SecondTruth(
                state=[s.value for s in phys.states()],
                breathing_rate_brpm=phys.breathing_rate_brpm,
                hr_bpm=phys.hr_bpm,
                activity=phys.activity,
            )
            paths += write_device_labels(
                folder,
                d.name,
                t0_utc_s=self.t0_utc_s,
                truth=truth,
                sensed=d.signals.sensed,
                connected=d.connected_mask(),
            )
        return paths


def _intervals(scenario: Scenario, device: str, kinds: tuple[EventKind, ...]) -> list[Interval]:
    return [
        Interval(float(e.start_s), float(e.end_s), e.kind.value)
        for e in scenario.events
        if e.kind in kinds and e.device in ("*", device)
    ]


def build_world(
    scenario: Scenario,
    *,
    t0_utc_s: float | None = None,
    people: int = 1,
    seed: int | None = None,
    clock_drift_ppm: float = 0.0,
) -> World:
    """People, physiology and devices of ``scenario`` (deterministic for the seed).

    ``t0_utc_s`` defaults to the scenario's start (its local wall-clock time) or, without one, now.
    """
    started = time.perf_counter()
    if people < 1:
        raise ValueError(f"people must be ≥ 1, got {people}")
    seed = scenario.seed if seed is None else seed
    timeline = scenario.timeline
    if t0_utc_s is None:
        t0_utc_s = timeline.start.timestamp() if timeline.start is not None else time.time()
    # The scenario's [[people]] are the first people; the rest are drawn (person i depends only
    # on (seed, i), so adding people never changes the ones before).
    persons = (list(scenario.people) + draw_population(people, seed)[len(scenario.people) :])[:people]
    devices = scenario.devices or ()
    if not devices:
        raise ValueError(f'scenario {scenario.name!r} has no [[device]]; add one (e.g. profile = "h10")')
    physiology: dict[str, Physiology] = {}
    setups: list[DeviceSetup] = []
    index = itertools.count()
    for person in persons:
        phys = simulate(person, timeline, seed=seed)
        physiology[person.person_id] = phys
        heart = with_ectopic_beats(
            phys.beat_times_s,
            ectopic_per_h=person.ectopic_per_hour,
            prematurity=ArtifactRates().prematurity,
            seed=seed,
        )
        for spec in devices:
            if spec.profile not in PROFILES:
                raise ValueError(f"device {spec.name!r}: unknown profile {spec.profile!r}")
            i = next(index)
            device_seed = seed * 1009 + i
            name = spec.name if people == 1 else f"{person.person_id}-{spec.name}"
            sensed = sense(
                heart,
                timeline.duration_s,
                rates=_RATES[spec.profile],
                intervals=_intervals(scenario, spec.name, (EventKind.CONTACT_LOSS, EventKind.NON_WEAR)),
                seed=device_seed,
            )
            signals = WearerSignals(
                t0_utc_s=t0_utc_s,
                duration_s=timeline.duration_s,
                heart=heart,
                sensed=sensed,
                activity=phys.activity,
                hr_bpm=phys.hr_bpm,
                seed=device_seed,
            )
            outages = tuple(
                LinkOutage(iv.start_s, iv.end_s) for iv in _intervals(scenario, spec.name, (EventKind.DISCONNECT,))
            )
            rng = np.random.default_rng([device_seed, 3])
            setups.append(
                DeviceSetup(
                    name=name,
                    profile=spec.profile,
                    person_id=person.person_id,
                    signals=signals,
                    outages=outages,
                    clock_drift_ppm=clock_drift_ppm,
                    phase_s=float(rng.uniform(0.0, 1.0)),
                )
            )
    return World(scenario, t0_utc_s, persons, physiology, setups, build_s=time.perf_counter() - started)


def render(setup: DeviceSetup) -> Iterator[Notification]:
    """Everything an eager host receives from one device over the whole scenario, in order.

    The host follows ``HOST_PLANS[profile]`` on connecting, at t = 0 and again when each outage
    ends (reconnecting at once); during an outage nothing arrives. Synchronous and pure: the same
    bytes at the same times as the in-process :class:`SimulatedDevice` delivers to such a host.
    """
    fw = setup.firmware()
    end_s = setup.signals.duration_s
    plan = HOST_PLANS[setup.profile]
    outages = sorted(setup.outages, key=lambda o: o.start_s)
    connect_times = [0.0] + [o.end_s for o in outages]
    for n, connect_s in enumerate(connect_times):
        if connect_s >= end_s:
            break
        until_s = outages[n].start_s if n < len(outages) else float("inf")
        if any(o.start_s <= connect_s < o.end_s for o in outages):
            continue  # overlapping outages: this one ends inside another
        subscribed: set[str] = set()
        pending = StreamMerge()
        for action, uuid, data in plan:
            if action == "subscribe":
                subscribed.add(uuid)
                pending.apply(fw.subscribe(uuid, connect_s))
            else:
                pending.apply(fw.write(uuid, data, connect_s))
        while (due := pending.next_due_s()) is not None and due < until_s:
            note = pending.pop()
            if note.characteristic in subscribed:
                yield note
        fw.link_lost(until_s)


def strap_at_rest(
    clock: Clock, *, duration_s: int, seed: int = 1, clock_drift_ppm: float = 0.0, device_id: str = "strap"
) -> tuple[SimulatedDevice, World]:
    """One H10-like strap on one person at rest from now for ``duration_s`` (tests and examples)."""
    scenario = Scenario(
        name="rest",
        description="one person at rest",
        timeline=Timeline.constant(State.REST, duration_s),
        seed=seed,
        people=(),
        devices=(DeviceSpec(device_id, "h10"),),
        events=(),
        source="strap_at_rest",
    )
    world = build_world(scenario, t0_utc_s=clock.now_utc_s(), clock_drift_ppm=clock_drift_ppm)
    return world.devices(clock)[0], world
