"""What the publisher needs from a durable outbox. Defined here, implemented by the edge
(``vagus.edge.outbox.Outbox``), so sync/ never imports the edge."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["BeatsOutboxPort", "OutboxPort", "Pending", "StoredBeat", "Ticket"]


@dataclass(frozen=True, slots=True)
class Ticket:
    """The numbers a record gets when it enters the outbox; they go into its payload."""

    person: str
    stream: str
    seq: int
    settled_below: int  # every lower seq of this stream is confirmed or dropped


@dataclass(frozen=True, slots=True)
class Pending:
    """A record waiting in the outbox for the bridge's confirmation."""

    person: str
    seq: int
    kind: str  # the topic kind it is published under (summary, nudge)
    payload: bytes
    sent_utc_s: float | None  # last hand-over to the MQTT client; None: never sent
    attempts: int


@runtime_checkable
class OutboxPort(Protocol):
    def append(self, person: str, kind: str, make_payload: Callable[[Ticket], bytes], *, now_utc_s: float) -> Ticket:
        """Store a record durably under the next seq; ``make_payload`` builds it from its ticket."""
        ...

    def due(
        self, person: str, *, now_utc_s: float, resend_after_s: float, limit: int, kinds: Sequence[str] = ()
    ) -> list[Pending]:
        """Records never sent or sent more than ``resend_after_s`` ago, in seq order; only those of
        ``kinds`` if given."""
        ...

    def in_flight(self, person: str, *, now_utc_s: float, resend_after_s: float) -> int:
        """How many records were sent less than ``resend_after_s`` ago and are not confirmed."""
        ...

    def mark_sent(self, person: str, seqs: list[int], *, now_utc_s: float) -> None: ...

    def mark_all_unsent(self, person: str) -> None:
        """Make every unconfirmed record due now (after a reconnect: what was in flight may be lost)."""
        ...

    def confirm(self, person: str, stream: str, upto_seq: int) -> int:
        """Delete every record of ``stream`` with seq ≤ ``upto_seq``; return how many went."""
        ...

    def stream(self, person: str) -> str:
        """The stream id of ``person``'s sequence in this outbox."""
        ...


@dataclass(frozen=True, slots=True)
class StoredBeat:
    """A beat as the edge stored it (``vagus.signal.Beat`` without its device id)."""

    t_utc_s: float
    rr_ms: float
    source: str  # vagus.signal.BeatSource value
    contact: bool | None
    corrected: bool
    gap_before: bool


@runtime_checkable
class BeatsOutboxPort(Protocol):
    def append_beats(
        self,
        person: str,
        kind: str,
        make_payload: Callable[[Ticket, str, Sequence[StoredBeat]], bytes | None],
        *,
        now_utc_s: float,
        max_per_record: int,
    ) -> list[Ticket]:
        """Move every stored beat not yet taken into the outbox, per device in time order, as records
        of at most ``max_per_record`` beats of one source, in one transaction with the edge's cursor.

        ``make_payload(ticket, device_id, beats)`` builds a record (``device_id`` is the local id, to be
        pseudonymised); ``None`` skips those beats without using a seq."""
        ...
