"""The bridge's write confirmations: per person and stream, the highest contiguous seq written.

A bridge worker counts from three sources: its own writes; ``settled_below`` in each record (the
agent's word that every lower seq is settled, so a freshly started worker needs no history); and the
acks other workers publish (so workers sharing a subscription confirm each other's gaps). Pure state,
no I/O: the bridge asks ``due()`` for the acks to publish after each successful write.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .schema import Ack

__all__ = ["Confirmations"]


@dataclass(slots=True)
class _Stream:
    upto_seq: int = 0  # every seq ≤ this is written or settled
    announced_seq: int = 0  # the highest ack published, by this worker or another
    above_gap: set[int] = field(default_factory=set)  # written seqs above the first gap


class Confirmations:
    """Contiguous-write bookkeeping for every (person, stream) a worker has seen."""

    def __init__(self, *, max_above_gap: int = 100_000) -> None:
        # Seqs written above a gap wait for the gap to fill. Forgetting them is safe (the agent re-sends
        # what stays unconfirmed, and rewrites are idempotent), so a gap that never fills costs memory
        # up to this bound only.
        self._max_above_gap = max_above_gap
        self._streams: dict[tuple[str, str], _Stream] = {}

    def written(self, person: str, stream: str, seq: int, settled_below: int) -> None:
        """Record that ``seq`` is in the database (or the dead-letter store)."""
        state = self._streams.setdefault((person, stream), _Stream())
        self._raise_to(state, settled_below - 1)
        if seq > state.upto_seq:
            if len(state.above_gap) >= self._max_above_gap:
                state.above_gap.clear()
            state.above_gap.add(seq)
        self._advance(state)

    def observed(self, ack: Ack) -> None:
        """Take in an ack seen on the broker (this worker's own, another worker's, or a retained one)."""
        state = self._streams.setdefault((ack.person, ack.stream), _Stream())
        state.announced_seq = max(state.announced_seq, ack.upto_seq)
        self._raise_to(state, ack.upto_seq)
        self._advance(state)

    def due(self) -> list[Ack]:
        """Acks to publish: every stream whose contiguous seq moved past what was announced."""
        out = []
        for (person, stream), state in self._streams.items():
            if state.upto_seq > state.announced_seq:
                state.announced_seq = state.upto_seq
                out.append(Ack(person=person, stream=stream, upto_seq=state.upto_seq))
        return out

    def upto_seq(self, person: str, stream: str) -> int:
        state = self._streams.get((person, stream))
        return 0 if state is None else state.upto_seq

    @staticmethod
    def _raise_to(state: _Stream, upto_seq: int) -> None:
        if upto_seq > state.upto_seq:
            state.upto_seq = upto_seq
            state.above_gap = {s for s in state.above_gap if s > upto_seq}

    @staticmethod
    def _advance(state: _Stream) -> None:
        while state.upto_seq + 1 in state.above_gap:
            state.upto_seq += 1
            state.above_gap.discard(state.upto_seq)
