"""Record and replay what a host received from wearables: notification bytes with their timing.

A capture is JSON Lines (optionally gzip-compressed when the name ends in ``.gz``), so it is
open, greppable and diffable. The first line is a header; each further line is one event:

    {"format": "vagus-capture", "version": 1, "t0_utc_s": 1764108000.0}
    {"t": 1764108001.0000002, "dev": "h10-1", "ch": "00002a37-…", "hex": "16400304"}
    {"t": 1764108002.5, "dev": "h10-1", "event": "disconnected"}
    {"t": 1764108003.0, "dev": "h10-1", "ch": "00002a19-…", "read": "5f"}

``t`` is the arrival time in POSIX seconds UTC as the host's clock read it, written with
Python's shortest round-tripping float repr, so a replay started at the same instant delivers
byte-identical payloads at bit-identical times. Replaying at another start time shifts every
event by the same offset.

:class:`CapturingTransport` wraps any object with the edge's transport shape (the simulator's
devices or the BLE transport) and writes what passes through it; :class:`ReplayDevice` is a
transport that plays one device of a capture back on an injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from vagus.clock import Clock

__all__ = [
    "CAPTURE_FORMAT",
    "CaptureError",
    "CaptureEvent",
    "CaptureWriter",
    "CapturingTransport",
    "ReplayDevice",
    "read_capture",
]

CAPTURE_FORMAT = "vagus-capture"
CAPTURE_VERSION = 1

NotifyHandler = Callable[[str, bytes, float], None]
DisconnectHandler = Callable[[], None]


class CaptureError(ValueError):
    """A capture file that cannot be read; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class CaptureEvent:
    """One line of a capture: a notification, a read value, or a link event."""

    t_utc_s: float
    device: str
    characteristic: str | None = None
    payload: bytes | None = None
    kind: str = "notify"  # notify | read | write | connected | disconnected


class _Transport(Protocol):
    @property
    def device_id(self) -> str: ...

    async def connect(self, on_disconnect: DisconnectHandler) -> None: ...

    async def subscribe(self, characteristic_uuid: str, on_notify: NotifyHandler) -> None: ...

    async def disconnect(self) -> None: ...


def _open_text(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        # Level 6: most of level 9's ratio on hex text at a fraction of its time.
        raw = gzip.open(path, mode + "b", compresslevel=6)  # noqa: SIM115 (the caller closes the wrapper)
        return io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
    return path.open(mode, encoding="utf-8", newline="\n")


class CaptureWriter:
    """Appends capture events to a file; use as a context manager."""

    def __init__(self, path: Path, *, t0_utc_s: float) -> None:
        self.path = path
        self._file = _open_text(path, "w")
        self._write({"format": CAPTURE_FORMAT, "version": CAPTURE_VERSION, "t0_utc_s": t0_utc_s})
        self.events = 0
        self._quoted: dict[str, str] = {}

    def _q(self, text: str) -> str:
        # Names and UUIDs repeat on every line: quote (JSON-escape) each once.
        quoted = self._quoted.get(text)
        if quoted is None:
            quoted = self._quoted[text] = json.dumps(text)
        return quoted

    def _write(self, obj: dict[str, Any]) -> None:
        self._file.write(json.dumps(obj, separators=(",", ":")) + "\n")

    def notification(self, device: str, t_utc_s: float, characteristic: str, payload: bytes) -> None:
        # Formatted by hand: json.dumps per line would triple the time of writing a simulated day.
        self._file.write(
            f'{{"t":{float(t_utc_s)!r},"dev":{self._q(device)},"ch":{self._q(characteristic)},"hex":"{payload.hex()}"}}\n'
        )
        self.events += 1

    def value(self, kind: str, device: str, t_utc_s: float, characteristic: str, payload: bytes) -> None:
        """A characteristic read (``kind="read"``) or a write the host made (``kind="write"``)."""
        self._write({"t": t_utc_s, "dev": device, "ch": characteristic, kind: payload.hex()})
        self.events += 1

    def link(self, device: str, t_utc_s: float, event: str) -> None:
        self._write({"t": t_utc_s, "dev": device, "event": event})
        self.events += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse_line(path: Path, lineno: int, line: str) -> CaptureEvent:
    where = f"{path}:{lineno}"
    try:
        obj = json.loads(line)
        t = float(obj["t"])
        device = str(obj["dev"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CaptureError(f"{where}: not a capture event ({exc})") from None
    try:
        if "event" in obj:
            if obj["event"] not in ("connected", "disconnected"):
                raise CaptureError(f"{where}: unknown link event {obj['event']!r}")
            return CaptureEvent(t, device, kind=obj["event"])
        for kind, key in (("notify", "hex"), ("read", "read"), ("write", "write")):
            if key in obj:
                return CaptureEvent(t, device, str(obj["ch"]).lower(), bytes.fromhex(obj[key]), kind)
    except (ValueError, KeyError, TypeError) as exc:
        raise CaptureError(f"{where}: bad payload ({exc})") from None
    raise CaptureError(f"{where}: an event needs one of hex, read, write or event")


def read_capture(path: Path) -> tuple[float, list[CaptureEvent]]:
    """The header's start time and every event of a capture, in file order.

    Raises :class:`CaptureError` naming the line for anything that is not a valid capture.
    """
    with _open_text(path, "r") as f:
        lines = iter(enumerate(f, start=1))
        try:
            _, first = next(lines)
            header = json.loads(first)
        except StopIteration:
            raise CaptureError(f"{path}: empty file, not a vagus capture") from None
        except ValueError:
            raise CaptureError(f"{path}:1: not a vagus capture header") from None
        if not isinstance(header, dict) or header.get("format") != CAPTURE_FORMAT:
            raise CaptureError(f"{path}:1: not a vagus capture header")
        if header.get("version") != CAPTURE_VERSION:
            raise CaptureError(f"{path}:1: capture version {header.get('version')!r} is not supported")
        events = [_parse_line(path, n, line) for n, line in lines if line.strip()]
    return float(header["t0_utc_s"]), events


class CapturingTransport:
    """A transport wrapper that records every notification and link event it passes on."""

    def __init__(self, inner: _Transport, writer: CaptureWriter, clock: Clock) -> None:
        self._inner = inner
        self._writer = writer
        self._clock = clock

    @property
    def device_id(self) -> str:
        return self._inner.device_id

    async def connect(self, on_disconnect: DisconnectHandler) -> None:
        def disconnected() -> None:
            self._writer.link(self.device_id, self._clock.now_utc_s(), "disconnected")
            on_disconnect()

        await self._inner.connect(disconnected)
        self._writer.link(self.device_id, self._clock.now_utc_s(), "connected")

    async def subscribe(self, characteristic_uuid: str, on_notify: NotifyHandler) -> None:
        def record(characteristic: str, payload: bytes, t_utc_s: float) -> None:
            self._writer.notification(self.device_id, t_utc_s, characteristic, payload)
            on_notify(characteristic, payload, t_utc_s)

        await self._inner.subscribe(characteristic_uuid, record)

    async def read(self, characteristic_uuid: str) -> bytes:
        value: bytes = await self._inner.read(characteristic_uuid)  # type: ignore[attr-defined]
        self._writer.value("read", self.device_id, self._clock.now_utc_s(), characteristic_uuid, value)
        return value

    async def write(self, characteristic_uuid: str, data: bytes) -> None:
        self._writer.value("write", self.device_id, self._clock.now_utc_s(), characteristic_uuid, data)
        await self._inner.write(characteristic_uuid, data)  # type: ignore[attr-defined]

    async def disconnect(self) -> None:
        await self._inner.disconnect()


class ReplayDevice:
    """Plays one device of a capture back through the transport interface on ``clock``.

    Notifications go to whoever subscribed to their characteristic, at the captured time plus
    ``offset_s`` (0 replays at the original instants: start the clock at the capture's t0).
    Captured reads are answered with the latest captured value at or before now; writes are
    accepted and ignored (the capture already holds what the device answered). A captured
    ``disconnected`` event calls the disconnect handler; the replay then goes on, because the
    capture holds whatever the host received after it reconnected.
    """

    def __init__(self, events: list[CaptureEvent], device: str, clock: Clock, *, offset_s: float = 0.0) -> None:
        # In time order (a capture is written in order, but a merged one need not be).
        self._events = sorted((e for e in events if e.device == device), key=lambda e: e.t_utc_s)
        if not self._events:
            raise CaptureError(f"the capture holds no events of device {device!r}")
        self._device = device
        self._clock = clock
        self._offset_s = offset_s
        self._handlers: dict[str, NotifyHandler] = {}
        self._on_disconnect: DisconnectHandler | None = None
        self._task: asyncio.Task[None] | None = None
        self.finished = asyncio.Event()

    @property
    def device_id(self) -> str:
        return self._device

    async def connect(self, on_disconnect: DisconnectHandler) -> None:
        self._on_disconnect = on_disconnect
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._play(), name=f"replay:{self._device}")

    async def subscribe(self, characteristic_uuid: str, on_notify: NotifyHandler) -> None:
        self._handlers[characteristic_uuid.lower()] = on_notify

    async def read(self, characteristic_uuid: str) -> bytes:
        now = self._clock.now_utc_s() - self._offset_s
        uuid = characteristic_uuid.lower()
        values = [e for e in self._events if e.kind == "read" and e.characteristic == uuid]
        if not values:
            raise CaptureError(f"the capture holds no read of {uuid} for {self._device!r}")
        before = [e for e in values if e.t_utc_s <= now]
        chosen = before[-1] if before else values[0]
        assert chosen.payload is not None  # noqa: S101 — a type-narrowing invariant, not input validation
        return chosen.payload

    async def write(self, characteristic_uuid: str, data: bytes) -> None:
        return None

    async def disconnect(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _pending(self) -> Iterator[CaptureEvent]:
        return (e for e in self._events if e.kind in ("notify", "disconnected"))

    async def _play(self) -> None:
        clock = self._clock
        for event in self._pending():
            due = event.t_utc_s + self._offset_s
            if due > clock.now_utc_s():
                await clock.sleep(due - clock.now_utc_s())
            if event.kind == "disconnected":
                if self._on_disconnect is not None:
                    self._on_disconnect()
                continue
            assert event.characteristic is not None and event.payload is not None  # noqa: S101 — a type-narrowing invariant, not input validation
            handler = self._handlers.get(event.characteristic)
            if handler is not None:
                handler(event.characteristic, event.payload, due)
        self.finished.set()
