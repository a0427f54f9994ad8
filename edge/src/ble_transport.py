"""Real BLE wearables through bleak: scan, connect with retries, notifications, reconnect.

This is the only module of vagus that imports bleak (3.x, current API only: ``bluez={"adapter": …}``
rather than the deprecated ``adapter=``; ``disconnected_callback``; ``start_notify`` with a
synchronous callback). :class:`BleTransport` implements :class:`vagus.edge.transport.Transport`
for one wearable, so a device link treats a strap exactly as it treats the simulator's feed, and
``vagus.sim.capture.CapturingTransport`` can wrap it to record a real device.

Behaviour, following ``../shared/research/ble.md`` §4 (bleak 3.1 on BlueZ):

* **connect** makes up to ``attempts`` attempts, each bounded by bleak's own ``timeout`` (its
  implicit scan for an address, the connection and service discovery) and by a safety timeout
  three times longer, because a D-Bus call can stall (the margin bleak-retry-connector uses:
  20 s per attempt inside a 60-s guard). Between attempts it waits a :class:`Backoff` delay on the
  injected clock, so accelerated tests are exact. Transient errors (BlueZ's
  ``le-connection-abort-by-local`` after RF interference, a device not found, a timeout, a broken
  D-Bus pipe) are retried; an unavailable Bluetooth stack is not (:class:`BleUnavailableError`).
* A ``BLEDevice`` from a scan is connected directly (no second scan, as bleak's docs advise for
  several devices); if BlueZ has since forgotten it, the next attempt falls back to the address.
* **notifications** are stamped with the injected clock on arrival and handed on as
  ``(characteristic UUID, bytes, t_utc_s)``; a handler that raises is logged and counted, never
  allowed to unwind into bleak's D-Bus dispatch.
* **reconnect**: subscriptions are remembered; a later ``connect()`` (after an unsolicited drop
  or an explicit disconnect) starts them again before returning, because a wearable forgets its
  CCCDs and its measurements when the link drops (ble.md §2, §3).
* **disconnected_callback** reaches the host's ``on_disconnect`` only for a drop the host did not
  ask for, and only once the link was up (never during a failed attempt).

bleak-retry-connector was considered and left out: its retry loop sleeps on the wall clock (the
accelerated reconnect tests need the injected one), and it brings bluetooth-adapters and its
USB/UART probing with it on a Pi Zero; the parts vagus needs (a bounded attempt, a safety timeout,
exponential backoff) are a few lines here and tested.

Log lines never carry a device address: it identifies the person's wearable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import uuid as uuidlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakCharacteristicNotFoundError,
    BleakDeviceNotFoundError,
    BleakError,
)

from vagus.clock import Clock

from .link_state import Backoff  # one backoff policy for the transport and the link
from .transport import DisconnectHandler, NotifyHandler

__all__ = [
    "COLMI_UART_SERVICE_UUID",
    "HEART_RATE_SERVICE_UUID",
    "POLAR_PMD_SERVICE_UUID",
    "PROFILE_BY_SERVICE",
    "WEARABLE_SERVICE_UUIDS",
    "Backoff",
    "BleConnectError",
    "BleTransport",
    "BleUnavailableError",
    "ScanResult",
    "TransportCounters",
    "bluez_args",
    "check_adapter",
    "normalize_uuid",
    "recognised_profiles",
    "scan",
]

log = logging.getLogger(__name__)

# Services a wearable advertises and the profile vagus reads through each: the Heart Rate Service
# (Bluetooth SIG assigned number 0x180D, HRS 1.0 §2), Polar Measurement Data (Polar BLE SDK,
# BlePMDClient.kt; ble.md §2) and the Colmi "V1 UART" service (Gadgetbridge ColmiR0xConstants;
# ble.md §3). A scan filters on these; bleak also checks them in the advertisement (BlueZ merges
# the scan response into the device's UUIDs).
HEART_RATE_SERVICE_UUID = "0000180d-0000-1000-8000-00805f9b34fb"
POLAR_PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
COLMI_UART_SERVICE_UUID = "6e40fff0-b5a3-f393-e0a9-e50e24dcca9e"
PROFILE_BY_SERVICE: dict[str, str] = {
    HEART_RATE_SERVICE_UUID: "heart_rate",
    POLAR_PMD_SERVICE_UUID: "polar_pmd",
    COLMI_UART_SERVICE_UUID: "colmi_ring",
}
WEARABLE_SERVICE_UUIDS: tuple[str, ...] = tuple(PROFILE_BY_SERVICE)

_SIG_BASE = "-0000-1000-8000-00805f9b34fb"
_ADAPTER = re.compile(r"hci[0-9]{1,3}")
_MISSING_ADAPTER = re.compile(r"adapter '([^']+)' not found")  # bleak's BlueZManager._check_adapter


class BleUnavailableError(ConnectionError):
    """Bluetooth cannot be used at all: no D-Bus system bus, no BlueZ, no adapter, adapter off, or access denied.

    ``reason`` is a short key (``no_dbus``, ``no_bluez``, ``no_adapter``, ``powered_off``,
    ``denied``, ``unknown``) and the message says what to do about it.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class BleConnectError(ConnectionError):
    """Every connection attempt failed; ``__cause__`` is the last attempt's error."""


def normalize_uuid(text: str) -> str:
    """The full lower-case 128-bit form of a UUID given as 16-bit (``180d``, ``0x180D``), 32-bit or 128-bit."""
    raw = text.strip().lower()
    raw = raw.removeprefix("0x")
    if len(raw) == 4:
        raw = f"0000{raw}{_SIG_BASE}"
    elif len(raw) == 8:
        raw = f"{raw}{_SIG_BASE}"
    try:
        return str(uuidlib.UUID(raw))
    except ValueError:
        raise ValueError(f"not a Bluetooth UUID: {text!r} (expected 16-bit like 180d or 128-bit)") from None


def recognised_profiles(service_uuids: Iterable[str]) -> tuple[str, ...]:
    """The vagus profiles that service UUIDs offer: ``heart_rate``, ``polar_pmd``, ``colmi_ring``, in that order."""
    present = set()
    for u in service_uuids:
        with contextlib.suppress(ValueError):
            present.add(normalize_uuid(u))
    return tuple(profile for service, profile in PROFILE_BY_SERVICE.items() if service in present)


def check_adapter(name: str | None) -> str | None:
    """``name`` if it is a BlueZ adapter name (``hci0`` … ``hci999``) or None; ValueError otherwise."""
    if name is None:
        return None
    if not _ADAPTER.fullmatch(name):
        raise ValueError(f"adapter must be a BlueZ adapter name like hci0 (see `bluetoothctl list`), got {name!r}")
    return name


def bluez_args(adapter: str | None) -> dict[str, str]:
    """bleak 3.x's BlueZ arguments (``bluez=``) selecting ``adapter``; empty for BlueZ's default adapter."""
    return {} if check_adapter(adapter) is None else {"adapter": adapter}  # type: ignore[dict-item]


_UNAVAILABLE_HINTS: dict[BleakBluetoothNotAvailableReason, tuple[str, str]] = {
    BleakBluetoothNotAvailableReason.NO_BLUETOOTH: (
        "no_adapter",
        "no Bluetooth adapter found: plug in a USB adapter, or check `bluetoothctl list` and `rfkill list`",
    ),
    BleakBluetoothNotAvailableReason.NO_BLE_CENTRAL_ROLE: (
        "no_adapter",
        "the Bluetooth adapter cannot act as a BLE central (a classic-only adapter?): use a Bluetooth 4.0+ adapter",
    ),
    BleakBluetoothNotAvailableReason.POWERED_OFF: (
        "powered_off",
        "the Bluetooth adapter is off: `rfkill unblock bluetooth` and `bluetoothctl power on`",
    ),
    BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM: (
        "denied",
        "D-Bus refused access to BlueZ: run as a user in the `bluetooth` group (docs/edge-ble.md)",
    ),
}


def unavailable_error(exc: BaseException) -> BleUnavailableError | None:
    """The :class:`BleUnavailableError` an exception from bleak or D-Bus stands for, or None if it is not one.

    bleak raises BleakBluetoothNotAvailableError for a missing or switched-off adapter; a missing
    system bus surfaces as FileNotFoundError/ConnectionRefusedError from dbus-fast, and a bus
    without bluetoothd as a D-Bus ``ServiceUnknown`` error (org.freedesktop.DBus.Error, D-Bus spec).
    """
    if isinstance(exc, BleakBluetoothNotAvailableError):
        reason, hint = _UNAVAILABLE_HINTS.get(exc.reason, ("unknown", f"Bluetooth is not available ({exc.args[0]})"))
        return BleUnavailableError(reason, hint)
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
        return BleUnavailableError(
            "no_dbus", "the D-Bus system bus is not reachable: is dbus running? (in a container, mount /run/dbus)"
        )
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, BleakError) and (missing := _MISSING_ADAPTER.search(text)):
        return BleUnavailableError(
            "no_adapter", f"no Bluetooth adapter {missing.group(1)}: see `bluetoothctl list` for the adapters"
        )
    if "ServiceUnknown" in text or "org.bluez was not provided" in text:
        return BleUnavailableError(
            "no_bluez", "BlueZ is not running: `sudo apt install bluez` and `sudo systemctl enable --now bluetooth`"
        )
    return None


# -- scanning -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One wearable heard during a scan: its latest advertisement."""

    address: str
    name: str | None
    rssi_dbm: int
    service_uuids: tuple[str, ...]
    profiles: tuple[str, ...]
    device: BLEDevice | None = field(default=None, compare=False, repr=False)


async def scan(
    timeout_s: float = 5.0,
    *,
    adapter: str | None = None,
    service_uuids: Sequence[str] = WEARABLE_SERVICE_UUIDS,
    backend: type[BaseBleakScanner] | None = None,
) -> list[ScanResult]:
    """Scan actively for ``timeout_s`` seconds; wearables advertising one of ``service_uuids``, strongest first.

    Raises :class:`BleUnavailableError` when Bluetooth cannot be used (the message says why).
    """
    if not timeout_s > 0:
        raise ValueError(f"scan timeout must be > 0 s, got {timeout_s}")
    wanted = [normalize_uuid(u) for u in service_uuids]
    seen: dict[str, tuple[BLEDevice, AdvertisementData]] = {}

    def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
        seen[device.address] = (device, adv)

    scanner = BleakScanner(on_advertisement, service_uuids=wanted, bluez=bluez_args(adapter), backend=backend)
    try:
        async with scanner:
            await asyncio.sleep(timeout_s)  # radio time: the scan window is real, whatever clock the agent runs on
    except (BleakError, OSError) as exc:
        mapped = unavailable_error(exc)
        if mapped is not None:
            raise mapped from exc
        raise
    results = [
        ScanResult(
            address=device.address,
            name=adv.local_name or device.name,
            rssi_dbm=int(adv.rssi),
            service_uuids=tuple(sorted({normalize_uuid(u) for u in adv.service_uuids})),
            profiles=recognised_profiles(adv.service_uuids),
            device=device,
        )
        for device, adv in seen.values()
    ]
    return sorted(results, key=lambda r: (-r.rssi_dbm, r.address))


# -- retries ----------------------------------------------------------------------------------------------


# -- the transport ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class TransportCounters:
    attempts: int = 0
    failed_attempts: int = 0
    connects: int = 0
    drops: int = 0  # unsolicited disconnects after the link was up
    notifications: int = 0
    handler_errors: int = 0


# What a connection attempt may fail with and still be worth retrying: bleak's errors (BlueZ D-Bus
# errors such as le-connection-abort-by-local, device not found), timeouts, and a D-Bus connection
# that broke (EOFError/BrokenPipeError, as bleak-retry-connector also retries).
_TRANSIENT = (BleakError, TimeoutError, EOFError, OSError)


class BleTransport:
    """One BLE wearable as a :class:`~vagus.edge.transport.Transport` (see the module docstring).

    ``target`` is an address (``AA:BB:…``, bleak scans for it) or a ``BLEDevice`` from :func:`scan`.
    ``client_backend`` replaces bleak's platform backend (the tests' simulator-fed backend); it is
    passed to ``BleakClient(…, backend=…)`` unchanged.
    """

    def __init__(
        self,
        target: str | BLEDevice,
        *,
        clock: Clock,
        adapter: str | None = None,
        connect_timeout_s: float = 20.0,
        attempts: int = 3,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        client_backend: type[BaseBleakClient] | None = None,
    ) -> None:
        if not connect_timeout_s > 0:
            raise ValueError(f"connect_timeout_s must be > 0, got {connect_timeout_s}")
        if attempts < 1:
            raise ValueError(f"attempts must be ≥ 1, got {attempts}")
        self._target: str | BLEDevice = target
        self._address = (target.address if isinstance(target, BLEDevice) else target).upper()
        self._clock = clock
        self._bluez = bluez_args(adapter)
        self.adapter = adapter
        self.connect_timeout_s = connect_timeout_s
        self.attempts = attempts
        self.backoff = backoff or Backoff()
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 — jitter or reproducible simulation, not a secret
        self._backend = client_backend
        self._client: BleakClient | None = None
        self._linked = False
        self._closing = False
        self._on_disconnect: DisconnectHandler | None = None
        self._subscriptions: dict[str, NotifyHandler] = {}
        self._active: set[str] = set()
        self.counters = TransportCounters()

    @property
    def device_id(self) -> str:
        return self._address

    @property
    def connected(self) -> bool:
        return self._linked and self._client is not None and self._client.is_connected

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Characteristics whose notifications are (re)started on every connect."""
        return tuple(self._subscriptions)

    @property
    def client(self) -> BleakClient | None:
        """The current bleak client while linked (for diagnostics: services, MTU)."""
        return self._client if self._linked else None

    # -- Transport ------------------------------------------------------------------------------------

    async def connect(self, on_disconnect: DisconnectHandler) -> None:
        """Connect (up to ``attempts`` attempts with backoff) and restart the remembered subscriptions.

        Raises :class:`BleUnavailableError` at once if Bluetooth cannot be used, and
        :class:`BleConnectError` when every attempt failed.
        """
        if self.connected:
            self._on_disconnect = on_disconnect
            return
        if self._client is not None:
            # A dropped link's client: bleak's BlueZ backend releases its D-Bus connection only in
            # disconnect(), so without this every drop would leak a socket in a week-long agent.
            stale, self._client = self._client, None
            await self._quiet_disconnect(stale)
        self._closing = False
        self._on_disconnect = on_disconnect
        last: BaseException | None = None
        for attempt in range(self.attempts):
            if attempt:
                await self._clock.sleep(self.backoff.delay_s(attempt - 1, self._rng))
                if self._closing:
                    break
            self.counters.attempts += 1
            try:
                await self._attempt()
            except _TRANSIENT as exc:
                if self._closing:
                    raise  # disconnect() was called meanwhile: shutting down, not retrying
                mapped = unavailable_error(exc)
                if mapped is not None:
                    raise mapped from exc
                self.counters.failed_attempts += 1
                last = exc
                log.info("BLE connect attempt %d/%d failed: %s", attempt + 1, self.attempts, type(exc).__name__)
                if isinstance(exc, BleakDeviceNotFoundError) and isinstance(self._target, BLEDevice):
                    # BlueZ forgot the device object: let bleak scan for the address next time.
                    self._target = self._address
                continue
            self.counters.connects += 1
            return
        raise BleConnectError(f"no BLE connection after {self.counters.attempts} attempt(s)") from last

    async def _attempt(self) -> None:
        client = BleakClient(
            self._target,
            disconnected_callback=self._bleak_disconnected,
            timeout=self.connect_timeout_s,
            bluez=self._bluez,  # type: ignore[arg-type]
            backend=self._backend,
        )
        try:
            async with asyncio.timeout(3 * self.connect_timeout_s):
                await client.connect()
            self._client = client
            self._active.clear()
            for uuid in list(self._subscriptions):
                await self._start_notify(client, uuid)
            if self._closing:
                raise ConnectionAbortedError("disconnect() was called while connecting")
        except BaseException:
            self._client = None
            await self._quiet_disconnect(client)
            raise
        self._linked = True

    async def subscribe(self, characteristic_uuid: str, on_notify: NotifyHandler) -> None:
        """Start notifications of one characteristic; remembered for every later connect.

        Calling it again for the same characteristic only replaces the handler. ValueError if
        the device has no such characteristic.
        """
        uuid = normalize_uuid(characteristic_uuid)
        client = self._require_client()
        self._subscriptions[uuid] = on_notify
        if uuid in self._active:
            return
        try:
            await self._start_notify(client, uuid)
        except BaseException:
            del self._subscriptions[uuid]
            raise

    async def read(self, characteristic_uuid: str) -> bytes:
        client = self._require_client()
        try:
            return bytes(await client.read_gatt_char(normalize_uuid(characteristic_uuid)))
        except BleakCharacteristicNotFoundError:
            raise ValueError(f"the device has no characteristic {characteristic_uuid}") from None

    async def write(self, characteristic_uuid: str, data: bytes) -> None:
        """Write ``data``, with response when the characteristic supports it (the more reliable write)."""
        client = self._require_client()
        uuid = normalize_uuid(characteristic_uuid)
        char = client.services.get_characteristic(uuid)
        if char is None:
            raise ValueError(f"the device has no characteristic {characteristic_uuid}")
        if "write" in char.properties:
            response = True
        elif "write-without-response" in char.properties:
            response = False
        else:
            raise ValueError(f"characteristic {uuid} is not writable ({', '.join(char.properties)})")
        await client.write_gatt_char(char, bytes(data), response=response)

    async def disconnect(self) -> None:
        """Close the link (the host's ``on_disconnect`` is not called). Safe when already closed."""
        self._closing = True
        client, self._client = self._client, None
        self._linked = False
        self._active.clear()
        if client is not None:
            await self._quiet_disconnect(client)

    # -- internals ------------------------------------------------------------------------------------

    async def _quiet_disconnect(self, client: BleakClient) -> None:
        with contextlib.suppress(*_TRANSIENT):
            async with asyncio.timeout(self.connect_timeout_s):
                await client.disconnect()

    def _require_client(self) -> BleakClient:
        if self._client is None or not self._client.is_connected:
            raise ConnectionError("BLE link is not connected")
        return self._client

    async def _start_notify(self, client: BleakClient, uuid: str) -> None:
        try:
            await client.start_notify(uuid, self._notify_callback(uuid))
        except BleakCharacteristicNotFoundError:
            raise ValueError(f"the device has no characteristic {uuid}") from None
        self._active.add(uuid)

    def _notify_callback(self, uuid: str) -> Callable[[object, bytearray], None]:
        def on_value(_characteristic: object, data: bytearray) -> None:
            handler = self._subscriptions.get(uuid)
            if handler is None:
                return
            self.counters.notifications += 1
            try:
                handler(uuid, bytes(data), self._clock.now_utc_s())
            except Exception:
                self.counters.handler_errors += 1
                log.exception("a notification handler raised; the stream goes on")

        return on_value

    def _bleak_disconnected(self, client: BleakClient) -> None:
        # bleak 3.1's BlueZ backend calls this for a disconnect we asked for too.
        if client is not self._client or not self._linked or self._closing:
            return  # a stale client, a failed attempt, or a disconnect we asked for
        self._linked = False
        self._active.clear()
        self.counters.drops += 1
        handler = self._on_disconnect
        if handler is not None:
            try:
                handler()
            except Exception:
                log.exception("the disconnect handler raised")
