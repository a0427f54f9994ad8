"""Fault tests against real servers: whatever crashes mid-stream, the database ends up holding exactly
the records the agent produced — each once, with its values, none missing."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import ROOT
from tests.servers import (
    PASSWORDS,
    BridgeProcess,
    edge_outbox,
    indicators_record,
    wait_until,
    workdir,
)
from vagus.clock import RealClock
from vagus.sync.publisher import Publisher, PublisherSettings
from vagus.sync.settings import Endpoint

pytestmark = pytest.mark.timeout(180)

N_RECORDS = 300
PACE_S = 0.01  # ~3 s of records: long enough to crash something in the middle
RESEND_AFTER_S = 2.0


@pytest.fixture
def bridge_dir():
    root = workdir("bridge")
    yield root
    shutil.rmtree(root, ignore_errors=True)


class Producer(threading.Thread):
    """The agent's side in-process: records 0..n-1 into the outbox at a steady pace."""

    def __init__(self, publisher: Publisher, t0: float, n: int = N_RECORDS) -> None:
        super().__init__(daemon=True)
        self.publisher, self.t0, self.n = publisher, t0, n
        self.produced = 0

    def run(self) -> None:
        for i in range(self.n):
            self.publisher.submit_summary(indicators_record(i, self.t0), device="d-strap1")
            self.produced = i + 1
            time.sleep(PACE_S)


def start_agent(tmp_path, server, person="alice"):
    outbox = edge_outbox(tmp_path / f"{person}.db")
    publisher = Publisher(
        outbox=outbox,
        endpoint=Endpoint("127.0.0.1", server.port, person, PASSWORDS[person]),
        settings=PublisherSettings(person=person, resend_after_s=RESEND_AFTER_S, pump_interval_s=0.1),
        clock=RealClock(),
    )
    publisher.start()
    return publisher, outbox


def assert_database_holds_exactly(db, person, t0, n=N_RECORDS, timeout_s=60):
    records = [indicators_record(i, t0) for i in range(n)]
    expected_hr = [(round(r["t_end_utc_s"] * 1000), r["hr_bpm"]) for r in records]
    expected_rmssd = [(round(r["t_end_utc_s"] * 1000), r["rmssd_ms"]) for r in records]
    labels = {"person": person, "device": "d-strap1", "window": "60"}
    wait_until(
        lambda: db.samples("indicators_hr_bpm", **labels) == expected_hr,
        timeout_s=timeout_s,
        what=f"exactly the {n} records in the database",
        show=lambda: f"{len(db.samples('indicators_hr_bpm', **labels))} samples",
    )
    assert db.samples("indicators_rmssd_ms", **labels) == expected_rmssd


def run_with_fault(tmp_path, server, db, fault, *, person="alice"):
    """Produce N records, call ``fault()`` halfway, then wait for every record to be confirmed."""
    t0 = round(time.time()) - 2 * 3600
    publisher, outbox = start_agent(tmp_path, server, person)
    producer = Producer(publisher, t0)
    try:
        producer.start()
        wait_until(lambda: producer.produced >= N_RECORDS // 2, timeout_s=30, what="half the records")
        fault()
        producer.join(60)
        wait_until(
            lambda: outbox.pending(person) == 0,
            timeout_s=90,
            what="every record confirmed by the bridge",
            show=lambda: f"{outbox.pending(person)} pending",
        )
    finally:
        publisher.stop()
    assert outbox.confirmed_seq(person) == N_RECORDS
    assert_database_holds_exactly(db, person, t0)
    return publisher


def test_broker_killed_mid_stream_and_restarted(tmp_path, broker, victoria, bridge_dir):
    bridge = BridgeProcess(bridge_dir, broker, victoria).start()

    def fault():
        broker.kill()  # SIGKILL: what it acknowledged since its last autosave is gone
        time.sleep(0.5)
        broker.start()

    try:
        publisher = run_with_fault(tmp_path, broker, victoria, fault)
    finally:
        bridge.stop()
    assert publisher.counters.resent > 0  # the lost tail came from the outbox, not from the broker


def test_bridge_killed_mid_stream_and_restarted(tmp_path, broker, victoria, bridge_dir):
    bridge = BridgeProcess(bridge_dir, broker, victoria).start()

    def fault():
        bridge.kill()
        time.sleep(0.5)
        bridge.start()  # same client id: the persistent session hands over what was not acknowledged

    try:
        run_with_fault(tmp_path, broker, victoria, fault)
    finally:
        bridge.stop()


@pytest.mark.parametrize("outage_s", [3.0, pytest.param(60.0, marks=pytest.mark.slow, id="one-minute")])
def test_database_stopped_and_restarted(tmp_path, broker, victoria, bridge_dir, outage_s):
    bridge = BridgeProcess(bridge_dir, broker, victoria).start()

    def fault():
        victoria.stop()  # SIGTERM: VictoriaMetrics flushes what it acknowledged (docs/sync.md)
        time.sleep(outage_s)  # writes fail, nothing is acknowledged, the broker holds the rest
        victoria.start()

    try:
        run_with_fault(tmp_path, broker, victoria, fault)
        assert "retrying in" in bridge.log()
        assert bridge.running
    finally:
        bridge.stop()


def test_two_shared_workers_one_killed(tmp_path, broker, victoria, bridge_dir):
    workers = [
        BridgeProcess(bridge_dir / name, broker, victoria, share_group="bridges").start() for name in ("w1", "w2")
    ]
    try:
        run_with_fault(tmp_path, broker, victoria, workers[0].kill)
    finally:
        for worker in workers:
            worker.stop()


def test_agent_killed_mid_stream_and_restarted(tmp_path, broker, victoria, bridge_dir):
    bridge = BridgeProcess(bridge_dir, broker, victoria).start()
    t0 = round(time.time()) - 3 * 3600
    db = tmp_path / "agent.db"
    argv = [sys.executable, "-m", "tests.servers", "agent", str(db), str(broker.port), "bob", str(t0)]
    argv += [str(N_RECORDS), str(PACE_S)]
    try:
        with subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True) as agent:  # noqa: S603 — a fixed argv of our own, no shell
            assert agent.stdout is not None
            for line in agent.stdout:
                if int(line) >= N_RECORDS // 2:
                    break
            agent.kill()  # SIGKILL: no clean disconnect, its last will says offline
        restarted = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)  # noqa: S603 — a fixed argv of our own, no shell
        assert restarted.returncode == 0, restarted.stderr
        assert restarted.stdout.splitlines()[-1] == "confirmed"
        first_after_restart = int(restarted.stdout.split()[0])
        assert N_RECORDS // 2 < first_after_restart < N_RECORDS  # it carried on, it did not start over
        outbox = edge_outbox(db)
        assert (outbox.last_seq("bob"), outbox.confirmed_seq("bob"), outbox.pending("bob")) == (N_RECORDS,) * 2 + (0,)
        assert_database_holds_exactly(victoria, "bob", t0)
        # The last will reached the database as offline, between the two online statuses.
        assert [v for _, v in victoria.samples("agent_status_online", person="bob")][:3] == [1, 0, 1]
    finally:
        bridge.stop()
