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
    return subprocess.run(  # noqa: S603 — a fixed argv of our own, no shell
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
    proc = subprocess.Popen(  # noqa: S603 — a fixed argv of our own, no shell
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


# -- real wearables (`vagus run` without --sim) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "config", "needle"),
    [
        (("run",), "", "vagus scan"),  # nothing configured: where to start
        (("run", "--seed", "3"), "", "--seed applies to simulated wearables: add --sim"),
        (("run", "--speed", "10"), "", "--speed applies to simulated wearables"),
        (("run",), '[[devices]]\naddress = "CE:5F:FD"\n', "devices[0]"),
        (("run",), '[[devices]]\nname = "R02"\nprofile = "colmi_ring"\necg = true\n', "options of the polar_pmd"),
        (("run",), '[[devices]]\nprofile = "heart_rate"\n', "an address or a name"),
    ],
)
def test_run_without_sim_explains_what_is_missing(tmp_path, args, config, needle):
    path = tmp_path / "vagus.toml"
    path.write_text(config)
    out = vagus(tmp_path, *args, "--config", str(path))
    assert out.returncode == 2, out.stderr
    assert needle in out.stderr and "Traceback" not in out.stderr


async def test_run_reads_configured_ble_wearables_reconnects_and_stops_on_sigterm(tmp_path):
    """The BLE path end to end without a radio: bleak's BleakClient over the simulator-fed test backend
    (tests/ble_test_backend.py), one strap by address and one by name; the first drops out of range
    twice; SIGTERM stops the run and every link is disconnected."""
    import asyncio
    import io

    from vagus.clock import SimClock
    from vagus.edge.ble_transport import ScanResult, recognised_profiles
    from vagus.run import BleHooks, RunOptions, run_agent
    from vagus.sim.device import LinkOutage, SimulatedDevice
    from vagus.sim.world import strap_at_rest

    from .ble_test_backend import SimPeripheral, make_backend

    t0 = 1_790_000_000.0
    clock = SimClock(t0)
    _, world_a = strap_at_rest(clock, duration_s=1200, seed=1)
    outages = [LinkOutage(200.0, 230.0), LinkOutage(500.0, 505.0)]
    dev_a = SimulatedDevice(
        world_a.devices_setup[0].firmware(), clock=clock, t0_utc_s=t0, device_id="a", outages=outages
    )
    dev_b, _ = strap_at_rest(clock, duration_s=1200, seed=2, device_id="b")
    strap_a, strap_b = SimPeripheral(dev_a), SimPeripheral(dev_b, name="Polar H10 B0B0B0")
    scans: list[float] = []

    async def scan(timeout_s, *, adapter=None, service_uuids=()):
        await clock.sleep(timeout_s)
        scans.append(clock.now_utc_s())
        if len(scans) == 1:
            return []  # not heard the first time: the link backs off and scans again
        advertised = strap_b.advertised_service_uuids()
        assert set(service_uuids) <= set(advertised)
        return [ScanResult(strap_b.address, strap_b.name, -60, tuple(advertised), recognised_profiles(advertised))]

    config = tmp_path / "vagus.toml"
    config.write_text(f'[[devices]]\naddress = "{strap_a.address.lower()}"\n\n[[devices]]\nname = "polar h10"\n')
    db = tmp_path / "v.db"
    out = io.StringIO()

    async def terminate_later() -> None:
        await clock.sleep(900.0)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = asyncio.ensure_future(terminate_later())
    code = await run_agent(
        RunOptions(config_path=config, db_path=db, ble=True),
        out=out,
        stop_signals=(signal.SIGTERM,),
        ble_hooks=BleHooks(client_backend=make_backend(strap_a, strap_b), scan=scan, clock=clock),
    )
    await killer
    assert code == 0
    text = out.getvalue()
    # Stopped cleanly at the signal: every wearable disconnected.
    assert 900.0 <= clock.now_utc_s() - t0 < 901.0
    assert not dev_a.connected and not dev_b.connected
    assert strap_a.client is not None and not strap_a.client.is_connected
    assert strap_b.client is not None and not strap_b.client.is_connected
    # Strap A reconnected after each outage: three successful connects, the failed attempts in between.
    assert strap_a.connect_calls >= 4 and text.count(f"{strap_a.address}  link streaming") == 3
    assert text.count(f"{strap_a.address}  link connecting (dropped)") == 2
    # Strap B was found by name on the second scan, then read on the address the scan gave.
    assert len(scans) == 2 and strap_b.connect_calls == 1
    assert "polar h10  link scanning" in text and "polar h10  link streaming" in text
    battery = world_a.devices_setup[0].firmware().read("00002a19-0000-1000-8000-00805f9b34fb", 0.0)[0]
    assert f"{strap_a.address}  battery {battery} %" in text
    assert "link stopped (stopped)" in text and "dropped links this run" in text
    with sqlite3.connect(db) as con:
        per_device = dict(con.execute("SELECT device_id, count(*) FROM indicators GROUP BY device_id"))
        gaps = con.execute("SELECT count(*) FROM beats WHERE device_id = ? AND gap_before = 1", (strap_a.address,))
        assert gaps.fetchone()[0] == 3
    assert set(per_device) == {strap_a.address, "polar h10"} and min(per_device.values()) > 100
    # After the SIGTERM handler is gone the default disposition is back (the run restored it).
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
