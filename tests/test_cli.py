"""The `vagus` command as a person runs it: a real process, real files, real signals."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

VAGUS = Path(sys.executable).parent / "vagus"


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAGUS_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"), **extra)
    return env


def vagus(tmp_path: Path, *args: str, timeout: float = 60, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VAGUS), *args], capture_output=True, text=True, timeout=timeout, env=env_for(tmp_path, **extra)
    )


def test_console_script_and_help(tmp_path):
    assert VAGUS.exists(), "the vagus console script is installed"
    out = vagus(tmp_path, "--help")
    assert out.returncode == 0
    assert "not a medical device" in out.stdout and "run" in out.stdout
    run_help = vagus(tmp_path, "run", "--help")
    assert "--speed" in run_help.stdout and "--duration" in run_help.stdout


@pytest.mark.parametrize(
    ("args", "extra", "needle"),
    [
        (("run", "--sim", "--speed", "0"), {}, "--speed"),
        (("run", "--sim", "--duration", "soon"), {}, "--duration"),
        (("run", "--sim", "--bogus"), {}, "unrecognized arguments"),
        (("run",), {}, "--sim"),
        (("run", "--sim", "--duration", "1"), {"VAGUS_SIGNAL__STEP_S": "-1"}, "signal.step_s"),
        (("run", "--sim", "--config", "/nonexistent/vagus.toml"), {}, "does not exist"),
        ((), {}, "COMMAND"),
    ],
)
def test_bad_arguments_and_config_exit_2_with_a_clear_message(tmp_path, args, extra, needle):
    out = vagus(tmp_path, *args, **extra)
    assert out.returncode == 2, out.stderr
    assert needle in out.stderr
    assert "Traceback" not in out.stderr


def test_corrupt_store_exits_1_with_advice(tmp_path):
    db = tmp_path / "bad.db"
    db.write_bytes(b"garbage" * 1000)
    out = vagus(tmp_path, "run", "--sim", "--duration", "1", "--db", str(db))
    assert out.returncode == 1 and "move it aside" in out.stderr and "Traceback" not in out.stderr


def test_ctrl_c_stops_cleanly_and_keeps_the_data(tmp_path):
    db = tmp_path / "v.db"
    proc = subprocess.Popen(
        [str(VAGUS), "run", "--sim", "--speed", "30", "--db", str(db)],
        stdout=subprocess.PIPE,
        text=True,
        env=env_for(tmp_path),
    )
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len([ln for ln in lines if "RMSSD" in ln]) < 3:
        lines.append(proc.stdout.readline())
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "stopped" in rest
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM indicators").fetchone()[0] >= 3


@pytest.mark.slow
def test_an_accelerated_simulated_hour(tmp_path):
    """Acceptance: `vagus run --sim --duration 60 --speed 60` leaves ≥55 simulated minutes of rows."""
    db = tmp_path / "v.db"
    out = vagus(tmp_path, "run", "--sim", "--duration", "60", "--speed", "60", "--db", str(db), timeout=120)
    assert out.returncode == 0, out.stderr
    with sqlite3.connect(db) as con:
        rows = list(con.execute("SELECT t_end_utc_s, window_s FROM indicators WHERE window_nominal_s = 60 ORDER BY 1"))
        n_all = con.execute("SELECT count(*) FROM indicators").fetchone()[0]
        long = list(con.execute("SELECT t_end_utc_s FROM indicators WHERE window_nominal_s = 300 ORDER BY 1"))
    ends = [t for t, _ in rows]
    assert ends[-1] - ends[0] >= 55 * 60
    full = [t for t, w in rows if w >= 60 - 1e-6]
    assert max(b - a for a, b in itertools.pairwise(full)) <= 5 + 1e-6
    assert long[-1][0] - long[0][0] >= 50 * 60
    live = [ln for ln in out.stdout.splitlines() if "RMSSD" in ln]
    assert len(live) == n_all


def test_default_store_location_is_used(tmp_path):
    out = vagus(tmp_path, "run", "--sim", "--duration", "2", "--speed", "100", "--quiet")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "data" / "vagus" / "vagus.db").exists()
