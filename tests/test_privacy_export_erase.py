"""Export → erase → export: everything vagus holds about a person is written out, then gone, on the edge
(a store filled by a real simulated run) and on the real servers CI has (VictoriaMetrics; Debian's
influxdb 1.6.7), loaded with the bridge's own line protocol; other people's data stays untouched."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests.servers import running_victoria_metrics
from vagus.edge import Store
from vagus.edge.outbox import Outbox
from vagus.edge.privacy import erase_local, export_local
from vagus.errors import StoreError
from vagus.rr_files import read_rr_file
from vagus.sync.points import points_of
from vagus.sync.schema import Beats, Status, summary_from_mapping
from vagus.sync.server_data import ServerData, ServerDataError, ServerKind
from vagus.sync.settings import InfluxTarget

pytestmark = pytest.mark.timeout(180)
pytest_plugins = ("tests.influx1",)

VAGUS = Path(sys.executable).parent / "vagus"
PERSON = "zoe-private-7"
OTHER = "bob"


# -- a store filled by a real simulated run ------------------------------------------------------------


@pytest.fixture(scope="module")
def sim_store(tmp_path_factory) -> Path:
    """`vagus run --sim` for about an hour of simulated time, with sync on towards a port where nobody
    listens: the outbox keeps every summary, so the sync tables are filled too."""
    root = tmp_path_factory.mktemp("sim")
    config = root / "agent.toml"
    config.write_text(f'[sync]\nenabled = true\nperson = "{PERSON}"\nhost = "127.0.0.1"\nport = 9\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAGUS_")}
    env.update(VAGUS_MQTT_PASSWORD="unused", XDG_CONFIG_HOME=str(root), XDG_DATA_HOME=str(root))  # noqa: S106 — no broker listens there
    store = root / "agent.db"
    argv = [str(VAGUS), "run", "--sim", "--config", str(config), "--db", str(store), "--speed", "600"]
    out = subprocess.run(  # noqa: S603 — our own CLI with fixed arguments
        [*argv, "--duration", "6", "--quiet"], capture_output=True, text=True, timeout=90, env=env
    )
    assert out.returncode == 0, out.stderr
    return store


def table_counts(path: Path) -> dict[str, int]:
    """Rows per table, straight from SQLite (the reference the module under test must match)."""
    with sqlite3.connect(path) as db:
        names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        sql = 'SELECT count(*) FROM "{}"'  # names from sqlite_master
        return {n: db.execute(sql.format(n)).fetchone()[0] for n in names if not n.startswith("sqlite_")}


@pytest.fixture
def store_copy(sim_store, tmp_path) -> Path:
    copy = tmp_path / "agent.db"
    with sqlite3.connect(sim_store) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)  # a consistent copy, WAL included
    return copy


def test_export_writes_every_table_and_the_rr_series_hrv_tools_read(store_copy, tmp_path):
    before = table_counts(store_copy)
    assert before["beats"] > 1000 and before["indicators"] > 100 and before["outbox"] > 100  # a real run
    report = export_local(store_copy, tmp_path / "out")

    assert {t.table for t in report.tables} == set(before)  # every table, none listed by hand
    manifest = json.loads(report.manifest.read_text())
    assert {t["table"]: t["rows"] for t in manifest["tables"]} == before
    for t in report.tables:
        with t.path.open(newline="") as f:
            rows = list(csv.reader(f))
        assert len(rows) - 1 == before[t.table], t.table  # header + every row

    # The RR series, one value per line: numpy's plain-text reader and vagus analyze's reader both get
    # exactly the stored intervals, in time order.
    with sqlite3.connect(store_copy) as db:
        devices = [d for (d,) in db.execute("SELECT DISTINCT device_id FROM beats")]
        assert set(report.rr_files) == set(devices)
        for device in devices:
            stored = [
                rr for (rr,) in db.execute("SELECT rr_ms FROM beats WHERE device_id = ? ORDER BY t_utc_s", (device,))
            ]
            path = report.rr_files[device]
            np.testing.assert_array_equal(np.loadtxt(path), stored)
            assert read_rr_file(path).rr_ms == stored
        key = db.execute("SELECT value FROM sync_keys").fetchone()[0]
    # The outbox's payloads are readable JSON in the export; the pseudonym key is not exported.
    with (tmp_path / "out" / "outbox.csv").open(newline="") as f:
        first = next(csv.DictReader(f))
    assert json.loads(first["payload"])["person"] == PERSON
    for path in (tmp_path / "out").iterdir():
        text = path.read_bytes()
        assert key.hex().encode() not in text and key not in text, path.name


def test_erase_empties_every_table_and_leaves_no_trace_in_the_file(store_copy, tmp_path):
    before = table_counts(store_copy)
    with sqlite3.connect(store_copy) as db:
        old_key = db.execute("SELECT value FROM sync_keys").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        payload = db.execute("SELECT payload FROM outbox LIMIT 1").fetchone()[0]
    assert PERSON.encode() in store_copy.read_bytes() + _wal(store_copy)

    report = erase_local(store_copy)

    assert dict(report.deleted) == before  # counted per table, every table
    assert report.remade == ("sync_keys",)
    after = table_counts(store_copy)
    assert after == {t: (1 if t == "sync_keys" else 0) for t in before}
    raw = store_copy.read_bytes() + _wal(store_copy)
    for needle in (PERSON.encode(), bytes(payload)[:40], old_key):
        assert needle not in raw  # not only unlinked: gone from the file's pages and its WAL
    assert report.bytes_after < report.bytes_before
    with sqlite3.connect(store_copy) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == version
        new_key = db.execute("SELECT value FROM sync_keys").fetchone()[0]
    assert len(new_key) == 32 and new_key != old_key

    # The agent starts again on the same file: the store opens, the outbox works with a new stream.
    Store(store_copy).close()
    outbox = Outbox.open(store_copy)
    try:
        assert outbox.device_key() == new_key and outbox.pending() == 0
    finally:
        outbox.close()

    again = export_local(store_copy, tmp_path / "again")
    assert again.total_rows == 1 and again.rows("sync_keys") == 1 and again.rr_files == {}


def _wal(path: Path) -> bytes:
    wal = Path(f"{path}-wal")
    return wal.read_bytes() if wal.exists() else b""


def test_a_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no local store"):
        export_local(tmp_path / "absent.db", tmp_path / "out")
    with pytest.raises(StoreError, match="no local store"):
        erase_local(tmp_path / "absent.db")


# -- the CLI -------------------------------------------------------------------------------------------


def _agent_config(tmp_path: Path, store: Path) -> Path:
    config = tmp_path / "agent.toml"
    config.write_text(f'[store]\npath = "{store}"\n\n[sync]\nperson = "{PERSON}"\n')
    return config


def test_erase_asks_for_the_person_id_and_reports_counts(store_copy, tmp_path, capsys):
    from vagus import erase_cli

    config = _agent_config(tmp_path, store_copy)
    before = table_counts(store_copy)
    assert erase_cli.main(["--config", str(config)], ask=lambda _prompt: "bob") == 1
    assert table_counts(store_copy) == before  # a wrong answer erases nothing

    prompts: list[str] = []
    assert erase_cli.main(["--config", str(config)], ask=lambda p: prompts.append(p) or PERSON) == 0
    assert PERSON in prompts[0]
    out = capsys.readouterr().out
    for table, n in before.items():
        assert any(line.split()[:2] == [table, str(n)] for line in out.splitlines()), (table, out)
    assert sum(table_counts(store_copy).values()) == 1  # the new key


def test_export_cli_writes_the_local_store(store_copy, tmp_path, capsys):
    from vagus import export_cli

    config = _agent_config(tmp_path, store_copy)
    assert export_cli.main(["--config", str(config), "--out", str(tmp_path / "x")]) == 0
    manifest = json.loads((tmp_path / "x" / "local" / "manifest.json").read_text())
    assert {t["table"] for t in manifest["tables"]} == set(table_counts(store_copy))
    # --server without a person id is a usage error, named.
    (tmp_path / "anon.toml").write_text(f'[store]\npath = "{store_copy}"\n')
    assert export_cli.main(["--config", str(tmp_path / "anon.toml"), "--server"]) == 2
    assert "person" in capsys.readouterr().err


# -- the server side -----------------------------------------------------------------------------------


def bridge_lines(person: str, t0_ms: int, n: int) -> list[str]:
    """What the bridge writes for ``person``: summaries, opt-in raw beats and a status, as line protocol
    made by the bridge's own ``vagus.sync.points``."""
    from tests.servers import indicators_record

    messages: list[object] = [
        summary_from_mapping(
            indicators_record(i, t0_ms / 1000),
            person=person,
            device="d-0123456789abcdef",
            stream="a" * 16,
            seq=i + 1,
            settled_below=1,
        )
        for i in range(n)
    ]
    messages.append(
        Beats(
            person=person,
            stream="a" * 16,
            seq=n + 1,
            settled_below=1,
            device="d-0123456789abcdef",
            source="hrs",
            t_utc_ms=tuple(t0_ms + 800 * k for k in range(1, 31)),
            rr_ms=tuple(800.0 + k for k in range(30)),
            flags=(0,) * 30,
        )
    )
    messages.append(Status(person=person, state="online", t_utc_ms=t0_ms))
    return [p.line() for m in messages for p in points_of(m, received_utc_ms=t0_ms)]


def field_counts(lines: list[str]) -> Counter[str]:
    """Samples per VictoriaMetrics metric (``<measurement>_<field>``), parsed from the lines themselves."""
    counts: Counter[str] = Counter()
    for line in lines:
        series, fields, _ = line.split(" ")
        measurement = series.split(",", 1)[0]
        for f in fields.split(","):
            counts[f"{measurement}_{f.split('=', 1)[0]}"] += 1
    return counts


def write_vm(url: str, person: str, lines: list[str]) -> None:
    request = urllib.request.Request(  # noqa: S310 — the test server's http URL
        f"{url}/api/v2/write?bucket=vagus-{person}&precision=ms", data="\n".join(lines).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310 — the test server's http URL
        assert r.status == 204


@pytest.fixture(scope="module")
def victoria_module():
    with running_victoria_metrics() as server:
        yield server


def test_victoria_metrics_export_then_erase_then_nothing(victoria_module, tmp_path):
    vm = victoria_module
    t0_ms = (int(time.time()) - 3600) * 1000
    mine, theirs = bridge_lines(PERSON, t0_ms, 40), bridge_lines(OTHER, t0_ms, 25)
    write_vm(vm.url, PERSON, mine)
    write_vm(vm.url, OTHER, theirs)
    server = ServerData(InfluxTarget(vm.url), bucket_template="vagus-{person}")
    assert server.kind is ServerKind.VICTORIAMETRICS  # detected

    others_before = vm.export(f'{{person="{OTHER}"}}')
    exported = server.export(PERSON, tmp_path / "server")
    assert dict(exported.counts) == field_counts(mine)
    lines = (tmp_path / "server" / "victoriametrics.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["metric"]["__name__"] for x in lines) == sorted(
        m["metric"]["__name__"] for m in vm.export(f'{{person="{PERSON}"}}')
    )

    erased = server.erase(PERSON)
    assert dict(erased.deleted) == field_counts(mine)
    assert vm.export(f'{{person="{PERSON}"}}') == []
    assert _sorted_series(vm.export(f'{{person="{OTHER}"}}')) == _sorted_series(others_before)  # untouched
    assert server.export(PERSON, tmp_path / "again").total == 0
    with pytest.raises(ServerDataError, match="shared by everyone"):
        ServerData(InfluxTarget(vm.url), bucket_template="vagus").erase(PERSON, drop_location=True)


def _sorted_series(series: list[dict]) -> list[str]:
    return sorted(json.dumps(s, sort_keys=True) for s in series)


def test_erase_cli_with_server_clears_both_sides(victoria_module, store_copy, tmp_path, capsys):
    from vagus import erase_cli

    vm = victoria_module
    t0_ms = (int(time.time()) - 1800) * 1000
    write_vm(vm.url, PERSON, bridge_lines(PERSON, t0_ms, 10))
    write_vm(vm.url, OTHER, bridge_lines(OTHER, t0_ms + 1, 10))
    bridge = tmp_path / "bridge.toml"
    bridge.write_text(f'[influx]\nurl = "{vm.url}"\nbucket = "vagus-{{person}}"\n')
    argv = ["--config", str(_agent_config(tmp_path, store_copy)), "--server", "--bridge-config", str(bridge), "--yes"]
    assert erase_cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "victoriametrics" in out and "indicators_hr_bpm" in out
    assert vm.export(f'{{person="{PERSON}"}}') == []
    assert vm.export(f'{{person="{OTHER}"}}') != []
    assert sum(table_counts(store_copy).values()) == 1


def test_the_persons_dead_letters_are_exported_and_erased_on_the_bridges_host(
    victoria_module, store_copy, tmp_path, capsys
):
    from vagus import erase_cli, export_cli
    from vagus.sync.deadletter import DeadLetter, DeadLetters
    from vagus.sync.errors import Problem

    letters_path = tmp_path / "bridge" / "dead-letters.db"
    letters = DeadLetters(letters_path)
    now = time.time()
    kept = [  # (topic, payload): the person's two, and three that are not theirs
        (f"vagus/{PERSON}/summary", b'{"v":9,"secret":"zoe-rr-812"}'),
        (f"vagus/{PERSON}/checkin", b"not json \xff"),
        (f"vagus/{OTHER}/summary", b'{"v":9}'),
        (f"vagus/{PERSON}x/summary", b'{"v":9}'),  # another person whose id starts with this one's
        (f"other/{PERSON}/summary", b'{"v":9}'),  # another deployment's prefix
    ]
    letters.add([DeadLetter(t, Problem.INVALID, "bad", payload, now) for t, payload in kept])
    letters.close()
    bridge = tmp_path / "bridge.toml"
    bridge.write_text(
        f'[influx]\nurl = "{victoria_module.url}"\nbucket = "vagus-{{person}}"\n\n'
        f'[bridge]\ndead_letter_path = "{letters_path}"\n'
    )
    common = ["--config", str(_agent_config(tmp_path, store_copy)), "--server", "--bridge-config", str(bridge)]
    assert export_cli.main([*common, "--out", str(tmp_path / "export")]) == 0
    exported = json.loads((tmp_path / "export" / "server" / "dead-letters.json").read_text())
    assert sorted(d["topic"] for d in exported) == [f"vagus/{PERSON}/checkin", f"vagus/{PERSON}/summary"]
    assert any("zoe-rr-812" in d["payload"] for d in exported)
    assert erase_cli.main([*common, "--yes"]) == 0
    assert "dead letters" in capsys.readouterr().out
    left = DeadLetters(letters_path)
    try:
        assert left.count() == 3 and left.of_person("vagus", PERSON) == []
    finally:
        left.close()
    for path in (letters_path, letters_path.with_name(letters_path.name + "-wal")):  # nor in free pages or the log
        assert not path.exists() or b"zoe-rr-812" not in path.read_bytes()


def test_a_server_that_is_down_is_a_clear_error(tmp_path):
    from tests.servers import free_port

    server = ServerData(InfluxTarget(f"http://127.0.0.1:{free_port()}", timeout_s=2), bucket_template="vagus")
    with pytest.raises(ServerDataError, match="cannot reach the database"):
        server.erase(PERSON)
    with pytest.raises(ValueError, match="http"):
        ServerData(InfluxTarget("file:///etc/passwd"), bucket_template="vagus")


# -- InfluxDB 1.x (Debian's influxd 1.6.7) --------------------------------------------------------------


def measurement_counts(lines: list[str]) -> Counter[str]:
    """Points per measurement, parsed from the lines themselves."""
    return Counter(line.split(",", 1)[0] for line in lines)


def person_rows(influx1, db: str, person: str) -> list:
    """Every row the database returns for ``person``, through the fixture's own InfluxQL client."""
    answer = influx1.query(db, f"SELECT * FROM /.*/ WHERE \"person\" = '{person}'")  # noqa: S608 — InfluxQL in a test; PERSON is a constant
    return sorted(
        json.dumps([s["name"], s["columns"], row])
        for s in answer["results"][0].get("series", [])
        for row in s["values"]
    )


def test_influxdb1_export_then_erase_then_nothing_with_a_database_per_person(influx1, tmp_path):
    t0_ms = (int(time.time()) - 7200) * 1000
    mine, theirs = bridge_lines(PERSON, t0_ms, 30), bridge_lines(OTHER, t0_ms, 20)
    for person, lines in ((PERSON, mine), (OTHER, theirs)):
        influx1.create_database(f"vagus-{person}")
        influx1.write(f"vagus-{person}", "\n".join(lines))
    server = ServerData(InfluxTarget(influx1.url), bucket_template="vagus-{person}")
    assert server.kind is ServerKind.INFLUXDB1  # detected from /ping
    others_before = person_rows(influx1, f"vagus-{OTHER}", OTHER)

    exported = server.export(PERSON, tmp_path / "server")
    assert dict(exported.counts) == measurement_counts(mine)
    for path in exported.files:  # one CSV per measurement, a header and one row per point
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        measurement = path.stem.removeprefix("influxdb1-")
        assert len(rows) == measurement_counts(mine)[measurement]
        assert {r["person"] for r in rows} == {PERSON}

    erased = server.erase(PERSON)
    assert dict(erased.deleted) == measurement_counts(mine)
    assert person_rows(influx1, f"vagus-{PERSON}", PERSON) == []
    assert influx1.query(f"vagus-{PERSON}", "SHOW SERIES")["results"][0].get("series") is None  # index too
    assert person_rows(influx1, f"vagus-{OTHER}", OTHER) == others_before
    assert server.export(PERSON, tmp_path / "again").total == 0

    server.erase(PERSON, drop_location=True)
    assert f"vagus-{PERSON}" not in influx1.databases() and f"vagus-{OTHER}" in influx1.databases()


def test_influxdb1_erase_in_a_shared_database_leaves_the_others(influx1, tmp_path):
    t0_ms = (int(time.time()) - 5400) * 1000
    influx1.create_database("vagus-shared")
    mine, theirs = bridge_lines(PERSON, t0_ms, 12), bridge_lines(OTHER, t0_ms, 12)
    influx1.write("vagus-shared", "\n".join(mine + theirs))
    server = ServerData(InfluxTarget(influx1.url), bucket_template="vagus-shared")
    others_before = person_rows(influx1, "vagus-shared", OTHER)
    assert len(others_before) == len(theirs)

    assert dict(server.erase(PERSON).deleted) == measurement_counts(mine)
    assert person_rows(influx1, "vagus-shared", PERSON) == []
    assert person_rows(influx1, "vagus-shared", OTHER) == others_before
    with pytest.raises(ServerDataError, match="shared by everyone"):
        server.erase(OTHER, drop_location=True)


def test_influxdb1_retention_policy(influx1):
    server = ServerData(InfluxTarget(influx1.url), bucket_template="vagus-{person}")
    server.ensure_retention_influx1("carol", 30)
    server.ensure_retention_influx1("carol", 7)  # a second call changes it
    answer = influx1.query("vagus-carol", 'SHOW RETENTION POLICIES ON "vagus-carol"')
    series = answer["results"][0]["series"][0]
    policies = {row[0]: dict(zip(series["columns"], row, strict=True)) for row in series["values"]}
    assert policies["vagus"]["duration"] == "168h0m0s" and policies["vagus"]["default"] is True
