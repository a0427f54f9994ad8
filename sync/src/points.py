"""Messages as InfluxDB points (line protocol), pure: no client library, no I/O.

One measurement per kind of record. Tags are the point's identity — person, device and window for an
indicators record — and the timestamp is the record's own time in milliseconds, so a re-sent record
lands on the same (measurement, tags, time) key and overwrites itself instead of adding a duplicate.
Numbers are fields; categorical values are integer ``*_code`` fields (schema.py has the tables), never
strings (InfluxDB would index nothing, VictoriaMetrics stores a string field as 0).
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from .schema import (
    BEAT_SOURCE_CODES,
    CATEGORICAL_FIELDS,
    CHECKIN_ANSWER_CODES,
    INDICATOR_FIELDS,
    LINK_STATE_CODES,
    NUDGE_CODES,
    RECOVERY_CODES,
    Ack,
    Beats,
    Checkin,
    DeviceStatus,
    Message,
    Night,
    Nudge,
    Status,
    Summary,
)

__all__ = [
    "BEATS_MEASUREMENT",
    "CHECKIN_MEASUREMENT",
    "DEVICE_STATUS_MEASUREMENT",
    "NIGHT_MEASUREMENT",
    "NUDGE_MEASUREMENT",
    "STATUS_MEASUREMENT",
    "Point",
    "point_of",
    "points_of",
]

# A summary's measurement is its record kind (Summary.kind, "indicators").
NUDGE_MEASUREMENT: Final = "nudge"
CHECKIN_MEASUREMENT: Final = "checkin"
STATUS_MEASUREMENT: Final = "agent_status"
BEATS_MEASUREMENT: Final = "beats"
DEVICE_STATUS_MEASUREMENT: Final = "device_status"
NIGHT_MEASUREMENT: Final = "night"


@dataclass(frozen=True, slots=True)
class Point:
    measurement: str
    tags: tuple[tuple[str, str], ...]
    fields: tuple[tuple[str, float | int], ...]
    t_utc_ms: int

    def line(self) -> str:
        """The point in line protocol with millisecond precision."""
        # The bridge builds one line per message: the common cases (float, int) are formatted inline.
        fields = ",".join(
            [
                f"{_escape_key(k)}={v!r}"
                if v.__class__ is float
                else f"{_escape_key(k)}={v}i"
                if v.__class__ is int
                else f"{_escape_key(k)}={_number(v)}"
                for k, v in self.fields
            ]
        )
        return f"{_series(self.measurement, self.tags)} {fields} {self.t_utc_ms}"


def points_of(message: Message, *, received_utc_ms: int) -> tuple[Point, ...]:
    """Every point a message is written as: one per beat of a ``Beats`` message, none for an ack,
    else the one of ``point_of``."""
    if isinstance(message, Beats):
        return _beats(message)
    point = point_of(message, received_utc_ms=received_utc_ms)
    return () if point is None else (point,)


def point_of(message: Message, *, received_utc_ms: int) -> Point | None:
    """The point a message is written as; ``None`` for messages that are not written (acks).

    ``received_utc_ms`` stamps a status that carries no time of its own (the last will). A ``Beats``
    message is many points: ``points_of``."""
    if isinstance(message, Beats):
        raise TypeError("a Beats message is one point per beat: use points_of")
    if isinstance(message, Status):
        t_utc_ms = message.t_utc_ms if message.t_utc_ms is not None else received_utc_ms
        online = (("online", int(message.state == "online")),)
        return Point(STATUS_MEASUREMENT, (("person", message.person),), online, t_utc_ms)
    if isinstance(message, Ack):
        return None
    build = _BUILDERS.get(type(message))
    if build is None:
        raise TypeError(f"not a vagus message: {type(message).__name__}")
    return build(message)


def _numbers(message: object, names: tuple[str, ...]) -> list[tuple[str, float | int]]:
    # float: a JSON 6 and 6.5 must be one field type in InfluxDB
    return [(name, float(value)) for name in names if (value := getattr(message, name)) is not None]


def _nudge(message: Nudge) -> Point:
    # Numbers a dashboard annotation can show; the words (title, text, resources) stay out of the database.
    fields = [("count", 1), ("nudge_code", NUDGE_CODES[message.nudge])]
    fields += _numbers(message, ("stress_score", "rate_brpm", "duration_s"))
    return Point(NUDGE_MEASUREMENT, (("person", message.person),), tuple(fields), message.t_utc_ms)


def _checkin(message: Checkin) -> Point:
    fields: list[tuple[str, float | int]] = [("count", 1), ("answer_code", CHECKIN_ANSWER_CODES[message.answer])]
    if message.self_stress_1to5 is not None:
        fields.append(("self_stress_1to5", message.self_stress_1to5))
    fields += _numbers(message, ("snooze_minutes",))
    tags = (("person", message.person), ("source", message.source))
    return Point(CHECKIN_MEASUREMENT, tags, tuple(fields), message.t_utc_ms)


def _device_status(message: DeviceStatus) -> Point:
    fields = [("link_state_code", LINK_STATE_CODES[message.link_state])]
    if message.battery_pct is not None:
        fields.append(("battery_pct", message.battery_pct))
    tags = (("person", message.person), ("device", message.device))
    return Point(DEVICE_STATUS_MEASUREMENT, tags, tuple(fields), message.t_utc_ms)


def _night(message: Night) -> Point:
    # At the onset, so a re-sent night overwrites itself; the wake is a field (minutes from onset).
    fields: list[tuple[str, float | int]] = [
        ("asleep_min", message.asleep_min),
        ("in_bed_min", round((message.wake_utc_ms - message.onset_utc_ms) / 60_000.0, 1)),
    ]
    fields += _numbers(message, ("lowest_hr_bpm", "mean_hr_bpm", "rmssd_ms", "recovery_sd"))
    if message.rmssd_ms is not None:  # dashboards average ln RMSSD over nights (vagus.signal.baseline)
        fields.append(("ln_rmssd", math.log(message.rmssd_ms)))
    if message.recovery is not None:
        fields.append(("recovery_code", RECOVERY_CODES[message.recovery]))
    return Point(NIGHT_MEASUREMENT, (("person", message.person),), tuple(fields), message.onset_utc_ms)


_SUMMARY_NUMBERS: Final = ("quality", "window_s", "n_beats", *INDICATOR_FIELDS)
_summary_numbers = operator.attrgetter(*_SUMMARY_NUMBERS)
_summary_categories = operator.attrgetter(*CATEGORICAL_FIELDS)
_CATEGORY_CODES: Final = tuple((f"{name}_code", codes) for name, codes in CATEGORICAL_FIELDS.items())


def _summary(s: Summary) -> Point:
    tags = (("person", s.person), ("device", s.device), ("window", _window_tag(s.window_nominal_s)))
    fields: list[tuple[str, float | int]] = [
        (name, value) for name, value in zip(_SUMMARY_NUMBERS, _summary_numbers(s), strict=True) if value is not None
    ]
    for (name, codes), value in zip(_CATEGORY_CODES, _summary_categories(s), strict=True):
        if value is not None:
            fields.append((name, codes[value]))
    return Point(s.kind, tags, tuple(fields), s.t_end_utc_ms)  # one measurement per kind of record


def _beats(b: Beats) -> tuple[Point, ...]:
    # One point per beat at its own time, keyed (beats, person, device, time): a re-sent batch lands
    # on the same keys and overwrites itself. The source is a field, so a device changing its source
    # never splits its series.
    tags = (("person", b.person), ("device", b.device))
    source = BEAT_SOURCE_CODES[b.source]
    return tuple(
        Point(BEATS_MEASUREMENT, tags, (("rr_ms", rr_ms), ("flags", flags), ("source_code", source)), t_utc_ms)
        for t_utc_ms, rr_ms, flags in zip(b.t_utc_ms, b.rr_ms, b.flags, strict=True)
    )


@functools.lru_cache(maxsize=64)
def _window_tag(window_s: float) -> str:
    """ "60" for a 60-s window, so dashboards filter on window="60", not "60.0"."""
    return str(int(window_s)) if window_s.is_integer() else repr(window_s)


def _number(value: float | int) -> str:
    if isinstance(value, bool):
        raise TypeError("booleans are written as 0/1 integers")
    return f"{value}i" if isinstance(value, int) else repr(float(value))


# Keys and tag values repeat from point to point (field names, people, devices): cache their escaped form.
@functools.lru_cache(maxsize=4096)
def _series(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    """``measurement,tag=value,…`` with the tags sorted (as InfluxDB stores them)."""
    return _escape_measurement(measurement) + "".join(f",{_escape_key(k)}={_escape_key(v)}" for k, v in sorted(tags))


@functools.lru_cache(maxsize=4096)
def _escape_measurement(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")


@functools.lru_cache(maxsize=4096)
def _escape_key(text: str) -> str:
    return _escape_measurement(text).replace("=", "\\=")


_BUILDERS: Final[dict[type, Callable[[Any], Point]]] = {
    Summary: _summary,
    Nudge: _nudge,
    Checkin: _checkin,
    DeviceStatus: _device_status,
    Night: _night,
}
