"""The sync path end to end against real servers: agent outbox → Mosquitto → bridge → VictoriaMetrics."""

from __future__ import annotations

import gc
import json
import threading
import time

import pytest

from tests.servers import (
    PASSWORDS,
    Pki,
    edge_outbox,
    indicators_record,
    running_bridge,
    running_mosquitto,
    wait_until,
)
from vagus.clock import RealClock
from vagus.sync import Ack, Kind, Topics, decode, encode, summary_from_mapping
from vagus.sync._mqtt import MqttLink, MqttProtocol
from vagus.sync.errors import Problem
from vagus.sync.publisher import Publisher, PublisherSettings
from vagus.sync.schema import MAX_PAYLOAD_BYTES, STRESS_LEVEL_CODES
from vagus.sync.settings import Endpoint, TlsSettings

pytestmark = pytest.mark.timeout(120)

TOPICS = Topics("vagus")


@pytest.fixture
def open_broker():
    """A misconfigured broker: passwords, but no ACL (every user may publish anywhere)."""
    with running_mosquitto(acl=False) as server:
        yield server


@pytest.fixture
def bridge(broker, victoria):
    with running_bridge(broker, victoria) as process:
        yield process


def make_publisher(tmp_path, server, person="alice", *, username=None, resend_after_s=30.0, name="agent.db"):
    outbox = edge_outbox(tmp_path / name)
    username = username or person
    publisher = Publisher(
        outbox=outbox,
        endpoint=Endpoint("127.0.0.1", server.port, username, PASSWORDS[username]),
        settings=PublisherSettings(person=person, resend_after_s=resend_after_s, pump_interval_s=0.1),
        clock=RealClock(),
    )
    return publisher, outbox


def raw_link(server, username, **kwargs):
    """A plain v5 client, for payloads the publisher would never produce."""
    link = MqttLink(
        Endpoint("127.0.0.1", server.port, username, PASSWORDS[username]),
        client_id=f"raw-{username}-{time.monotonic_ns()}",
        protocol=MqttProtocol.V5,
        **kwargs,
    )
    link.start()
    assert link.wait_connected(10)
    return link


def test_summaries_arrive_with_exact_values_and_the_ack_empties_the_outbox(tmp_path, broker, victoria, bridge):
    publisher, outbox = make_publisher(tmp_path, broker)
    t0 = round(time.time()) - 3600
    records = [indicators_record(i, t0) for i in range(6)]
    publisher.start()
    try:
        for record in records:
            publisher.submit_summary(record, device="d-strap1")
        wait_until(lambda: outbox.pending("alice") == 0, timeout_s=30, what="the bridge's ack to empty the outbox")
    finally:
        publisher.stop()
    assert outbox.confirmed_seq("alice") == 6
    assert publisher.counters.confirmed == 6

    labels = {"person": "alice", "device": "d-strap1", "window": "60"}
    times_ms = [round(r["t_end_utc_s"] * 1000) for r in records]
    for field in ("hr_bpm", "rmssd_ms", "quality", "n_beats", "stress_score", "window_s"):
        expected = [(t, r[field]) for t, r in zip(times_ms, records, strict=True)]
        assert victoria.samples(f"indicators_{field}", **labels) == expected, field
    # A null value is no field at all, never a 0.
    assert victoria.samples("indicators_sdnn_ms", **labels) == [
        (t, 40.5) for t, r in zip(times_ms, records, strict=True) if r["sdnn_ms"] is not None
    ]
    assert victoria.samples("indicators_stress_level_code", **labels) == [
        (t, STRESS_LEVEL_CODES[r["stress_level"]]) for t, r in zip(times_ms, records, strict=True)
    ]
    # The retained status says online (published on connect) and, after stop(), offline.
    status = victoria.samples("agent_status_online", person="alice")
    assert [v for _, v in status][:1] == [1]


def test_a_resent_record_overwrites_its_point(tmp_path, broker, victoria, bridge):
    t0 = round(time.time()) - 1800
    record = indicators_record(7, t0)
    t_ms = round(record["t_end_utc_s"] * 1000)
    payload = encode(summary_from_mapping(record, person="bob", device="d-1", stream="0" * 16, seq=1, settled_below=1))
    link = raw_link(broker, "bob")
    try:
        for _ in range(3):  # QoS 1 duplicates and agent re-sends look like this: the same bytes
            link.publish(TOPICS.topic("bob", Kind.SUMMARY), payload)
        wait_until(
            lambda: victoria.samples("indicators_hr_bpm", person="bob") == [(t_ms, record["hr_bpm"])],
            timeout_s=20,
            what="one sample",
            show=lambda: victoria.samples("indicators_hr_bpm", person="bob"),
        )
        # The same key (person, device, window, time) with a new value replaces the point. (Within one
        # unflushed part VictoriaMetrics 1.79 keeps an arbitrary one of equal-time samples; the bytes
        # of a re-sent record are identical, so that never matters to vagus.)
        changed = dict(record, hr_bpm=99.5)
        link.publish(
            TOPICS.topic("bob", Kind.SUMMARY),
            encode(summary_from_mapping(changed, person="bob", device="d-1", stream="0" * 16, seq=2, settled_below=1)),
        )
        wait_until(
            lambda: victoria.samples("indicators_hr_bpm", person="bob") == [(t_ms, 99.5)],
            timeout_s=20,
            what="one sample, the last value written",
            show=lambda: victoria.samples("indicators_hr_bpm", person="bob"),
        )
    finally:
        link.stop()


def test_bad_input_goes_to_dead_letters_and_the_bridge_keeps_going(tmp_path, broker, victoria, bridge):
    t0 = round(time.time()) - 900
    good = encode(
        summary_from_mapping(
            indicators_record(1, t0), person="carol", device="d-1", stream="1" * 16, seq=1, settled_below=1
        )
    )
    v2 = json.loads(good)
    v2["v"] = 2
    oversized = good[:-1] + b',"padding":"' + b"x" * MAX_PAYLOAD_BYTES + b'"}'
    topic = TOPICS.topic("carol", Kind.SUMMARY)
    link = raw_link(broker, "carol")
    try:
        link.publish(topic, b"{not json")
        link.publish(topic, json.dumps(v2).encode())
        link.publish(topic, oversized)
        link.publish(topic, b'{"v": 1, "person": "carol"}')
        link.publish(topic, good)
        wait_until(lambda: victoria.samples("indicators_hr_bpm", person="carol"), timeout_s=20, what="the good record")
    finally:
        link.stop()
    reasons = sorted(reason for reason, _, _ in bridge.dead_letters())
    assert reasons == sorted(
        [Problem.NOT_JSON.value, Problem.UNKNOWN_VERSION.value, Problem.TOO_LARGE.value, Problem.INVALID.value]
    )
    assert bridge.running


def test_the_broker_refuses_a_write_into_another_persons_topic_with_a_v5_reason(tmp_path, broker):
    refusals: list[str] = []
    done = threading.Event()

    def refused(_mid, reason):
        refusals.append(reason)
        done.set()

    link = raw_link(broker, "alice", on_publish_refused=refused)
    try:
        link.publish(TOPICS.topic("bob", Kind.SUMMARY), b"{}")
        assert done.wait(10)
    finally:
        link.stop()
    assert refusals == ["Not authorized"]

    # The publisher reports it and keeps the record: the ACL, not the data, is wrong.
    publisher, outbox = make_publisher(tmp_path, broker, person="bob", username="alice")
    publisher.start()
    try:
        publisher.submit_summary(indicators_record(1, time.time() - 60), device="d-1")
        wait_until(lambda: publisher.counters.refused >= 1, timeout_s=10, what="the refusal")
    finally:
        publisher.stop()
    assert outbox.pending("bob") == 1


def test_the_bridge_rejects_a_payload_for_another_person_if_the_broker_lets_it_through(open_broker, victoria):
    with running_bridge(open_broker, victoria) as bridge:
        # alice writes a record about herself into bob's topic; this broker has no ACL to stop her.
        record = indicators_record(1, time.time() - 600)
        summary = summary_from_mapping(record, person="alice", device="d-1", stream="2" * 16, seq=1, settled_below=1)
        link = raw_link(open_broker, "alice")
        try:
            link.publish(TOPICS.topic("bob", Kind.SUMMARY), encode(summary))
            wait_until(bridge.dead_letters, timeout_s=20, what="the dead letter")
        finally:
            link.stop()
        assert [(r, t) for r, t, _ in bridge.dead_letters()] == [(Problem.PERSON_MISMATCH.value, "vagus/bob/summary")]
        assert victoria.samples("indicators_hr_bpm", person="alice") == []
        assert victoria.samples("indicators_hr_bpm", person="bob") == []


def test_the_ack_is_retained_so_a_restarted_agent_learns_it(tmp_path, broker, victoria, bridge):
    publisher, outbox = make_publisher(tmp_path, broker)
    publisher.start()
    try:
        publisher.submit_summary(indicators_record(1, time.time() - 300), device="d-1")
        wait_until(lambda: outbox.pending("alice") == 0, timeout_s=20, what="the ack")
    finally:
        publisher.stop()
    got: list[bytes] = []
    link = raw_link(
        broker,
        "alice",
        subscriptions=[(TOPICS.topic("alice", Kind.ACK), 1)],
        on_message=lambda m: got.append(m.payload),
    )
    try:
        wait_until(lambda: got, timeout_s=10, what="the retained ack")
    finally:
        link.stop()
    ack = decode(Kind.ACK, got[0])
    assert isinstance(ack, Ack)
    assert (ack.person, ack.stream, ack.upto_seq) == ("alice", outbox.stream("alice"), 1)


# paho 2.2 leaves the socket of a failed TLS handshake to the garbage collector (a ResourceWarning).
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_agent_over_tls_with_the_certificate_verified(tmp_path, victoria, caplog):
    (tmp_path / "pki").mkdir()
    pki = Pki.make(tmp_path / "pki")
    with running_mosquitto(tls=pki) as tls_broker, running_bridge(tls_broker, victoria):
        outbox = edge_outbox(tmp_path / "agent.db")
        publisher = Publisher(
            outbox=outbox,
            endpoint=Endpoint(
                "127.0.0.1", tls_broker.tls_port, "alice", PASSWORDS["alice"], TlsSettings(str(pki.ca_cert))
            ),
            settings=PublisherSettings(person="alice", pump_interval_s=0.1),
            clock=RealClock(),
        )
        publisher.start()
        try:
            publisher.submit_summary(indicators_record(2, time.time() - 120), device="d-1")
            wait_until(lambda: outbox.pending("alice") == 0, timeout_s=20, what="the record confirmed over TLS")
        finally:
            publisher.stop()
        # A broker whose certificate the agent cannot verify gets no connection (and no password).
        (tmp_path / "other").mkdir()
        other = Pki.make(tmp_path / "other")
        wrong_ca = TlsSettings(str(other.ca_cert))
        link = MqttLink(
            Endpoint("127.0.0.1", tls_broker.tls_port, "alice", PASSWORDS["alice"], wrong_ca),
            client_id="alice-wrong-ca",
            protocol=MqttProtocol.V5,
        )
        link.start()
        try:
            assert not link.wait_connected(2.0)
        finally:
            link.stop()
            gc.collect()
        assert "certificate verify failed" in caplog.text  # the log says why
