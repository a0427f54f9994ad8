"""Export and erase everything the edge's store holds about its person (docs/security.md).

Both work on **every table** of the store, found in ``sqlite_master`` rather than listed here, so a
table a later migration adds is exported and erased without a change to this module.

- ``export_local`` writes one CSV file per table (a header row, then every row), a ``manifest.json``
  (tables, columns, row counts, files, the store's schema version, UTC time of the export) and, per
  device, the RR series as plain text: one RR interval in milliseconds per line, in time order. That
  plain format is what ``vagus analyze``, Kubios HRV ("RR interval text file") and the ``hrv`` Python
  library read.
- ``erase_local`` deletes every row of every table in one transaction and then ``VACUUM``s, so the
  deleted pages are not left in the file (SQLite keeps freed pages with their old bytes until then);
  the WAL is checkpointed and truncated for the same reason. The schema and its version
  (``PRAGMA user_version``) stay, so the agent starts again on the same file. The one row that is
  not personal data but a secret, the key that turns device addresses into pseudonyms
  (``sync_keys``), is replaced by a new random key: pseudonyms made after an erase cannot be linked
  to the ones already sent.

Neither touches the server: that is ``vagus.sync.server_data``.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from vagus.errors import StoreError

__all__ = ["EraseReport", "ExportReport", "TableExport", "erase_local", "export_local", "personal_tables"]

# Cells never written to an export: a secret is no one's data, and it would let whoever receives the
# export link device pseudonyms on a server to this device.
_SECRET_COLUMNS: Final = frozenset({("sync_keys", "value")})
_REDACTED: Final = "(secret, not exported)"

# Rows put back after an erase, as the migration that made the table did (0003_outbox.sql): the store
# must stay usable by the agent, with a *new* key.
_REMADE_AFTER_ERASE: Final[Mapping[str, str]] = {
    "sync_keys": "INSERT INTO sync_keys (name, value) VALUES ('device_pseudonym_key', randomblob(32))",
}

_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class TableExport:
    table: str
    rows: int
    path: Path


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What ``export_local`` wrote. ``rr_files`` maps each device id to its RR text file."""

    out_dir: Path
    manifest: Path
    schema_version: int
    tables: tuple[TableExport, ...]
    rr_files: Mapping[str, Path] = field(default_factory=dict)

    def rows(self, table: str) -> int:
        for t in self.tables:
            if t.table == table:
                return t.rows
        raise KeyError(table)

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)


@dataclass(frozen=True, slots=True)
class EraseReport:
    """Rows deleted per table (every table, zeros included); ``remade`` lists tables given a fresh row
    (a new secret) after the erase."""

    store_path: Path
    deleted: Mapping[str, int]
    remade: tuple[str, ...]
    bytes_before: int
    bytes_after: int

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def _quote(name: str) -> str:
    """An SQL identifier, quoted (table names come from sqlite_master, not from a user)."""
    return '"' + name.replace('"', '""') + '"'


def personal_tables(db: sqlite3.Connection) -> list[str]:
    """Every table of the store except SQLite's own (``sqlite_sequence``, ``sqlite_stat1``…), sorted.

    The schema's version is ``PRAGMA user_version``, not a table, so nothing else is bookkeeping."""
    rows = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    )
    return [str(row[0]) for row in rows]


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [str(row[1]) for row in db.execute(f"PRAGMA table_info({_quote(table)})")]


def _cell(value: object) -> object:
    """A CSV cell: text blobs (the outbox's JSON payloads) as text, other blobs as hex."""
    if isinstance(value, bytes | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "0x" + raw.hex()
    return value


def _open(store_path: Path, *, readonly: bool) -> sqlite3.Connection:
    if not store_path.is_file():
        raise StoreError(f"no local store at {store_path}: nothing to export or erase there")
    try:
        if readonly:
            return sqlite3.connect(f"{store_path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        return sqlite3.connect(str(store_path), isolation_level=None, timeout=30.0)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open the local store {store_path}: {exc}") from exc


@contextmanager
def _snapshot(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One read transaction, so every table is exported as of the same instant while the agent writes."""
    db.execute("BEGIN")
    try:
        yield db
    finally:
        db.execute("COMMIT")


def _file_stem(device_id: str, taken: set[str]) -> str:
    stem = "rr-" + (_UNSAFE_FILENAME.sub("_", device_id).strip("._") or "device")
    candidate, n = stem, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}-{n}"
    taken.add(candidate)
    return candidate


def _write_rr_files(db: sqlite3.Connection, out_dir: Path) -> dict[str, Path]:
    """Per device, its stored RR intervals (ms) one per line in time order; ``repr`` keeps every digit
    (1/1024-s ticks are exact decimals: 791.015625)."""
    tables = set(personal_tables(db))
    if "beats" not in tables:
        return {}
    files: dict[str, Path] = {}
    taken: set[str] = set()
    devices = [str(row[0]) for row in db.execute("SELECT DISTINCT device_id FROM beats ORDER BY device_id")]
    for device_id in devices:
        path = out_dir / f"{_file_stem(device_id, taken)}.txt"
        rows = db.execute("SELECT rr_ms FROM beats WHERE device_id = ? ORDER BY t_utc_s", (device_id,))
        with path.open("w", encoding="utf-8", newline="\n") as f:
            f.writelines(f"{float(rr)!r}\n" for (rr,) in rows)
        files[device_id] = path
    return files


def export_local(store_path: Path | str, out_dir: Path | str) -> ExportReport:
    """Write every table of the store at ``store_path`` to CSV in ``out_dir`` (created; existing files
    of the same names are replaced), the RR series as text, and ``manifest.json``. Read-only on the store."""
    store_path, out_dir = Path(store_path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    exported: list[TableExport] = []
    manifest_tables: list[dict[str, object]] = []
    with closing(_open(store_path, readonly=True)) as db, _snapshot(db):
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        for table in personal_tables(db):
            columns = _columns(db, table)
            secret = [i for i, c in enumerate(columns) if (table, c) in _SECRET_COLUMNS]
            path = out_dir / f"{table}.csv"
            n = 0
            with path.open("w", encoding="utf-8", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(columns)
                for row in db.execute(f"SELECT * FROM {_quote(table)}"):  # noqa: S608 — a table name from sqlite_master, quoted
                    cells = [_cell(v) for v in row]
                    for i in secret:
                        cells[i] = _REDACTED
                    writer.writerow(cells)
                    n += 1
            exported.append(TableExport(table, n, path))
            manifest_tables.append(
                {
                    "table": table,
                    "file": path.name,
                    "rows": n,
                    "columns": columns,
                    "redacted_columns": [columns[i] for i in secret],
                }
            )
        rr_files = _write_rr_files(db, out_dir)
    manifest = out_dir / "manifest.json"
    document = {
        "format": "vagus-export-1",
        "exported_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "store": str(store_path),
        "schema_version": version,
        "notes": [
            "One CSV per table: a header row, then every row. Empty cells are NULL.",
            "Times named *_utc_s are POSIX seconds, UTC. Binary cells that are UTF-8 text (the outbox's"
            " JSON payloads) are written as text, other binary cells as 0x-prefixed hex.",
            "rr-*.txt: one RR interval in milliseconds per line, in time order, per device"
            " (vagus analyze, Kubios HRV, hrv). Gaps (device off, contact lost) are not marked there;"
            " beats.csv has gap_before.",
        ],
        "tables": manifest_tables,
        "rr_series": [{"device_id": d, "file": p.name} for d, p in rr_files.items()],
    }
    manifest.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return ExportReport(out_dir, manifest, version, tuple(exported), rr_files)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def erase_local(store_path: Path | str) -> EraseReport:
    """Delete every row of every table of the store (the outbox included), keep the schema and its
    version, and rewrite the file so no deleted row stays on its pages. Stop the agent first: an agent
    writing meanwhile would store new rows after the erase (``vagus erase`` checks)."""
    store_path = Path(store_path)
    before = _size(store_path)
    with closing(_open(store_path, readonly=False)) as db:
        deleted: dict[str, int] = {}
        db.execute("PRAGMA secure_delete = ON")  # deleted cells are overwritten with zeros, not only freed
        try:
            db.execute("BEGIN IMMEDIATE")
            for table in personal_tables(db):
                deleted[table] = db.execute(f"DELETE FROM {_quote(table)}").rowcount  # noqa: S608 — table from sqlite_master, quoted
            remade = tuple(t for t in _REMADE_AFTER_ERASE if t in deleted)
            for table in remade:
                db.execute(_REMADE_AFTER_ERASE[table])
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(f"cannot erase {store_path}: {exc} (is the agent still running?)") from exc
        # VACUUM rewrites the file without free pages; the WAL still holds copies of the old pages.
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return EraseReport(store_path, deleted, remade, before, _size(store_path))
