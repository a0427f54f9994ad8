"""The durable sync outbox: records wait in the local SQLite store until the bridge confirms them.

paho keeps unacknowledged messages in memory only, and a broker killed with SIGKILL can lose messages
it already acknowledged, so neither a PUBLISH nor a PUBACK is proof of delivery. A record leaves this
outbox only when the bridge's ack says it is written (``confirm``). Each person's records get
consecutive sequence numbers within a random stream id; the numbers go into the payload.

Bounded: past ``capacity`` records, the oldest summaries are dropped (counted per person in
``dropped_full``), so a long outage never blocks the agent or fills the disk; the indicators stay in
the store's own ``indicators`` table. Thread-safe: the agent appends from its event loop while the
publisher's thread sends and confirms, each through this object's own connection and lock.
"""

from __future__ import annotations

import logging
import math
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

from vagus.errors import StoreError
from vagus.sync.ports import Pending, StoredBeat, Ticket

if TYPE_CHECKING:
    from .store import Store

__all__ = ["DEFAULT_CAPACITY", "Outbox"]

log = logging.getLogger(__name__)


def _chunks(beats: list[StoredBeat], size: int) -> Iterator[list[StoredBeat]]:
    """Runs of one source, cut into pieces of at most ``size`` beats."""
    start = 0
    for end in range(1, len(beats) + 1):
        if end == len(beats) or end - start == size or beats[end].source != beats[start].source:
            yield beats[start:end]
            start = end


# ~1 KiB per summary: 200 000 records is ~200 MB and two days of 3 devices × 2 windows every 5 s.
DEFAULT_CAPACITY: Final = 200_000


class Outbox:
    """The outbox tables of an edge store (migration 0003); see the module docstring."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        capacity: int = DEFAULT_CAPACITY,
        new_stream: Callable[[], str] = lambda: secrets.token_hex(8),
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._db = conn
        self._capacity = capacity
        self._new_stream = new_stream
        self._lock = threading.RLock()
        self._dropped_since_open = 0
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"outbox", "outbox_streams", "sync_keys"} <= tables:
            raise StoreError("the local store has no outbox tables; open it with vagus.edge.Store first (migrations)")
        self._count = int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])

    @classmethod
    def open(cls, path: Path | str, *, capacity: int = DEFAULT_CAPACITY) -> Outbox:
        """An outbox on its own connection to the store at ``path``, usable from several threads."""
        try:
            conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30.0)
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a crash of the process (the agent being killed); only a power
            # loss can take the last commits, as for the rest of the store.
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the outbox in {path}: {exc}") from exc
        return cls(conn, capacity=capacity)

    @classmethod
    def of_store(cls, store: Store, *, capacity: int = DEFAULT_CAPACITY) -> Outbox:
        """The outbox of an open ``Store`` (already migrated), on a connection of its own."""
        if str(store.path) == ":memory:":
            raise StoreError("the sync outbox needs a store file; an in-memory store cannot be shared")
        return cls.open(store.path, capacity=capacity)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- the agent's side ---------------------------------------------------------------------------

    def append(self, person: str, kind: str, make_payload: Callable[[Ticket], bytes], *, now_utc_s: float) -> Ticket:
        try:
            with self._transaction() as db:
                ticket = self._append_one(db, person, kind, make_payload, now_utc_s)
        except BaseException:
            with self._lock:  # rolled back: count again rather than undo the arithmetic
                self._count = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])
            raise
        assert ticket is not None  # make_payload returns bytes  # noqa: S101 — a type-narrowing invariant, not input validation
        return ticket

    def append_beats(
        self,
        person: str,
        kind: str,
        make_payload: Callable[[Ticket, str, Sequence[StoredBeat]], bytes | None],
        *,
        now_utc_s: float,
        max_per_record: int,
    ) -> list[Ticket]:
        """Take every stored beat not taken yet into the outbox (``vagus.sync.ports.BeatsOutboxPort``).

        Per device, in time order: the beats after the device's cursor (all of them the first time, so
        opting in publishes what the store still holds), in records of at most ``max_per_record`` beats
        of one source. The records and the moved cursor commit together, so each beat enters the outbox
        exactly once, whether the agent is killed before, during or after. Beats are expected in time
        order per device (as the edge stores them); one stored later with an earlier time than one
        already taken stays on the device."""
        if max_per_record < 1:
            raise ValueError(f"max_per_record must be >= 1, got {max_per_record}")
        tickets: list[Ticket] = []
        try:
            with self._transaction() as db:
                devices = [row[0] for row in db.execute("SELECT DISTINCT device_id FROM beats ORDER BY device_id")]
                for device_id in devices:
                    row = db.execute(
                        "SELECT t_utc_s FROM outbox_beats_cursor WHERE device_id = ?", (device_id,)
                    ).fetchone()
                    rows = db.execute(
                        "SELECT t_utc_s, rr_ms, source, contact, corrected, gap_before FROM beats"
                        " WHERE device_id = ? AND t_utc_s > ? ORDER BY t_utc_s",
                        (device_id, -math.inf if row is None else row[0]),
                    ).fetchall()
                    if not rows:
                        continue
                    beats = [
                        StoredBeat(float(t), float(rr), str(src), None if c is None else bool(c), bool(cor), bool(gap))
                        for t, rr, src, c, cor, gap in rows
                    ]
                    for chunk in _chunks(beats, max_per_record):
                        ticket = self._append_one(
                            db, person, kind, lambda t, c=chunk, d=device_id: make_payload(t, d, c), now_utc_s
                        )
                        if ticket is not None:
                            tickets.append(ticket)
                    db.execute(
                        "INSERT OR REPLACE INTO outbox_beats_cursor (device_id, t_utc_s) VALUES (?, ?)",
                        (device_id, beats[-1].t_utc_s),
                    )
        except BaseException:
            with self._lock:
                self._count = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])
            raise
        return tickets

    def _append_one(
        self,
        db: sqlite3.Connection,
        person: str,
        kind: str,
        make_payload: Callable[[Ticket], bytes | None],
        now_utc_s: float,
    ) -> Ticket | None:
        stream, seq = self._stream_row(db, person)
        low = db.execute("SELECT min(seq) FROM outbox WHERE person = ?", (person,)).fetchone()[0]
        ticket = Ticket(person=person, stream=stream, seq=seq, settled_below=seq if low is None else int(low))
        payload = make_payload(ticket)
        if payload is None:
            return None
        db.execute(
            "INSERT INTO outbox (person, seq, kind, payload, created_utc_s) VALUES (?, ?, ?, ?, ?)",
            (person, seq, kind, payload, now_utc_s),
        )
        db.execute("UPDATE outbox_streams SET next_seq = ? WHERE person = ?", (seq + 1, person))
        self._count += 1
        if self._count > self._capacity:
            self._drop_oldest(db, self._count - self._capacity)
        return ticket

    def _stream_row(self, db: sqlite3.Connection, person: str) -> tuple[str, int]:
        row = db.execute("SELECT stream, next_seq FROM outbox_streams WHERE person = ?", (person,)).fetchone()
        if row is None:
            stream = self._new_stream()
            db.execute("INSERT INTO outbox_streams (person, stream) VALUES (?, ?)", (person, stream))
            return stream, 1
        return str(row[0]), int(row[1])

    def _drop_oldest(self, db: sqlite3.Connection, n: int) -> None:
        # Raw beats first (the store keeps them for its retention anyway), then summaries: a nudge is
        # rare and worth more than one of thousands of summaries.
        victims: list[tuple[str, int]] = []
        for where in ("kind = 'beats'", "kind = 'summary'", "kind NOT IN ('beats', 'summary')"):
            if len(victims) < n:
                victims += db.execute(
                    f"SELECT person, seq FROM outbox WHERE {where} ORDER BY created_utc_s, seq LIMIT ?",  # noqa: S608 — the WHERE clause comes from a fixed tuple in code
                    (n - len(victims),),
                ).fetchall()
        db.executemany("DELETE FROM outbox WHERE person = ? AND seq = ?", victims)
        for person, _ in victims:
            db.execute("UPDATE outbox_streams SET dropped_full = dropped_full + 1 WHERE person = ?", (person,))
        self._count -= len(victims)
        # A full outbox drops on every append: say so at the first drop and every 1000th, with counts
        # only (the records are personal data and stay out of the log).
        before, self._dropped_since_open = self._dropped_since_open, self._dropped_since_open + len(victims)
        if before == 0 or before // 1000 != self._dropped_since_open // 1000:
            log.warning(
                "the sync outbox is full (%d records): dropping the oldest summaries (%d so far)",
                self._capacity,
                self._dropped_since_open,
            )

    # -- the publisher's side -----------------------------------------------------------------------

    def due(
        self, person: str, *, now_utc_s: float, resend_after_s: float, limit: int, kinds: Sequence[str] = ()
    ) -> list[Pending]:
        if limit <= 0:
            return []
        only = f" AND kind IN ({', '.join('?' * len(kinds))})" if kinds else ""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, payload, sent_utc_s, attempts FROM outbox"  # noqa: S608 — only ? placeholders are formatted in
                f" WHERE person = ? AND (sent_utc_s IS NULL OR sent_utc_s <= ?){only} ORDER BY seq LIMIT ?",
                (person, now_utc_s - resend_after_s, *kinds, limit),
            ).fetchall()
        return [Pending(person, int(s), str(k), bytes(p), t, int(a)) for s, k, p, t, a in rows]

    def in_flight(self, person: str, *, now_utc_s: float, resend_after_s: float) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM outbox WHERE person = ? AND sent_utc_s > ?",
                (person, now_utc_s - resend_after_s),
            ).fetchone()
        return int(row[0])

    def mark_sent(self, person: str, seqs: list[int], *, now_utc_s: float) -> None:
        with self._transaction() as db:
            db.executemany(
                "UPDATE outbox SET sent_utc_s = ?, attempts = attempts + 1 WHERE person = ? AND seq = ?",
                [(now_utc_s, person, seq) for seq in seqs],
            )

    def mark_all_unsent(self, person: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE outbox SET sent_utc_s = NULL WHERE person = ? AND sent_utc_s IS NOT NULL", (person,))

    def confirm(self, person: str, stream: str, upto_seq: int) -> int:
        with self._transaction() as db:
            row = db.execute("SELECT stream, next_seq FROM outbox_streams WHERE person = ?", (person,)).fetchone()
            if row is None or row[0] != stream:
                return 0  # an ack of an earlier store's stream: nothing here is confirmed by it
            if upto_seq >= row[1]:
                # Confirms numbers never given out: a bug or a forged ack. Never let it delete more.
                log.warning("an ack confirms seq %d, but only %d were given out; ignored", upto_seq, row[1] - 1)
                return 0
            removed = db.execute("DELETE FROM outbox WHERE person = ? AND seq <= ?", (person, upto_seq)).rowcount
            db.execute(
                "UPDATE outbox_streams SET confirmed_seq = max(confirmed_seq, ?) WHERE person = ?", (upto_seq, person)
            )
            self._count -= removed
        return removed

    def stream(self, person: str) -> str:
        with self._transaction() as db:
            return self._stream_row(db, person)[0]

    # -- inspection ---------------------------------------------------------------------------------

    def pending(self, person: str | None = None) -> int:
        """How many records wait for confirmation (of ``person``, or of everyone)."""
        if person is None:
            return self._count
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox WHERE person = ?", (person,)).fetchone()[0])

    def dropped_full(self, person: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT dropped_full FROM outbox_streams WHERE person = ?", (person,)).fetchone()
        return 0 if row is None else int(row[0])

    def last_seq(self, person: str) -> int:
        """The last seq given out to ``person`` (0: none yet)."""
        with self._lock:
            row = self._db.execute("SELECT next_seq FROM outbox_streams WHERE person = ?", (person,)).fetchone()
        return 0 if row is None else int(row[0]) - 1

    def confirmed_seq(self, person: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT confirmed_seq FROM outbox_streams WHERE person = ?", (person,)).fetchone()
        return 0 if row is None else int(row[0])

    def device_key(self) -> bytes:
        """The secret key for ``vagus.sync.schema.pseudonymous_device_id``; made by the migration, kept here."""
        with self._lock:
            row = self._db.execute("SELECT value FROM sync_keys WHERE name = 'device_pseudonym_key'").fetchone()
        return bytes(row[0])
