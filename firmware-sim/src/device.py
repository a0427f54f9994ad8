"""A simulated wearable on an injected clock, offering the edge's transport interface.

The device is split in two so that the bytes can be produced without any event loop (which is
what makes a simulated day fast to generate and exact to replay):

* a **firmware** object (one per profile, in :mod:`vagus.sim.firmware`) is pure: given the
  time, it answers reads and writes and hands out *streams* — time-ordered iterators of
  :class:`Notification` — when the host subscribes or starts a measurement;
* :class:`SimulatedDevice` paces those streams on a :class:`~vagus.clock.Clock`, tracks the
  link (connected, out of range during scheduled disconnects), and calls the host's handlers.

Times inside firmware are seconds from the simulation start (``t0_utc_s`` on the host clock).
The device never imports ``vagus.edge``: it has the transport's shape, structurally.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from vagus.clock import Clock

__all__ = ["DeviceUnavailableError", "Firmware", "Notification", "SimulatedDevice", "StreamChanges", "StreamMerge"]

NotifyHandler = Callable[[str, bytes, float], None]
DisconnectHandler = Callable[[], None]

# How long a connection attempt to a device that is out of range takes to fail (bleak's
# default connect timeout is 10 s; BlueZ's is longer).
CONNECT_TIMEOUT_S = 10.0


class DeviceUnavailableError(TimeoutError):
    """The simulated device is out of range, switched off or already connected elsewhere."""


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification (or indication): when the device sends it, on which characteristic, what bytes."""

    t_s: float
    characteristic: str
    payload: bytes


@dataclass(slots=True)
class StreamChanges:
    """What a host action did to the firmware: immediate answers, streams started and stopped."""

    responses: list[Notification] = field(default_factory=list)
    started: dict[str, Iterator[Notification]] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)


class StreamMerge:
    """A firmware's pending notifications in time order: its open streams and one-off answers.

    The one place that merges streams, used by the clocked device and by the offline renderer (and
    the peripheral's tests), so both deliver the same bytes at the same times. A stopped stream's
    queued item is dropped when it reaches the head.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str, Notification]] = []
        self._streams: dict[str, Iterator[Notification]] = {}
        self._order = itertools.count()

    def _push(self, key: str, stream: Iterator[Notification]) -> None:
        item = next(stream, None)
        if item is not None:
            heapq.heappush(self._heap, (item.t_s, next(self._order), key, item))

    def apply(self, changes: StreamChanges) -> None:
        for key in changes.stopped:
            self._streams.pop(key, None)
        for key, stream in changes.started.items():
            self._streams[key] = stream
            self._push(key, stream)
        for note in changes.responses:
            heapq.heappush(self._heap, (note.t_s, next(self._order), "", note))

    def next_due_s(self) -> float | None:
        """When the next notification is due (s from the start), or None if nothing is pending."""
        while self._heap and self._heap[0][2] and self._heap[0][2] not in self._streams:
            heapq.heappop(self._heap)  # its stream was stopped
        return self._heap[0][0] if self._heap else None

    def pop(self) -> Notification:
        """The next notification (call after :meth:`next_due_s` says one is pending)."""
        if self.next_due_s() is None:
            raise IndexError("no pending notification")
        _, _, key, note = heapq.heappop(self._heap)
        if key:
            self._push(key, self._streams[key])
        return note

    def clear(self) -> None:
        self._heap.clear()
        self._streams.clear()


class Firmware(Protocol):
    """The pure, clock-free side of a simulated device (see module docstring)."""

    @property
    def profile(self) -> str: ...

    def notifying(self) -> frozenset[str]:
        """Characteristics the host may subscribe to."""
        ...

    def read(self, characteristic: str, t_s: float) -> bytes: ...

    def subscribe(self, characteristic: str, t_s: float) -> StreamChanges: ...

    def write(self, characteristic: str, data: bytes, t_s: float) -> StreamChanges: ...

    def link_lost(self, t_s: float) -> None:
        """The connection dropped: measurements stop, as they do on Polar and Colmi devices."""
        ...


@dataclass(frozen=True, slots=True)
class LinkOutage:
    """A stretch (s from the start) during which the device is out of range."""

    start_s: float
    end_s: float


class SimulatedDevice:
    """Delivers one firmware's streams through the transport interface, paced by ``clock``."""

    def __init__(
        self,
        firmware: Firmware,
        *,
        clock: Clock,
        t0_utc_s: float,
        device_id: str,
        outages: list[LinkOutage] | None = None,
    ) -> None:
        self.firmware = firmware
        self._clock = clock
        self._t0 = t0_utc_s
        self._device_id = device_id
        self._outages = sorted(outages or [], key=lambda o: o.start_s)
        self._connected = False
        self._on_disconnect: DisconnectHandler | None = None
        self._handlers: dict[str, NotifyHandler] = {}
        self._pending = StreamMerge()
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.notifications_sent = 0

    @property
    def device_id(self) -> str:
        return self._device_id

    @property
    def connected(self) -> bool:
        return self._connected

    def _now_s(self) -> float:
        return self._clock.now_utc_s() - self._t0

    def _outage_at(self, t_s: float) -> LinkOutage | None:
        for o in self._outages:
            if o.start_s <= t_s < o.end_s:
                return o
        return None

    def _next_outage_after(self, t_s: float) -> LinkOutage | None:
        return next((o for o in self._outages if o.start_s > t_s), None)

    # -- transport interface -------------------------------------------------------------

    async def connect(self, on_disconnect: DisconnectHandler) -> None:
        if self._connected:
            return
        if self._outage_at(self._now_s()) is not None:
            await self._clock.sleep(CONNECT_TIMEOUT_S)
            raise DeviceUnavailableError(f"{self._device_id}: device not found (out of range)")
        self._connected = True
        self._on_disconnect = on_disconnect
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"sim:{self._device_id}")

    async def subscribe(self, characteristic_uuid: str, on_notify: NotifyHandler) -> None:
        uuid = characteristic_uuid.lower()
        self._require_connected()
        if uuid not in self.firmware.notifying():
            raise ValueError(f"{self._device_id} ({self.firmware.profile}) has no notifying characteristic {uuid}")
        self._handlers[uuid] = on_notify
        self._apply(self.firmware.subscribe(uuid, self._now_s()))

    async def read(self, characteristic_uuid: str) -> bytes:
        self._require_connected()
        return self.firmware.read(characteristic_uuid.lower(), self._now_s())

    async def write(self, characteristic_uuid: str, data: bytes) -> None:
        self._require_connected()
        self._apply(self.firmware.write(characteristic_uuid.lower(), bytes(data), self._now_s()))

    async def disconnect(self) -> None:
        self._drop_link()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- pacing --------------------------------------------------------------------------

    def _require_connected(self) -> None:
        if not self._connected:
            raise ConnectionError(f"{self._device_id}: not connected")

    def _apply(self, changes: StreamChanges) -> None:
        self._pending.apply(changes)
        self._kick.set()

    def _drop_link(self) -> None:
        self._connected = False
        self._handlers.clear()
        self._pending.clear()
        self.firmware.link_lost(self._now_s())

    async def _sleep_until(self, t_s: float) -> bool:
        """Sleep until ``t_s`` (device time); False if woken early by a host action."""
        self._kick.clear()
        sleeper = asyncio.ensure_future(self._clock.sleep(t_s - self._now_s()))
        kicked = asyncio.ensure_future(self._kick.wait())
        try:
            done, _ = await asyncio.wait({sleeper, kicked}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in (sleeper, kicked):
                fut.cancel()
        return sleeper in done

    async def _run(self) -> None:
        while self._connected:
            outage = self._next_outage_after(self._now_s())
            due = self._pending.next_due_s()
            if outage is not None and (due is None or outage.start_s <= due):
                if await self._sleep_until(outage.start_s):
                    handler = self._on_disconnect
                    self._drop_link()
                    if handler is not None:
                        handler()
                    return
                continue
            if due is None:
                self._kick.clear()
                await self._kick.wait()
                continue
            if due > self._now_s() and not await self._sleep_until(due):
                continue
            if self._pending.next_due_s() != due:
                continue  # the stream due was stopped meanwhile
            note = self._pending.pop()
            handler = self._handlers.get(note.characteristic)
            if handler is not None:
                self.notifications_sent += 1
                handler(note.characteristic, note.payload, self._t0 + note.t_s)
