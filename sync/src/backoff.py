"""Retry delays: a pure policy, kept apart from the loops that wait."""

from __future__ import annotations

from typing import Final

__all__ = ["BACKOFF_FACTOR", "BACKOFF_FIRST_S", "BACKOFF_JITTER_FRACTION", "BACKOFF_MAX_S", "backoff_s"]

BACKOFF_FIRST_S: Final = 0.5  # first retry: a database restart often takes well under a second
BACKOFF_FACTOR: Final = 2.0
BACKOFF_MAX_S: Final = 30.0  # never wait longer than this: the database may be back any moment
BACKOFF_JITTER_FRACTION: Final = 0.2  # ±20 %, so many bridge workers do not retry in lockstep


def backoff_s(attempt: int, *, jitter: float = 0.5) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry).

    Exponential from ``BACKOFF_FIRST_S`` by ``BACKOFF_FACTOR`` up to ``BACKOFF_MAX_S``, then spread by
    ``jitter`` in [0, 1] (0.5 = no spread; pass ``random.random()``) over ±``BACKOFF_JITTER_FRACTION``.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter must be within [0, 1], got {jitter}")
    # Cap the exponent before computing, so a long outage never overflows a float.
    base_s = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * BACKOFF_FACTOR ** min(attempt, 64))
    return base_s * (1.0 + BACKOFF_JITTER_FRACTION * (2.0 * jitter - 1.0))
