"""The message schema: versioned JSON payloads, the one contract the edge and the bridge share.

Every payload is a JSON object with ``"v": 1``. Times are integer milliseconds since the POSIX epoch
(UTC), named ``*_utc_ms``: exact, so a re-sent record keys the same database point, and cheaper to
parse than ISO text. ``encode`` validates before anything is published and ``decode`` validates on
receipt, with the same rules; a payload longer than ``MAX_PAYLOAD_BYTES`` is refused unread.
Numeric indicator values must be finite; a value a window cannot support is ``null``.

This module is imported by the bridge, so it depends on msgspec and the standard library only: the
edge turns its ``Indicators`` record into a plain mapping (``summary_from_mapping``).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import operator
from collections.abc import Callable, Mapping
from typing import Annotated, Final, Literal, TypeAlias

import msgspec
import msgspec.inspect

from .errors import Problem, SchemaError
from .topics import PERSON_PATTERN, Kind

__all__ = [
    "ACTIVITY_STATE_CODES",
    "BEAT_FLAGS",
    "BEAT_SOURCE_CODES",
    "CATEGORICAL_FIELDS",
    "CHECKIN_ANSWER_CODES",
    "CHECKIN_SOURCES",
    "GATE_REASON_CODES",
    "INDICATOR_FIELDS",
    "LINK_STATE_CODES",
    "MAX_BEATS_PER_MESSAGE",
    "MAX_PAYLOAD_BYTES",
    "MAX_RESOURCES",
    "MESSAGE_TYPES",
    "NUDGE_CODES",
    "RECOVERY_CODES",
    "SCHEMA_VERSION",
    "SEQUENCED_TYPES",
    "STRESS_LEVEL_CODES",
    "Ack",
    "Beats",
    "Checkin",
    "CheckinAnswer",
    "DeviceStatus",
    "Message",
    "Night",
    "Nudge",
    "Resource",
    "Status",
    "Summary",
    "beat_flags",
    "decode",
    "encode",
    "pseudonymous_device_id",
    "summary_from_mapping",
]

SCHEMA_VERSION: Final = 1
# A summary is about 1 KiB; 8 KiB leaves room for new fields and refuses junk early.
MAX_PAYLOAD_BYTES: Final = 8192

Person = Annotated[str, msgspec.Meta(pattern=PERSON_PATTERN)]
# Pseudonymous device id (see pseudonymous_device_id), never a BLE address.
Device = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
Token = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
# A random id per outbox: a store that is reset starts a new stream, so its new seq 1 is never taken
# for the old stream's seq 1 that the bridge confirmed long ago.
Stream = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{16}$")]
Seq = Annotated[int, msgspec.Meta(ge=1, le=2**53)]
EpochMs = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
Seconds = Annotated[float, msgspec.Meta(gt=0, le=86_400)]

# Categorical values travel as words and are written to the database as these integer codes
# (fields, not tags, so a point's key stays person/device/window/time). 0 is never used, so a
# missing value is never mistaken for a category. Codes are append-only from the first release on;
# the words are the signal core's (vagus.signal.stress StressLevel and Gate; a test holds them equal).
StressLevel: TypeAlias = Literal["rest", "low", "medium", "high"]
GateReason: TypeAlias = Literal["active", "low_quality", "too_few_beats", "not_worn", "hr_only"]
ActivityState: TypeAlias = Literal["rest", "active", "sleep", "unknown"]
# "support": the safety message (docs/safety.md), pointing to human help with `resources`.
NudgeKind: TypeAlias = Literal["slow_breathing", "check_in", "support", "weekly_summary"]
STRESS_LEVEL_CODES: Final[dict[str, int]] = {"rest": 1, "low": 2, "medium": 3, "high": 4}
GATE_REASON_CODES: Final[dict[str, int]] = {
    "active": 1,
    "low_quality": 2,
    "too_few_beats": 3,
    "not_worn": 4,
    "hr_only": 5,
}
ACTIVITY_STATE_CODES: Final[dict[str, int]] = {"rest": 1, "active": 2, "sleep": 3, "unknown": 4}
NUDGE_CODES: Final[dict[str, int]] = {"slow_breathing": 1, "check_in": 2, "support": 3, "weekly_summary": 4}
# The person's answer to a nudge (or an unprompted self-report): docs/topics.md.
CheckinAnswer: TypeAlias = Literal["stressed", "not_stressed", "need_help", "snooze"]
CHECKIN_ANSWER_CODES: Final[dict[str, int]] = {"stressed": 1, "not_stressed": 2, "need_help": 3, "snooze": 4}
# Who sent a check-in: a companion app, Home Assistant, the agent itself, or `vagus checkin` on the device.
CheckinSource: TypeAlias = Literal["companion", "home_assistant", "agent", "cli"]
CHECKIN_SOURCES: Final = ("companion", "home_assistant", "agent", "cli")
# A device link's state: the words of vagus.edge.link_state.LinkState (a test holds them equal).
LinkStateWord: TypeAlias = Literal["scanning", "connecting", "streaming", "backoff", "stopped"]
LINK_STATE_CODES: Final[dict[str, int]] = {"scanning": 1, "connecting": 2, "streaming": 3, "backoff": 4, "stopped": 5}
# A night's nocturnal ln RMSSD against the person's nightly normal range (vagus.signal.sleep).
Recovery: TypeAlias = Literal["below", "normal", "above"]
RECOVERY_CODES: Final[dict[str, int]] = {"below": 1, "normal": 2, "above": 3}

# The numeric indicator values a summary carries, as named in the signal core's Indicators record.
INDICATOR_FIELDS: Final = (
    "hr_bpm",
    "mean_nn_ms",
    "rmssd_ms",
    "sdnn_ms",
    "sdsd_ms",
    "pnn50_pct",
    "pnn20_pct",
    "vlf_ms2",
    "lf_ms2",
    "hf_ms2",
    "lf_hf",
    "lfn_nu",
    "hfn_nu",
    "sd1_ms",
    "sd2_ms",
    "sd1_sd2",
    "dfa_alpha1",
    "baevsky_si",
    "baevsky_si_sqrt",
    "breathing_rate_brpm",
    "stress_score",
)
CATEGORICAL_FIELDS: Final = {
    "stress_level": STRESS_LEVEL_CODES,
    "gate_reason": GATE_REASON_CODES,
    "activity_state": ACTIVITY_STATE_CODES,
}


def _check_finite(message: msgspec.Struct) -> None:
    # Runs for every message the bridge receives (__post_init__ runs on decoding too), so the common
    # case is one C-level pass: the sum of the numbers is finite only if each of them is (None and 0
    # are left out by filter). Only when it is not — a non-finite value, or finite ones whose sum
    # overflows — are the fields looked at one by one. (JSON cannot carry NaN or ±inf, and msgspec
    # refuses numbers out of range: the check is for messages built on the edge.)
    values = msgspec.structs.astuple(message)
    try:
        if math.isfinite(sum(filter(None, _numbers_of(message.__class__)(values)))):
            return
    except TypeError:  # a non-number where a number was expected: the field check below says which
        pass
    for name, value in zip(message.__struct_fields__, values, strict=True):
        if value.__class__ is float and not math.isfinite(value):
            raise ValueError(f"`{name}` must be a finite number, got {value}")


@functools.cache
def _numbers_of(cls: type[msgspec.Struct]) -> Callable[[tuple[object, ...]], tuple[object, ...]]:
    """Picks the numeric fields (int, float, or either or None) out of ``astuple`` of a ``cls``."""
    numeric = []
    for index, field in enumerate(msgspec.inspect.type_info(cls).fields):  # type: ignore[attr-defined]
        types = field.type.types if isinstance(field.type, msgspec.inspect.UnionType) else (field.type,)
        if any(isinstance(t, msgspec.inspect.FloatType | msgspec.inspect.IntType) for t in types):
            numeric.append(index)
    if len(numeric) < 2:  # itemgetter of one index returns the item, not a tuple
        return lambda values: tuple(values[i] for i in numeric)
    return operator.itemgetter(*numeric)


# gc=False: messages hold only strings, numbers and tuples of them, so they can never be part of a
# reference cycle; the bridge makes thousands per second, and tracking them only makes the collector
# run more often.
class _Base(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, gc=False):
    v: Literal[1] = 1


class _Sequenced(_Base, frozen=True, kw_only=True):
    """A message from an agent's outbox: confirmed by the bridge's ack, re-sent until then."""

    person: Person
    stream: Stream
    seq: Seq
    # Every seq of this stream below this one is settled (confirmed or dropped by the outbox), so a
    # bridge that just started can count contiguous writes from here without earlier history.
    settled_below: Seq

    def __post_init__(self) -> None:
        if self.settled_below > self.seq:
            raise ValueError("`settled_below` must not exceed `seq`")
        _check_finite(self)


class Summary(_Sequenced, frozen=True, kw_only=True):
    """One indicators record over a window of beats ending at ``t_end_utc_ms``."""

    device: Device
    kind: Literal["indicators"] = "indicators"
    window_nominal_s: Seconds
    t_end_utc_ms: EpochMs
    window_s: Annotated[float, msgspec.Meta(ge=0, le=86_400)]
    n_beats: Annotated[int, msgspec.Meta(ge=0)]
    quality: Annotated[float, msgspec.Meta(ge=0, le=1)]
    hr_bpm: float | None = None
    mean_nn_ms: float | None = None
    rmssd_ms: float | None = None
    sdnn_ms: float | None = None
    sdsd_ms: float | None = None
    pnn50_pct: float | None = None
    pnn20_pct: float | None = None
    vlf_ms2: float | None = None
    lf_ms2: float | None = None
    hf_ms2: float | None = None
    lf_hf: float | None = None
    lfn_nu: float | None = None
    hfn_nu: float | None = None
    sd1_ms: float | None = None
    sd2_ms: float | None = None
    sd1_sd2: float | None = None
    dfa_alpha1: float | None = None
    baevsky_si: float | None = None
    baevsky_si_sqrt: float | None = None
    breathing_rate_brpm: float | None = None
    stress_score: float | None = None
    stress_level: StressLevel | None = None
    gate_reason: GateReason | None = None
    activity_state: ActivityState | None = None


# A safety message lists at most this many support resources (docs/safety.md): enough for a
# helpline, a web service and two trusted people, and small enough for any notification.
MAX_RESOURCES: Final = 8


class Resource(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """A place to get human help, as the person configured it (``[[safety.resources]]``)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    how: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]  # "phone 0800 …", "https://…", "ask Ana"


_BREATHING: Final = ("rate_brpm", "inhale_s", "exhale_s", "duration_s")


class Nudge(_Sequenced, frozen=True, kw_only=True):
    """A suggestion to the person, phrased as a check-in, never as a diagnosis.

    Shaped for a phone or Home Assistant notification: ``title`` and ``text``; for a breathing nudge
    the pacer's timing (all four or none: breaths per minute, seconds in and out per breath — the rest
    of a breath, ``60/rate_brpm − inhale_s − exhale_s``, is a pause after breathing out — and the
    exercise's length), so the receiver can drive its own pacer; for a support message (``nudge``
    "support") the person's own ``resources``. A nudge the agent held back (micro-randomised
    evaluation) is never published: there is deliberately no field for it."""

    t_utc_ms: EpochMs
    nudge_id: Token
    nudge: NudgeKind
    text: Annotated[str, msgspec.Meta(max_length=280)]
    stress_score: float | None = None
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=80)] | None = None
    rate_brpm: Annotated[float, msgspec.Meta(ge=2, le=30)] | None = None
    inhale_s: Annotated[float, msgspec.Meta(gt=0, le=30)] | None = None
    exhale_s: Annotated[float, msgspec.Meta(gt=0, le=30)] | None = None
    duration_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] | None = None
    resources: Annotated[tuple[Resource, ...], msgspec.Meta(max_length=MAX_RESOURCES)] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        timing = [getattr(self, name) for name in _BREATHING]
        if any(value is None for value in timing) and any(value is not None for value in timing):
            raise ValueError(f"the breathing timing needs all of {', '.join(_BREATHING)} or none of them")
        if self.rate_brpm is not None and self.inhale_s is not None and self.exhale_s is not None:
            breath_s = 60.0 / self.rate_brpm
            if self.inhale_s + self.exhale_s > breath_s * 1.001:  # 0.1 %: rounding of the three numbers
                raise ValueError(
                    f"inhale_s + exhale_s ({self.inhale_s + self.exhale_s:g} s) exceeds one breath at "
                    f"{self.rate_brpm:g}/min ({breath_s:g} s)"
                )


# Raw beats (opt-in). A message holds at most this many: 30 s of beats at 240 bpm. Even at the widest
# values the schema allows (16-digit times, 22-character floats) that is under 5.5 KiB, so a batch can
# never be refused for its size (a test builds the worst case).
MAX_BEATS_PER_MESSAGE: Final = 120
# A beat's booleans as one integer field (bit values; append-only). Contact is three-valued: "reported"
# says whether the sensor reports contact at all, "in contact" is its value when it does.
BEAT_FLAGS: Final[dict[str, int]] = {"gap_before": 1, "corrected": 2, "contact_reported": 4, "in_contact": 8}
# Where the RR intervals came from (vagus.signal.BeatSource; a test checks they agree). Codes as above.
BeatSource: TypeAlias = Literal["hrs", "pmd_ppi", "ecg", "file"]
BEAT_SOURCE_CODES: Final[dict[str, int]] = {"hrs": 1, "pmd_ppi": 2, "ecg": 3, "file": 4}
# RR in ms: 0 to a uint16 of milliseconds (Polar PMD PPI) — the widest any source reports.
RrMs = Annotated[float, msgspec.Meta(ge=0, le=65_535)]
BeatFlags = Annotated[int, msgspec.Meta(ge=0, le=15)]
_BeatColumn = msgspec.Meta(min_length=1, max_length=MAX_BEATS_PER_MESSAGE)


def beat_flags(*, gap_before: bool, corrected: bool, contact: bool | None) -> int:
    """The ``flags`` integer of one beat (``BEAT_FLAGS``)."""
    flags = BEAT_FLAGS["gap_before"] * gap_before + BEAT_FLAGS["corrected"] * corrected
    if contact is not None:
        flags += BEAT_FLAGS["contact_reported"] + BEAT_FLAGS["in_contact"] * contact
    return flags


class Beats(_Sequenced, frozen=True, kw_only=True):
    """Consecutive raw beats of one device, from the outbox like a summary; sent only when the person
    opted in (``[sync] raw_beats``). Columns, one entry per beat: the time the RR interval ends
    (integer ms, strictly increasing), the interval, and its flags."""

    device: Device
    source: BeatSource
    t_utc_ms: Annotated[tuple[EpochMs, ...], _BeatColumn]
    rr_ms: Annotated[tuple[RrMs, ...], _BeatColumn]
    flags: Annotated[tuple[BeatFlags, ...], _BeatColumn]

    def __post_init__(self) -> None:
        super().__post_init__()
        if not len(self.t_utc_ms) == len(self.rr_ms) == len(self.flags):
            raise ValueError("`t_utc_ms`, `rr_ms` and `flags` must have one entry per beat")
        # The database keys a beat by its millisecond: two beats in one would be one point.
        if any(b <= a for a, b in zip(self.t_utc_ms, self.t_utc_ms[1:], strict=False)):
            raise ValueError("`t_utc_ms` must be strictly increasing")


class Checkin(_Base, frozen=True, kw_only=True):
    """The person's answer to a nudge, or a self-report, from a companion app or Home Assistant.

    ``answer``: stressed, not stressed, "I need help" (docs/safety.md), or snooze nudges for
    ``snooze_minutes`` (only with snooze; the agent's default when absent). ``nudge_id`` names the
    nudge answered (absent: an unprompted self-report). Not sequenced: its sender is not an agent
    with an outbox. The database point is keyed by (person, source, time), so a QoS 1 duplicate
    overwrites itself; the agent keeps one row per ``checkin_id``."""

    person: Person
    t_utc_ms: EpochMs
    checkin_id: Token
    source: CheckinSource
    answer: CheckinAnswer
    self_stress_1to5: Annotated[int, msgspec.Meta(ge=1, le=5)] | None = None
    nudge_id: Token | None = None
    snooze_minutes: Annotated[float, msgspec.Meta(gt=0, le=1440)] | None = None

    def __post_init__(self) -> None:
        if self.snooze_minutes is not None and self.answer != "snooze":
            raise ValueError("`snooze_minutes` belongs to the answer snooze only")
        _check_finite(self)


class DeviceStatus(_Sequenced, frozen=True, kw_only=True):
    """A wearable's link state and battery at ``t_utc_ms``, from the agent's outbox (for dashboards and
    Home Assistant). ``device`` is the pseudonym (``pseudonymous_device_id``); ``battery_pct`` is null
    when the device does not report it (yet)."""

    device: Device
    t_utc_ms: EpochMs
    battery_pct: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    link_state: LinkStateWord


class Night(_Sequenced, frozen=True, kw_only=True):
    """One sleep period the agent found (``vagus.signal.sleep.NightSummary``), sent once it has ended:
    onset and wake, minutes asleep, the lowest and mean sleeping heart rate, the nocturnal RMSSD and
    how it compares with the person's nightly normal range (``recovery``, ``recovery_sd`` in SDs;
    null while the range is still being learned). Per person, not per wearable: sleep is found on the
    minutes of all of them."""

    onset_utc_ms: EpochMs
    wake_utc_ms: EpochMs
    asleep_min: Annotated[int, msgspec.Meta(ge=0, le=2 * 1440)]
    lowest_hr_bpm: Annotated[float, msgspec.Meta(gt=0, le=300)] | None = None
    mean_hr_bpm: Annotated[float, msgspec.Meta(gt=0, le=300)] | None = None
    rmssd_ms: Annotated[float, msgspec.Meta(gt=0, le=2000)] | None = None
    recovery: Recovery | None = None
    recovery_sd: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.wake_utc_ms <= self.onset_utc_ms:
            raise ValueError("`wake_utc_ms` must come after `onset_utc_ms`")
        if self.asleep_min * 60_000 > self.wake_utc_ms - self.onset_utc_ms:
            raise ValueError("`asleep_min` cannot exceed the time from onset to wake")
        _check_finite(self)


class Status(_Base, frozen=True, kw_only=True):
    """Whether a person's agent is connected. The last will has no time: the broker sends it later."""

    person: Person
    state: Literal["online", "offline"]
    t_utc_ms: EpochMs | None = None
    agent_version: Annotated[str, msgspec.Meta(max_length=32)] | None = None


class Ack(_Base, frozen=True, kw_only=True):
    """The bridge's confirmation: every seq ≤ ``upto_seq`` of ``stream`` is written (or was settled)."""

    person: Person
    stream: Stream
    upto_seq: Annotated[int, msgspec.Meta(ge=0, le=2**53)]


Message: TypeAlias = Summary | Nudge | Beats | Checkin | DeviceStatus | Night | Status | Ack
# Messages from an agent's outbox: the bridge counts their seqs into its acks.
SEQUENCED_TYPES: Final = (Summary, Nudge, Beats, DeviceStatus, Night)
MESSAGE_TYPES: Final[dict[Kind, type[Message]]] = {
    Kind.SUMMARY: Summary,
    Kind.BEATS: Beats,
    Kind.NUDGE: Nudge,
    Kind.CHECKIN: Checkin,
    Kind.DEVICE: DeviceStatus,
    Kind.NIGHT: Night,
    Kind.STATUS: Status,
    Kind.ACK: Ack,
}
SUPPORTED_VERSIONS: Final = frozenset({SCHEMA_VERSION})


class _Head(msgspec.Struct):
    v: object = None


_HEAD_DECODER = msgspec.json.Decoder(_Head)
_DECODERS = {kind: msgspec.json.Decoder(cls) for kind, cls in MESSAGE_TYPES.items()}
_ENCODER = msgspec.json.Encoder()


def decode(kind: Kind, payload: bytes) -> Message:
    """The message of ``kind`` in ``payload``; ``SchemaError`` (with a ``Problem``) if it is not one."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise SchemaError(Problem.TOO_LARGE, f"{len(payload)} bytes, the limit is {MAX_PAYLOAD_BYTES}")
    try:
        head = _HEAD_DECODER.decode(payload)
    except msgspec.ValidationError as exc:
        raise SchemaError(Problem.INVALID, str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise SchemaError(Problem.NOT_JSON, str(exc)) from exc
    if head.v is None:
        raise SchemaError(Problem.INVALID, "no schema version `v`")
    if isinstance(head.v, bool) or not isinstance(head.v, int):
        raise SchemaError(Problem.INVALID, f"schema version `v` must be an integer, got {head.v!r}")
    if head.v not in SUPPORTED_VERSIONS:
        raise SchemaError(
            Problem.UNKNOWN_VERSION, f"schema version {head.v}; this vagus reads {sorted(SUPPORTED_VERSIONS)}"
        )
    try:
        return _DECODERS[Kind(kind)].decode(payload)
    except msgspec.DecodeError as exc:  # ValidationError included; a __post_init__ ValueError arrives as one
        raise SchemaError(Problem.INVALID, f"{Kind(kind).value}: {exc}") from exc


def encode(message: Message) -> bytes:
    """The JSON payload of ``message``, validated exactly as a receiver will (``SchemaError`` if not valid)."""
    kind = next((k for k, cls in MESSAGE_TYPES.items() if type(message) is cls), None)
    if kind is None:
        raise TypeError(f"not a vagus message: {type(message).__name__}")
    try:
        payload = _ENCODER.encode(message)
    except (TypeError, ValueError, OverflowError) as exc:
        raise SchemaError(Problem.INVALID, f"{kind.value}: {exc}") from exc
    decode(kind, payload)  # msgspec checks constraints on decoding only: validate the bytes we send
    return payload


# Indicators fields the summary does not carry: the device id is replaced by its pseudonym, the window
# start is t_end - window_s, and null reasons stay in the local store.
_NOT_CARRIED: Final = frozenset({"device_id", "t_start_utc_s", "null_reasons"})


def summary_from_mapping(
    values: Mapping[str, object],
    *,
    person: str,
    device: str,
    stream: str,
    seq: int,
    settled_below: int,
) -> Summary:
    """A ``Summary`` from an indicators record given as a mapping of field name → value.

    The edge calls it with ``msgspec.structs.asdict(indicators)``: ``t_end_utc_s`` (float seconds) becomes
    ``t_end_utc_ms``, categorical values may be ``StrEnum`` members. A key this schema does not know is
    an error rather than silently dropped, so a new indicator in the signal core fails a test here.
    """
    unknown = set(values) - _NOT_CARRIED - {"t_end_utc_s", "window_nominal_s", "window_s", "n_beats", "quality"}
    unknown -= set(INDICATOR_FIELDS) | set(CATEGORICAL_FIELDS)
    if unknown:
        raise SchemaError(Problem.INVALID, f"fields the summary schema does not carry: {sorted(unknown)}")
    t_end_utc_s = _number(values, "t_end_utc_s")
    if t_end_utc_s is None or not math.isfinite(t_end_utc_s):
        raise SchemaError(Problem.INVALID, f"an indicators record needs a finite t_end_utc_s, got {t_end_utc_s}")
    fields: dict[str, object] = {name: _number(values, name) for name in INDICATOR_FIELDS}
    fields |= {name: None if values.get(name) is None else str(values[name]) for name in CATEGORICAL_FIELDS}
    window_s = _number(values, "window_s")
    n_beats = values.get("n_beats")
    try:
        summary = Summary(
            person=person,
            device=device,
            stream=stream,
            seq=seq,
            settled_below=settled_below,
            t_end_utc_ms=round(t_end_utc_s * 1000),
            window_nominal_s=_number(values, "window_nominal_s") or window_s,
            window_s=window_s,
            n_beats=int(n_beats) if isinstance(n_beats, int | float) else n_beats,
            quality=_number(values, "quality"),
            **fields,
        )
    except ValueError as exc:  # __post_init__: non-finite values, settled_below past seq
        raise SchemaError(Problem.INVALID, f"summary: {exc}") from exc
    encode(summary)  # validate now, where a mistake is made, not at the bridge
    return summary


def _number(values: Mapping[str, object], name: str) -> float | None:
    value = values.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchemaError(Problem.INVALID, f"`{name}` must be a number, got {value!r}")
    return float(value)


def pseudonymous_device_id(device_id: str, key: bytes) -> str:
    """A stable pseudonym for a wearable's id (e.g. its BLE address), keyed so it cannot be reversed.

    A BLE address has few enough unknown bits to be brute-forced from a plain hash; a secret ``key``
    (kept on the edge, at least 16 bytes) prevents that. Same device and key, same pseudonym."""
    if len(key) < 16:
        raise ValueError("the pseudonym key must be at least 16 bytes")
    return "d-" + hmac.new(key, device_id.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
