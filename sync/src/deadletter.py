"""The bridge's dead-letter store: messages it could not use, with the reason, in one SQLite file.

A message goes here instead of blocking the stream behind it: not JSON, an unknown schema version,
invalid against its schema, too large, under an unknown topic, sent into another person's topic, or
refused by the database. Identical payloads on the same topic are kept once with a count (an agent
re-sends what is never confirmed). Payloads are stored up to ``KEPT_PAYLOAD_BYTES``; they can hold
personal data, so the file gets the database's protection, and the log shows counts and reasons only.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .errors import Problem, SyncError

__all__ = ["KEPT_PAYLOAD_BYTES", "DeadLetter", "DeadLetters"]

KEPT_PAYLOAD_BYTES: Final = 65_536

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    id             INTEGER PRIMARY KEY,
    digest         TEXT    NOT NULL UNIQUE,  -- sha256 of topic and payload: one row per distinct message
    topic          TEXT    NOT NULL,
    reason         TEXT    NOT NULL,         -- a Problem value
    detail         TEXT    NOT NULL,
    payload        BLOB    NOT NULL,         -- the first KEPT_PAYLOAD_BYTES bytes
    payload_bytes  INTEGER NOT NULL,         -- the whole payload's length
    first_utc_s    REAL    NOT NULL,
    last_utc_s     REAL    NOT NULL,
    count          INTEGER NOT NULL DEFAULT 1
)
"""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    reason: Problem
    detail: str
    payload: bytes
    received_utc_s: float


class DeadLetters:
    """A dead-letter SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # Opened where the bridge is built, used by its worker thread: one thread at a time.
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a dead letter is acknowledged to the broker right after, so it must be on disk first.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise SyncError(f"cannot open the dead-letter store {self.path}: {exc}") from exc

    def add(self, letters: list[DeadLetter]) -> None:
        if not letters:
            return
        rows = []
        for d in letters:
            digest = hashlib.sha256(d.topic.encode() + b"\0" + d.payload).hexdigest()
            payload = d.payload[:KEPT_PAYLOAD_BYTES]
            rows.append((digest, d.topic, d.reason.value, d.detail[:1000], payload, len(d.payload), d.received_utc_s))
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO dead_letters (digest, topic, reason, detail, payload, payload_bytes, first_utc_s,"
                " last_utc_s) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)"
                " ON CONFLICT (digest) DO UPDATE SET count = count + 1, last_utc_s = excluded.last_utc_s",
                rows,
            )

    def count(self, reason: Problem | None = None) -> int:
        """Distinct dead letters (of ``reason``, or all)."""
        sql, args = "SELECT count(*) FROM dead_letters", ()
        if reason is not None:
            sql, args = sql + " WHERE reason = ?", (reason.value,)
        return int(self._db.execute(sql, args).fetchone()[0])

    def of_person(self, prefix: str, person: str) -> list[dict[str, object]]:
        """Every dead letter sent under ``person``'s topics (``<prefix>/<person>/…``), oldest first,
        payload as text (UTF-8, undecodable bytes replaced): what ``vagus export --server`` writes."""
        rows = self._db.execute(
            "SELECT topic, reason, detail, payload, payload_bytes, first_utc_s, last_utc_s, count FROM dead_letters"
            " WHERE substr(topic, 1, ?) = ? ORDER BY first_utc_s",
            _subtree(prefix, person),
        )
        names = ("topic", "reason", "detail", "payload", "payload_bytes", "first_utc_s", "last_utc_s", "count")
        out = []
        for row in rows:
            letter = dict(zip(names, row, strict=True))
            letter["payload"] = bytes(letter["payload"]).decode("utf-8", errors="replace")  # type: ignore[arg-type]
            out.append(letter)
        return out

    def erase_person(self, prefix: str, person: str) -> int:
        """Delete every dead letter under ``person``'s topics; how many there were. The file is vacuumed
        and its write-ahead log truncated, so the deleted payloads are gone from disk too."""
        with self._db:
            self._db.execute("BEGIN")
            deleted = self._db.execute(
                "DELETE FROM dead_letters WHERE substr(topic, 1, ?) = ?", _subtree(prefix, person)
            )
        self._db.execute("VACUUM")
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # and from the write-ahead log
        return int(deleted.rowcount)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> DeadLetters:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _subtree(prefix: str, person: str) -> tuple[int, str]:
    # An exact prefix match: LIKE would read '_' in a person id as a wildcard.
    start = f"{prefix}/{person}/"
    return len(start), start
