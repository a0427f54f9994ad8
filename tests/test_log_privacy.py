"""No personal data in the logs at INFO: a simulated hour of the agent with sync on (real Mosquitto, the
bridge as a process, real VictoriaMetrics), every log record of the agent's process (root logger) plus
its stderr plus the bridge's log, searched for the wearables' addresses, the RR values the store holds,
and the person id."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable

import pytest

from tests.servers import (
    PASSWORDS,
    Mosquitto,
    running_bridge,
    running_victoria_metrics,
    serving,
    wait_until,
    workdir,
)
from vagus.run import RunOptions, run_agent

pytestmark = pytest.mark.timeout(240)

PERSON = "zoe-private-7"  # distinctive: it cannot turn up by chance
ADDRESSES = ("CE:5F:FD:D3:C6:D1", "F4:12:9A:7B:00:3E")  # the sim's devices are named like BLE addresses

# One simulated hour: stress, exercise, a contact loss and a dropped link, so the edge's warning paths
# run too. The devices carry addresses as names, as a wearable configured by address does on the BLE path.
SCENARIO = f"""
name = "private-hour"
start = "09:00"
duration = "1h"
seed = 3
default_state = "rest"

[[segment]]
at = "09:10"
state = "stress"
duration = "15min"

[[segment]]
at = "09:30"
state = "exercise"
duration = "10min"

[[device]]
name = "{ADDRESSES[0]}"
profile = "h10"

[[device]]
name = "{ADDRESSES[1]}"
profile = "verity"

[[event]]
kind = "contact_loss"
at = "09:05"
duration = "45s"
device = "{ADDRESSES[0]}"

[[event]]
kind = "disconnect"
at = "09:40"
duration = "30s"
device = "{ADDRESSES[1]}"
"""


def needles(person: str, addresses: Iterable[str], rr_ms: Iterable[float]) -> set[str]:
    """What would give the person away, in the forms a log line would print it.

    Addresses as given, in lower case and without separators. RR values as Python prints a float
    (``791.015625``: 1/1024-s ticks are distinctive) and to one decimal; integers alone would match
    counts and ports, so RR values as integers are searched as runs of three consecutive beats."""
    found = {person}
    for a in addresses:
        found |= {a, a.lower(), a.replace(":", ""), a.replace(":", "").lower()}
    rr = list(rr_ms)
    for value in rr:
        found |= {repr(value), f"{value:.1f}"}
    for a, b, c in zip(rr, rr[1:], rr[2:], strict=False):
        found |= {f"{a:.0f}, {b:.0f}, {c:.0f}", f"{a:.0f} {b:.0f} {c:.0f}", f"{a:.0f},{b:.0f},{c:.0f}"}
    return found


def leaks(text: str, searched: set[str]) -> list[str]:
    return sorted(n for n in searched if n in text)


def test_the_search_finds_each_kind_of_leak():
    searched = needles(PERSON, ADDRESSES, [791.015625, 812.5, 800.0])
    assert leaks("INFO connected to the broker; received 3, written 3 points", searched) == []
    assert leaks(f"INFO device {ADDRESSES[0].lower()} connected", searched) == [ADDRESSES[0].lower()]
    assert "791.015625" in leaks("DEBUG rr=791.015625", searched)
    assert leaks("INFO beats [791, 812, 800]", searched) == ["791, 812, 800"]
    assert leaks(f"WARNING no ack for {PERSON}", searched) == [PERSON]


async def test_an_hour_at_info_logs_no_address_no_rr_and_no_person(tmp_path, caplog, capfd):
    caplog.set_level(logging.INFO)  # the root logger: every module's records, paho's included
    scenario = tmp_path / "private-hour.toml"
    scenario.write_text(SCENARIO)
    store = tmp_path / "agent.db"
    root = workdir("mosquitto")
    with (
        serving(root, Mosquitto(root, users={**PASSWORDS, PERSON: "zoe-pw"}).start()) as broker,
        running_victoria_metrics() as db,
        running_bridge(broker, db) as bridge,
    ):
        (tmp_path / "mqtt-password").write_text("zoe-pw")
        config = tmp_path / "agent.toml"
        config.write_text(
            f'[store]\npath = "{store}"\n\n[sim]\nscenario = "{scenario}"\n\n'
            f'[sync]\nenabled = true\nperson = "{PERSON}"\nhost = "127.0.0.1"\nport = {broker.port}\n'
            f'password_file = "{tmp_path / "mqtt-password"}"\nresend_after_s = 2\nraw_beats = true\n'
            "raw_beats_interval_s = 5\n"
        )
        out = io.StringIO()
        code = await run_agent(RunOptions(config_path=config, speed=600.0, duration_s=60.0, quiet=True), out=out)
        assert code == 0, out.getvalue()
        assert "the simulated feed has ended" in out.getvalue()  # the whole hour ran
        # Summaries and raw beats went all the way, so the bridge's logging paths ran with this person.
        wait_until(
            lambda: db.export(f'{{person="{PERSON}",__name__="beats_rr_ms"}}'), timeout_s=30, what="beats written"
        )
        bridge_log = bridge.log()

    import sqlite3

    with sqlite3.connect(store) as con:
        rr = [r for (r,) in con.execute("SELECT rr_ms FROM beats ORDER BY device_id, t_utc_s")]
        devices = {d for (d,) in con.execute("SELECT DISTINCT device_id FROM beats")}
    # Both give beats under their addresses (the strap its RR, the optical sensor PPI through Polar PMD),
    # and the sensor drops and reconnects all the same: the addresses were in play all hour.
    assert devices == set(ADDRESSES) and len(rr) > 3000

    captured = capfd.readouterr()
    logs = "\n".join(r.getMessage() for r in caplog.records) + captured.err + captured.out + bridge_log
    assert len(caplog.records) > 3  # something was logged: connection, subscriptions, warnings
    assert leaks(logs, needles(PERSON, ADDRESSES, rr)) == []
    # The person's own terminal is not a log: it names the scenario and store, never the person id.
    assert PERSON not in out.getvalue()
