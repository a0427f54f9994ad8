"""bleak's real BlueZ D-Bus backend against python-dbusmock's ``bluez5`` template on a private bus.

No radio, no bluetoothd, no root: a private ``dbus-daemon`` plays the system bus
(``DBUS_SYSTEM_BUS_ADDRESS``, which dbus-fast reads), the ``bluez5`` template plays bluetoothd's
Adapter1/Device1 objects, and the fixture adds what the template lacks (ble.md §5.3): the GATT
tree (GattService1/GattCharacteristic1 objects derived from a simulated firmware by
``vagus.sim.peripheral.gatt_layout``), StartNotify/StopNotify/ReadValue/WriteValue, a Connect that
also resolves services, and Device1 ``ManufacturerData``/``ServiceData`` typed as dicts (the
template types them as arrays, which crashes bleak's advertisement parsing). Notifications are
``PropertiesChanged(Value=…)`` signals carrying the simulator's bytes, as bluetoothd emits them
for StartNotify.

dbus-daemon and dbus-python are needed (``.ci/run`` installs them): where absent these tests skip
with a reason, and with ``CI=true`` they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from vagus.clock import RealClock
from vagus.edge.ble_transport import (
    BleTransport,
    BleUnavailableError,
    recognised_profiles,
    scan,
)
from vagus.edge.device_link import DeviceLink
from vagus.edge.hrs import HEART_RATE_MEASUREMENT_UUID as HRM
from vagus.sim import pmd_encoder as pmd
from vagus.sim.gatt_info import BATTERY_LEVEL_UUID
from vagus.sim.peripheral import default_name, gatt_layout, static_address
from vagus.sim.world import render, strap_at_rest

from .conftest import IN_CI, ROOT

DEVICE_IFACE = "org.bluez.Device1"
SERVICE_IFACE = "org.bluez.GattService1"
CHAR_IFACE = "org.bluez.GattCharacteristic1"
OBJECT_MANAGER_IFACE = "org.freedesktop.DBus.ObjectManager"
T0 = 1_790_000_000.0
PHONE = "11:22:33:44:55:66"


def _require_dbusmock() -> Any:
    """python-dbusmock and dbus-daemon, or a skip with a reason (a failure in CI)."""
    problems = []
    if shutil.which("dbus-daemon") is None:
        problems.append("dbus-daemon is not installed (apt install dbus-daemon)")
    try:
        import dbus  # noqa: F401
        import dbusmock
    except ImportError as exc:
        problems.append(f"python-dbusmock/dbus-python are not importable ({exc}; pip install -e '.[test]')")
        dbusmock = None
    if problems:
        message = "; ".join(problems)
        if IN_CI:
            pytest.fail(message + " (CI must have it: .ci/run installs it)")
        pytest.skip(message)
    return dbusmock


class MockBlueZ:
    """The bluez5 mock on a private system bus, with helpers to add wearables and drive them."""

    def __init__(self, dbusmock: Any, log_path: Path) -> None:
        import dbus

        self._dbus = dbus
        self._log = log_path.open("w")
        self.server = dbusmock.SpawnedMock.spawn_with_template("bluez5", {}, dbusmock.BusType.SYSTEM, stdout=self._log)
        self.bus = dbusmock.BusType.SYSTEM.get_connection()
        self.root = self.bus.get_object("org.bluez", "/")
        self.mock = dbus.Interface(self.root, "org.bluez.Mock")  # the template's helpers
        self.control = dbus.Interface(self.root, "org.freedesktop.DBus.Mock")  # dbusmock's own

    def close(self) -> None:
        self.server.terminate()
        self._log.close()

    def obj(self, path: str) -> Any:
        return self.bus.get_object("org.bluez", path)

    def add_adapter(self, name: str = "hci0") -> str:
        return str(self.mock.AddAdapter(name, "vagus-test"))

    def add_device(self, address: str, name: str, service_uuids: list[str], adapter: str = "hci0") -> str:
        dbus = self._dbus
        path = str(self.mock.AddDevice(adapter, address, name))
        dev = self.obj(path)
        dev.UpdateProperties(
            DEVICE_IFACE,
            {
                "UUIDs": dbus.Array(service_uuids, signature="s"),
                "ManufacturerData": dbus.Dictionary({}, signature="qv"),
                "ServiceData": dbus.Dictionary({}, signature="sv"),
                "Icon": dbus.String(""),
            },
            dbus_interface="org.freedesktop.DBus.Mock",
        )
        # bluetoothd resolves the GATT services after connecting; the template only flips Connected.
        connect = (
            "self.UpdateProperties('org.bluez.Device1', {'Connected': dbus.Boolean(True),"
            " 'ServicesResolved': dbus.Boolean(True)})"
        )
        disconnect = (
            "self.UpdateProperties('org.bluez.Device1', {'ServicesResolved': dbus.Boolean(False),"
            " 'Connected': dbus.Boolean(False)})"
        )
        dev.AddMethod(DEVICE_IFACE, "Connect", "", "", connect, dbus_interface="org.freedesktop.DBus.Mock")
        dev.AddMethod(DEVICE_IFACE, "Disconnect", "", "", disconnect, dbus_interface="org.freedesktop.DBus.Mock")
        return path

    def advertise(self, path: str, rssi: int) -> None:
        """An advertisement heard: BlueZ updates RSSI, which is what bleak's scanner reacts to."""
        self.obj(path).UpdateProperties(
            DEVICE_IFACE, {"RSSI": self._dbus.Int16(rssi)}, dbus_interface="org.freedesktop.DBus.Mock"
        )

    def add_gatt(self, device_path: str, firmware: Any) -> dict[str, str]:
        """GattService1/GattCharacteristic1 objects for the firmware's layout; characteristic UUID → path."""
        dbus = self._dbus
        paths: dict[str, str] = {}
        handle = 0x000A
        for service in gatt_layout(firmware):
            service_path = f"{device_path}/service{handle:04x}"
            handle += 1
            service_props = {
                "UUID": dbus.String(service.uuid),
                "Device": dbus.ObjectPath(device_path),
                "Primary": dbus.Boolean(True),
                "Includes": dbus.Array([], signature="o"),
            }
            self.control.AddObject(service_path, SERVICE_IFACE, service_props, [], signature="ssa{sv}a(ssss)")
            self._interfaces_added(service_path, SERVICE_IFACE, service_props)
            for c in service.characteristics:
                char_path = f"{service_path}/char{handle:04x}"
                handle += 3
                flags = [
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
                value = firmware.read(c.uuid, 0.0) if c.read else b""
                char_props = {
                    "UUID": dbus.String(c.uuid),
                    "Service": dbus.ObjectPath(service_path),
                    "Value": dbus.Array(list(value), signature="y"),
                    "Notifying": dbus.Boolean(False),
                    "Flags": dbus.Array(flags, signature="s"),
                    "MTU": dbus.UInt16(247),
                }
                methods = [
                    (
                        "StartNotify",
                        "",
                        "",
                        "self.UpdateProperties('org.bluez.GattCharacteristic1', {'Notifying': dbus.Boolean(True)})",
                    ),
                    (
                        "StopNotify",
                        "",
                        "",
                        "self.UpdateProperties('org.bluez.GattCharacteristic1', {'Notifying': dbus.Boolean(False)})",
                    ),
                    ("ReadValue", "a{sv}", "ay", "ret = self.props['org.bluez.GattCharacteristic1']['Value']"),
                    ("WriteValue", "aya{sv}", "", ""),
                ]
                self.control.AddObject(char_path, CHAR_IFACE, char_props, methods, signature="ssa{sv}a(ssss)")
                self._interfaces_added(char_path, CHAR_IFACE, char_props)
                paths[c.uuid] = char_path
        return paths

    def _interfaces_added(self, path: str, iface: str, props: dict[str, Any]) -> None:
        self.root.EmitSignal(
            OBJECT_MANAGER_IFACE,
            "InterfacesAdded",
            "oa{sa{sv}}",
            self._dbus.Array(
                [
                    self._dbus.ObjectPath(path),
                    self._dbus.Dictionary({iface: self._dbus.Dictionary(props, signature="sv")}, signature="sa{sv}"),
                ],
                signature="v",
            ),
            dbus_interface="org.freedesktop.DBus.Mock",
        )

    def notify(self, char_path: str, payload: bytes) -> None:
        """A notification: bluetoothd's PropertiesChanged on the characteristic's Value."""
        self.obj(char_path).UpdateProperties(
            CHAR_IFACE,
            {"Value": self._dbus.Array(list(payload), signature="y")},
            dbus_interface="org.freedesktop.DBus.Mock",
        )

    def drop(self, device_path: str) -> None:
        """The wearable went away: Connected becomes false without the host asking."""
        self.obj(device_path).UpdateProperties(
            DEVICE_IFACE,
            {"ServicesResolved": self._dbus.Boolean(False), "Connected": self._dbus.Boolean(False)},
            dbus_interface="org.freedesktop.DBus.Mock",
        )

    def calls(self, path: str, method: str) -> list[Any]:
        return list(self.obj(path).GetMethodCalls(method, dbus_interface="org.freedesktop.DBus.Mock"))


@pytest.fixture
def system_bus(tmp_path, monkeypatch) -> Iterator[Any]:
    dbusmock = _require_dbusmock()
    monkeypatch.delenv("DBUS_SYSTEM_BUS_ADDRESS", raising=False)
    bus = dbusmock.PrivateDBus(dbusmock.BusType.SYSTEM)
    bus.start()  # sets DBUS_SYSTEM_BUS_ADDRESS; monkeypatch restores it afterwards
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address)
    try:
        yield dbusmock
    finally:
        bus.stop()


@pytest.fixture
def bluez_mock(system_bus, tmp_path) -> Iterator[MockBlueZ]:
    mock = MockBlueZ(system_bus, tmp_path / "bluez-mock.log")
    try:
        yield mock
    finally:
        mock.close()


@pytest.fixture
async def bluez(bluez_mock) -> AsyncIterator[MockBlueZ]:
    """The mock for a test on this event loop; afterwards bleak's per-loop BlueZ manager lets go of the bus.

    bleak keeps one manager (and its D-Bus connection) per event loop for the life of a process and
    finalises a closed loop's manager lazily; each test here has its own loop and its own bus.
    """
    yield bluez_mock
    from bleak.backends.bluezdbus import manager

    instance = manager._global_instances.pop(asyncio.get_running_loop(), None)
    if instance is not None and instance._bus is not None:
        instance._bus.disconnect()
        await instance._bus.wait_for_disconnect()
        await asyncio.sleep(0)


class Strap:
    """A simulated H10-like strap on the mock: its address, D-Bus paths and the bytes it would send."""

    def __init__(self, bluez: MockBlueZ) -> None:
        from vagus.clock import SimClock

        device, world = strap_at_rest(SimClock(T0), duration_s=300, seed=2)
        self.world = world
        self.firmware = device.firmware
        self.name = default_name("h10", "strap")
        self.address = static_address(self.name)
        self.layout = gatt_layout(self.firmware)
        advertised = [s.uuid for s in self.layout if s.advertised]
        self.path = bluez.add_device(self.address, self.name, advertised)
        self.chars = bluez.add_gatt(self.path, self.firmware)
        self.hrm = [n.payload for n in render(world.devices_setup[0]) if n.characteristic == HRM]


class Sink:
    def __init__(self) -> None:
        self.beats = []
        self.rejected = []

    def on_beats(self, beats) -> None:
        self.beats.extend(beats)

    def on_indicators(self, records) -> None:
        pass

    def on_rejected(self, device_id, t_utc_s, characteristic, payload, error) -> None:
        self.rejected.append(payload)


async def scanned(bluez: MockBlueZ, strap: Strap) -> Any:
    """The strap's BLEDevice from a scan (connecting to it skips bleak's implicit scan by address)."""
    task = asyncio.ensure_future(scan(0.6))
    await asyncio.sleep(0.2)
    bluez.advertise(strap.path, -60)
    (result,) = await task
    return result.device


async def wait_until(predicate, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 (the condition is set by D-Bus signals)
            await asyncio.sleep(0.01)


async def test_scan_lists_wearables_with_rssi_and_profiles(bluez):
    bluez.add_adapter("hci0")
    strap = Strap(bluez)
    phone = bluez.add_device(PHONE, "a phone", ["0000110a-0000-1000-8000-00805f9b34fb"])
    task = asyncio.ensure_future(scan(1.0, adapter="hci0"))
    await asyncio.sleep(0.3)  # scanning has started: what changes now is an advertisement
    bluez.advertise(strap.path, -61)
    bluez.advertise(phone, -40)
    results = await task
    assert [r.address for r in results] == [strap.address]
    (r,) = results
    assert r.name == strap.name and r.rssi_dbm == -61
    assert r.profiles == recognised_profiles(s.uuid for s in strap.layout if s.advertised)
    assert r.profiles == ("heart_rate", "polar_pmd")
    assert r.device is not None and r.device.details["path"] == strap.path
    # bleak asked BlueZ to filter on the wearable services, on the adapter we chose
    (filters,) = [c[1][0] for c in bluez.calls("/org/bluez/hci0", "SetDiscoveryFilter") if c[1][0]]
    assert set(filters["UUIDs"]) >= {s.uuid for s in strap.layout if s.advertised}


async def test_connect_services_notifications_and_an_unsolicited_disconnect(bluez):
    bluez.add_adapter("hci0")
    strap = Strap(bluez)
    device = await scanned(bluez, strap)
    transport = BleTransport(device, clock=RealClock(), adapter="hci0", connect_timeout_s=5.0, attempts=1)
    sink = Sink()
    link = DeviceLink(transport, sink)
    drops = []
    await link.start()
    # DeviceLink's handler stays; count drops through a second connect of our own below.
    client = transport.client
    assert client is not None and client.backend_id.name == "BLUEZ_DBUS"
    assert {s.uuid for s in client.services} == {s.uuid for s in strap.layout}
    assert len(bluez.calls(strap.path, "Connect")) == 1
    assert len(bluez.calls(strap.chars[HRM], "StartNotify")) == 1
    battery = await transport.read(BATTERY_LEVEL_UUID)
    assert battery == strap.firmware.read(BATTERY_LEVEL_UUID, 0.0)
    # The simulator's first 40 Heart Rate Measurement notifications, as bluetoothd delivers them.
    sent = strap.hrm[:40]
    for payload in sent:
        bluez.notify(strap.chars[HRM], payload)
    await wait_until(lambda: link.counters.notifications == len(sent))
    assert sink.rejected == [] and len(sink.beats) > 20
    # Every decoded interval is the strap's ground truth (its detector's RR in 1/1024 s), in order.
    truth = [int(v) for v in strap.world.devices_setup[0].signals.sensed.rr_1024]
    got = [b.rr_1024 for b in sink.beats]
    start = truth.index(got[0])
    assert truth[start : start + len(got)] == got
    # A PMD control-point write goes out as WriteValue with the request bytes.
    request = bytes.fromhex("0102")
    await transport.subscribe(pmd.PMD_CONTROL_POINT_UUID, lambda *_: None)
    await transport.write(pmd.PMD_CONTROL_POINT_UUID, request)
    (write,) = bluez.calls(strap.chars[pmd.PMD_CONTROL_POINT_UUID], "WriteValue")
    assert bytes(write[1][0]) == request and str(write[1][1]["type"]) == "request"
    # The strap goes away: bleak's disconnected_callback reaches the link.
    await transport.connect(lambda: drops.append(True))  # already connected: only swaps the handler
    first = transport.client
    bluez.drop(strap.path)
    await wait_until(lambda: drops == [True])
    assert not transport.connected and transport.counters.drops == 1
    # Back in range: connect again, and notifications are re-subscribed without a subscribe call.
    await transport.connect(lambda: drops.append(True))
    assert len(bluez.calls(strap.path, "Connect")) == 2
    assert len(bluez.calls(strap.chars[HRM], "StartNotify")) == 2
    assert first._backend._bus is None  # the dropped connection's D-Bus socket was released
    before = link.counters.notifications
    bluez.notify(strap.chars[HRM], strap.hrm[40])
    await wait_until(lambda: link.counters.notifications == before + 1)
    await link.stop()
    assert len(bluez.calls(strap.path, "Disconnect")) == 1 and drops == [True]


async def test_malformed_notifications_from_bluez_are_rejected_not_fatal(bluez):
    bluez.add_adapter("hci0")
    strap = Strap(bluez)
    sink = Sink()
    device = await scanned(bluez, strap)
    link = DeviceLink(BleTransport(device, clock=RealClock(), connect_timeout_s=5.0, attempts=1), sink)
    await link.start()
    bad = [b"", bytes([0x01, 0x40])]  # empty; uint16 HR announced, one byte present (HRS §3.1)
    for payload in [*bad, strap.hrm[0]]:
        bluez.notify(strap.chars[HRM], payload)
    await wait_until(lambda: link.counters.notifications == 3)
    assert sink.rejected == bad and link.counters.rejected_payloads == 2
    await link.stop()


async def test_no_adapter_is_a_clear_error(bluez):
    with pytest.raises(BleUnavailableError, match="no Bluetooth adapter") as info:
        await scan(0.2)
    assert info.value.reason == "no_adapter"


async def test_no_bluez_on_the_bus_is_a_clear_error(system_bus):
    with pytest.raises(BleUnavailableError, match="BlueZ is not running") as info:
        await scan(0.2)
    assert info.value.reason == "no_bluez"


def _vagus(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 — a fixed argv of our own, no shell
        [sys.executable, "-m", "vagus", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )


def test_vagus_scan_command(bluez_mock):
    bluez = bluez_mock
    bluez.add_adapter("hci0")
    strap = Strap(bluez)
    env = {**os.environ}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vagus", "scan", "--timeout", "2", "--adapter", "hci0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    import time

    for rssi in range(-70, -50, 2):  # advertisements while the command scans
        time.sleep(0.15)
        bluez.advertise(strap.path, rssi)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    line = next(line for line in out.splitlines() if strap.address in line)
    assert strap.name in line and "heart_rate" in line and "polar_pmd" in line
    assert "-52" in line  # the latest RSSI
    # No adapter of that name: a clear message, exit 1, no traceback.
    bad = _vagus("scan", "--timeout", "0.5", "--adapter", "hci7", env=env)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "hci7" in bad.stderr


def test_vagus_scan_without_a_system_bus(tmp_path):
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path / 'absent.socket'}"}
    result = _vagus("scan", "--timeout", "0.5", env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "D-Bus system bus" in result.stderr
