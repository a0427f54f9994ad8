"""The local store: one SQLite file owned by the edge, with versioned migrations.

Migrations are the numbered ``migrations/NNNN_*.sql`` files shipped with the package, applied in
order inside one transaction each; ``PRAGMA user_version`` records the last one applied.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import msgspec.structs

from vagus.errors import StoreError
from vagus.signal import Beat, Indicators
from vagus.signal.sleep import NightSummary

__all__ = ["SCHEMA_VERSION", "Store"]


def _migrations() -> list[tuple[int, str]]:
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    found.sort()
    if [n for n, _ in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations are not numbered 1..N: {[n for n, _ in found]}")
    return found


def _statements(sql: str) -> list[str]:
    """Split a script into statements (``executescript`` would commit mid-migration)."""
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf)
            buf = ""
    if buf.strip() and not all(ln.strip().startswith("--") for ln in buf.splitlines() if ln.strip()):
        raise RuntimeError(f"unterminated SQL statement in a migration: {buf[:60]!r}")
    return out


_MIGRATIONS = _migrations()
SCHEMA_VERSION = len(_MIGRATIONS)

_INDICATOR_COLUMNS = tuple(f.name for f in msgspec.structs.fields(Indicators))


class Store:
    """Read and write access to the local SQLite store."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot open the local store {self.path}: {exc}. If the file is damaged, move it "
                "aside and vagus starts a new one."
            ) from exc
        except OSError as exc:
            raise StoreError(f"cannot create the local store {self.path}: {exc}") from exc

    @property
    def connection(self) -> sqlite3.Connection:
        """The store's SQLite connection (autocommit; one thread: the agent's event loop), for the edge's
        own stages whose tables a migration made (nudges, link events, weekly summaries). Other code
        uses the methods above."""
        return self._db

    @property
    def version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = self.version
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"the local store {self.path} has schema version {current}, newer than this vagus "
                f"knows ({SCHEMA_VERSION}); upgrade vagus"
            )
        for number, sql in _MIGRATIONS[current:]:
            self._db.execute("BEGIN")
            try:
                for statement in _statements(sql):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_beats(self, beats: Iterable[Beat]) -> None:
        rows = [
            (
                b.device_id,
                b.t_utc_s,
                b.rr_ms,
                b.rr_1024,
                None if b.contact is None else int(b.contact),
                b.source.value,
                int(b.corrected),
                int(b.gap_before),
            )
            for b in beats
        ]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO beats VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def add_indicators(self, records: Iterable[Indicators]) -> None:
        rows = []
        for r in records:
            values = {name: getattr(r, name) for name in _INDICATOR_COLUMNS}
            values["null_reasons"] = json.dumps({k: v.value for k, v in r.null_reasons.items()}, sort_keys=True)
            rows.append(values)
        if not rows:
            return
        cols = ", ".join(_INDICATOR_COLUMNS)
        marks = ", ".join(f":{c}" for c in _INDICATOR_COLUMNS)
        with self._db:
            self._db.executemany(f"INSERT OR REPLACE INTO indicators ({cols}) VALUES ({marks})", rows)  # noqa: S608 — column names from the Indicators dataclass; values are bound

    def add_rejected_payload(
        self,
        *,
        device_id: str,
        t_utc_s: float,
        characteristic: str,
        payload: bytes,
        problem: str,
        detail: str,
    ) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO rejected_payloads (device_id, t_utc_s, characteristic, payload_hex, problem, detail)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (device_id, t_utc_s, characteristic, payload.hex(), problem, detail),
            )

    def prune_beats(self, older_than_utc_s: float) -> int:
        """Delete beats older than the retention limit; return how many."""
        with self._db:
            return self._db.execute("DELETE FROM beats WHERE t_utc_s < ?", (older_than_utc_s,)).rowcount

    def load_baseline(self) -> dict[str, object] | None:
        """The stored baseline state (``PersonalBaseline.to_dict``), or None before the first save.

        A row that is not valid JSON raises ``StoreError`` with advice rather than being dropped:
        the baseline is weeks of the person's own data."""
        row = self._db.execute("SELECT state_json FROM baseline WHERE id = 1").fetchone()
        if row is None:
            return None
        try:
            state = json.loads(row[0])
        except ValueError as exc:
            raise StoreError(
                f"{self.path}: the stored baseline is not valid JSON ({exc}); vagus will not overwrite it"
                " — export it or delete the row to start learning afresh"
            ) from exc
        if not isinstance(state, dict):
            raise StoreError(f"{self.path}: the stored baseline is not an object")
        return state

    def save_baseline(self, state: dict[str, object], now_utc_s: float) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO baseline (id, state_json, updated_utc_s) VALUES (1, ?, ?)",
                (json.dumps(state, separators=(",", ":")), now_utc_s),
            )

    def add_night(self, night: NightSummary) -> None:
        """Store one night (vagus.signal.sleep.NightSummary); the same onset again replaces it."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO nights (onset_utc_s, wake_utc_s, asleep_min, lowest_hr_bpm, mean_hr_bpm,"
                " rmssd_ms, recovery, recovery_sd) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    night.onset_utc_s,
                    night.wake_utc_s,
                    night.asleep_min,
                    night.lowest_hr_bpm,
                    night.mean_hr_bpm,
                    night.rmssd_ms,
                    night.recovery,
                    night.recovery_sd,
                ),
            )

    def nights(self) -> list[NightSummary]:
        rows = self._db.execute(
            "SELECT onset_utc_s, wake_utc_s, asleep_min, lowest_hr_bpm, mean_hr_bpm, rmssd_ms, recovery, recovery_sd"
            " FROM nights ORDER BY onset_utc_s"
        ).fetchall()
        return [NightSummary(*row) for row in rows]

    def count(self, table: str) -> int:
        if table not in {"beats", "indicators", "rejected_payloads", "nights"}:
            raise ValueError(f"unknown table {table!r}")
        return int(self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 — the table name is checked against a fixed set above

    def indicator_times(self, device_id: str | None = None, window_nominal_s: float | None = None) -> list[float]:
        """End times of the stored indicator windows, ascending."""
        where, args = [], []
        if device_id is not None:
            where.append("device_id = ?")
            args.append(device_id)
        if window_nominal_s is not None:
            where.append("window_nominal_s = ?")
            args.append(window_nominal_s)
        sql = "SELECT t_end_utc_s FROM indicators" + (f" WHERE {' AND '.join(where)}" if where else "")  # noqa: S608 — fixed column conditions; values are bound
        return [row[0] for row in self._db.execute(sql + " ORDER BY t_end_utc_s", args)]
