"""Raw beats (opt-in, ``[sync] raw_beats``): the schema of a beats batch, the edge's exactly-once
export from its store into the outbox, and end to end against real servers — off by default (no beat
message ever leaves), on: the database holds exactly the beats the edge stored, through a bridge kill."""

from __future__ import annotations

import json
import math
import shutil
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.servers import (
    BRIDGE_USER,
    PASSWORDS,
    BridgeProcess,
    edge_outbox,
    indicators_record,
    running_bridge,
    wait_until,
    workdir,
)
from vagus.clock import RealClock
from vagus.edge import Store
from vagus.signal import Beat, BeatSource
from vagus.sync import Beats, Kind, Problem, SchemaError, Topics, decode, encode, pseudonymous_device_id
from vagus.sync import schema as sch
from vagus.sync._mqtt import MqttLink, MqttProtocol
from vagus.sync.intake import Accepted, Refused, classify
from vagus.sync.ports import BeatsOutboxPort, StoredBeat
from vagus.sync.publisher import Publisher, PublisherSettings
from vagus.sync.settings import AgentSyncSection, Endpoint

STREAM = "0123456789abcdef"
TOPICS = Topics("vagus")


def beats_message(n=3, **overrides):
    values = {
        "person": "alice",
        "stream": STREAM,
        "seq": 4,
        "settled_below": 2,
        "device": "d-0011223344556677",
        "source": "hrs",
        "t_utc_ms": tuple(1_700_000_000_000 + 800 * i for i in range(n)),
        "rr_ms": tuple(800.0 + i * 0.9765625 for i in range(n)),
        "flags": tuple(i % 16 for i in range(n)),
    }
    return Beats(**(values | overrides))


def stored_beats(device_id, t0, n, *, source=BeatSource.HRS, every=3):
    """``n`` beats 0.8-0.9 s apart; RR in 1/1024-s ticks as a Heart Rate Service sends them."""
    out, t = [], t0
    for i in range(n):
        ticks = 820 + (i * 37) % 100
        t += ticks / 1024
        contact = None if i % 5 == 0 else i % 2 == 0
        out.append(
            Beat(device_id, t, ticks * 1000 / 1024, source, rr_1024=ticks, contact=contact, gap_before=i % every == 0)
        )
    return out


def expected_flags(beat):
    # Independent of schema.beat_flags: the bit values as documented in docs/topics.md.
    flags = (1 if beat.gap_before else 0) + (2 if beat.corrected else 0)
    if beat.contact is not None:
        flags += 4 + (8 if beat.contact else 0)
    return flags


# -- the schema -----------------------------------------------------------------------------------------


def test_a_beats_batch_round_trips_and_is_sequenced():
    message = beats_message()
    assert decode(Kind.BEATS, encode(message)) == message
    assert isinstance(message, sch.SEQUENCED_TYPES)
    assert json.loads(encode(message))["v"] == sch.SCHEMA_VERSION


def test_beat_sources_are_the_signal_cores():
    assert set(sch.BEAT_SOURCE_CODES) == {s.value for s in BeatSource}
    assert sorted(sch.BEAT_SOURCE_CODES.values()) == list(range(1, len(BeatSource) + 1))


@pytest.mark.parametrize(
    "override",
    [
        {"rr_ms": (800.0, 800.0)},  # a column shorter than the others
        {"t_utc_ms": (3, 2, 1)},  # not in time order
        {"t_utc_ms": (1, 1, 2)},  # two beats in one millisecond: one database point
        {"rr_ms": (800.0, -1.0, 800.0)},
        {"rr_ms": (800.0, math.nan, 800.0)},
        {"rr_ms": (800.0, math.inf, 800.0)},
        {"flags": (0, 16, 0)},
        {"source": "camera"},
        {"device": "AA BB"},
    ],
)
def test_invalid_batches_are_refused_at_the_edge(override):
    with pytest.raises((SchemaError, ValueError)):
        encode(beats_message(**override))


def test_the_beat_count_per_message_is_bounded():
    n = sch.MAX_BEATS_PER_MESSAGE
    assert encode(beats_message(n))
    with pytest.raises(SchemaError):
        encode(beats_message(n + 1))
    with pytest.raises((SchemaError, ValueError)):
        encode(beats_message(0))


def test_the_widest_batch_the_schema_allows_fits_in_a_payload():
    n = sch.MAX_BEATS_PER_MESSAGE
    widest = beats_message(
        n,
        person="p" * 64,
        device="d" * 64,
        source="pmd_ppi",
        seq=2**53,
        settled_below=2**53 - 1,
        t_utc_ms=tuple(2**53 - n + i for i in range(n)),
        rr_ms=(1.2345678901234567e-05,) * n,  # the longest repr of a float in [0, 65535]
        flags=(15,) * n,
    )
    assert len(encode(widest)) <= sch.MAX_PAYLOAD_BYTES


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=65_535), min_size=1, max_size=sch.MAX_BEATS_PER_MESSAGE))
def test_any_rr_values_in_range_fit(rrs):
    message = beats_message(len(rrs), rr_ms=tuple(rrs))
    assert decode(Kind.BEATS, encode(message)).rr_ms == tuple(rrs)


def test_flags_follow_the_documented_bits():
    for gap in (False, True):
        for corrected in (False, True):
            for contact in (None, False, True):
                beat = Beat("x", 1.0, 800.0, BeatSource.HRS, contact=contact, corrected=corrected, gap_before=gap)
                assert sch.beat_flags(gap_before=gap, corrected=corrected, contact=contact) == expected_flags(beat)


def test_the_bridge_writes_one_point_per_beat_keyed_by_its_time():
    message = beats_message(3)
    outcome = classify(TOPICS, "vagus/alice/beats", encode(message), retained=False, received_utc_ms=0)
    assert isinstance(outcome, Accepted)
    lines = [p.line() for p in outcome.points]
    assert lines == [
        f"beats,device={message.device},person=alice rr_ms={rr!r},flags={f}i,source_code=1i {t}"
        for t, rr, f in zip(message.t_utc_ms, message.rr_ms, message.flags, strict=True)
    ]
    # Another person's beats on alice's topic: refused, as for summaries.
    other = classify(TOPICS, "vagus/bob/beats", encode(message), retained=False, received_utc_ms=0)
    assert isinstance(other, Refused) and other.problem is Problem.PERSON_MISMATCH


def test_raw_beats_are_off_unless_the_person_opts_in():
    assert AgentSyncSection().raw_beats is False
    assert AgentSyncSection(enabled=True, person="alice").raw_beats is False
    assert PublisherSettings(person="alice").raw_beats is False


# -- the edge's export: each stored beat enters the outbox exactly once -----------------------------------


class Recorder:
    """A ``make_payload`` that keeps what it was given (device id, beats) and returns a marker."""

    def __init__(self):
        self.calls = []

    def __call__(self, ticket, device_id, beats):
        self.calls.append((ticket.seq, device_id, list(beats)))
        return f"{ticket.seq}".encode()


def test_the_export_takes_each_stored_beat_once_in_order(tmp_path):
    path = tmp_path / "edge.db"
    box = edge_outbox(path)
    assert isinstance(box, BeatsOutboxPort)
    a = stored_beats("strap-a", 1000.0, 130)
    b = stored_beats("strap-b", 1000.0, 10, source=BeatSource.PMD_PPI)
    with Store(path) as store:
        store.add_beats(a[:100] + b)
        rec = Recorder()
        tickets = box.append_beats("alice", "beats", rec, now_utc_s=0.0, max_per_record=40)
        # strap-a: 100 beats in 40 + 40 + 20; strap-b: 10; consecutive seqs across devices.
        assert [(seq, dev, len(beats)) for seq, dev, beats in rec.calls] == [
            (1, "strap-a", 40),
            (2, "strap-a", 40),
            (3, "strap-a", 20),
            (4, "strap-b", 10),
        ]
        assert [t.seq for t in tickets] == [1, 2, 3, 4]
        taken = [beat for _, dev, beats in rec.calls if dev == "strap-a" for beat in beats]
        assert taken == [
            StoredBeat(x.t_utc_s, x.rr_ms, x.source.value, x.contact, x.corrected, x.gap_before) for x in a[:100]
        ]
        # Nothing new: nothing taken. New beats: only they.
        assert box.append_beats("alice", "beats", Recorder(), now_utc_s=0.0, max_per_record=40) == []
        store.add_beats(a[100:])
        rec = Recorder()
        box.append_beats("alice", "beats", rec, now_utc_s=0.0, max_per_record=40)
        assert [beat.t_utc_s for _, _, beats in rec.calls for beat in beats] == [x.t_utc_s for x in a[100:]]
    assert box.pending("alice") == 5
    box.close()


def test_a_batch_splits_where_the_source_changes(tmp_path):
    path = tmp_path / "edge.db"
    box = edge_outbox(path)
    first = stored_beats("strap", 1000.0, 5)
    second = stored_beats("strap", first[-1].t_utc_s, 5, source=BeatSource.ECG)
    with Store(path) as store:
        store.add_beats(first + second)
    rec = Recorder()
    box.append_beats("alice", "beats", rec, now_utc_s=0.0, max_per_record=100)
    assert [{b.source for b in beats} for _, _, beats in rec.calls] == [{"hrs"}, {"ecg"}]
    box.close()


def test_a_failed_export_takes_nothing(tmp_path):
    path = tmp_path / "edge.db"
    box = edge_outbox(path)
    with Store(path) as store:
        store.add_beats(stored_beats("strap", 1000.0, 50))

    def broken(ticket, device_id, beats):
        if ticket.seq == 2:
            raise RuntimeError("disk full")
        return b"x"

    with pytest.raises(RuntimeError):
        box.append_beats("alice", "beats", broken, now_utc_s=0.0, max_per_record=20)
    assert box.pending("alice") == 0
    rec = Recorder()
    box.append_beats("alice", "beats", rec, now_utc_s=0.0, max_per_record=20)
    assert sum(len(beats) for _, _, beats in rec.calls) == 50  # all of them, the cursor did not move
    box.close()


def test_a_full_outbox_drops_beats_before_summaries(tmp_path):
    path = tmp_path / "edge.db"
    box = edge_outbox(path, capacity=3)
    box.append("alice", "summary", lambda t: b"s", now_utc_s=0.0)
    with Store(path) as store:
        store.add_beats(stored_beats("strap", 1000.0, 6))
    box.append_beats("alice", "beats", lambda t, d, b: b"b", now_utc_s=1.0, max_per_record=2)
    box.append("alice", "summary", lambda t: b"s", now_utc_s=2.0)
    kinds = [k for (k,) in box._db.execute("SELECT kind FROM outbox ORDER BY seq")]
    assert kinds == ["summary", "beats", "summary"]
    box.close()


# -- end to end against real servers ----------------------------------------------------------------------


def make_agent(path, server, *, raw_beats, interval_s=0.3):
    box = edge_outbox(path)
    key = box.device_key()
    publisher = Publisher(
        outbox=box,
        endpoint=Endpoint("127.0.0.1", server.port, "alice", PASSWORDS["alice"]),
        settings=PublisherSettings(
            person="alice",
            resend_after_s=2.0,
            pump_interval_s=0.1,
            raw_beats=raw_beats,
            raw_beats_interval_s=interval_s,
        ),
        clock=RealClock(),
        device_pseudonym=(lambda d: pseudonymous_device_id(d, key)) if raw_beats else None,
    )
    return publisher, box, key


def watch_beats(server):
    """Every message on any person's beats topic, as the bridge user (who may read them)."""
    seen = []
    link = MqttLink(
        Endpoint("127.0.0.1", server.port, BRIDGE_USER, PASSWORDS[BRIDGE_USER]),
        client_id=f"watch-beats-{time.monotonic_ns()}",
        protocol=MqttProtocol.V311,
        subscriptions=[(TOPICS.every_person(Kind.BEATS), 1)],
        on_message=seen.append,
    )
    link.start()
    assert link.wait_connected(10)
    wait_until(lambda: "vagus/+/beats" in server.log(), timeout_s=10, what="the subscription")
    return link, seen


@pytest.mark.timeout(120)
def test_off_by_default_no_beat_message_leaves(tmp_path, broker, victoria):
    link, seen = watch_beats(broker)
    with running_bridge(broker, victoria):
        publisher, box, _ = make_agent(tmp_path / "agent.db", broker, raw_beats=False)
        with Store(tmp_path / "agent.db") as store:
            store.add_beats(stored_beats("strap-1", time.time() - 600, 200))
        publisher.start()
        try:
            publisher.submit_summary(indicators_record(1, time.time() - 300), device="d-1")
            wait_until(lambda: box.pending("alice") == 0, timeout_s=20, what="the summary confirmed")
            time.sleep(1.0)  # several raw-beats intervals, had it been on
        finally:
            publisher.stop()
        link.stop()
    assert seen == []
    assert victoria.export('{__name__=~"beats_.*"}') == []
    assert box._db.execute("SELECT count(*) FROM outbox WHERE kind = 'beats'").fetchone()[0] == 0
    box.close()


@pytest.mark.timeout(180)
def test_on_the_database_holds_exactly_the_stored_beats_through_a_bridge_kill(tmp_path, broker, victoria):
    root = workdir("bridge")
    bridge = BridgeProcess(root, broker, victoria).start()
    path = tmp_path / "agent.db"
    publisher, box, key = make_agent(path, broker, raw_beats=True)
    t0 = time.time() - 3600
    devices = {"strap-1": stored_beats("strap-1", t0, 900), "ring-2": stored_beats("ring-2", t0 + 0.3, 600, every=7)}
    done = threading.Event()

    def store_beats():  # the agent's side: beats arrive in chunks while sync runs
        with Store(path) as store:
            for k in range(30):
                store.add_beats(devices["strap-1"][30 * k : 30 * (k + 1)] + devices["ring-2"][20 * k : 20 * (k + 1)])
                time.sleep(0.05)
        done.set()

    publisher.start()
    producer = threading.Thread(target=store_beats, daemon=True)
    try:
        producer.start()
        wait_until(lambda: publisher.counters.beats_queued > 300, timeout_s=30, what="beats queued")
        bridge.kill()  # SIGKILL mid-stream
        time.sleep(0.5)
        bridge.start()
        assert done.wait(60)
        wait_until(
            lambda: publisher.counters.beats_queued == 1500 and box.pending("alice") == 0,
            timeout_s=60,
            what="every beat queued and confirmed",
            show=lambda: (publisher.counters.beats_queued, box.pending("alice")),
        )
    finally:
        publisher.stop()
        bridge.stop()
        shutil.rmtree(root, ignore_errors=True)
    assert publisher.counters.beats_skipped == 0
    for device_id, beats in devices.items():
        labels = {"person": "alice", "device": pseudonymous_device_id(device_id, key)}
        times = [round(b.t_utc_s * 1000) for b in beats]
        # Exactly the stored beats: each once, with its own time, RR and flags.
        assert victoria.samples("beats_rr_ms", **labels) == list(zip(times, [b.rr_ms for b in beats], strict=True))
        flags = [(t, expected_flags(b)) for t, b in zip(times, beats, strict=True)]
        assert victoria.samples("beats_flags", **labels) == flags
        assert {v for _, v in victoria.samples("beats_source_code", **labels)} == {1}
    # The wearable's own id never left the device.
    assert not [s for s in victoria.export('{__name__="beats_rr_ms"}') if s["metric"]["device"] in devices]
    box.close()
