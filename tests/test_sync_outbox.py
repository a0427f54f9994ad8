"""The edge's durable outbox (migration 0003), and the publisher's sending rules against a real broker
with a hand-driven clock: in order, re-sent after the timeout, at most max_in_flight at a time."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from tests.servers import (
    BRIDGE_USER,
    PASSWORDS,
    edge_outbox,
    indicators_record,
    wait_until,
)
from vagus.edge import Store
from vagus.edge.outbox import Outbox
from vagus.errors import StoreError
from vagus.sync import Kind, SchemaError, Topics, decode
from vagus.sync._mqtt import MqttLink, MqttProtocol
from vagus.sync.ports import OutboxPort, Ticket
from vagus.sync.publisher import Publisher, PublisherSettings
from vagus.sync.settings import Endpoint


def payload_of(ticket):
    return f"{ticket.stream}:{ticket.seq}:{ticket.settled_below}".encode()


@pytest.fixture
def outbox(tmp_path):
    box = edge_outbox(tmp_path / "edge.db")
    yield box
    box.close()


def fill(box, n, person="alice", kind="summary", now_utc_s=0.0):
    return [box.append(person, kind, payload_of, now_utc_s=now_utc_s) for _ in range(n)]


def test_the_store_migration_creates_the_outbox(tmp_path):
    with Store(tmp_path / "edge.db") as store:
        assert store.version >= 3
    box = Outbox.open(tmp_path / "edge.db")
    assert len(box.device_key()) == 32
    assert isinstance(box, OutboxPort)
    box.close()


def test_an_unmigrated_database_is_refused(tmp_path):
    with pytest.raises(StoreError, match="Store"):
        Outbox(sqlite3.connect(tmp_path / "plain.db"))


def test_sequence_numbers_and_settled_below(outbox):
    tickets = fill(outbox, 3)
    assert [(t.seq, t.settled_below) for t in tickets] == [(1, 1), (2, 1), (3, 1)]
    assert len(tickets[0].stream) == 16 and {t.stream for t in tickets} == {outbox.stream("alice")}
    assert outbox.confirm("alice", tickets[0].stream, 2) == 2
    (t4,) = fill(outbox, 1)
    assert (t4.seq, t4.settled_below) == (4, 3)  # 1 and 2 are confirmed: settled
    assert (outbox.pending("alice"), outbox.confirmed_seq("alice"), outbox.last_seq("alice")) == (2, 2, 4)
    assert fill(outbox, 1, person="bob")[0].seq == 1  # one sequence per person


def test_confirm_ignores_other_streams_and_numbers_never_given_out(outbox):
    fill(outbox, 3)
    assert outbox.confirm("alice", "ffffffffffffffff", 3) == 0
    assert outbox.confirm("alice", outbox.stream("alice"), 99) == 0  # a forged or buggy ack deletes nothing
    assert outbox.confirm("nobody", outbox.stream("alice"), 1) == 0
    assert outbox.pending("alice") == 3


def test_due_in_order_and_again_after_the_timeout(outbox):
    fill(outbox, 4)
    assert [p.seq for p in outbox.due("alice", now_utc_s=100.0, resend_after_s=30.0, limit=10)] == [1, 2, 3, 4]
    outbox.mark_sent("alice", [1, 2], now_utc_s=100.0)
    assert [p.seq for p in outbox.due("alice", now_utc_s=110.0, resend_after_s=30.0, limit=10)] == [3, 4]
    assert outbox.in_flight("alice", now_utc_s=110.0, resend_after_s=30.0) == 2
    due = outbox.due("alice", now_utc_s=130.0, resend_after_s=30.0, limit=3)
    assert [(p.seq, p.attempts) for p in due] == [(1, 1), (2, 1), (3, 0)]
    outbox.mark_all_unsent("alice")
    assert outbox.in_flight("alice", now_utc_s=110.0, resend_after_s=30.0) == 0
    assert due[0].payload == payload_of(Ticket("alice", outbox.stream("alice"), 1, 1))  # stored byte for byte


def test_a_full_outbox_drops_the_oldest_summaries_first(tmp_path):
    box = edge_outbox(tmp_path / "edge.db", capacity=5)
    fill(box, 1, kind="nudge", now_utc_s=0.0)
    fill(box, 6, now_utc_s=1.0)  # 7 records into 5 places
    remaining = box.due("alice", now_utc_s=9.0, resend_after_s=1.0, limit=10)
    assert [(p.seq, p.kind) for p in remaining] == [(1, "nudge")] + [(seq, "summary") for seq in (4, 5, 6, 7)]
    assert box.dropped_full("alice") == 2
    (t8,) = fill(box, 1, now_utc_s=2.0)
    assert (t8.seq, t8.settled_below) == (8, 1)  # the nudge still waits
    box.close()


def test_the_outbox_survives_a_reopen_and_a_failed_append_leaves_no_trace(tmp_path):
    box = edge_outbox(tmp_path / "edge.db")
    stream = box.stream("alice")
    fill(box, 2)

    def broken(_ticket):
        raise ValueError("cannot build this payload")

    with pytest.raises(ValueError, match="cannot build"):
        box.append("alice", "summary", broken, now_utc_s=0.0)
    box.close()
    box = Outbox.open(tmp_path / "edge.db")
    assert (box.pending(), box.last_seq("alice"), box.stream("alice")) == (2, 2, stream)
    assert fill(box, 1)[0].seq == 3
    box.close()


def test_a_new_store_starts_a_new_stream(tmp_path):
    a, b = edge_outbox(tmp_path / "a.db"), edge_outbox(tmp_path / "b.db")
    assert a.stream("alice") != b.stream("alice")  # its seq 1 is never taken for the old store's
    a.close()
    b.close()


def test_appends_from_two_threads(outbox):
    threads = [threading.Thread(target=fill, args=(outbox, 200)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [p.seq for p in outbox.due("alice", now_utc_s=0.0, resend_after_s=1.0, limit=1000)]
    assert seqs == list(range(1, 401))


# -- the publisher against a real broker, with a hand-driven clock ------------------------------------


class ManualClock:
    def __init__(self, now_utc_s: float) -> None:
        self.now_s = now_utc_s

    def now_utc_s(self) -> float:
        return self.now_s


def watch_summaries(broker, seen):
    """Subscribe as the bridge user (the ACL lets it read every summary), with no bridge running."""
    link = MqttLink(
        Endpoint("127.0.0.1", broker.port, BRIDGE_USER, PASSWORDS[BRIDGE_USER]),
        client_id="watcher",
        protocol=MqttProtocol.V311,
        subscriptions=[(Topics().every_person(Kind.SUMMARY), 1)],
        on_message=lambda m: seen.append(decode(Kind.SUMMARY, m.payload).seq),
    )
    link.start()
    assert link.wait_connected(10)
    wait_until(lambda: "watcher 1 vagus/+/summary" in broker.log(), timeout_s=10, what="the subscription")
    return link


def test_unconfirmed_records_are_resent_after_the_timeout_in_order(tmp_path, broker):
    seen: list[int] = []
    watcher = watch_summaries(broker, seen)
    clock = ManualClock(1_795_700_000.0)
    box = edge_outbox(tmp_path / "edge.db")
    publisher = Publisher(
        outbox=box,
        endpoint=Endpoint("127.0.0.1", broker.port, "alice", PASSWORDS["alice"]),
        settings=PublisherSettings(person="alice", resend_after_s=30.0, max_in_flight=3, pump_interval_s=0.05),
        clock=clock,
    )
    try:
        for i in range(5):
            publisher.submit_summary(indicators_record(i, clock.now_s - 3600), device="d-1")
        publisher.start()
        wait_until(lambda: len(seen) == 3, timeout_s=10, what="the first three")
        time.sleep(0.3)
        assert seen == [1, 2, 3]  # max_in_flight: nothing more until confirmed or timed out
        clock.now_s += 30.0
        wait_until(lambda: len(seen) == 6, timeout_s=10, what="the re-sends")
        time.sleep(0.3)
        assert seen == [1, 2, 3, 1, 2, 3]  # the timed-out ones again, in order, still three in flight
        assert (publisher.counters.sent, publisher.counters.resent) == (3, 3)
        assert box.pending("alice") == 5  # nothing leaves without the bridge's ack
    finally:
        publisher.stop()
        watcher.stop()
        box.close()


def test_submit_refuses_a_record_that_does_not_fit_the_schema(tmp_path, broker):
    box = edge_outbox(tmp_path / "edge.db")
    publisher = Publisher(
        outbox=box,
        endpoint=Endpoint("127.0.0.1", broker.port, "alice", PASSWORDS["alice"]),
        settings=PublisherSettings(person="alice"),
        clock=ManualClock(0.0),
    )
    with pytest.raises(SchemaError):
        publisher.submit_summary(indicators_record(1, 0.0) | {"stress_level": "panic"}, device="d-1")
    assert (box.pending(), box.last_seq("alice")) == (0, 0)  # no seq was used up
    box.close()
