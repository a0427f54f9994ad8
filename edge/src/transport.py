"""What a device link needs from a wearable, whatever carries the bytes.

The BLE transport (bleak, :mod:`vagus.edge.ble_transport`) and the firmware simulator's feed
both implement this protocol; the simulator implements it structurally, without importing edge/.
Every payload is delivered with the characteristic it came from and its arrival time, read from
the injected clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["DisconnectHandler", "NotifyHandler", "Transport"]

# (characteristic UUID, payload bytes, arrival time in POSIX seconds UTC)
NotifyHandler = Callable[[str, bytes, float], None]
DisconnectHandler = Callable[[], None]


@runtime_checkable
class Transport(Protocol):
    @property
    def device_id(self) -> str:
        """A stable identifier of the wearable (address or simulator name)."""
        ...

    async def connect(self, on_disconnect: DisconnectHandler) -> None:
        """Open the link; ``on_disconnect`` is called if the link drops afterwards."""
        ...

    async def subscribe(self, characteristic_uuid: str, on_notify: NotifyHandler) -> None:
        """Start notifications of one characteristic (a full 128-bit UUID, lower case)."""
        ...

    async def read(self, characteristic_uuid: str) -> bytes:
        """Read a characteristic's value (Battery Level, Device Information, the PMD features)."""
        ...

    async def write(self, characteristic_uuid: str, data: bytes) -> None:
        """Write a command (the Polar PMD control point, the Colmi UART RX characteristic).

        The transport chooses write-with-response or write-without-response from what the
        characteristic supports, as the device documents it.
        """
        ...

    async def disconnect(self) -> None:
        """Close the link. Safe to call when already closed."""
        ...
