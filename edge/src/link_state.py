"""The states of a device link, the events it emits when it changes state, and its retry policy.

A link moves ``scanning → connecting → streaming → backoff → connecting → …`` (``scanning`` only
while a device configured by name or profile has not been found yet) and ends ``stopped``. Each
change is a :class:`LinkEvent`; the agent logs them (without the device address) and the live
view shows them. Pure data and arithmetic: no bleak, no clock reads, so the BLE transport, the
simulator feed and the tests share it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = ["Backoff", "LinkEvent", "LinkObserver", "LinkPolicy", "LinkState", "Locatable"]


class LinkState(StrEnum):
    SCANNING = "scanning"  # looking for a device known only by name or profile
    CONNECTING = "connecting"
    STREAMING = "streaming"  # connected and subscribed
    BACKOFF = "backoff"  # waiting before the next connection attempt
    STOPPED = "stopped"  # asked to stop, or the device cannot be read at all


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """A device link entered ``state`` at ``t_utc_s`` (POSIX seconds, the injected clock).

    ``reason`` says why (``"dropped"``, ``"connect failed: TimeoutError"``, ``"no data for 15 s"``,
    ``"stopped"``); ``retry_in_s`` is the wait of a ``backoff`` state. ``device_id`` may be a BLE
    address: log it only at DEBUG.
    """

    device_id: str
    state: LinkState
    t_utc_s: float
    reason: str | None = None
    retry_in_s: float | None = None


class LinkObserver(Protocol):
    """Who hears about a link's state and battery (the agent)."""

    def on_link_event(self, event: LinkEvent) -> None: ...

    def on_battery(self, device_id: str, t_utc_s: float, level_pct: int) -> None: ...


@runtime_checkable
class Locatable(Protocol):
    """A transport that must find its device first (configured by name or profile, not address).

    The link calls :meth:`locate` in the ``scanning`` state until ``located`` is true; a failed
    search (``LookupError`` or ``ConnectionError``) is retried after a backoff like a failed connect.
    """

    @property
    def located(self) -> bool: ...

    async def locate(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with bounded jitter, in seconds of the injected clock.

    Delay after failure ``n`` (0 = the first): ``min(max_s, initial_s · factor**n)``, scaled by a
    uniform factor in ``[1 − jitter, 1 + jitter]`` when a random source is given, and never more
    than ``max_s``. The jitter keeps straps that dropped together (a Wi-Fi/Bluetooth coexistence
    glitch on a Pi, ble.md §4.4) from retrying in lockstep: a controller takes one LE Create
    Connection at a time (Core 5.4 Vol 4 Part E §7.8.12, Command Disallowed while one is pending).
    Here, bleak-free, so the link and the simulated path share it without importing bleak; the BLE
    transport uses it too.
    """

    initial_s: float = 2.0
    factor: float = 2.0
    max_s: float = 60.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if not self.initial_s > 0:
            raise ValueError(f"backoff initial_s must be > 0, got {self.initial_s}")
        if not self.factor >= 1:
            raise ValueError(f"backoff factor must be ≥ 1, got {self.factor}")
        if not self.max_s >= self.initial_s:
            raise ValueError(f"backoff max_s ({self.max_s}) must be ≥ initial_s ({self.initial_s})")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"backoff jitter must be in [0, 1), got {self.jitter}")

    def delay_s(self, failures: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after ``failures`` + 1 consecutive failures (``failures`` ≥ 0)."""
        if failures < 0:
            raise ValueError(f"failures must be ≥ 0, got {failures}")
        base = min(self.max_s, self.initial_s * self.factor ** min(failures, 64))  # past 2**64 only overflow
        if rng is None or self.jitter == 0:
            return base
        return min(self.max_s, base * (1.0 + self.jitter * (2.0 * rng.random() - 1.0)))


@dataclass(frozen=True, slots=True)
class LinkPolicy:
    """How a link keeps its device: retries, the stall watchdog and the battery poll (seconds).

    * After a drop the first reconnect attempt is immediate (the device may be back at once);
      every further failure waits ``backoff.delay_s(n)``; a streaming stretch resets ``n``.
    * ``stall_s``: streaming but no notification for this long counts as a drop (ble.md §4.4:
      notification streams that stop after 30–150 s while the link stays up); a Heart Rate
      Service strap notifies about once a second, with or without skin contact. None: off.
    * ``battery_every_s``: Battery Level (0x2A19) is read on connecting and then this often.
    """

    backoff: Backoff = field(default_factory=Backoff)
    stall_s: float | None = 15.0
    battery_every_s: float = 600.0

    def __post_init__(self) -> None:
        if self.stall_s is not None and not self.stall_s > 0:
            raise ValueError(f"stall_s must be > 0 or None, got {self.stall_s}")
        if not self.battery_every_s > 0:
            raise ValueError(f"battery_every_s must be > 0, got {self.battery_every_s}")
