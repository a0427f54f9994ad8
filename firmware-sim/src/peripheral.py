"""A real GATT peripheral: one simulated wearable on a Bluetooth adapter, through Google bumble.

So that a second machine with a Bluetooth adapter (a Raspberry Pi) can act as a wearable, and the
BLE edge can be tried against radio bytes without a strap::

    python -m vagus.sim.peripheral --scenario day --device strap --transport hci-socket:0

bumble is a host stack in Python that drives the adapter itself (``hci-socket:N`` for a
kernel-managed ``hciN`` that is DOWN, ``usb:N`` for a dongle); see docs/simulator.md for the
setup. It was chosen over bless because bless ↔ bleak/BlueZ links disconnect at once (open
bleak issues 1675/1677, ``../shared/research/ble.md`` §5), and because its virtual controller
(``bumble.link.LocalLink``) lets the tests run the whole peripheral in-process, without a radio.

What the peripheral exposes is derived from the firmware, not written per profile:

* a characteristic **notifies** if it is in ``firmware.notifying()`` (it *indicates* instead
  where the real device does: the Polar PMD control point);
* it is **readable** if ``firmware.read(uuid, 0)`` answers (firmware raises ValueError for the
  characteristics it does not have), so Battery, Device Information and Body Sensor Location
  appear exactly when the profile's firmware holds them;
* it is **writable** if it is a known command characteristic (PMD control point, ring UART RX)
  of a service that is present — a write cannot be probed without side effects;
* a known service (:data:`SERVICES`) is present when any of its characteristics is.

Host actions go to the firmware through :class:`~vagus.sim.device.SimulatedDevice`, which paces
the resulting streams on the injected clock exactly as for the in-process feed; each
:class:`~vagus.sim.device.Notification` leaves as a GATT notification (indication for the
control point). A CCCD write that enables a characteristic is ``subscribe``; a disabled one
stops its notifications. On disconnection the firmware's ``link_lost`` runs and the device
advertises again; the scenario's ``disconnect`` events take the device off the air (it drops the
link as if switched off, reason 0x15, and stops advertising until the outage ends).

bumble is imported only in this module and only when used (``pip install 'vagus[peripheral]'``):
without it the module still imports, and :func:`serve`, :class:`Peripheral` and the CLI fail with
a message that says what to install.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vagus.clock import Clock, RealClock

from . import colmi_encoder as colmi
from . import gatt_info as gatt
from . import pmd_encoder as pmd
from .device import Firmware, LinkOutage, SimulatedDevice, StreamChanges
from .hrs_encoder import HRM_UUID

__all__ = [
    "SERVICES",
    "AdapterError",
    "BumbleMissingError",
    "CharacteristicLayout",
    "HostAction",
    "Peripheral",
    "ServiceLayout",
    "advertising_payloads",
    "default_name",
    "gatt_layout",
    "main",
    "serve",
    "static_address",
]

logger = logging.getLogger(__name__)

_INSTALL_HINT = "the GATT peripheral needs Google bumble: pip install 'vagus[peripheral]' (or pip install bumble)"


class BumbleMissingError(ImportError):
    """bumble is not installed (it is an optional extra)."""


class AdapterError(OSError):
    """The Bluetooth adapter (bumble transport) could not be opened."""


def _require_bumble() -> None:
    try:
        import bumble  # noqa: F401
    except ImportError as exc:
        raise BumbleMissingError(_INSTALL_HINT) from exc


# -- the GATT table, derived from the firmware ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _CharSpec:
    uuid: str
    command: bool = False  # a write characteristic: present whenever its service is
    without_response: bool = False  # also accepts Write Without Response
    indicate: bool = False  # the device indicates (acknowledged) rather than notifies


@dataclass(frozen=True, slots=True)
class _ServiceSpec:
    uuid: str
    characteristics: tuple[_CharSpec, ...]
    advertised: bool


# Every service a simulated profile can offer. UUIDs and properties: Heart Rate Service 0x180D
# (HRM notify, Body Sensor Location read), Battery 0x180F, Device Information 0x180A (ble.md §1);
# Polar PMD: control point read/write/indicate, data notify (ble.md §2, BlePMDClient.kt); the
# Colmi "V1 UART" service: RX written without response by clients, TX notify (ble.md §3).
SERVICES: tuple[_ServiceSpec, ...] = (
    _ServiceSpec(gatt.HEART_RATE_SERVICE_UUID, (_CharSpec(HRM_UUID), _CharSpec(gatt.BODY_SENSOR_LOCATION_UUID)), True),
    _ServiceSpec(gatt.BATTERY_SERVICE_UUID, (_CharSpec(gatt.BATTERY_LEVEL_UUID),), False),
    _ServiceSpec(
        gatt.DEVICE_INFORMATION_SERVICE_UUID,
        tuple(
            _CharSpec(u)
            for u in (
                gatt.MANUFACTURER_NAME_UUID,
                gatt.MODEL_NUMBER_UUID,
                gatt.SERIAL_NUMBER_UUID,
                gatt.HARDWARE_REVISION_UUID,
                gatt.FIRMWARE_REVISION_UUID,
                gatt.SOFTWARE_REVISION_UUID,
            )
        ),
        False,
    ),
    _ServiceSpec(
        pmd.PMD_SERVICE_UUID,
        (_CharSpec(pmd.PMD_CONTROL_POINT_UUID, command=True, indicate=True), _CharSpec(pmd.PMD_DATA_UUID)),
        True,
    ),
    _ServiceSpec(
        colmi.UART_SERVICE_UUID,
        (_CharSpec(colmi.UART_RX_UUID, command=True, without_response=True), _CharSpec(colmi.UART_TX_UUID)),
        True,
    ),
)


@dataclass(frozen=True, slots=True)
class CharacteristicLayout:
    """One characteristic as exposed: its UUID (lower-case 128-bit string) and GATT properties."""

    uuid: str
    read: bool
    write: bool
    write_without_response: bool
    notify: bool
    indicate: bool


@dataclass(frozen=True, slots=True)
class ServiceLayout:
    uuid: str
    characteristics: tuple[CharacteristicLayout, ...]
    advertised: bool


def _readable(firmware: Firmware, uuid: str) -> bool:
    try:
        firmware.read(uuid, 0.0)
    except ValueError:
        return False
    return True


def gatt_layout(firmware: Firmware) -> tuple[ServiceLayout, ...]:
    """The services and characteristics a peripheral serving ``firmware`` exposes (see module docstring).

    Raises ValueError if the firmware notifies on a characteristic no known service holds, so a
    new profile cannot silently lose a stream.
    """
    notifying = {u.lower() for u in firmware.notifying()}
    placed: set[str] = set()
    layout: list[ServiceLayout] = []
    for service in SERVICES:
        found = {c.uuid for c in service.characteristics if c.uuid in notifying or _readable(firmware, c.uuid)}
        if not found:
            continue
        chars = tuple(
            CharacteristicLayout(
                uuid=c.uuid,
                read=_readable(firmware, c.uuid),
                write=c.command,
                write_without_response=c.command and c.without_response,
                notify=c.uuid in notifying and not c.indicate,
                indicate=c.uuid in notifying and c.indicate,
            )
            for c in service.characteristics
            if c.uuid in found or c.command
        )
        placed |= {c.uuid for c in chars}
        layout.append(ServiceLayout(service.uuid, chars, service.advertised))
    if missing := notifying - placed:
        raise ValueError(f"{firmware.profile}: no known GATT service holds {', '.join(sorted(missing))}")
    return tuple(layout)


# -- advertising ----------------------------------------------------------------------------------------

# Core spec Supplement (CSS) Part A §1.3, 1.1, 1.2: Flags, 16- and 128-bit service UUID lists,
# local name; legacy advertising and scan response data hold 31 octets each (Core Vol 6 Part B §2.3.1).
_AD_FLAGS, _AD_UUID16, _AD_UUID128, _AD_SHORT_NAME, _AD_NAME = 0x01, 0x03, 0x07, 0x08, 0x09
_LE_GENERAL_DISCOVERABLE_NO_BREDR = 0x06
_AD_MAX = 31
_SIG_BASE = "-0000-1000-8000-00805f9b34fb"


def _ad(ad_type: int, data: bytes) -> bytes:
    return bytes([len(data) + 1, ad_type]) + data


def _uuid_bytes_le(uuid: str) -> bytes:
    """A UUID as advertised: 16-bit for SIG-base UUIDs, else 128-bit; little-endian."""
    if uuid.startswith("0000") and uuid.endswith(_SIG_BASE):
        return int(uuid[4:8], 16).to_bytes(2, "little")
    return bytes.fromhex(uuid.replace("-", ""))[::-1]


def advertising_payloads(name: str, layout: Sequence[ServiceLayout]) -> tuple[bytes, bytes]:
    """(advertising data, scan response data) for ``name`` and the layout's advertised services.

    Flags, the 16-bit service list (0x180D for heart-rate devices, as scanners filter on it) and
    the name go first; what does not fit 31 octets moves to the scan response (a BlueZ central
    scans actively, so it merges both), and a name too long for either is shortened.
    """
    if not name:
        raise ValueError("the peripheral needs a name to advertise")
    advertised = [_uuid_bytes_le(s.uuid) for s in layout if s.advertised]
    short = b"".join(u for u in advertised if len(u) == 2)
    long = [u for u in advertised if len(u) == 16]
    adv = [_ad(_AD_FLAGS, bytes([_LE_GENERAL_DISCOVERABLE_NO_BREDR]))]
    scan: list[bytes] = []
    if short:
        adv.append(_ad(_AD_UUID16, short))
    encoded = name.encode("utf-8")
    items = [_ad(_AD_NAME, encoded)] + ([_ad(_AD_UUID128, b"".join(long))] if long else [])
    for item in items:
        for target in (adv, scan):
            if sum(map(len, target)) + len(item) <= _AD_MAX:
                target.append(item)
                break
        else:
            if item[1] != _AD_NAME:
                raise ValueError(f"{len(long)} 128-bit service UUIDs do not fit an advertisement")
            target = min((adv, scan), key=lambda t: sum(map(len, t)))
            room = _AD_MAX - sum(map(len, target)) - 2
            target.append(_ad(_AD_SHORT_NAME, encoded[:room].decode("utf-8", errors="ignore").encode("utf-8")))
    return b"".join(adv), b"".join(scan)


def static_address(name: str) -> str:
    """A random static device address derived from ``name``, stable across runs (Core Vol 6 Part B §1.3.2.1).

    Stable so that a central that pinned the device (vagus's config, a bond) finds it again; the two
    most significant bits are 1, and the rest is neither all 0 nor all 1.
    """
    digest = bytearray(hashlib.sha256(name.encode("utf-8")).digest()[:6])
    digest[0] |= 0xC0
    if digest[0] == 0xFF and all(b == 0xFF for b in digest[1:]):
        digest[5] = 0xFE
    return ":".join(f"{b:02X}" for b in digest)


# Name prefixes the vendors' devices use, so tools that pick devices by name see a familiar one
# (Polar straps advertise "Polar H10 <id>", Colmi rings "R02_<id>"; ble.md §2, §3).
_NAME_PREFIX = {"h10": "Polar H10 ", "verity": "Polar Sense ", "hr_watch": "HR watch ", "colmi_ring": "R02_"}


def default_name(profile: str, device: str) -> str:
    """The advertised name for a scenario device, e.g. ``Polar H10 strap``."""
    return f"{_NAME_PREFIX.get(profile, 'vagus-sim ')}{device}"


# -- the peripheral -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostAction:
    """What the central did, as the firmware saw it: ``kind`` is read | subscribe | write | link_lost."""

    t_s: float
    kind: str
    characteristic: str
    data: bytes = b""


class _RecordingFirmware:
    """Passes every call to the firmware and remembers it with the exact time the firmware saw."""

    def __init__(self, firmware: Firmware, log: deque[HostAction]) -> None:
        self._fw = firmware
        self._log = log

    @property
    def profile(self) -> str:
        return self._fw.profile

    def notifying(self) -> frozenset[str]:
        return self._fw.notifying()

    def read(self, characteristic: str, t_s: float) -> bytes:
        self._log.append(HostAction(t_s, "read", characteristic))
        return self._fw.read(characteristic, t_s)

    def subscribe(self, characteristic: str, t_s: float) -> StreamChanges:
        self._log.append(HostAction(t_s, "subscribe", characteristic))
        return self._fw.subscribe(characteristic, t_s)

    def write(self, characteristic: str, data: bytes, t_s: float) -> StreamChanges:
        self._log.append(HostAction(t_s, "write", characteristic, bytes(data)))
        return self._fw.write(characteristic, data, t_s)

    def link_lost(self, t_s: float) -> None:
        self._log.append(HostAction(t_s, "link_lost", ""))
        self._fw.link_lost(t_s)


class Peripheral:
    """Serves one firmware on a bumble ``Device`` (a real adapter's, or a virtual controller's in tests).

    Construct before the device connects; ``await start()`` after ``device.power_on()`` to
    advertise; ``await stop()`` to end. One central at a time, as advertising stops on connection.
    ``host_actions`` holds the last 10,000 host actions with the firmware's times (a central's
    reads, subscriptions and writes), ``sent`` counts the notifications and indications sent and
    ``dropped`` those that could not be (characteristic not subscribed, or larger than the
    negotiated ATT MTU allows: the H10's PMD frames need an MTU of 232).
    """

    def __init__(
        self,
        firmware: Firmware,
        *,
        device: Any,
        clock: Clock,
        t0_utc_s: float,
        name: str,
        outages: Sequence[LinkOutage] = (),
    ) -> None:
        _require_bumble()
        self.firmware = firmware
        self.name = name
        self.layout = gatt_layout(firmware)
        self.advertising_data, self.scan_response_data = advertising_payloads(name, self.layout)
        self.host_actions: deque[HostAction] = deque(maxlen=10_000)
        self.sent = 0
        self.dropped = 0
        self._device = device
        self._clock = clock
        self._t0 = t0_utc_s
        self._outages = sorted(outages, key=lambda o: o.start_s)
        self._sim = SimulatedDevice(
            _RecordingFirmware(firmware, self.host_actions), clock=clock, t0_utc_s=t0_utc_s, device_id=name
        )
        self._chars: dict[str, Any] = {}  # uuid → bumble Characteristic
        self._uuid_by_handle: dict[int, str] = {}
        self._modes: dict[str, str] = {}  # uuid → "notify" | "indicate" while the central's CCCD says so
        self._connection: Any = None
        self._ready: asyncio.Future[None] | None = None
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sender: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._off_air = False
        self._warned_mtu: set[str] = set()
        self._stopped = False
        device.add_services(self._bumble_services())
        device.on("connection", self._on_connection)
        device.on("characteristic_subscription", self._on_subscription)

    # -- GATT table --------------------------------------------------------------------------------

    def _bumble_services(self) -> list[Any]:
        from bumble import gatt as bg

        props = bg.Characteristic.Properties
        services = []
        for service in self.layout:
            chars = []
            for c in service.characteristics:
                flags = props(0)
                perms = bg.Characteristic.Permissions(0)
                for on, flag in (
                    (c.read, props.READ),
                    (c.write, props.WRITE),
                    (c.write_without_response, props.WRITE_WITHOUT_RESPONSE),
                    (c.notify, props.NOTIFY),
                    (c.indicate, props.INDICATE),
                ):
                    if on:
                        flags |= flag
                if c.read:
                    perms |= bg.Characteristic.READABLE
                if c.write or c.write_without_response:
                    perms |= bg.Characteristic.WRITEABLE
                value = bg.CharacteristicValue(
                    read=self._reader(c.uuid) if c.read else None,
                    write=self._writer(c.uuid) if c.write else None,
                )
                characteristic = bg.Characteristic(c.uuid, flags, perms, value)
                self._chars[c.uuid] = characteristic
                chars.append(characteristic)
            services.append(bg.Service(service.uuid, chars))
        return services

    def _reader(self, uuid: str):  # noqa: ANN202
        async def read(_connection: Any) -> bytes:
            from bumble import att

            await self._wait_ready()
            try:
                return await self._sim.read(uuid)
            except (ValueError, ConnectionError) as exc:
                logger.warning("read of %s refused: %s", uuid, exc)
                raise att.ATT_Error(att.ATT_READ_NOT_PERMITTED_ERROR) from exc

        return read

    def _writer(self, uuid: str):  # noqa: ANN202
        async def write(_connection: Any, value: bytes) -> None:
            from bumble import att

            await self._wait_ready()
            try:
                await self._sim.write(uuid, bytes(value))
            except (ValueError, ConnectionError) as exc:
                logger.warning("write to %s refused: %s", uuid, exc)
                raise att.ATT_Error(att.ATT_WRITE_NOT_PERMITTED_ERROR) from exc

        return write

    # -- link ----------------------------------------------------------------------------------------

    def _now_s(self) -> float:
        return self._clock.now_utc_s() - self._t0

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=f"peripheral:{self.name}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _wait_ready(self) -> None:
        if self._ready is None:
            raise ConnectionError("no central is connected")
        await asyncio.shield(self._ready)

    async def start(self) -> None:
        """Advertise (the device must be powered on), and follow the scenario's outages."""
        if self._outages and self._watcher is None:
            self._watcher = self._spawn(self._follow_outages(), "outages")
        if not self._off_air:
            await self._advertise()

    async def _advertise(self) -> None:
        if self._stopped or self._connection is not None:
            return
        await self._device.start_advertising(
            advertising_data=self.advertising_data, scan_response_data=self.scan_response_data, auto_restart=False
        )
        logger.info("%s: advertising", self.name)

    def _on_connection(self, connection: Any) -> None:
        if self._connection is not None:  # advertising stops on connection; a second link is unexpected
            logger.warning("%s: second central %s refused", self.name, connection.peer_address)
            self._spawn(connection.disconnect(), "refuse")
            return
        logger.info("%s: connected to %s", self.name, connection.peer_address)
        self._connection = connection
        self._modes.clear()
        self._warned_mtu.clear()
        self._queue = asyncio.Queue()
        self._ready = self._spawn(self._sim.connect(lambda: None), "connect")
        self._sender = self._spawn(self._send_loop(connection, self._queue), "send")
        connection.on("disconnection", lambda reason: self._on_disconnection(connection, reason))

    def _on_disconnection(self, connection: Any, reason: int) -> None:
        if connection is not self._connection:
            return
        logger.info("%s: disconnected (reason 0x%02x)", self.name, reason)
        self._connection = None
        self._modes.clear()
        if self._sender is not None:
            self._sender.cancel()
        ready, self._ready = self._ready, None
        self._spawn(self._after_disconnection(ready), "disconnected")

    async def _after_disconnection(self, ready: asyncio.Future[None] | None) -> None:
        if ready is not None:
            with contextlib.suppress(Exception):
                await ready
            await self._sim.disconnect()  # firmware.link_lost: measurements stop, as on Polar and Colmi devices
        if not self._off_air:
            await self._advertise()

    async def _follow_outages(self) -> None:
        """Off the air during the scenario's disconnect events: drop the link, stop advertising."""
        from bumble import hci

        for outage in self._outages:
            if outage.end_s <= self._now_s():
                continue
            await self._clock.sleep(outage.start_s - self._now_s())
            logger.info("%s: out of range for %.0f s", self.name, outage.end_s - self._now_s())
            self._off_air = True
            connection = self._connection
            if connection is not None:
                await connection.disconnect(hci.HCI_REMOTE_DEVICE_TERMINATED_CONNECTION_DUE_TO_POWER_OFF_ERROR)
            await self._device.stop_advertising()
            await self._clock.sleep(outage.end_s - self._now_s())
            self._off_air = False
            await self._advertise()

    # -- subscriptions and notifications -------------------------------------------------------------

    def _on_subscription(self, connection: Any, characteristic: Any, notify: bool, indicate: bool) -> None:
        if connection is not self._connection:
            return
        uuid = next((u for u, c in self._chars.items() if c is characteristic), None)
        if uuid is None:
            return
        mode = "indicate" if indicate else "notify" if notify else None
        was = self._modes.pop(uuid, None)
        if mode is None:
            return
        self._modes[uuid] = mode
        if was is None:  # a CCCD rewritten with the same bits does not restart the stream
            self._spawn(self._subscribe(uuid), "subscribe")

    async def _subscribe(self, uuid: str) -> None:
        await self._wait_ready()
        await self._sim.subscribe(uuid, self._on_notify)

    def _on_notify(self, characteristic: str, payload: bytes, _t_utc_s: float) -> None:
        self._queue.put_nowait((characteristic, payload))

    async def _send_loop(self, connection: Any, queue: asyncio.Queue[tuple[str, bytes]]) -> None:
        while True:
            uuid, payload = await queue.get()
            mode = self._modes.get(uuid)
            if mode is None:
                self.dropped += 1
                continue
            room = connection.att_mtu - 3
            if len(payload) > room:
                self.dropped += 1
                if uuid not in self._warned_mtu:
                    self._warned_mtu.add(uuid)
                    logger.warning(
                        "%s: a %d-byte notification on %s does not fit ATT MTU %d; dropped (the central should "
                        "request an MTU of at least %d)",
                        self.name,
                        len(payload),
                        uuid,
                        connection.att_mtu,
                        len(payload) + 3,
                    )
                continue
            try:
                if mode == "indicate":
                    await self._device.indicate_subscriber(connection, self._chars[uuid], payload)
                else:
                    await self._device.notify_subscriber(connection, self._chars[uuid], payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a link going down mid-send, an unconfirmed indication
                self.dropped += 1
                logger.warning("%s: sending on %s failed: %s", self.name, uuid, exc)
                continue
            self.sent += 1

    async def stop(self) -> None:
        """Stop advertising, drop the link and the streams."""
        self._stopped = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._sim.disconnect()
        with contextlib.suppress(Exception):
            await self._device.stop_advertising()


async def serve(
    firmware: Firmware,
    *,
    transport: str,
    name: str,
    t0_utc_s: float,
    clock: Clock,
    outages: Sequence[LinkOutage] = (),
    address: str | None = None,
) -> None:
    """Serve ``firmware`` on the adapter behind ``transport`` (bumble's transport names:
    ``hci-socket:0``, ``usb:0``, ``serial:/dev/ttyAMA0,3000000``…) until the transport closes or
    the task is cancelled. ``address`` defaults to :func:`static_address` of the name."""
    _require_bumble()
    from bumble.device import Device
    from bumble.hci import Address
    from bumble.transport import open_transport

    try:
        opened = await open_transport(transport)
    except Exception as exc:  # bumble raises plain Exception, libusb and OS errors, by transport
        raise AdapterError(f"cannot open {transport}: {exc}") from exc
    async with opened as hci_transport:
        device = Device.with_hci(
            name, Address(address or static_address(name), Address.RANDOM_DEVICE_ADDRESS), *hci_transport
        )
        peripheral = Peripheral(firmware, device=device, clock=clock, t0_utc_s=t0_utc_s, name=name, outages=outages)
        await device.power_on()
        await peripheral.start()
        services = ", ".join(s.uuid[4:8] if s.uuid.endswith(_SIG_BASE) else s.uuid for s in peripheral.layout)
        logger.info("%s: serving %s at %s (services %s)", name, firmware.profile, device.random_address, services)
        try:
            await hci_transport.source.terminated
        finally:
            await peripheral.stop()


# -- command line ---------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m vagus.sim.peripheral",
        description="Serve one simulated wearable of a scenario as a real Bluetooth LE peripheral (bumble). "
        "See docs/simulator.md for the adapter setup.",
    )
    p.add_argument("--scenario", default="day", metavar="NAME|FILE", help="built-in scenario or TOML file (day)")
    p.add_argument("--device", metavar="NAME", help="which [[device]] of the scenario (default: the first)")
    p.add_argument(
        "--transport",
        default="hci-socket:0",
        help="bumble transport: hci-socket:N (hciN, brought DOWN), usb:N, serial:PORT,BAUD (default hci-socket:0)",
    )
    p.add_argument("--name", help="advertised name (default from the profile, e.g. 'Polar H10 strap')")
    p.add_argument("--address", help="random static address (default: derived from the name)")
    p.add_argument("--seed", type=int, help="seed of the simulated person and device (default: the scenario's)")
    p.add_argument("-v", "--verbose", action="store_true", help="log bumble's and the peripheral's details")
    return p


async def _serve_scenario(args: argparse.Namespace, out: Any) -> int:
    from vagus.sim_cli import load_any_scenario

    from .world import build_world

    scenario = load_any_scenario(args.scenario)
    clock = RealClock()
    world = build_world(scenario, t0_utc_s=clock.now_utc_s(), seed=args.seed)
    names = [d.name for d in world.devices_setup]
    wanted = args.device or names[0]
    setup = next((d for d in world.devices_setup if d.name == wanted), None)
    if setup is None:
        from vagus.errors import ConfigError

        raise ConfigError(f"scenario {scenario.name!r} has no device {wanted!r}; it has {', '.join(names)}")
    name = args.name or default_name(setup.profile, setup.name)
    duration_s = float(setup.signals.duration_s)
    out.write(
        f"vagus: {setup.name} ({setup.profile}) of scenario {scenario.name!r}, starting now for "
        f"{duration_s / 3600:.1f} h, advertises as {name!r} through {args.transport}; Ctrl-C to stop\n"
    )
    out.flush()
    task = asyncio.ensure_future(
        serve(
            setup.firmware(),
            transport=args.transport,
            name=name,
            t0_utc_s=world.t0_utc_s,
            clock=clock,
            outages=setup.outages,
            address=args.address,
        )
    )
    ending = asyncio.ensure_future(clock.sleep(duration_s))
    try:
        await asyncio.wait({task, ending}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ending.cancel()
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # re-raises what serve raised (a busy adapter, a missing transport)
    if ending.done() and not ending.cancelled():
        out.write("vagus: the scenario has ended\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vagus.sim.peripheral``: exit 0 at the scenario's end, 2 for bad options, 1 if the adapter fails."""
    from vagus.errors import ConfigError

    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(name)s: %(message)s"
    )
    if not args.verbose:
        logging.getLogger("bumble").setLevel(logging.WARNING)
    try:
        _require_bumble()
        return asyncio.run(_serve_scenario(args, sys.stdout))
    except (BumbleMissingError, ConfigError) as exc:
        print(f"vagus: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"vagus: error: {exc}. For hci-socket:N, hciN must be DOWN and stay so (sudo systemctl stop "
            "bluetooth; sudo hciconfig hciN down) and the process needs CAP_NET_ADMIN (run as root); for usb:N, "
            "the kernel must not hold the dongle. See docs/simulator.md",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
