"""A liveness file for container healthchecks: a long-running process touches it while it does its
job (the bridge while connected to the broker, the agent while records flow), and
``python -m vagus.heartbeat PATH MAX_AGE_S`` exits 0 only if it was touched within ``MAX_AGE_S``.

A file, not a port: it needs no listener (nothing more to secure) and works the same under
systemd, Docker and a test.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["Heartbeat", "age_s", "main"]


class Heartbeat:
    """Touches ``path`` at most every ``every_s`` seconds of the monotonic clock; a no-op without a path."""

    def __init__(self, path: Path | None, *, every_s: float = 10.0) -> None:
        self._path = path
        self._every_s = every_s
        self._last = -float("inf")

    def beat(self) -> None:
        if self._path is None:
            return
        now = time.monotonic()
        if now - self._last < self._every_s:
            return
        self._last = now
        # A liveness file must never stop the work it reports on; the check will say "stale".
        with contextlib.suppress(OSError):
            self._path.touch()


def age_s(path: Path, *, now: float | None = None) -> float | None:
    """Seconds since ``path`` was last touched, or ``None`` if it does not exist."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    return (time.time() if now is None else now) - mtime


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m vagus.heartbeat PATH MAX_AGE_S", file=sys.stderr)
        return 2
    try:
        max_age = float(args[1])
    except ValueError:
        print(f"MAX_AGE_S must be a number of seconds, got {args[1]!r}", file=sys.stderr)
        return 2
    age = age_s(Path(os.path.expanduser(args[0])))
    if age is None:
        print(f"{args[0]}: not written yet", file=sys.stderr)
        return 1
    if age > max_age:
        print(f"{args[0]}: last touched {age:.0f} s ago (more than {max_age:g} s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
