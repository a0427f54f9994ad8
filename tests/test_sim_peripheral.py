"""The real GATT peripheral (vagus.sim.peripheral) over bumble's virtual controllers, no radio.

A bumble central and the peripheral each get a virtual controller on one ``LocalLink``
(``bumble.testing.test_utils.TwoDevices``). The central is bumble's own GATT client, so service
discovery, CCCD writes, the ATT MTU exchange, write commands and indication confirmations are
bumble's implementation of the Core spec, not ours. What it receives is checked three ways:

* against the firmware: a fresh firmware, driven by the same host actions at the same times,
  produces the same payloads per characteristic (so nothing is lost, truncated or reordered);
* against the truth: Heart Rate Measurement RR intervals decoded by vagus's edge decoder are a
  run of the beats the device's detector reported, in order;
* against the specifications: bumble's Battery and Device Information proxies decode the reads,
  the PMD control point answers ``F0 02 00 00`` (ble.md §2), ring packets carry a valid checksum
  and echo the command (ble.md §3), and bumble parses the advertisement.

Time is a ``SimClock`` at 10× so a test stays within a few wall seconds.
"""

from __future__ import annotations

import asyncio
import struct
import sys
from collections import defaultdict

import numpy as np
import pytest
from bumble import core, hci
from bumble.device import Peer
from bumble.profiles.battery_service import BatteryServiceProxy
from bumble.profiles.device_information_service import DeviceInformationServiceProxy
from bumble.testing.test_utils import TwoDevices

from vagus.clock import SimClock
from vagus.edge.hrs import decode_hrm
from vagus.sim import colmi_encoder as colmi
from vagus.sim import gatt_info
from vagus.sim import pmd_encoder as pmd
from vagus.sim.device import StreamMerge
from vagus.sim.firmware import PROFILES
from vagus.sim.hrs_encoder import HRM_UUID
from vagus.sim.peripheral import (
    BumbleMissingError,
    Peripheral,
    advertising_payloads,
    default_name,
    gatt_layout,
    main,
    static_address,
)
from vagus.sim.scenario import parse_scenario
from vagus.sim.world import World, build_world

T0 = 1_790_000_000.0
SPEED = 10.0

SCENARIO = """
start = "09:00"
duration = "5min"
seed = 7
[[segment]]
at = "09:00"
state = "rest"
[[device]]
name = "strap"
profile = "h10"
[[device]]
name = "ring"
profile = "colmi_ring"
[[device]]
name = "watch"
profile = "hr_watch"
[[device]]
name = "sense"
profile = "verity"
[[event]]
kind = "disconnect"
at = "09:02:00"
duration = "8s"
device = "strap"
"""

ECG_START = bytes.fromhex("02000001820001010e00")  # ble.md §2: ECG, 130 Hz, 14 bit
H10_MTU = 232  # the H10's ECG frames are 229 bytes


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(parse_scenario(SCENARIO, source="test"), t0_utc_s=T0)


def setup_of(world: World, name: str):
    return next(d for d in world.devices_setup if d.name == name)


class Link:
    """A peripheral serving one scenario device, and a bumble central connected to it."""

    def __init__(
        self, world: World, device: str, *, start_s: float, outages: bool = False, speed: float = SPEED
    ) -> None:
        self.setup = setup_of(world, device)
        self.clock = SimClock(T0 + start_s, speed=speed)
        self.devices = TwoDevices()
        self.peripheral = Peripheral(
            self.setup.firmware(),
            device=self.devices[1],
            clock=self.clock,
            t0_utc_s=T0,
            name=default_name(self.setup.profile, device),
            outages=self.setup.outages if outages else (),
        )
        self.received: dict[str, list[tuple[float, bytes]]] = defaultdict(list)
        self.connection = None
        self.peer: Peer | None = None

    @property
    def central(self):
        return self.devices[0]

    async def connect(self, mtu: int = H10_MTU) -> Peer:
        self.connection = await self.central.connect(self.devices[1].random_address)
        peer = Peer(self.connection)
        await peer.request_mtu(mtu)
        await peer.discover_services()
        await peer.discover_characteristics()
        self.peer = peer
        return peer

    async def __aenter__(self) -> Link:
        for d in self.devices.devices:
            await d.power_on()
        await self.peripheral.start()
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.peripheral.stop()

    def characteristic(self, uuid: str):
        assert self.peer is not None
        found = self.peer.get_characteristics_by_uuid(core.UUID(uuid))
        assert len(found) == 1, f"{uuid}: {found}"
        return found[0]

    async def subscribe(self, uuid: str) -> None:
        await self.characteristic(uuid).subscribe(
            lambda value, uuid=uuid: self.received[uuid].append((self.clock.now_utc_s(), bytes(value)))
        )

    async def until(self, predicate, timeout_s: float = 10.0) -> None:
        # Polls: the conditions span the central, bumble's link events and the peripheral's
        # counters, which share no event to wait on.
        async with asyncio.timeout(timeout_s):
            while not predicate():  # noqa: ASYNC110
                await asyncio.sleep(0.02)


def replay(firmware, actions, until_s: float) -> dict[str, list[tuple[float, bytes]]]:
    """What the firmware sends for the recorded host actions, per characteristic, like world.render."""
    pending = StreamMerge()
    subscribed: set[str] = set()
    out: dict[str, list[tuple[float, bytes]]] = defaultdict(list)

    def drain(before_s: float) -> None:
        while (due := pending.next_due_s()) is not None and due <= before_s:
            note = pending.pop()
            if note.characteristic in subscribed:
                out[note.characteristic].append((note.t_s, note.payload))

    for a in actions:
        if a.kind == "subscribe":
            subscribed.add(a.characteristic)
            pending.apply(firmware.subscribe(a.characteristic, a.t_s))
        elif a.kind == "write":
            pending.apply(firmware.write(a.characteristic, a.data, a.t_s))
        elif a.kind == "read":
            firmware.read(a.characteristic, a.t_s)
        elif a.kind == "link_lost":
            drain(a.t_s)
            firmware.link_lost(a.t_s)
            pending.clear()
            subscribed.clear()
    drain(until_s)
    return out


def assert_same_as_firmware(link: Link, uuid: str, n: int, *, since_s: float = 0.0) -> None:
    """The first n payloads on ``uuid`` (since ``since_s``) equal a fresh firmware's for the same
    host actions, and none arrived before the firmware's time for it."""
    got = link.received[uuid]
    assert len(got) >= n, f"{uuid}: only {len(got)} notifications"
    actions = list(link.peripheral.host_actions)
    expected = [e for e in replay(link.setup.firmware(), actions, until_s=1e9)[uuid] if e[0] >= since_s]
    assert [p for _, p in got[:n]] == [p for _, p in expected[:n]]
    # Paced on the clock: nothing arrives before the firmware's time for it.
    for (t_rx, _), (t_s, _) in zip(got[:n], expected[:n], strict=True):
        assert t_rx >= T0 + t_s - 1e-6


def last_action(link: Link) -> str:
    actions = link.peripheral.host_actions
    return actions[-1].kind if actions else ""


def _find_run(haystack: list[int], needle: list[int]) -> int:
    for i in range(len(haystack) - len(needle) + 1):
        if haystack[i : i + len(needle)] == needle:
            return i
    return -1


# ------------------------------------------------------------------------------------------ pure parts


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_layout_is_what_the_firmware_answers(world, profile):
    setup = next(d for d in world.devices_setup if d.profile == profile)
    fw = setup.firmware()
    layout = gatt_layout(fw)
    chars = {c.uuid: c for s in layout for c in s.characteristics}
    notifying = fw.notifying()
    # Every stream the firmware offers is exposed, as notify or (PMD control point only) indicate.
    assert notifying <= {u for u, c in chars.items() if c.notify or c.indicate}
    for uuid, c in chars.items():
        assert not (c.notify and c.indicate)
        assert c.indicate == (uuid == pmd.PMD_CONTROL_POINT_UUID)
        if c.read:
            fw.read(uuid, 0.0)  # readable means the firmware answers
        else:
            with pytest.raises(ValueError):
                fw.read(uuid, 0.0)
    # A service appears exactly when its defining characteristic does (ble.md §1–3).
    services = {s.uuid for s in layout}
    assert (gatt_info.HEART_RATE_SERVICE_UUID in services) == (HRM_UUID in notifying)
    assert (pmd.PMD_SERVICE_UUID in services) == (pmd.PMD_DATA_UUID in notifying)
    assert (colmi.UART_SERVICE_UUID in services) == (colmi.UART_TX_UUID in notifying)
    if colmi.UART_SERVICE_UUID in services:
        rx = chars[colmi.UART_RX_UUID]
        assert rx.write_without_response and not rx.read  # clients write commands without response
    assert (gatt_info.BATTERY_SERVICE_UUID in services) == any(
        s.startswith("battery") for s in PROFILES[profile].streams
    )


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("device", ["strap", "a much longer device name than fits anywhere"])
def test_advertisement_parses_with_bumble(world, profile, device):
    setup = next(d for d in world.devices_setup if d.profile == profile)
    layout = gatt_layout(setup.firmware())
    name = default_name(profile, device)
    adv, scan = advertising_payloads(name, layout)
    assert len(adv) <= 31 and len(scan) <= 31
    merged = core.AdvertisingData.from_bytes(adv + scan)
    assert core.AdvertisingData.from_bytes(adv).get(core.AdvertisingData.FLAGS) is not None
    uuids = [
        *(merged.get(core.AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS) or []),
        *(merged.get(core.AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS) or []),
    ]
    advertised = {core.UUID(s.uuid) for s in layout if s.advertised}
    assert set(uuids) == advertised
    assert (core.UUID(gatt_info.HEART_RATE_SERVICE_UUID) in uuids) == (profile != "colmi_ring")
    complete = merged.get(core.AdvertisingData.COMPLETE_LOCAL_NAME)
    short = merged.get(core.AdvertisingData.SHORTENED_LOCAL_NAME)
    if complete is not None:
        assert complete == name and short is None
    else:
        assert short and name.startswith(short)


def test_static_address_is_a_stable_random_static_address():
    a = static_address("Polar H10 strap")
    assert a == static_address("Polar H10 strap") != static_address("Polar H10 other")
    address = hci.Address(a, hci.Address.RANDOM_DEVICE_ADDRESS)
    assert address.is_random and address.is_static


def test_without_bumble_the_message_says_what_to_install(world, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "bumble", None)
    with pytest.raises(BumbleMissingError, match=r"vagus\[peripheral\]"):
        Peripheral(setup_of(world, "strap").firmware(), device=None, clock=None, t0_utc_s=T0, name="x")
    assert main(["--scenario", "day"]) == 2
    assert "pip install 'vagus[peripheral]'" in capsys.readouterr().err


def test_cli_errors(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    assert main(["--scenario", str(path), "--device", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no device 'nope'" in err and "strap" in err
    assert main(["--scenario", str(path), "--device", "strap", "--transport", "no-such-transport:0"]) == 1
    assert "cannot open no-such-transport:0" in capsys.readouterr().err


# ------------------------------------------------------------------------------- over a bumble LocalLink


async def test_scanner_sees_the_heart_rate_service_and_the_name(world):
    # bumble's virtual controller answers a scan request with the advertising data again (its
    # controller.py does not model scan response data), so only the advertising PDU is checked
    # here; what goes into the scan response is checked above with bumble's parser.
    link = Link(world, "strap", start_s=30.0)
    for d in link.devices.devices:
        await d.power_on()
    await link.peripheral.start()
    seen: list = []
    link.central.on("advertisement", seen.append)
    await link.central.start_scanning(active=False)
    try:
        await link.until(lambda: bool(seen))
    finally:
        await link.central.stop_scanning()
        await link.peripheral.stop()
    assert {a.address for a in seen} == {link.devices[1].random_address}
    assert all(a.is_connectable for a in seen)
    data = seen[0].data
    assert data.get(core.AdvertisingData.COMPLETE_LOCAL_NAME) == "Polar H10 strap"
    assert core.UUID(gatt_info.HEART_RATE_SERVICE_UUID) in data.get(
        core.AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS
    )
    assert data.get(core.AdvertisingData.FLAGS) is not None


async def test_h10_reads_heart_rate_and_ecg(world):
    async with Link(world, "strap", start_s=30.0) as link:
        peer = link.peer
        # The discovered table is the layout, with bumble reading the declarations' property bits.
        for service in link.peripheral.layout:
            (remote,) = (s for s in peer.services if s.uuid == core.UUID(service.uuid))
            assert len(remote.characteristics) == len(service.characteristics)
            for c in service.characteristics:
                (found,) = (r for r in remote.characteristics if r.uuid == core.UUID(c.uuid))
                props = found.properties
                assert bool(props & props.NOTIFY) == c.notify and bool(props & props.INDICATE) == c.indicate
                assert bool(props & props.READ) == c.read and bool(props & props.WRITE) == c.write

        # Battery and Device Information through bumble's own profile proxies.
        fresh = link.setup.firmware()
        battery = peer.create_service_proxy(BatteryServiceProxy)
        level = await battery.battery_level.read_value()
        read_at = link.peripheral.host_actions[-1].t_s
        assert level == gatt_info.CHEST_STRAP_BATTERY.level_at(read_at / 3600)
        dis = peer.create_service_proxy(DeviceInformationServiceProxy)
        assert await dis.manufacturer_name.read_value() == fresh.read(gatt_info.MANUFACTURER_NAME_UUID, 0).decode()
        assert await dis.model_number.read_value() == fresh.read(gatt_info.MODEL_NUMBER_UUID, 0).decode()
        assert await dis.serial_number.read_value() == fresh.read(gatt_info.SERIAL_NUMBER_UUID, 0).decode()
        assert dis.hardware_revision is None  # the H10 firmware has no hardware string: not exposed

        # Heart rate: subscribe, then decode with the edge's decoder.
        await link.subscribe(HRM_UUID)
        subscribed_at = link.clock.now_utc_s() - T0
        await link.until(lambda: len(link.received[HRM_UUID]) >= 5)
        assert_same_as_firmware(link, HRM_UUID, 5)
        decoded = [decode_hrm(p) for _, p in link.received[HRM_UUID][:5]]
        assert all(m.rr_present and m.sensor_contact for m in decoded)
        ticks = [t for m in decoded for t in m.rr_1024]
        sensed = link.setup.signals.sensed
        keep = sensed.rr_1024 > 0
        truth_ticks, truth_t = [int(x) for x in sensed.rr_1024[keep]], sensed.t_s[keep]
        start = _find_run(truth_ticks, ticks)
        assert start >= 0, "received RR are not a run of the detected beats"
        assert (
            subscribed_at - 2.0 <= truth_t[start]
            and truth_t[start + len(ticks) - 1] <= link.received[HRM_UUID][4][0] - T0 + 1e-6
        )
        assert 3 <= len(ticks) <= 12  # five one-second notifications at a resting rate

        # ECG through the PMD control point: indication first, then 229-byte frames.
        await link.subscribe(pmd.PMD_CONTROL_POINT_UUID)
        await link.subscribe(pmd.PMD_DATA_UUID)
        await link.characteristic(pmd.PMD_CONTROL_POINT_UUID).write_value(ECG_START, with_response=True)
        await link.until(lambda: len(link.received[pmd.PMD_DATA_UUID]) >= 3)
        (response,) = (p for _, p in link.received[pmd.PMD_CONTROL_POINT_UUID])
        assert response[:4] == bytes([0xF0, 0x02, 0x00, 0x00])  # response, start, ECG, success
        frames = [p for _, p in link.received[pmd.PMD_DATA_UUID][:3]]
        assert all(f[0] == 0x00 and len(f) == H10_MTU - 3 for f in frames)
        stamps = [struct.unpack_from("<Q", f, 1)[0] for f in frames]
        assert np.allclose(np.diff(stamps), 73 / 130 * 1e9, atol=1e3)  # 73 samples at 130 Hz apart
        assert_same_as_firmware(link, pmd.PMD_DATA_UUID, 3)
        assert_same_as_firmware(link, pmd.PMD_CONTROL_POINT_UUID, 1)
        assert link.peripheral.dropped == 0

        # The central leaves: the firmware loses the link (measurements stop) and the strap advertises again.
        await link.connection.disconnect()
        await link.until(lambda: last_action(link) == "link_lost")
        assert link.peripheral.firmware.running == {}
        lost_at = link.peripheral.host_actions[-1].t_s
        await link.connect()
        link.received.clear()
        await link.subscribe(HRM_UUID)
        await link.until(lambda: len(link.received[HRM_UUID]) >= 2)
        assert_same_as_firmware(link, HRM_UUID, 2, since_s=lost_at)


async def test_frames_larger_than_the_mtu_are_dropped_not_truncated(world):
    link = Link(world, "strap", start_s=30.0)
    async with link:
        await link.connection.disconnect()
        await link.until(lambda: last_action(link) == "link_lost")
        await link.connect(mtu=185)  # a central that asks for less than the H10's frames need
        await link.subscribe(pmd.PMD_CONTROL_POINT_UUID)
        await link.subscribe(pmd.PMD_DATA_UUID)
        await link.characteristic(pmd.PMD_CONTROL_POINT_UUID).write_value(ECG_START, with_response=True)
        await link.until(lambda: link.peripheral.dropped >= 2)
    assert link.received[pmd.PMD_DATA_UUID] == []
    assert len(link.received[pmd.PMD_CONTROL_POINT_UUID]) == 1  # the 5-byte indication fits


async def test_ring_answers_a_real_time_heart_rate_request(world):
    # colmi_r02_client's start packet: 0x69, type 1 (heart rate), action 1 (start), zero padding,
    # then the sum of the first 15 bytes mod 256 (ble.md §3).
    request = bytes([0x69, 0x01, 0x01] + [0] * 12)
    request += bytes([sum(request) & 0xFF])
    assert request == colmi.RealTimeStart(colmi.RealTimeKind.HEART_RATE).to_packet()
    async with Link(world, "ring", start_s=40.0) as link:
        assert any(s.uuid == core.UUID(colmi.UART_SERVICE_UUID) for s in link.peer.services)
        await link.subscribe(colmi.UART_TX_UUID)
        await link.characteristic(colmi.UART_RX_UUID).write_value(request, with_response=False)
        await link.until(lambda: len(link.received[colmi.UART_TX_UUID]) >= 5)
        packets = [p for _, p in link.received[colmi.UART_TX_UUID][:5]]
        assert all(len(p) == 16 and p[0] == 0x69 and p[15] == sum(p[:15]) & 0xFF for p in packets)
        assert [p[3] for p in packets[:3]] == [0, 0, 0] and all(40 <= p[3] <= 120 for p in packets[3:])
        assert_same_as_firmware(link, colmi.UART_TX_UUID, 5)
        # A packet with a bad checksum is ignored, as the ring does.
        await link.characteristic(colmi.UART_RX_UUID).write_value(request[:15] + b"\x00", with_response=False)
        await link.until(lambda: sum(a.kind == "write" for a in link.peripheral.host_actions) == 2)
        assert link.peripheral.firmware.rejected_writes == 1


async def test_scenario_disconnect_takes_the_device_off_the_air(world):
    outage = setup_of(world, "strap").outages[0]
    # Connecting takes a few hundred wall milliseconds: start 10 s (2 wall s at 5×) before the outage.
    link = Link(world, "strap", start_s=outage.start_s - 10.0, outages=True, speed=5.0)
    async with link:
        reasons: list[int] = []
        link.connection.on("disconnection", reasons.append)
        await link.subscribe(HRM_UUID)
        await link.until(lambda: bool(reasons))
        lost_at = link.clock.now_utc_s() - T0
        assert reasons == [hci.HCI_REMOTE_DEVICE_TERMINATED_CONNECTION_DUE_TO_POWER_OFF_ERROR]
        assert outage.start_s <= lost_at < outage.start_s + 1.0
        assert link.peripheral.host_actions[-1].kind == "link_lost"
        assert all(t < T0 + outage.start_s for t, _ in link.received[HRM_UUID])
        # Silent until the outage ends, then advertising again.
        seen: list[float] = []
        link.central.on("advertisement", lambda _a: seen.append(link.clock.now_utc_s() - T0))
        await link.central.start_scanning(active=False)
        await link.until(lambda: bool(seen), timeout_s=15.0)
        await link.central.stop_scanning()
        assert seen[0] >= outage.end_s
        await link.connect()
        link.received.clear()
        await link.subscribe(HRM_UUID)
        await link.until(lambda: len(link.received[HRM_UUID]) >= 2)
        assert_same_as_firmware(link, HRM_UUID, 2, since_s=outage.end_s)
