"""A bleak client backend fed by the simulator, so ``BleakClient(address, backend=…)`` runs with no radio.

Test-only (DESIGN.md: test doubles of bleak live in tests/, never in the product). It implements
bleak's ``BaseBleakClient`` interface; everything above it — ``BleakClient``'s characteristic
resolution, ``start_notify``'s callback wrapping, the ``disconnected_callback`` partial — is
bleak's own code. Behind it is the simulator's :class:`~vagus.sim.device.SimulatedDevice`, so the
bytes, their pacing on the injected clock, the GATT table (derived from the firmware by
``vagus.sim.peripheral.gatt_layout``, as the bumble peripheral exposes it) and the scheduled
outages are the simulator's, not written here.

Faults a real link has are scripted on the :class:`SimPeripheral`: connection attempts that fail
or hang, an unsolicited drop now, and arbitrary (malformed) payloads pushed into a subscription.

    strap = SimPeripheral(device)
    Backend = make_backend(strap)
    async with BleakClient(strap.address, backend=Backend) as client: ...
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError

from vagus.sim.device import SimulatedDevice
from vagus.sim.peripheral import ServiceLayout, default_name, gatt_layout, static_address

# What BlueZ negotiates with an H10 (ECG frames need ≥ 232, docs/simulator.md).
MTU = 247


class SimPeripheral:
    """One simulated wearable as the backend reaches it, with scripted link faults."""

    def __init__(self, device: SimulatedDevice, *, name: str | None = None, address: str | None = None) -> None:
        self.device = device
        self.layout: tuple[ServiceLayout, ...] = gatt_layout(device.firmware)
        self.name = name or default_name(device.firmware.profile, device.device_id)
        self.address = (address or static_address(self.name)).upper()
        self.connect_failures: list[BaseException] = []  # raised by the next connects, in order
        self.hang_connects = 0  # the next N connects never complete (until cancelled)
        self.connect_calls = 0
        self.targets: list[object] = []  # what each BleakClient was constructed with
        self.bluez_args: list[dict[str, Any]] = []
        self.writes: list[tuple[str, bytes, bool]] = []  # (characteristic, data, with response)
        self.client: SimBleakClient | None = None

    def advertised_service_uuids(self) -> list[str]:
        return [s.uuid for s in self.layout if s.advertised]

    async def drop(self) -> None:
        """The link drops now, as if the wearable went out of range (an unsolicited disconnect)."""
        await self.device.disconnect()  # the firmware stops its measurements (link_lost)
        if self.client is not None:
            self.client.link_lost()

    def inject(self, characteristic: str, payload: bytes) -> None:
        """Deliver ``payload`` as a notification of ``characteristic`` now (any bytes, malformed ones too)."""
        if self.client is None or not self.client.is_connected:
            raise RuntimeError("inject: not connected")
        self.client.deliver(characteristic, payload, 0.0)


def _collection(layout: tuple[ServiceLayout, ...]) -> BleakGATTServiceCollection:
    services = BleakGATTServiceCollection()
    handle = 0
    for s in layout:
        handle += 1
        service = BleakGATTService(None, handle, s.uuid)
        services.add_service(service)
        for c in s.characteristics:
            handle += 2  # declaration + value, as an ATT table numbers them
            props = [
                name
                for name, present in (
                    ("read", c.read),
                    ("write", c.write and not c.write_without_response),
                    ("write-without-response", c.write_without_response),
                    ("notify", c.notify),
                    ("indicate", c.indicate),
                )
                if present
            ]
            services.add_characteristic(BleakGATTCharacteristic(None, handle, c.uuid, props, lambda: MTU - 3, service))
            if c.notify or c.indicate:
                handle += 1  # the CCCD
    return services


class SimBleakClient(BaseBleakClient):
    """bleak's client backend interface over a :class:`SimPeripheral` (see the module docstring)."""

    peripherals: ClassVar[dict[str, SimPeripheral]] = {}

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        services: set[str] | None = None,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        bluez: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._target = address_or_ble_device
        self._bluez = dict(bluez or {})
        self._peripheral = self.peripherals.get(self.address.upper())
        self._connected = False
        self._callbacks: dict[str, NotifyCallback] = {}

    @property
    def name(self) -> str:
        return self._peripheral.name if self._peripheral else self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return MTU

    @property
    def is_connected(self) -> bool:
        return self._connected

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        p = self._peripheral
        if p is None:
            raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found.")
        p.connect_calls += 1
        p.targets.append(self._target)
        p.bluez_args.append(self._bluez)
        if p.connect_failures:
            raise p.connect_failures.pop(0)
        if p.hang_connects:
            p.hang_connects -= 1
            await asyncio.Event().wait()  # a D-Bus call that never returns
        # An out-of-range simulated device fails after its 10-s timeout with a TimeoutError,
        # as bleak's BlueZ backend does.
        await p.device.connect(self.link_lost)
        self.services = _collection(p.layout)
        self._connected = True
        p.client = self

    def link_lost(self) -> None:
        """The simulator (or a test) dropped the link: bleak's unsolicited-disconnect path."""
        if not self._connected:
            return
        self._connected = False
        self._callbacks.clear()
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        if not self._connected:
            return
        self._connected = False
        self._callbacks.clear()
        assert self._peripheral is not None
        await self._peripheral.device.disconnect()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        return None  # HR straps and the Colmi UART need no bonding (ble.md §4.2)

    async def unpair(self) -> None:
        return None

    def _require(self) -> SimPeripheral:
        if not self._connected or self._peripheral is None:
            raise BleakError("Not connected")
        return self._peripheral

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        p = self._require()
        if "read" not in characteristic.properties:
            raise BleakError(f"{characteristic.uuid} is not readable")
        return bytearray(await p.device.read(characteristic.uuid))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        raise BleakError("the simulator exposes no descriptors")

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any, response: bool) -> None:
        p = self._require()
        wanted = "write" if response else "write-without-response"
        if wanted not in characteristic.properties:
            raise BleakError(f"{characteristic.uuid} does not support {wanted}")
        p.writes.append((characteristic.uuid, bytes(data), response))
        await p.device.write(characteristic.uuid, bytes(data))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        raise BleakError("the simulator exposes no descriptors")

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        p = self._require()
        if not {"notify", "indicate"} & set(characteristic.properties):
            raise BleakError(f"{characteristic.uuid} does not notify")
        self._callbacks[characteristic.uuid] = callback
        await p.device.subscribe(characteristic.uuid, self.deliver)

    def deliver(self, characteristic: str, payload: bytes, _t_utc_s: float) -> None:
        callback = self._callbacks.get(characteristic)
        if callback is not None:
            callback(bytearray(payload))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._callbacks.pop(characteristic.uuid, None)


def make_backend(*peripherals: SimPeripheral) -> type[SimBleakClient]:
    """A backend class that reaches these peripherals by address (pass it as ``BleakClient(…, backend=…)``)."""
    return type("SimBleakClient", (SimBleakClient,), {"peripherals": {p.address: p for p in peripherals}})
