"""Sync benchmarks against real servers (issue 7): bridge throughput and end-to-end latency.

Not a test (CI does not run it). It starts Debian's ``mosquitto`` and ``victoria-metrics`` and the bridge
on free 127.0.0.1 ports with the helpers of ``tests/servers.py``, so it measures what the sync tests run.

    .venv/bin/python benchmarks/sync_bench.py throughput [--records 50000] [--persons 1] [--quiet-broker]
    .venv/bin/python benchmarks/sync_bench.py latency [--people 10] [--devices 3] [--period 5] [--duration 60]
    .venv/bin/python benchmarks/sync_bench.py all

**throughput**: the bridge's persistent MQTT 3.1.1 session is created (bridge started, then stopped
cleanly), N summaries are published into it while the bridge is down (the broker queues them), then the
bridge is started and timed until its write confirmations (the per-person ack it publishes only after the
database write succeeded) cover every record; VictoriaMetrics is then checked to hold all N samples of
``indicators_hr_bpm``, and the time until the export API shows them all is reported too.

**latency**: one publisher per person (its own edge outbox, the real ``Publisher``), each submitting one
summary per device every ``--period`` seconds of wall time; latency is the time from ``submit_summary`` to
the record leaving the outbox on the bridge's ack — the bridge acks only after the database write, so this
is "written and confirmed back to the edge", an upper bound of "in the database".
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from tests.servers import (  # noqa: E402
    BRIDGE_USER,
    PASSWORDS,
    BridgeProcess,
    Mosquitto,
    VictoriaMetrics,
    edge_outbox,
    indicators_record,
    running_victoria_metrics,
    serving,
    wait_until,
    workdir,
)
from vagus.clock import RealClock  # noqa: E402
from vagus.sync import Kind, Topics, encode, summary_from_mapping  # noqa: E402
from vagus.sync.publisher import Publisher, PublisherSettings  # noqa: E402
from vagus.sync.settings import Endpoint  # noqa: E402

TOPICS = Topics("vagus")


# -- servers ---------------------------------------------------------------------------------------------


@contextmanager
def broker_for(persons: list[str], *, quiet: bool) -> Iterator[Mosquitto]:
    """Mosquitto as in the tests (shipped ACL and limits, persistence), with a user per person.

    ``quiet`` replaces the test config's ``log_type all`` (a log line per message) with errors and
    warnings only, as a production broker would run."""
    root = workdir("bench-mosquitto")
    users = {BRIDGE_USER: PASSWORDS[BRIDGE_USER], **{p: f"{p}-pw" for p in persons}}
    server = Mosquitto(root, users=users)
    if quiet:
        conf = root / "mosquitto.conf"
        conf.write_text(conf.read_text().replace("log_type all\n", "log_type error\nlog_type warning\n"))
    with serving(root, server.start()) as started:
        yield started


@contextmanager
def bridge_dir() -> Iterator[Path]:
    root = workdir("bench-bridge")
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far, from /proc/<pid>/stat (Linux):
    a machine-independent figure, unlike records per second on 2 cores shared with the broker and the
    database."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)


def count_samples(db: VictoriaMetrics, metric: str) -> int:
    return sum(len(series["timestamps"]) for series in db.export("{" + f'__name__="{metric}"' + "}"))


class AckWatcher:
    """Subscribes (as the bridge user, which may read acks) to every person's retained ack topic and
    remembers the highest ``upto_seq`` per person and when it arrived."""

    def __init__(self, broker: Mosquitto) -> None:
        self.upto: dict[str, int] = {}
        self.first_at: float | None = None
        self.first_upto = 0
        self.last_at = 0.0
        self._lock = threading.Lock()
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-acks-{secrets.token_hex(4)}")
        self._client.username_pw_set(BRIDGE_USER, PASSWORDS[BRIDGE_USER])
        self._client.on_message = self._on_message
        self._client.on_connect = lambda c, *_: c.subscribe(f"{TOPICS.prefix}/+/{Kind.ACK.value}", qos=1)
        self._client.connect("127.0.0.1", broker.port)
        self._client.loop_start()

    def _on_message(self, _c: object, _u: object, message: paho.MQTTMessage) -> None:
        if message.retain:
            return  # an old confirmation (from an earlier run on this broker)
        now = time.perf_counter()
        ack = json.loads(message.payload)
        with self._lock:
            self.upto[ack["person"]] = max(self.upto.get(ack["person"], 0), int(ack["upto_seq"]))
            if self.first_at is None:
                self.first_at, self.first_upto = now, sum(self.upto.values())
            self.last_at = now

    def total(self) -> int:
        with self._lock:
            return sum(self.upto.values())

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


# -- 1. bridge throughput -----------------------------------------------------------------------------------


def prequeue(broker: Mosquitto, persons: list[str], per_person: int, t0: float) -> None:
    """Publish ``per_person`` summaries for each person (as that person, MQTT v5 like the agent) and wait
    until the broker acknowledged every one: they now sit in the stopped bridge's session queue."""
    payloads: dict[str, list[bytes]] = {}
    # One stream per person: the seqs above must share one stream id for the bridge's contiguous ack.
    for p in persons:
        stream = secrets.token_hex(8)
        payloads[p] = [
            encode(
                summary_from_mapping(
                    indicators_record(i, t0), person=p, device="d-strap1", stream=stream, seq=i + 1, settled_below=1
                )
            )
            for i in range(per_person)
        ]
    clients = []
    for p in persons:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{p}", protocol=paho.MQTTv5)
        client.username_pw_set(p, f"{p}-pw")
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        clients.append((p, client))
    infos = []
    for p, client in clients:
        topic = TOPICS.topic(p, Kind.SUMMARY)
        infos += [client.publish(topic, payload, qos=1) for payload in payloads[p]]
    for info in infos:
        info.wait_for_publish(120)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"publish failed: {paho.error_string(info.rc)}")
    for _, client in clients:
        client.disconnect()
        client.loop_stop()


def bench_throughput(args: argparse.Namespace) -> dict[str, float]:
    persons = [f"p{k:02d}" for k in range(1, args.persons + 1)]
    per_person = args.records // len(persons)
    n = per_person * len(persons)
    t0 = round(time.time()) - 5 * per_person - 3600
    with (
        broker_for(persons, quiet=args.quiet_broker) as broker,
        running_victoria_metrics() as db,
        bridge_dir() as root,
    ):
        bridge = BridgeProcess(root, broker, db, batch_max=args.batch_max)
        bridge.start()  # creates the persistent 3.1.1 session and its subscriptions
        bridge.stop()
        started = time.perf_counter()
        prequeue(broker, persons, per_person, t0)
        print(f"  pre-queued {n} summaries for {len(persons)} person(s) in {time.perf_counter() - started:.1f} s")
        watcher = AckWatcher(broker)
        try:
            spawned = time.perf_counter()
            bridge.start()
            ready = time.perf_counter()
            assert bridge.proc is not None  # noqa: S101 — a type-narrowing invariant, not input validation
            cpu_at_ready = cpu_s(bridge.proc.pid)
            wait_until(
                lambda: watcher.total() >= n,
                timeout_s=600,
                what=f"the bridge to confirm {n} records",
                interval_s=0.01,
                show=watcher.total,
            )
            acked = watcher.last_at
            cpu_used = cpu_s(bridge.proc.pid) - cpu_at_ready
            wait_until(
                lambda: count_samples(db, "indicators_hr_bpm") >= n,
                timeout_s=120,
                what=f"{n} samples in VictoriaMetrics",
                interval_s=0.1,
            )
            in_db = time.perf_counter()
            stored = count_samples(db, "indicators_hr_bpm")
        finally:
            watcher.stop()
            bridge.stop()
    if stored != n:
        raise SystemExit(f"VictoriaMetrics holds {stored} samples of indicators_hr_bpm, expected {n}")
    assert watcher.first_at is not None  # noqa: S101 — a type-narrowing invariant, not input validation
    result = {
        "records": n,
        "bridge_start_s": ready - spawned,
        "drain_s": acked - spawned,
        "rate_from_spawn": n / (acked - spawned),
        "rate_steady": (n - watcher.first_upto) / max(acked - watcher.first_at, 1e-9),
        "db_visible_s": in_db - spawned,
        "cpu_s_per_1000": 1000 * cpu_used / n,
    }
    print(f"  records written and confirmed   {n}  (VictoriaMetrics holds {stored}, no more, no less)")
    print(f"  bridge process start to ready   {result['bridge_start_s']:.2f} s")
    print(f"  spawn to last confirmation      {result['drain_s']:.2f} s  -> {result['rate_from_spawn']:,.0f} records/s")
    print(f"  first to last confirmation                -> {result['rate_steady']:,.0f} records/s (steady state)")
    print(f"  spawn to all visible in export  {result['db_visible_s']:.2f} s (polled every 0.1 s)")
    print(
        f"  bridge CPU (user+sys) ready->last confirmation  {cpu_used:.2f} s = "
        f"{result['cpu_s_per_1000'] * 1000:.1f} ms per 1,000 records (-> {n / cpu_used:,.0f} records per CPU-second)"
    )
    return result


# -- 2. end-to-end latency ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_latency(args: argparse.Namespace) -> dict[str, float]:
    persons = [f"p{k:02d}" for k in range(1, args.people + 1)]
    devices = [f"d-{d}" for d in range(1, args.devices + 1)]
    t0 = round(time.time()) - 3600
    pending: dict[str, dict[int, float]] = {p: {} for p in persons}  # person -> seq -> submit time
    latencies: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()
    with (
        broker_for(persons, quiet=args.quiet_broker) as broker,
        running_victoria_metrics() as db,
        bridge_dir() as root,
        bridge_dir() as edge,
    ):
        bridge = BridgeProcess(root, broker, db, batch_max=args.batch_max).start()
        agents = []
        for p in persons:
            outbox = edge_outbox(edge / f"{p}.db")
            publisher = Publisher(
                outbox=outbox,
                endpoint=Endpoint("127.0.0.1", broker.port, p, f"{p}-pw"),
                settings=PublisherSettings(person=p),  # the agent's defaults
                clock=RealClock(),
            )
            publisher.start()
            agents.append((p, publisher, outbox))
        for _, publisher, _ in agents:
            publisher.wait_connected(10)

        def watch() -> None:
            while not stop.is_set():
                now = time.perf_counter()
                for p, _, outbox in agents:
                    confirmed = outbox.confirmed_seq(p)
                    with lock:
                        for seq in [s for s in pending[p] if s <= confirmed]:
                            latencies.append(now - pending[p].pop(seq))
                time.sleep(0.005)

        def produce(index: int, person: str, publisher: Publisher) -> None:
            # Agents are not synchronised: each starts at its own phase within the period.
            start = time.perf_counter() + args.period * index / len(persons)
            i = 0
            while not stop.wait(max(0.0, start + i * args.period - time.perf_counter())):
                if time.perf_counter() >= start + args.duration:
                    return
                for d, device in enumerate(devices):
                    record = indicators_record(i * len(devices) + d, t0, device_id=device)
                    submitted = time.perf_counter()
                    ticket = publisher.submit_summary(record, device=device)
                    with lock:
                        pending[person][ticket.seq] = submitted
                i += 1

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        producers = [
            threading.Thread(target=produce, args=(k, p, pub), daemon=True) for k, (p, pub, _) in enumerate(agents)
        ]
        for thread in producers:
            thread.start()
        for thread in producers:
            thread.join()
        wait_until(lambda: not any(pending.values()), timeout_s=60, what="every record confirmed", show=lambda: pending)
        stop.set()
        watcher.join()
        resent = sum(pub.counters.resent for _, pub, _ in agents)
        for _, publisher, _ in agents:
            publisher.stop()
        n = len(latencies)
        stored = wait_until(
            lambda: (c := count_samples(db, "indicators_hr_bpm")) >= n and c,
            timeout_s=30,
            what=f"{n} samples in VictoriaMetrics",
        )
        bridge.stop()
    result = {
        "records": n,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * percentile(latencies, 0.95),
        "max_ms": 1000 * max(latencies),
        "mean_ms": 1000 * statistics.fmean(latencies),
    }
    print(f"  records submitted and confirmed {n}  (VictoriaMetrics holds {stored}; re-sent {resent})")
    print(
        f"  latency submit -> ack           p50 {result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms, "
        f"max {result['max_ms']:.0f} ms, mean {result['mean_ms']:.0f} ms"
    )
    return result


# -- main ---------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", nargs="?", choices=("throughput", "latency", "all"), default="all")
    parser.add_argument("--records", type=int, default=50_000, help="throughput: records pre-queued (50000)")
    parser.add_argument("--persons", type=int, default=1, help="throughput: persons the records are spread over (1)")
    parser.add_argument("--batch-max", type=int, default=500, help="the bridge's batch_max (500, as the tests)")
    parser.add_argument("--quiet-broker", action="store_true", help="broker logs errors/warnings, not every message")
    parser.add_argument("--people", type=int, default=10, help="latency: publishers, one per person (10)")
    parser.add_argument("--devices", type=int, default=3, help="latency: devices per person (3)")
    parser.add_argument("--period", type=float, default=5.0, help="latency: seconds between a device's summaries (5)")
    parser.add_argument("--duration", type=float, default=60.0, help="latency: seconds of submitting (60)")
    args = parser.parse_args(argv)
    print("command: " + shlex.join([Path(sys.executable).name, *sys.argv]))
    print(f"broker logging: {'errors and warnings' if args.quiet_broker else 'every message (log_type all)'}")
    if args.which in ("throughput", "all"):
        print(f"bridge throughput: {args.records} records, {args.persons} person(s), batch_max {args.batch_max}")
        bench_throughput(args)
    if args.which in ("latency", "all"):
        print(
            f"end-to-end latency: {args.people} people x {args.devices} devices, one summary per device "
            f"every {args.period:g} s for {args.duration:g} s"
        )
        bench_latency(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
