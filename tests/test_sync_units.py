"""The sync path's pure parts: line protocol, backoff policy, write confirmations, intake, settings."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from tests.servers import indicators_record
from vagus.errors import ConfigError
from vagus.sync import Ack, Checkin, Kind, Nudge, Problem, Status, Topics, decode, encode, summary_from_mapping
from vagus.sync.backoff import BACKOFF_JITTER_FRACTION, BACKOFF_MAX_S, backoff_s
from vagus.sync.confirmations import Confirmations
from vagus.sync.intake import Accepted, Refused, classify
from vagus.sync.points import Point, point_of
from vagus.sync.schema import DeviceStatus, Resource
from vagus.sync.settings import (
    AgentSyncSection,
    InfluxSection,
    MqttSection,
    bucket_for,
    influx_target,
    load_bridge_config,
    mqtt_endpoint,
)

STREAM = "00000000000000aa"


def make_summary(i=1, **kwargs):
    fields = {"person": "alice", "device": "d-1", "stream": STREAM, "seq": 1, "settled_below": 1} | kwargs
    return summary_from_mapping(indicators_record(i, 1_795_700_000.0), **fields)


# -- points -------------------------------------------------------------------------------------------


def test_a_summary_point():
    line = point_of(make_summary(3), received_utc_ms=0).line()
    head, fields, t_ms = line.split(" ")
    assert head == "indicators,device=d-1,person=alice,window=60"
    assert t_ms == "1795700015000"
    assert fields.split(",") == [
        "quality=0.625",
        "window_s=60.0",
        "n_beats=63i",
        "hr_bpm=56.5",
        "rmssd_ms=20.75",
        "stress_score=3.0",
        "stress_level_code=4i",  # "high" (i = 3)
    ]  # sdnn_ms is None for i=3: no field, never a 0


def test_window_tag_and_float_formatting():
    p = point_of(make_summary(1), received_utc_ms=0)
    assert dict(p.tags)["window"] == "60"
    s = dataclasses.replace(p, tags=(("window", "2.5"),), fields=(("x", 1e-05), ("y", 12345678.25), ("n", 7)))
    assert s.line().split(" ")[1] == "x=1e-05,y=12345678.25,n=7i"


def test_escaping():
    p = Point("m x,y", (("t k", "v,=w"),), (("f=1", 1.0),), 5)
    assert p.line() == r"m\ x\,y,t\ k=v\,\=w f\=1=1.0 5"


def test_other_kinds_as_points():
    nudge = Nudge(
        person="al", stream=STREAM, seq=1, settled_below=1, t_utc_ms=9, nudge_id="n", nudge="check_in", text="t"
    )
    assert point_of(nudge, received_utc_ms=0).line() == "nudge,person=al count=1i,nudge_code=2i 9"
    checkin = Checkin(
        person="al", t_utc_ms=9, checkin_id="c", source="companion", answer="not_stressed", self_stress_1to5=2
    )
    assert (
        point_of(checkin, received_utc_ms=0).line()
        == "checkin,person=al,source=companion count=1i,answer_code=2i,self_stress_1to5=2i 9"
    )
    snooze = Checkin(person="al", t_utc_ms=9, checkin_id="c", source="cli", answer="snooze", snooze_minutes=30)
    assert point_of(snooze, received_utc_ms=0).line() == (
        "checkin,person=al,source=cli count=1i,answer_code=4i,snooze_minutes=30.0 9"
    )
    assert point_of(Status(person="al", state="online", t_utc_ms=9), received_utc_ms=0).line() == (
        "agent_status,person=al online=1i 9"
    )
    # The last will has no time of its own: stamped on arrival.
    assert point_of(Status(person="al", state="offline"), received_utc_ms=42).line().endswith("online=0i 42")
    assert point_of(Ack(person="al", stream=STREAM, upto_seq=1), received_utc_ms=0) is None


def test_a_breathing_nudge_point_keeps_numbers_not_words():
    # A JSON 6 decodes as a float (msgspec), but one built on the edge may hold an int: the field type
    # must not depend on it, or InfluxDB refuses the next point of the series (field type conflict).
    nudge = Nudge(
        person="al",
        stream=STREAM,
        seq=1,
        settled_below=1,
        t_utc_ms=9,
        nudge_id="n",
        nudge="slow_breathing",
        text="A breathing break?",
        title="Breathe",
        stress_score=80,
        rate_brpm=6,
        inhale_s=4,
        exhale_s=6,
        duration_s=120,
        resources=(Resource(name="x", how="y"),),
    )
    line = point_of(nudge, received_utc_ms=0).line()
    assert line == "nudge,person=al count=1i,nudge_code=1i,stress_score=80.0,rate_brpm=6.0,duration_s=120.0 9"
    assert point_of(decode(Kind.NUDGE, encode(nudge)), received_utc_ms=0).line() == line


def test_a_device_status_point():
    status = DeviceStatus(
        person="al", stream=STREAM, seq=3, settled_below=1, device="d-1", t_utc_ms=9, link_state="backoff"
    )
    assert point_of(status, received_utc_ms=0).line() == "device_status,device=d-1,person=al link_state_code=4i 9"
    charged = msgspec.structs.replace(status, battery_pct=87, link_state="streaming")
    assert point_of(charged, received_utc_ms=0).line() == (
        "device_status,device=d-1,person=al link_state_code=3i,battery_pct=87i 9"
    )


# -- intake -------------------------------------------------------------------------------------------


def test_intake_checks_the_topics_person():
    topics = Topics("vagus")
    payload = encode(make_summary())
    accepted = classify(topics, "vagus/alice/summary", payload, retained=False, received_utc_ms=0)
    assert isinstance(accepted, Accepted) and len(accepted.points) == 1
    for topic, problem in [
        ("vagus/bob/summary", Problem.PERSON_MISMATCH),
        ("vagus/alice/raw", Problem.UNKNOWN_TOPIC),
        ("vagus/alice/beats", Problem.INVALID),
        ("elsewhere/alice/summary", Problem.UNKNOWN_TOPIC),
        ("vagus/alice/ack", Problem.INVALID),
    ]:
        refused = classify(topics, topic, payload, retained=False, received_utc_ms=0)
        assert isinstance(refused, Refused) and refused.problem is problem, topic


def test_a_replayed_last_will_is_not_written_again():
    will = encode(Status(person="alice", state="offline"))
    topics = Topics("vagus")
    assert classify(topics, "vagus/alice/status", will, retained=True, received_utc_ms=1).points == ()
    assert classify(topics, "vagus/alice/status", will, retained=False, received_utc_ms=1).points != ()


# -- backoff ------------------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap():
    assert [backoff_s(n) for n in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff_s(10_000) == BACKOFF_MAX_S  # no overflow after a week of outage


def test_backoff_jitter_is_bounded():
    low, high = backoff_s(3, jitter=0.0), backoff_s(3, jitter=1.0)
    assert low == pytest.approx(4.0 * (1 - BACKOFF_JITTER_FRACTION))
    assert high == pytest.approx(4.0 * (1 + BACKOFF_JITTER_FRACTION))


@pytest.mark.parametrize(("attempt", "jitter"), [(-1, 0.5), (0, -0.1), (0, 1.5)])
def test_backoff_refuses_nonsense(attempt, jitter):
    with pytest.raises(ValueError):
        backoff_s(attempt, jitter=jitter)


# -- confirmations ------------------------------------------------------------------------------------


def acks(c):
    return [(a.person, a.stream, a.upto_seq) for a in c.due()]


def test_contiguous_writes_are_confirmed_once():
    c = Confirmations()
    for seq in (1, 2, 3):
        c.written("alice", STREAM, seq, settled_below=1)
    assert acks(c) == [("alice", STREAM, 3)]
    assert acks(c) == []


def test_a_gap_holds_the_confirmation_until_it_fills():
    c = Confirmations()
    for seq in (1, 2, 4, 5):
        c.written("alice", STREAM, seq, settled_below=1)
    assert acks(c) == [("alice", STREAM, 2)]
    c.written("alice", STREAM, 3, settled_below=1)
    assert acks(c) == [("alice", STREAM, 5)]


def test_a_fresh_worker_starts_from_settled_below():
    c = Confirmations()
    c.written("alice", STREAM, 57, settled_below=57)  # 1..56 were confirmed before this worker started
    assert acks(c) == [("alice", STREAM, 57)]
    c.written("alice", STREAM, 60, settled_below=58)  # 58, 59 not here yet
    assert acks(c) == []


def test_workers_confirm_across_each_others_gaps_without_echoing():
    c = Confirmations()
    c.written("alice", STREAM, 6, settled_below=5)  # another worker has seq 5
    assert acks(c) == [("alice", STREAM, 4)]
    c.observed(Ack(person="alice", stream=STREAM, upto_seq=5))
    assert acks(c) == [("alice", STREAM, 6)]  # 5 from the other worker, 6 from here
    c.observed(Ack(person="alice", stream=STREAM, upto_seq=6))  # our own ack, back from the broker
    assert acks(c) == []


def test_streams_are_separate():
    c = Confirmations()
    c.written("alice", STREAM, 1, settled_below=1)
    c.written("alice", "00000000000000bb", 1, settled_below=1)
    c.written("bob", STREAM, 1, settled_below=1)
    assert sorted(acks(c)) == [("alice", STREAM, 1), ("alice", "00000000000000bb", 1), ("bob", STREAM, 1)]


def test_forgetting_above_a_gap_is_bounded():
    c = Confirmations(max_above_gap=10)
    for seq in range(2, 30):
        c.written("alice", STREAM, seq, settled_below=1)
    c.written("alice", STREAM, 1, settled_below=1)
    assert c.upto_seq("alice", STREAM) < 29  # some forgotten: they are confirmed after their re-send


# -- settings -----------------------------------------------------------------------------------------


def test_bridge_config_file_and_environment(tmp_path):
    (tmp_path / "pw").write_text("s3cret\n")
    path = tmp_path / "bridge.toml"
    path.write_text(
        f'[mqtt]\nhost = "broker"\npassword_file = "{tmp_path / "pw"}"\n[influx]\nbucket = "v-{{person}}"\n'
    )
    config = load_bridge_config(path, env={"VAGUS_BRIDGE_BRIDGE__BATCH_MAX": "50", "VAGUS_INFLUX_TOKEN": "tok"})
    assert (config.mqtt.host, config.bridge.batch_max) == ("broker", 50)
    endpoint = mqtt_endpoint(config.mqtt, {})
    assert (endpoint.username, endpoint.password) == ("vagus-bridge", "s3cret")
    assert "s3cret" not in repr(endpoint)
    target = influx_target(config.influx, {"VAGUS_INFLUX_TOKEN": "tok"})
    assert target.token == "tok" and "tok" not in repr(target)  # noqa: S105 — a throw-away test secret
    assert bucket_for(config.influx.bucket, "alice") == "v-alice"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[mqtt]\nport = 0\n", "port"),
        ("[bridge]\nbatchmax = 5\n", "batchmax"),
        ('[bridge]\nprefix = "a/+"\n', "prefix"),
        ('[bridge]\nshare_group = "a/b"\n', "group"),
        ('[influx]\nbucket = "{org}"\n', "placeholder"),
        ("not toml", "TOML"),
    ],
)
def test_bridge_config_errors_name_the_key(tmp_path, text, match):
    path = tmp_path / "bridge.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_bridge_config(path, env={})


def test_secrets_come_from_files_or_environment(tmp_path):
    with pytest.raises(ConfigError, match="password_file"):
        mqtt_endpoint(MqttSection(password_file=str(tmp_path / "missing")), {})
    assert mqtt_endpoint(MqttSection(), {"VAGUS_MQTT_PASSWORD": "pw"}).password == "pw"  # noqa: S105 — a throw-away test secret
    assert influx_target(InfluxSection(), {}).token == ""
    with pytest.raises(ConfigError, match="tls"):
        mqtt_endpoint(MqttSection(ca_file="/ca.pem"), {})
    tls = mqtt_endpoint(MqttSection(tls=True, ca_file="/ca.pem"), {}).tls
    assert tls is not None and tls.ca_file == "/ca.pem"


def test_agent_section_uses_the_person_as_username():
    section = AgentSyncSection(enabled=True, person="alice")
    assert mqtt_endpoint(section, {}, where="sync").username == "alice"
    with pytest.raises(ValueError, match="person"):
        AgentSyncSection(enabled=True)


def test_the_bridge_subscribes_to_every_kind_it_writes():
    # Every kind except ack becomes points; ack only moves confirmations (and is subscribed apart).
    from vagus.sync.bridge import _WRITTEN_KINDS

    assert set(_WRITTEN_KINDS) == set(Kind) - {Kind.ACK}


def test_bridge_config_errors_say_where_the_value_came_from(tmp_path):
    """The bridge reports errors as the agent does (one shared loader): key, origin, expectation."""
    path = tmp_path / "bridge.toml"
    path.write_text("[mqtt]\nport = 0\n")
    with pytest.raises(ConfigError, match=r"mqtt\.port \(in .*bridge\.toml\): expected `int` >= 1"):
        load_bridge_config(path, env={})
    with pytest.raises(ConfigError, match=r"mqtt\.port \(from VAGUS_BRIDGE_MQTT__PORT\)"):
        load_bridge_config(None, env={"VAGUS_BRIDGE_MQTT__PORT": "70000"})


def test_bridge_variables_do_not_leak_into_the_agent_config(tmp_path):
    from vagus.config import load_config

    env = {"VAGUS_BRIDGE_MQTT__PORT": "8883", "XDG_CONFIG_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    assert load_config(None, env=env).sync.enabled is False
