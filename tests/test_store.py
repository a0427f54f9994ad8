"""The local SQLite store: migrations, round trips, corrupt and future files, retention."""

from __future__ import annotations

import json
import sqlite3

import pytest

from vagus.edge.store import SCHEMA_VERSION, Store
from vagus.errors import StoreError
from vagus.signal import Beat, BeatSource, Indicators, NullReason


def test_fresh_store_is_migrated(tmp_path):
    with Store(tmp_path / "sub" / "v.db") as store:
        assert store.version == SCHEMA_VERSION >= 1
        tables = {r[0] for r in store.connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"beats", "indicators", "rejected_payloads"} <= tables


def test_reopening_keeps_data_and_does_not_migrate_twice(tmp_path):
    path = tmp_path / "v.db"
    with Store(path) as store:
        store.add_beats([Beat(device_id="d", t_utc_s=1.0, rr_ms=1000.0, source=BeatSource.HRS, rr_1024=1024)])
    with Store(path) as store:
        assert store.count("beats") == 1 and store.version == SCHEMA_VERSION


def test_newer_schema_is_refused_with_advice(tmp_path):
    path = tmp_path / "v.db"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="upgrade vagus"):
        Store(path)


def test_corrupt_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "v.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="move it aside"):
        Store(path)


def test_unwritable_location_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot"):
        Store(blocker / "v.db")


def test_indicator_round_trip_keeps_nulls_and_reasons(tmp_path):
    record = Indicators(
        device_id="d",
        t_start_utc_s=0.0,
        t_end_utc_s=60.0,
        window_s=60.0,
        n_beats=61,
        quality=0.98,
        hr_bpm=61.0,
        rmssd_ms=42.5,
        null_reasons={"lf_ms2": NullReason.NOT_COMPUTED},
    )
    with Store(tmp_path / "v.db") as store:
        store.add_indicators([record])
        store.add_indicators([record])  # a rewrite replaces, never duplicates
        row = store.connection.execute("SELECT hr_bpm, rmssd_ms, lf_ms2, null_reasons FROM indicators").fetchall()
    assert len(row) == 1
    hr, rmssd, lf, reasons = row[0]
    assert (hr, rmssd, lf) == (61.0, 42.5, None)
    assert json.loads(reasons) == {"lf_ms2": "not_computed"}


def test_prune_beats_respects_retention(tmp_path):
    with Store(tmp_path / "v.db") as store:
        store.add_beats(
            Beat(device_id="d", t_utc_s=float(t), rr_ms=1000.0, source=BeatSource.HRS) for t in range(1, 11)
        )
        assert store.prune_beats(older_than_utc_s=6.0) == 5
        assert store.count("beats") == 5


def test_count_rejects_unknown_tables(tmp_path):
    with Store(tmp_path / "v.db") as store, pytest.raises(ValueError):
        store.count("sqlite_master; DROP TABLE beats")


def test_version_1_store_is_migrated_with_its_rows(tmp_path):
    from vagus.edge.store import _MIGRATIONS, _statements

    path = tmp_path / "v1.db"
    db = sqlite3.connect(path)
    for statement in _statements(_MIGRATIONS[0][1]):
        db.execute(statement)
    db.execute(
        "INSERT INTO indicators (device_id, t_end_utc_s, t_start_utc_s, window_s, n_beats, quality, rmssd_ms)"
        " VALUES ('d', 60.0, 0.0, 60.0, 61, 1.0, 40.0)"
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.version == SCHEMA_VERSION
        rows = store.connection.execute("SELECT window_nominal_s, rmssd_ms, sdsd_ms FROM indicators").fetchall()
    assert rows == [(60.0, 40.0, None)]


def test_same_end_time_in_two_windows_are_two_rows(tmp_path):
    def record(nominal):
        return Indicators(
            device_id="d",
            t_start_utc_s=0.0,
            t_end_utc_s=300.0,
            window_s=nominal,
            n_beats=5,
            quality=1.0,
            window_nominal_s=nominal,
        )

    with Store(tmp_path / "v.db") as store:
        store.add_indicators([record(60.0), record(300.0)])
        assert store.indicator_times(window_nominal_s=300.0) == [300.0]
        assert store.count("indicators") == 2
