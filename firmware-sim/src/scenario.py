"""Timelines of physiological states, and scenario files that describe a simulated day.

A ``Timeline`` is contiguous ``Segment``s of whole seconds from t = 0, plus the local time of day at
t = 0 (for the circadian drift). A scenario TOML file describes one::

    name = "workday"                  # optional; defaults to the file name
    description = "..."               # optional
    start = "2026-11-25T22:00"        # local wall clock: ISO date-time or a bare "HH:MM[:SS]"
    duration = "24h"                  # "90s", "5min", "1h30min", "2d" or an integer of seconds
    seed = 7                          # optional, default 0 (people and physiology)
    default_state = "rest"            # optional: fills the gaps between segments

    [[segment]]
    at = "23:00"                      # "HH:MM[:SS]", an ISO date-time, or "+1h30min" after start
    state = "sleep"                   # sleep | rest | stress | exercise | recovery
    duration = "20min"                # optional; otherwise the segment lasts until the next one
    paced_breathing_brpm = 6          # optional pacer (breaths per minute)

    [[people]]                        # optional; each entry overrides fields of the drawn person i
    resting_hr_bpm = 58

    [[device]]                        # optional, for the integrator's device layer
    name = "strap"
    profile = "h10"                   # h10 | hr_watch | verity | colmi_ring

    [[event]]                         # optional device-level events, for the integrator
    kind = "contact_loss"             # non_wear | contact_loss | disconnect
    at = "14:00"
    duration = "2min"
    device = "strap"                  # a device name, or "*" for every device

A clock time means its first occurrence at or after the previous segment's ``at`` (or the start),
so a day can run over midnight; segments must be in order and may not overlap. Bad input raises
``ScenarioError`` (a ``ValueError``) naming the file, the key and the value.

The module is ~480 lines because validation with key-naming errors is most of it; the data types
and the parser stay together so one file documents the format.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .physiology import State
from .population import Person, draw_population

__all__ = [
    "DEVICE_PROFILES",
    "DeviceEvent",
    "DeviceSpec",
    "EventKind",
    "Intervention",
    "Scenario",
    "ScenarioError",
    "Segment",
    "Timeline",
    "builtin_names",
    "load_builtin",
    "load_scenario",
    "parse_duration_s",
    "parse_scenario",
]

DAY_S = 86_400
DEVICE_PROFILES = ("h10", "hr_watch", "verity", "colmi_ring")
PACED_BREATHING_RANGE_BRPM = (3.0, 30.0)
_BUILTIN_PACKAGE = "vagus.sim"


class ScenarioError(ValueError):
    """A scenario file or timeline is invalid; the message names the file, the key and the value."""


class EventKind(StrEnum):
    NON_WEAR = "non_wear"
    CONTACT_LOSS = "contact_loss"
    DISCONNECT = "disconnect"


def _whole_seconds(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ScenarioError(f"{name} must be a whole number of seconds, got {value!r}")
    return int(value)


@dataclass(frozen=True, slots=True)
class Segment:
    """``state`` over [start_s, end_s) seconds from the timeline start; an optional breathing pacer."""

    start_s: int
    end_s: int
    state: State
    paced_breathing_brpm: float | None = None

    def __post_init__(self) -> None:
        start, end = _whole_seconds("start_s", self.start_s), _whole_seconds("end_s", self.end_s)
        if start < 0 or end <= start:
            raise ScenarioError(f"segment needs 0 <= start_s < end_s, got {self.start_s}–{self.end_s}")
        object.__setattr__(self, "start_s", start)
        object.__setattr__(self, "end_s", end)
        object.__setattr__(self, "state", State(self.state))
        p = self.paced_breathing_brpm
        if p is not None and not PACED_BREATHING_RANGE_BRPM[0] <= p <= PACED_BREATHING_RANGE_BRPM[1]:
            raise ScenarioError(f"paced_breathing_brpm must lie in 3–30, got {p!r}")

    @property
    def duration_s(self) -> int:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class Intervention:
    """A paced-breathing break inserted by an evaluation (a nudge that was followed): breathing at
    ``paced_brpm`` over [start_s, start_s + duration_s), on top of whatever state the timeline is in.

    ``physiology.simulate`` moves the breathing to the pacer (as a segment's ``paced_breathing_brpm``
    does) and, for a person with ``breathing_response`` > 0, takes that share of the stress-induced HR
    rise and vagal withdrawal away, fading over ``physiology.RELIEF_TAU_S`` after the break. Before
    ``start_s`` the simulation is unchanged, bit for bit.
    """

    start_s: int
    duration_s: int = 120
    paced_brpm: float = 6.0

    def __post_init__(self) -> None:
        start, length = _whole_seconds("start_s", self.start_s), _whole_seconds("duration_s", self.duration_s)
        if start < 0 or length <= 0:
            raise ScenarioError(f"an intervention needs start_s >= 0 and duration_s > 0, got {start}, {length}")
        object.__setattr__(self, "start_s", start)
        object.__setattr__(self, "duration_s", length)
        p, (lo, hi) = self.paced_brpm, PACED_BREATHING_RANGE_BRPM
        if isinstance(p, bool) or not isinstance(p, int | float) or not lo <= p <= hi:
            raise ScenarioError(f"paced_brpm must lie in 3–30, got {p!r}")

    @property
    def end_s(self) -> int:
        return self.start_s + self.duration_s


@dataclass(frozen=True, slots=True)
class Timeline:
    """Contiguous segments from t = 0; ``start_of_day_s`` is the local time of day at t = 0 (s since
    midnight) and ``start`` the local wall-clock start when known; ``interventions``: paced-breathing
    breaks inserted by an evaluation (none in scenario files)."""

    segments: tuple[Segment, ...]
    start_of_day_s: float = 0.0
    start: datetime | None = None
    interventions: tuple[Intervention, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.segments))
        if not self.segments:
            raise ScenarioError("a timeline needs at least one segment")
        if self.segments[0].start_s != 0:
            raise ScenarioError(f"the first segment must start at 0 s, got {self.segments[0].start_s}")
        for a, b in zip(self.segments, self.segments[1:], strict=False):
            if b.start_s != a.end_s:
                kind = "overlap" if b.start_s < a.end_s else "leave a gap"
                raise ScenarioError(f"segments must be contiguous: {a} and {b} {kind}")
        if not 0.0 <= self.start_of_day_s < DAY_S:
            raise ScenarioError(f"start_of_day_s must lie in [0, 86400), got {self.start_of_day_s}")
        if self.start is not None:
            sod = self.start.hour * 3600 + self.start.minute * 60 + self.start.second
            if abs(sod - self.start_of_day_s) > 1e-6:
                raise ScenarioError(f"start {self.start} disagrees with start_of_day_s {self.start_of_day_s}")
        object.__setattr__(self, "interventions", tuple(sorted(self.interventions, key=lambda i: i.start_s)))
        for iv in self.interventions:
            if iv.start_s >= self.duration_s:
                raise ScenarioError(f"intervention at {iv.start_s} s lies after the timeline end ({self.duration_s} s)")

    def with_intervention(self, start_s: int, *, duration_s: int = 120, paced_brpm: float = 6.0) -> Timeline:
        """This timeline with one more paced-breathing break (see ``Intervention``)."""
        added = Intervention(start_s, duration_s, paced_brpm)
        return Timeline(self.segments, self.start_of_day_s, self.start, (*self.interventions, added))

    @classmethod
    def constant(
        cls,
        state: State | str,
        duration_s: int,
        *,
        start_of_day_s: float = 12 * 3600.0,
        paced_breathing_brpm: float | None = None,
    ) -> Timeline:
        """One state for ``duration_s`` seconds (default start: noon, mid-way on the circadian curve)."""
        return cls((Segment(0, duration_s, State(state), paced_breathing_brpm),), start_of_day_s=start_of_day_s)

    @property
    def duration_s(self) -> int:
        return self.segments[-1].end_s

    def state_codes(self) -> npt.NDArray[np.int8]:
        """``State.code`` of every second [i, i+1) of the timeline."""
        lengths = [s.duration_s for s in self.segments]
        return np.repeat(np.array([s.state.code for s in self.segments], dtype=np.int8), lengths)

    def segment_at(self, t_s: float) -> Segment:
        """The segment holding time ``t_s`` (s from the start)."""
        if not 0 <= t_s < self.duration_s:
            raise ValueError(f"t_s must lie in [0, {self.duration_s}), got {t_s}")
        starts = [s.start_s for s in self.segments]
        return self.segments[int(np.searchsorted(starts, t_s, side="right")) - 1]


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A simulated wearable: its name and the integrator's profile string."""

    name: str
    profile: str


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """A device-level event over [start_s, start_s + duration_s) for ``device`` (a name or "*")."""

    kind: EventKind
    start_s: int
    duration_s: int
    device: str = "*"

    @property
    def end_s(self) -> int:
        return self.start_s + self.duration_s


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    timeline: Timeline
    seed: int
    people: tuple[Person, ...]  # empty: the integrator draws its own (draw_population(n, seed))
    devices: tuple[DeviceSpec, ...]
    events: tuple[DeviceEvent, ...]
    source: str  # file path or "builtin:<name>"


# -- parsing ----------------------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|min|m|s)")
_UNIT_S = {"d": 86400, "h": 3600, "min": 60, "m": 60, "s": 1}


def parse_duration_s(text: object) -> int:
    """Whole seconds of "24h", "1h30min", "90s", "2d" or an integer; ValueError otherwise or if ≤ 0."""
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int):
        seconds = float(text)
    elif isinstance(text, str):
        compact = text.strip().lower()
        if not compact or _DURATION_PART.sub("", compact).strip():
            raise ValueError(f"not a duration (use e.g. '90s', '5min', '1h30min', '24h'): {text!r}")
        seconds = sum(float(v) * _UNIT_S[u] for v, u in _DURATION_PART.findall(compact))
    else:
        raise ValueError(f"not a duration: {text!r}")
    if seconds <= 0 or seconds != int(seconds):
        raise ValueError(f"a duration must be a positive whole number of seconds, got {text!r}")
    return int(seconds)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, value: object, problem: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {key} = {value!r}: {problem}")

    def keys(self, where: str, table: dict[str, Any], allowed: set[str], required: set[str]) -> None:
        for key, value in table.items():
            if key not in allowed:
                raise self.fail(f"{where}{key}", value, f"unknown key; expected one of {sorted(allowed)}")
        for key in required - table.keys():
            raise ScenarioError(f"{self.source}: {where}{key} is missing")

    def start(self, value: object) -> datetime:
        if isinstance(value, datetime):
            parsed: datetime | time = value
        elif isinstance(value, time):
            parsed = value
        elif isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value) if "T" in value or "-" in value else time.fromisoformat(value)
            except ValueError:
                raise self.fail(
                    "start", value, "not a local date-time ('2026-11-25T22:00') or time ('22:00')"
                ) from None
        else:
            raise self.fail("start", value, "not a local date-time or time string")
        if parsed.tzinfo is not None:
            raise self.fail("start", value, "give local wall-clock time without a time zone")
        if isinstance(parsed, time):
            return datetime.combine(date(2000, 1, 1), parsed)
        return parsed

    def duration(self, key: str, value: object) -> int:
        try:
            return parse_duration_s(value)
        except ValueError as exc:
            raise self.fail(key, value, str(exc)) from None

    def at(self, key: str, value: object, start: datetime, reference: datetime) -> int:
        """Seconds from ``start`` of an ``at`` value; a clock time is its first occurrence ≥ ``reference``."""
        if isinstance(value, str) and value.strip().startswith("+"):
            offset = value.strip()[1:]
            if re.fullmatch(r"(0+(\.0*)?\s*(d|h|min|m|s)?\s*)+", offset):
                return 0  # "+0s": the start itself
            return self.duration(key, offset)
        bad = "not a time ('07:00'), date-time or offset ('+1h30min')"
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value) if "T" in value or "-" in value else time.fromisoformat(value)
            except ValueError:
                raise self.fail(key, value, bad) from None
        if isinstance(value, datetime):
            when = value
        elif isinstance(value, time):
            when = datetime.combine(reference.date(), value)
            if when < reference:
                when += timedelta(days=1)
        else:
            raise self.fail(key, value, bad)
        if when.tzinfo is not None:
            raise self.fail(key, value, "give local wall-clock time without a time zone")
        offset = (when - start).total_seconds()
        if offset != int(offset):
            raise self.fail(key, value, "must fall on a whole second")
        return int(offset)


def _segments(p: _Parser, doc: dict[str, Any], start: datetime, duration_s: int) -> tuple[Segment, ...]:
    raw = doc.get("segment", [])
    if not isinstance(raw, list) or not raw:
        raise p.fail("segment", raw, "give at least one [[segment]] table")
    default = _state(p, "default_state", doc.get("default_state", "rest"))
    out: list[Segment] = []
    open_ended = False  # the last segment runs until the next one starts
    reference = start
    for i, table in enumerate(raw):
        where = f"segment[{i}]."
        if not isinstance(table, dict):
            raise p.fail(f"segment[{i}]", table, "must be a table")
        p.keys(where, table, {"at", "state", "duration", "paced_breathing_brpm", "note"}, {"at", "state"})
        at_s = p.at(where + "at", table["at"], start, reference)
        if out and (at_s <= out[-1].start_s or (not open_ended and at_s < out[-1].end_s)):
            raise p.fail(where + "at", table["at"], f"overlaps or precedes segment[{i - 1}] (at {raw[i - 1]['at']!r})")
        if at_s >= duration_s:
            raise p.fail(where + "at", table["at"], f"lies at or after the scenario end ({duration_s} s after start)")
        state = _state(p, where + "state", table["state"])
        paced = table.get("paced_breathing_brpm")
        if paced is not None and (
            isinstance(paced, bool)
            or not isinstance(paced, int | float)
            or not PACED_BREATHING_RANGE_BRPM[0] <= paced <= PACED_BREATHING_RANGE_BRPM[1]
        ):
            raise p.fail(where + "paced_breathing_brpm", paced, "must be a number of breaths per minute in 3–30")
        if out and open_ended:
            last = out[-1]
            out[-1] = Segment(last.start_s, at_s, last.state, last.paced_breathing_brpm)
        gap_from = out[-1].end_s if out else 0
        if at_s > gap_from:
            out.append(Segment(gap_from, at_s, default))
        open_ended = "duration" not in table
        end_s = duration_s
        if not open_ended:
            end_s = at_s + p.duration(where + "duration", table["duration"])
            if end_s > duration_s:
                raise p.fail(where + "duration", table["duration"], "runs past the scenario end")
        out.append(Segment(at_s, end_s, state, None if paced is None else float(paced)))
        reference = start + timedelta(seconds=at_s)
    if out[-1].end_s < duration_s:
        out.append(Segment(out[-1].end_s, duration_s, default))
    return tuple(out)


def _state(p: _Parser, key: str, value: object) -> State:
    try:
        return State(value)
    except ValueError:
        raise p.fail(key, value, f"unknown state; expected one of {[s.value for s in State]}") from None


def _people(p: _Parser, doc: dict[str, Any], seed: int) -> tuple[Person, ...]:
    raw = doc.get("people", [])
    if not isinstance(raw, list):
        raise p.fail("people", raw, "give [[people]] tables")
    drawn = draw_population(len(raw), seed)
    allowed = set(Person.field_names())
    out = []
    for i, table in enumerate(raw):
        if not isinstance(table, dict):
            raise p.fail(f"people[{i}]", table, "must be a table")
        p.keys(f"people[{i}].", table, allowed, set())
        values = {name: getattr(drawn[i], name) for name in allowed} | table
        try:
            out.append(Person(**values))
        except (ValueError, TypeError) as exc:
            raise ScenarioError(f"{p.source}: people[{i}]: {exc}") from None
    ids = [person.person_id for person in out]
    if len(set(ids)) != len(ids):
        raise p.fail("people.person_id", ids, "person ids must be unique")
    return tuple(out)


def _devices(p: _Parser, doc: dict[str, Any]) -> tuple[DeviceSpec, ...]:
    raw = doc.get("device", [])
    out: list[DeviceSpec] = []
    for i, table in enumerate(raw if isinstance(raw, list) else [raw]):
        if not isinstance(table, dict):
            raise p.fail(f"device[{i}]", table, "must be a table")
        p.keys(f"device[{i}].", table, {"name", "profile"}, {"name", "profile"})
        name, profile = table["name"], table["profile"]
        if not isinstance(name, str) or not name.strip() or name == "*":
            raise p.fail(f"device[{i}].name", name, "must be a non-empty name other than '*'")
        if name in {d.name for d in out}:
            raise p.fail(f"device[{i}].name", name, "is used by another device")
        if profile not in DEVICE_PROFILES:
            raise p.fail(f"device[{i}].profile", profile, f"unknown profile; expected one of {list(DEVICE_PROFILES)}")
        out.append(DeviceSpec(name, profile))
    return tuple(out)


def _events(
    p: _Parser, doc: dict[str, Any], start: datetime, duration_s: int, devices: tuple[DeviceSpec, ...]
) -> tuple[DeviceEvent, ...]:
    raw = doc.get("event", [])
    names = {d.name for d in devices}
    out: list[DeviceEvent] = []
    for i, table in enumerate(raw if isinstance(raw, list) else [raw]):
        where = f"event[{i}]."
        if not isinstance(table, dict):
            raise p.fail(f"event[{i}]", table, "must be a table")
        p.keys(where, table, {"kind", "at", "duration", "device", "note"}, {"kind", "at", "duration"})
        try:
            kind = EventKind(table["kind"])
        except ValueError:
            raise p.fail(where + "kind", table["kind"], f"unknown kind; expected one of {list(EventKind)}") from None
        at_s = p.at(where + "at", table["at"], start, start)
        length = p.duration(where + "duration", table["duration"])
        if at_s >= duration_s or at_s + length > duration_s:
            raise p.fail(where + "at", table["at"], "the event must lie inside the scenario")
        device = table.get("device", "*")
        if not isinstance(device, str) or (device != "*" and names and device not in names):
            raise p.fail(where + "device", device, f"expected '*' or a declared device {sorted(names)}")
        event = DeviceEvent(kind, at_s, length, device)
        for other in out:
            same_device = other.device == event.device or "*" in {other.device, event.device}
            if other.kind is kind and same_device and other.start_s < event.end_s and event.start_s < other.end_s:
                raise p.fail(where + "at", table["at"], f"overlaps an earlier {kind.value} event on that device")
        out.append(event)
    return tuple(out)


def parse_scenario(text: str, *, source: str = "<string>", name: str | None = None) -> Scenario:
    """Parse scenario TOML ``text``; ``source`` names the file in error messages."""
    p = _Parser(source)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from None
    top = {"name", "description", "start", "duration", "seed", "default_state", "segment", "people", "device", "event"}
    p.keys("", doc, top, {"start", "duration", "segment"})
    start = p.start(doc["start"])
    duration_s = p.duration("duration", doc["duration"])
    seed = doc.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise p.fail("seed", seed, "must be a non-negative integer")
    for key in ("name", "description"):
        if key in doc and not isinstance(doc[key], str):
            raise p.fail(key, doc[key], "must be a string")
    start_of_day_s = float(start.hour * 3600 + start.minute * 60 + start.second)
    try:
        timeline = Timeline(_segments(p, doc, start, duration_s), start_of_day_s=start_of_day_s, start=start)
    except ScenarioError as exc:
        if str(exc).startswith(source):
            raise
        raise ScenarioError(f"{source}: segment: {exc}") from None
    devices = _devices(p, doc)
    return Scenario(
        name=doc.get("name", name or Path(source).stem),
        description=doc.get("description", ""),
        timeline=timeline,
        seed=seed,
        people=_people(p, doc, seed),
        devices=devices,
        events=_events(p, doc, start, duration_s, devices),
        source=source,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Load a scenario TOML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_scenario(text, source=str(path))


def builtin_names() -> list[str]:
    """Names of the scenarios shipped in ``vagus.sim``'s ``scenarios/`` folder, sorted."""
    folder = resources.files(_BUILTIN_PACKAGE) / "scenarios"
    return sorted(f.name.removesuffix(".toml") for f in folder.iterdir() if f.name.endswith(".toml"))


def load_builtin(name: str) -> Scenario:
    """A shipped scenario by name (see ``builtin_names()``)."""
    if name not in builtin_names():
        raise ScenarioError(f"unknown built-in scenario {name!r}; expected one of {builtin_names()}")
    text = (resources.files(_BUILTIN_PACKAGE) / "scenarios" / f"{name}.toml").read_text(encoding="utf-8")
    return parse_scenario(text, source=f"builtin:{name}", name=name)
