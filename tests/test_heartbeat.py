"""The liveness file behind the compose healthchecks of the bridge and the agent (vagus.heartbeat),
with the real programs: the bridge against real Mosquitto and VictoriaMetrics, `vagus run --sim`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.servers import running_bridge, running_mosquitto, running_victoria_metrics, wait_until
from vagus.heartbeat import Heartbeat, age_s, main

VAGUS = Path(sys.executable).parent / "vagus"


def test_the_check_passes_only_for_a_fresh_file(tmp_path, capsys):
    path = tmp_path / "alive"
    assert main([str(path), "30"]) == 1
    assert "not written yet" in capsys.readouterr().err
    Heartbeat(path).beat()
    assert main([str(path), "30"]) == 0
    os.utime(path, (time.time() - 45, time.time() - 45))
    assert main([str(path), "30"]) == 1
    assert "45 s ago" in capsys.readouterr().err
    assert main([str(path), "soon"]) == 2 and main([str(path)]) == 2


def test_a_heartbeat_touches_at_most_every_interval(tmp_path):
    path = tmp_path / "alive"
    beat = Heartbeat(path, every_s=3600)
    beat.beat()
    os.utime(path, (1_000_000, 1_000_000))
    beat.beat()  # within the interval: not touched again
    assert path.stat().st_mtime == 1_000_000
    Heartbeat(None).beat()  # no file: nothing to do
    Heartbeat(tmp_path / "missing-dir" / "alive").beat()  # cannot write: the work goes on


def test_the_bridge_reports_alive_while_connected():
    with running_mosquitto() as broker, running_victoria_metrics() as db, running_bridge(broker, db) as bridge:
        wait_until(lambda: main([str(bridge.health_path), "30"]) == 0, timeout_s=20, what="the bridge's heartbeat")


def test_the_agent_reports_alive_while_records_flow(tmp_path):
    health = tmp_path / "alive"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAGUS_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path))
    argv = [str(VAGUS), "run", "--sim", "--scenario", "resting", "--speed", "60", "--duration", "3", "--quiet"]
    out = subprocess.run(  # noqa: S603 — a fixed argv of our own, no shell
        [*argv, "--db", str(tmp_path / "a.db"), "--health-file", str(health)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    age = age_s(health)
    assert age is not None and age < 10
