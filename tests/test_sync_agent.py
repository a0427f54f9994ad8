"""`vagus run --sim` with [sync] enabled, end to end through real servers: the agent process →
Mosquitto → `vagus bridge` → VictoriaMetrics. Nothing is lost: every indicator row the agent stored
is either in the database or still waiting in its outbox."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import PASSWORDS, running_bridge, running_mosquitto, running_victoria_metrics, wait_until

VAGUS = Path(sys.executable).parent / "vagus"

pytestmark = pytest.mark.timeout(180)


def test_the_agent_publishes_what_it_stores(tmp_path):
    with running_mosquitto() as broker, running_victoria_metrics() as db, running_bridge(broker, db):
        config = tmp_path / "agent.toml"
        config.write_text(
            f'[sync]\nenabled = true\nperson = "alice"\nhost = "127.0.0.1"\nport = {broker.port}\nresend_after_s = 2\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAGUS_")}
        env.update(VAGUS_MQTT_PASSWORD=PASSWORDS["alice"], XDG_CONFIG_HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path))
        store = tmp_path / "agent.db"
        out = subprocess.run(
            [
                str(VAGUS),
                "run",
                "--sim",
                "--config",
                str(config),
                "--db",
                str(store),
                "--speed",
                "30",
                "--duration",
                "12",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert out.returncode == 0, out.stderr
        assert PASSWORDS["alice"] not in out.stdout + out.stderr  # no secret in the output
        with sqlite3.connect(store) as con:
            stored = {
                round(t * 1000)
                for (t,) in con.execute("SELECT t_end_utc_s FROM indicators WHERE window_nominal_s = 60")
            }
            pending = con.execute("SELECT count(*) FROM outbox").fetchone()[0]
            beats_queued = con.execute("SELECT count(*) FROM outbox WHERE kind = 'beats'").fetchone()[0]
            beats_stored = con.execute("SELECT count(*) FROM beats").fetchone()[0]
        assert len(stored) > 50
        # Raw beats are a privacy choice, off by default: the store has them, nothing took them out.
        assert beats_stored > 100 and beats_queued == 0
        assert db.export('{__name__=~"beats_.*"}') == []

        def written() -> set[int]:
            return {t for t, _ in db.samples("indicators_rmssd_ms", person="alice", window="60")}

        # The bridge may still be writing the last batch the agent sent before it stopped.
        wait_until(lambda: len(written()) >= len(stored) - pending, timeout_s=30, what="the bridge's writes")
        got = written()
        assert got <= stored  # nothing invented
        assert len(stored - got) <= pending  # nothing lost: the rest waits in the outbox
        assert len(got) >= len(stored) // 2
