"""The message schema and the topic table: what the edge and the bridge agree on."""

from __future__ import annotations

import json
import re
from typing import get_args

import msgspec.structs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vagus.signal import Indicators, NullReason
from vagus.sync import (
    MAX_PAYLOAD_BYTES,
    Ack,
    Checkin,
    Kind,
    Nudge,
    Problem,
    SchemaError,
    Status,
    TopicError,
    Topics,
    decode,
    encode,
    pseudonymous_device_id,
    summary_from_mapping,
)
from vagus.sync import schema as sch
from vagus.sync.topics import QOS, RETAIN, check_person

STREAM = "0123456789abcdef"


def full_record(**overrides):
    values = {name: 1.5 for name in sch.INDICATOR_FIELDS}
    values |= {"stress_level": "high", "gate_reason": "active", "activity_state": "rest"}
    record = Indicators(
        device_id="AA:BB:CC:DD:EE:FF",
        t_start_utc_s=1_795_700_000.0,
        t_end_utc_s=1_795_700_060.123,
        window_s=60.0,
        n_beats=71,
        quality=0.9,
        window_nominal_s=60.0,
        null_reasons={"lf_ms2": NullReason.WINDOW_TOO_SHORT},
        **(values | overrides),
    )
    return msgspec.structs.asdict(record)


def summary(**overrides):
    return summary_from_mapping(
        full_record(**overrides), person="alice", device="d-1", stream=STREAM, seq=3, settled_below=2
    )


# -- summary from the edge's record -------------------------------------------------------------------


def test_every_indicators_field_is_carried_or_deliberately_left_out():
    # Fails when the signal core adds an indicator the schema does not know: add it to schema.py.
    names = {f.name for f in msgspec.structs.fields(Indicators)}
    carried = set(sch.INDICATOR_FIELDS) | set(sch.CATEGORICAL_FIELDS)
    meta = {"device_id", "t_start_utc_s", "t_end_utc_s", "window_s", "window_nominal_s", "n_beats", "quality"}
    assert names == carried | meta | {"null_reasons"}


def test_summary_from_an_indicators_record():
    s = summary()
    assert (s.v, s.person, s.device, s.stream, s.seq, s.settled_below) == (1, "alice", "d-1", STREAM, 3, 2)
    assert s.t_end_utc_ms == 1_795_700_060_123  # exact milliseconds, no float left to drift
    assert (s.kind, s.window_nominal_s, s.window_s, s.n_beats, s.quality) == ("indicators", 60.0, 60.0, 71, 0.9)
    assert all(getattr(s, name) == 1.5 for name in sch.INDICATOR_FIELDS)
    assert (s.stress_level, s.gate_reason, s.activity_state) == ("high", "active", "rest")
    assert decode(Kind.SUMMARY, encode(s)) == s


def test_nulls_stay_null():
    s = summary(hr_bpm=None, stress_level=None)
    assert s.hr_bpm is None and s.stress_level is None
    assert json.loads(encode(s))["hr_bpm"] is None


def test_an_unknown_field_is_an_error_not_silently_dropped():
    with pytest.raises(SchemaError, match="new_index") as err:
        summary_from_mapping(
            full_record() | {"new_index": 1.0}, person="alice", device="d-1", stream=STREAM, seq=1, settled_below=1
        )
    assert err.value.problem is Problem.INVALID


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"stress_level": "panic"}, "stress_level"),
        ({"hr_bpm": float("inf")}, "finite"),
        ({"hr_bpm": float("nan")}, "finite"),
    ],
)
def test_invalid_values_are_refused_at_the_edge(override, match):
    with pytest.raises(SchemaError, match=match):
        summary(**override)


def test_a_bad_person_device_or_order_is_refused():
    kwargs = {"person": "alice", "device": "d-1", "stream": STREAM, "seq": 3, "settled_below": 2}
    for bad in ({"person": "al/ice"}, {"device": "AA BB"}, {"stream": "xyz"}, {"seq": 0}, {"settled_below": 4}):
        with pytest.raises(SchemaError):
            summary_from_mapping(full_record(), **(kwargs | bad))


# -- decoding what arrives ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"", Problem.NOT_JSON),
        (b"{not json", Problem.NOT_JSON),
        (b"\xff\xfe", Problem.NOT_JSON),
        (b"[1, 2]", Problem.INVALID),
        (b"{}", Problem.INVALID),
        (b'{"v": "1"}', Problem.INVALID),
        (b'{"v": true}', Problem.INVALID),
        (b'{"v": 2, "anything": 1}', Problem.UNKNOWN_VERSION),
        (b'{"v": 0}', Problem.UNKNOWN_VERSION),
        (b'{"v": 1, "person": "alice"}', Problem.INVALID),
        (b"x" * (MAX_PAYLOAD_BYTES + 1), Problem.TOO_LARGE),
    ],
)
def test_decode_names_the_problem(payload, problem):
    with pytest.raises(SchemaError) as err:
        decode(Kind.SUMMARY, payload)
    assert err.value.problem is problem


def test_unknown_fields_and_out_of_range_numbers_are_invalid():
    data = json.loads(encode(summary()))
    for bad in ({"extra": 1}, {"quality": 1.5}, {"n_beats": -1}, {"hr_bpm": "60"}, {"t_end_utc_ms": 1.5}):
        with pytest.raises(SchemaError) as err:
            decode(Kind.SUMMARY, json.dumps(data | bad).encode())
        assert err.value.problem is Problem.INVALID, bad
    overflow = encode(summary()).replace(b'"hr_bpm":1.5', b'"hr_bpm":1e999')
    with pytest.raises(SchemaError):
        decode(Kind.SUMMARY, overflow)


def test_a_payload_is_decoded_as_its_topics_kind():
    ack = Ack(person="alice", stream=STREAM, upto_seq=5)
    with pytest.raises(SchemaError):
        decode(Kind.SUMMARY, encode(ack))
    assert decode(Kind.ACK, encode(ack)) == ack


@pytest.mark.parametrize(
    "message",
    [
        Ack(person="alice", stream=STREAM, upto_seq=0),
        Status(person="alice", state="offline"),
        Status(person="alice", state="online", t_utc_ms=1, agent_version="0.1.0"),
        Checkin(person="alice", t_utc_ms=5, checkin_id="c-1", source="home_assistant", answer="stressed"),
        Checkin(
            person="alice", t_utc_ms=5, checkin_id="c-2", source="companion", answer="need_help", self_stress_1to5=5
        ),
        Checkin(
            person="alice", t_utc_ms=5, checkin_id="c-3", source="cli", answer="snooze", snooze_minutes=30, nudge_id="n"
        ),
        sch.DeviceStatus(
            person="alice", stream=STREAM, seq=2, settled_below=1, device="d-1", t_utc_ms=5, link_state="stopped"
        ),
        sch.DeviceStatus(
            person="alice",
            stream=STREAM,
            seq=2,
            settled_below=1,
            device="d-1",
            t_utc_ms=5,
            battery_pct=100,
            link_state="streaming",
        ),
        Nudge(
            person="alice",
            stream=STREAM,
            seq=9,
            settled_below=9,
            t_utc_ms=5,
            nudge_id="n-2",
            nudge="support",
            title="Support, if you want it",
            text="You said you could use some help.",
            resources=(sch.Resource(name="A friend", how="phone 0123 456"),),
        ),
        Nudge(
            person="alice",
            stream=STREAM,
            seq=9,
            settled_below=9,
            t_utc_ms=5,
            nudge_id="n-3",
            nudge="slow_breathing",
            text="Want a 2-minute breathing break?",
            rate_brpm=5.5,
            inhale_s=4.4,
            exhale_s=6.5,
            duration_s=120.0,
        ),
        Nudge(
            person="alice",
            stream=STREAM,
            seq=9,
            settled_below=9,
            t_utc_ms=5,
            nudge_id="n-1",
            nudge="slow_breathing",
            text="Your body shows signs of stress — want a 2-minute breathing break?",
            stress_score=71.0,
        ),
        sch.Night(
            person="alice",
            stream=STREAM,
            seq=3,
            settled_below=1,
            onset_utc_ms=1_000,
            wake_utc_ms=1_000 + 8 * 3_600_000,
            asleep_min=431,
            lowest_hr_bpm=48.5,
            mean_hr_bpm=53.1,
            rmssd_ms=61.0,
            recovery="below",
            recovery_sd=-1.3,
        ),
        sch.Night(person="alice", stream=STREAM, seq=4, settled_below=1, onset_utc_ms=0, wake_utc_ms=1, asleep_min=0),
    ],
)
def test_every_kind_round_trips(message):
    kind = next(k for k, cls in sch.MESSAGE_TYPES.items() if isinstance(message, cls))
    payload = encode(message)
    assert json.loads(payload)["v"] == 1
    assert decode(kind, payload) == message


def test_encode_validates_like_the_receiver():
    with pytest.raises(SchemaError):
        encode(
            Checkin(
                person="alice", t_utc_ms=5, checkin_id="c", source="companion", answer="stressed", self_stress_1to5=9
            )
        )
    with pytest.raises(SchemaError):
        encode(Ack(person="alice", stream="not-hex", upto_seq=1))


def test_a_full_summary_is_well_under_the_size_limit():
    assert len(encode(summary())) < MAX_PAYLOAD_BYTES / 4


def test_code_tables_match_the_allowed_words():
    tables = {
        sch.StressLevel: sch.STRESS_LEVEL_CODES,
        sch.GateReason: sch.GATE_REASON_CODES,
        sch.ActivityState: sch.ACTIVITY_STATE_CODES,
        sch.NudgeKind: sch.NUDGE_CODES,
        sch.CheckinAnswer: sch.CHECKIN_ANSWER_CODES,
        sch.LinkStateWord: sch.LINK_STATE_CODES,
        sch.Recovery: sch.RECOVERY_CODES,
    }
    for literal, codes in tables.items():
        assert set(get_args(literal)) == set(codes)
        assert len(set(codes.values())) == len(codes) and 0 not in codes.values()


def test_device_pseudonyms_are_stable_keyed_and_valid():
    key = bytes(range(32))
    alias = pseudonymous_device_id("AA:BB:CC:DD:EE:FF", key)
    assert alias == pseudonymous_device_id("AA:BB:CC:DD:EE:FF", key)
    assert alias != pseudonymous_device_id("AA:BB:CC:DD:EE:FF", bytes(32))
    assert "AA" not in alias and len(alias) == 18
    summary_from_mapping(full_record(), person="alice", device=alias, stream=STREAM, seq=1, settled_below=1)
    with pytest.raises(ValueError, match="16 bytes"):
        pseudonymous_device_id("x", b"short")


# -- topics -------------------------------------------------------------------------------------------


def test_topics_under_a_prefix():
    topics = Topics("home/vagus")
    assert topics.topic("alice", Kind.SUMMARY) == "home/vagus/alice/summary"
    assert topics.every_person(Kind.STATUS) == "home/vagus/+/status"
    assert topics.shared("bridges", Kind.SUMMARY) == "$share/bridges/home/vagus/+/summary"
    assert topics.parse("home/vagus/alice/ack") == ("alice", Kind.ACK)


@pytest.mark.parametrize(
    "topic", ["other/alice/summary", "vagus/alice", "vagus/alice/summary/x", "vagus/alice/rr", "vagus/+/summary"]
)
def test_parse_refuses_foreign_topics(topic):
    with pytest.raises(TopicError):
        Topics("vagus").parse(topic)


@pytest.mark.parametrize("person", ["", "+", "#", "a/b", "$sys", "-lead", "a b", "é", "x" * 65])
def test_unusable_person_ids(person):
    with pytest.raises(TopicError):
        check_person(person)


@pytest.mark.parametrize("prefix", ["", "/vagus", "vagus/", "$SYS", "va+gus", "a//b", "v#"])
def test_unusable_prefixes(prefix):
    with pytest.raises(TopicError):
        Topics(prefix)


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", fullmatch=True), st.sampled_from(list(Kind)))
def test_topic_and_parse_are_inverse(person, kind):
    topics = Topics("vagus")
    assert topics.parse(topics.topic(person, kind)) == (person, kind)


def test_qos_and_retain_per_kind():
    assert set(QOS.values()) == {1}
    assert {k for k, retained in RETAIN.items() if retained} == {Kind.STATUS, Kind.ACK}


def test_categorical_words_are_the_signal_cores():
    from vagus.signal.stress import Gate, StressLevel
    from vagus.sync.schema import GATE_REASON_CODES, STRESS_LEVEL_CODES

    assert set(STRESS_LEVEL_CODES) == {level.value for level in StressLevel}
    assert set(GATE_REASON_CODES) == {gate.value for gate in Gate}


# -- check-ins, nudges for a phone, device status ---------------------------------------------------


def nudge(**kwargs):
    fields = {
        "person": "alice",
        "stream": STREAM,
        "seq": 1,
        "settled_below": 1,
        "t_utc_ms": 5,
        "nudge_id": "n",
        "nudge": "slow_breathing",
        "text": "t",
    }
    return Nudge(**(fields | kwargs))


def checkin_payload(**kwargs):
    fields = {"v": 1, "person": "alice", "t_utc_ms": 5, "checkin_id": "c", "source": "home_assistant"}
    return json.dumps(fields | kwargs).encode()


@pytest.mark.parametrize(
    "fields",
    [
        {},  # no answer
        {"answer": "maybe"},
        {"answer": "stressed", "snooze_minutes": 10},  # minutes belong to snooze
        {"answer": "snooze", "snooze_minutes": 0},
        {"answer": "snooze", "snooze_minutes": 1441},
        {"answer": "stressed", "self_stress_1to5": 0},
        {"answer": "stressed", "accepted": True},  # dropped from v1 before its release: unknown now
        {"answer": "stressed", "source": "email"},
    ],
)
def test_a_checkin_needs_a_known_answer_and_consistent_fields(fields):
    with pytest.raises(SchemaError) as err:
        decode(Kind.CHECKIN, checkin_payload(**fields))
    assert err.value.problem is Problem.INVALID


def test_a_checkin_as_home_assistant_would_send_it():
    got = decode(Kind.CHECKIN, checkin_payload(answer="snooze", snooze_minutes=60, nudge_id="n-1"))
    assert isinstance(got, Checkin)
    assert (got.answer, got.snooze_minutes, got.nudge_id, got.self_stress_1to5) == ("snooze", 60.0, "n-1", None)


@pytest.mark.parametrize(
    "timing",
    [
        {"rate_brpm": 6.0},  # all four or none
        {"rate_brpm": 6.0, "inhale_s": 4.0, "exhale_s": 6.0},
        {"rate_brpm": 6.0, "inhale_s": 5.0, "exhale_s": 6.0, "duration_s": 60.0},  # 11 s > one 10-s breath
        {"rate_brpm": 1.0, "inhale_s": 5.0, "exhale_s": 6.0, "duration_s": 60.0},
        {"rate_brpm": 6.0, "inhale_s": 4.0, "exhale_s": 6.0, "duration_s": 0.0},
    ],
)
def test_breathing_timing_is_complete_and_fits_a_breath(timing):
    with pytest.raises((SchemaError, ValueError)):
        encode(nudge(**timing))


def test_breathing_timing_may_leave_a_pause_after_breathing_out():
    message = nudge(rate_brpm=5.0, inhale_s=4.0, exhale_s=6.0, duration_s=300.0)  # 2 s pause per 12-s breath
    assert decode(Kind.NUDGE, encode(message)) == message


def test_held_back_is_not_a_field_of_the_payload():
    # A held-back nudge never leaves the device, so a receiver has nothing to learn from the flag.
    payload = json.loads(encode(nudge()))
    assert "held_back" not in payload
    with pytest.raises(SchemaError):
        decode(Kind.NUDGE, json.dumps(payload | {"held_back": True}).encode())


def test_the_largest_nudge_fits_the_size_limit():
    resources = tuple(sch.Resource(name="\u00e9" * 80, how="\u00e9" * 200) for _ in range(sch.MAX_RESOURCES))
    largest = nudge(
        text="\u00e9" * 280,
        title="\u00e9" * 80,
        stress_score=-1.2345678901234567e-300,
        rate_brpm=5.123456789012345,
        inhale_s=4.123456789012345,
        exhale_s=6.123456789012345,
        duration_s=1234.123456789012,
        resources=resources,
        nudge_id="n" * 64,
    )
    assert len(encode(largest)) < MAX_PAYLOAD_BYTES
    with pytest.raises(SchemaError):
        encode(nudge(resources=(*resources, resources[0])))


def test_link_state_words_are_the_edges():
    from vagus.edge.link_state import LinkState

    assert set(sch.LINK_STATE_CODES) == {state.value for state in LinkState}


@pytest.mark.parametrize("battery", [-1, 101])
def test_battery_is_a_percentage_or_null(battery):
    with pytest.raises(SchemaError):
        encode(
            sch.DeviceStatus(
                person="alice",
                stream=STREAM,
                seq=1,
                settled_below=1,
                device="d-1",
                t_utc_ms=1,
                battery_pct=battery,
                link_state="streaming",
            )
        )


def test_the_code_tables_in_docs_are_the_codes_in_the_schema():
    """docs/topics.md is what dashboard authors read: each of its code rows must say what the schema writes."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "topics.md").read_text(encoding="utf-8")
    tables = {
        "stress_level_code": sch.STRESS_LEVEL_CODES,
        "gate_reason_code": sch.GATE_REASON_CODES,
        "activity_state_code": sch.ACTIVITY_STATE_CODES,
        "nudge_code": sch.NUDGE_CODES,
        "source_code": sch.BEAT_SOURCE_CODES,
        "answer_code": sch.CHECKIN_ANSWER_CODES,
        "link_state_code": sch.LINK_STATE_CODES,
        "recovery_code": sch.RECOVERY_CODES,
    }
    for field, codes in tables.items():
        row = re.search(rf"^\| `{field}`[^|]*\| (.+) \|$", text, re.MULTILINE)
        assert row is not None, field
        documented = {word: int(code) for code, word in re.findall(r"(\d+) `(\w+)`", row.group(1))}
        assert documented == codes, field


def test_recovery_words_are_the_signal_cores():
    import inspect

    from vagus.signal import sleep

    # night_summary's words come from recovery_of; each must be one the schema carries.
    words = set(re.findall(r'"(below|normal|above)"', inspect.getsource(sleep.recovery_of)))
    assert words == set(sch.RECOVERY_CODES)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"wake_utc_ms": 1_000}, "after"),  # wake at the onset
        ({"asleep_min": 61}, "cannot exceed"),  # an hour in bed, 61 minutes asleep
        ({"rmssd_ms": 0.0}, ""),
        ({"recovery": "great"}, ""),
        ({"recovery_sd": float("nan")}, ""),
    ],
)
def test_a_night_must_be_consistent(fields, match):
    base = {"person": "alice", "stream": STREAM, "seq": 1, "settled_below": 1, "onset_utc_ms": 1_000}
    night = base | {"wake_utc_ms": 1_000 + 3_600_000, "asleep_min": 50} | fields
    payload = json.dumps({"v": 1, **night}).encode()
    with pytest.raises(SchemaError, match=match or None):
        decode(Kind.NIGHT, payload)
