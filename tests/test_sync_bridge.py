"""The bridge's own rules: its CLI, its adapters' boundaries, and how it isolates points the database
refuses (with a scripted writer; the real database is in test_sync_e2e/test_sync_faults)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from tests.conftest import ROOT
from tests.servers import BRIDGE_USER, PASSWORDS, indicators_record, wait_until
from tests.test_layout import imports_of
from vagus.sync import Kind, Problem, Topics, encode, summary_from_mapping
from vagus.sync._influx import WriteRejected
from vagus.sync._mqtt import MqttLink, MqttProtocol
from vagus.sync.bridge import Bridge
from vagus.sync.deadletter import DeadLetters
from vagus.sync.settings import BridgeConfig, BridgeSection, Endpoint, MqttSection


def test_paho_and_influxdb_client_each_have_one_adapter():
    found = {
        path.name: {n.split(".")[0] for n in names} & {"paho", "influxdb_client"}
        for path, names in imports_of("sync").items()
    }
    assert {name for name, libs in found.items() if "paho" in libs} == {"_mqtt.py"}
    assert {name for name, libs in found.items() if "influxdb_client" in libs} == {"_influx.py"}


def test_importing_the_schema_loads_neither_library():
    code = "import sys, vagus.sync; print(sorted({m.split('.')[0] for m in sys.modules} & {'paho', 'influxdb_client'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)  # noqa: S603 — a fixed argv of our own, no shell
    assert out.stdout.strip() == "[]", out.stderr


def test_the_bridge_command_reports_a_bad_config(tmp_path):
    out = subprocess.run(  # noqa: S603 — a fixed argv of our own, no shell
        [sys.executable, "-m", "vagus.sync.bridge", "--config", str(tmp_path / "missing.toml")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 2
    assert "missing.toml does not exist" in out.stderr


class ScriptedWriter:
    """Refuses any batch holding a line with ``poison``, as a database refuses a conflicting point."""

    def __init__(self, poison: str) -> None:
        self.poison = poison
        self.written: list[str] = []

    def write(self, bucket: str, lines):
        if any(self.poison in line for line in lines):
            raise WriteRejected(400, "field type conflict")
        self.written += lines

    def close(self) -> None:
        pass


def test_points_the_database_refuses_are_isolated_and_the_rest_written(tmp_path, broker):
    config = BridgeConfig(
        mqtt=MqttSection(host="127.0.0.1", port=broker.port, client_id="bridge-under-test"),
        bridge=BridgeSection(batch_max=100, flush_interval_s=0.5, dead_letter_path=str(tmp_path / "dl.db")),
    )
    writer = ScriptedWriter(poison="hr_bpm=99.5")
    bridge = Bridge(config, writer=writer, env={"VAGUS_MQTT_PASSWORD": PASSWORDS[BRIDGE_USER]})
    stop = threading.Event()
    runner = threading.Thread(target=bridge.run, args=(stop,))
    runner.start()
    link = MqttLink(
        Endpoint("127.0.0.1", broker.port, "alice", PASSWORDS["alice"]),
        client_id="alice-raw",
        protocol=MqttProtocol.V5,
    )
    try:
        assert bridge.link.wait_connected(10)
        subscribed = "bridge-under-test 1 vagus/+/summary"  # mosquitto's log line for the subscription
        wait_until(lambda: subscribed in broker.log(), timeout_s=10, what="the bridge's subscription")
        link.start()
        assert link.wait_connected(10)
        t0 = time.time() - 600
        for seq in range(1, 9):
            record = indicators_record(seq, t0) | ({"hr_bpm": 99.5} if seq == 5 else {})
            fields = {"person": "alice", "device": "d-1", "stream": "a" * 16, "seq": seq, "settled_below": 1}
            summary = summary_from_mapping(record, **fields)
            link.publish(Topics().topic("alice", Kind.SUMMARY), encode(summary))
        wait_until(lambda: bridge.counters.points_written == 7, timeout_s=10, what="the seven good points")
        # The refused one is kept, and counts as settled: the agent must not re-send it for ever.
        wait_until(lambda: bridge.counters.acks_published >= 1, timeout_s=10, what="an ack")
    finally:
        link.stop()
        stop.set()
        runner.join(10)
    assert len(writer.written) == 7 and not any("hr_bpm=99.5" in line for line in writer.written)
    letters = DeadLetters(tmp_path / "dl.db")
    assert letters.count(Problem.DATABASE_REJECTED) == 1
    letters.close()
