"""The BLE transport through bleak's public API, with a simulator-fed client backend (no radio).

``BleakClient(address, backend=SimBleakClient)`` runs bleak's own client code over the
simulator's byte-exact devices (tests/ble_test_backend.py). The references are independent of
the transport: the simulator's offline renderer (``render``) for bytes and times, a twin
simulated device read directly, the simulator's GATT constants (written from the specs), and
the backoff formula recomputed from the same seeded random source.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from bleak import BleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDeviceNotFoundError,
    BleakError,
)
from hypothesis import given
from hypothesis import strategies as st

from vagus.clock import SimClock
from vagus.edge.ble_transport import (
    COLMI_UART_SERVICE_UUID,
    HEART_RATE_SERVICE_UUID,
    POLAR_PMD_SERVICE_UUID,
    Backoff,
    BleConnectError,
    BleTransport,
    BleUnavailableError,
    bluez_args,
    check_adapter,
    normalize_uuid,
    recognised_profiles,
)
from vagus.edge.device_link import DeviceLink
from vagus.edge.hrs import HEART_RATE_MEASUREMENT_UUID as HRM
from vagus.edge.hrs import decode_hrm
from vagus.errors import PayloadError
from vagus.sim import colmi_encoder as colmi
from vagus.sim import gatt_info as gatt
from vagus.sim import pmd_encoder as pmd
from vagus.sim.capture import CaptureWriter, CapturingTransport, read_capture
from vagus.sim.device import LinkOutage, SimulatedDevice
from vagus.sim.scenario import parse_scenario
from vagus.sim.world import build_world, render, strap_at_rest

from .ble_test_backend import SimPeripheral, make_backend

T0 = 1_790_000_000.0

RING_SCENARIO = """
start = "09:00"
duration = "20min"
seed = 3
[[segment]]
at = "09:00"
state = "rest"
[[device]]
name = "ring"
profile = "colmi_ring"
"""


def strap(clock: SimClock, *, seed: int = 1, duration_s: int = 600, outages=None):
    device, world = strap_at_rest(clock, duration_s=duration_s, seed=seed)
    if outages:
        setup = world.devices_setup[0]
        device = SimulatedDevice(
            setup.firmware(), clock=clock, t0_utc_s=world.t0_utc_s, device_id="strap", outages=outages
        )
    return SimPeripheral(device), world


def transport_for(peripheral: SimPeripheral, clock: SimClock, **kwargs) -> BleTransport:
    kwargs.setdefault("rng", random.Random(7))  # noqa: S311 — jitter or reproducible simulation, not a secret
    return BleTransport(peripheral.address, clock=clock, client_backend=make_backend(peripheral), **kwargs)


class Sink:
    def __init__(self) -> None:
        self.beats = []
        self.rejected: list[tuple[bytes, PayloadError]] = []

    def on_beats(self, beats) -> None:
        self.beats.extend(beats)

    def on_indicators(self, records) -> None:
        pass

    def on_rejected(self, device_id, t_utc_s, characteristic, payload, error) -> None:
        self.rejected.append((payload, error))


# -- pure parts -----------------------------------------------------------------------------------------


def test_service_uuids_are_the_simulators():
    assert HEART_RATE_SERVICE_UUID == gatt.HEART_RATE_SERVICE_UUID
    assert POLAR_PMD_SERVICE_UUID == pmd.PMD_SERVICE_UUID
    assert COLMI_UART_SERVICE_UUID == colmi.UART_SERVICE_UUID


def test_profiles_recognised_from_what_each_simulated_device_advertises():
    # docs/simulator.md: h10 and verity speak HRS and PMD, the watch HRS, the ring its UART.
    expected = {
        "h10": ("heart_rate", "polar_pmd"),
        "verity": ("heart_rate", "polar_pmd"),
        "hr_watch": ("heart_rate",),
        "colmi_ring": ("colmi_ring",),
    }
    text = RING_SCENARIO.replace('name = "ring"\nprofile = "colmi_ring"', "")
    for profile, want in expected.items():
        world = build_world(parse_scenario(text + f'name = "d"\nprofile = "{profile}"\n'), t0_utc_s=T0)
        advertised = SimPeripheral(world.devices(SimClock(T0))[0]).advertised_service_uuids()
        assert recognised_profiles(advertised) == want
        # BlueZ reports the UUIDs in any order and case
        assert recognised_profiles([u.upper() for u in reversed(advertised)]) == want
    assert recognised_profiles(["0000180f-0000-1000-8000-00805f9b34fb", "not-a-uuid"]) == ()


def test_uuid_forms_and_rejects():
    full = HEART_RATE_SERVICE_UUID
    assert normalize_uuid("180d") == normalize_uuid("0x180D") == normalize_uuid(full.upper()) == full
    assert normalize_uuid("0000180d") == full
    for bad in ("", "18", "xyz1", "180d-0000"):
        with pytest.raises(ValueError, match="not a Bluetooth UUID"):
            normalize_uuid(bad)


def test_adapter_names():
    assert check_adapter("hci0") == "hci0" and check_adapter(None) is None
    assert bluez_args("hci1") == {"adapter": "hci1"} and bluez_args(None) == {}
    for bad in ("hci", "usb0", "hci0 ", "/org/bluez/hci0", ""):
        with pytest.raises(ValueError, match="adapter"):
            check_adapter(bad)


def test_backoff_without_jitter_doubles_up_to_the_cap():
    b = Backoff(initial_s=2.0, factor=2.0, max_s=60.0, jitter=0.0)
    delays = [b.delay_s(n) for n in range(10)]
    assert delays[:5] == [2.0 * 2.0**n for n in range(5)]
    assert max(delays) == 60.0 and delays == sorted(delays)
    assert b.delay_s(10_000) == 60.0  # no overflow


@given(
    initial=st.floats(0.01, 10.0),
    factor=st.floats(1.0, 4.0),
    cap=st.floats(10.0, 600.0),
    jitter=st.floats(0.0, 0.9),
    n=st.integers(0, 200),
    seed=st.integers(0, 2**32),
)
def test_backoff_jitter_stays_in_its_band(initial, factor, cap, jitter, n, seed):
    b = Backoff(initial_s=initial, factor=factor, max_s=cap, jitter=jitter)
    base = Backoff(initial_s=initial, factor=factor, max_s=cap, jitter=0.0).delay_s(n)
    d = b.delay_s(n, random.Random(seed))  # noqa: S311 — jitter or reproducible simulation, not a secret
    assert base * (1 - jitter) - 1e-9 <= d <= min(cap, base * (1 + jitter)) + 1e-9
    assert d == b.delay_s(n, random.Random(seed))  # reproducible from the seed  # noqa: S311 — jitter or reproducible simulation, not a secret


def test_backoff_rejects_nonsense():
    for kwargs in ({"initial_s": 0}, {"factor": 0.5}, {"max_s": 1.0, "initial_s": 2.0}, {"jitter": 1.0}):
        with pytest.raises(ValueError, match="backoff"):
            Backoff(**kwargs)
    with pytest.raises(ValueError, match="failures"):
        Backoff().delay_s(-1)


def test_transport_rejects_nonsense():
    clock = SimClock(T0)
    with pytest.raises(ValueError, match="adapter"):
        BleTransport("AA:BB:CC:DD:EE:FF", clock=clock, adapter="bluetooth0")
    with pytest.raises(ValueError, match="attempts"):
        BleTransport("AA:BB:CC:DD:EE:FF", clock=clock, attempts=0)
    with pytest.raises(ValueError, match="connect_timeout_s"):
        BleTransport("AA:BB:CC:DD:EE:FF", clock=clock, connect_timeout_s=0)


# -- bleak's client over the simulator ------------------------------------------------------------------


async def test_bleak_client_with_the_test_backend_delivers_the_simulators_bytes_and_times():
    clock = SimClock(T0)
    peripheral, world = strap(clock)
    received: list[tuple[bytes, float]] = []
    async with BleakClient(peripheral.address, backend=make_backend(peripheral)) as client:
        assert client.backend_id == "SimBleakClient" and client.is_connected
        assert HEART_RATE_SERVICE_UUID in {s.uuid for s in client.services}
        assert client.services.get_characteristic(HRM).properties == ["notify"]
        await client.start_notify(HRM, lambda _c, data: received.append((bytes(data), clock.now_utc_s())))
        await clock.sleep(60.0)
    assert not client.is_connected
    reference = [
        (n.payload, world.t0_utc_s + n.t_s)
        for n in render(world.devices_setup[0])
        if n.characteristic == HRM and n.t_s <= 60.0
    ]
    assert len(reference) > 50 and received == reference


async def test_transport_feeds_a_device_link_like_the_simulator_does():
    clock = SimClock(T0)
    peripheral, _ = strap(clock, seed=4)
    ble_sink = Sink()
    transport = transport_for(peripheral, clock)
    link = DeviceLink(transport, ble_sink)
    twin_clock = SimClock(T0)
    twin, _ = strap_at_rest(twin_clock, duration_s=600, seed=4)
    twin_sink = Sink()
    twin_link = DeviceLink(twin, twin_sink)
    await link.start()
    await clock.sleep(120.0)
    await link.stop()
    await twin_link.start()
    await twin_clock.sleep(120.0)
    await twin_link.stop()
    assert transport.device_id == peripheral.address
    assert len(ble_sink.beats) > 100
    assert [(b.t_utc_s, b.rr_1024) for b in ble_sink.beats] == [(b.t_utc_s, b.rr_1024) for b in twin_sink.beats]
    assert transport.counters.connects == 1 and transport.counters.notifications == link.counters.notifications


async def test_retries_with_backoff_on_the_injected_clock():
    clock = SimClock(T0)
    peripheral, _ = strap(clock)
    peripheral.connect_failures = [BleakError("le-connection-abort-by-local"), TimeoutError()]
    backoff = Backoff(initial_s=3.0, factor=2.0, max_s=60.0, jitter=0.3)
    transport = transport_for(peripheral, clock, backoff=backoff, rng=random.Random(11), attempts=3)  # noqa: S311 — jitter or reproducible simulation, not a secret
    await transport.connect(lambda: None)
    expected_rng = random.Random(11)  # noqa: S311 — jitter or reproducible simulation, not a secret
    waited = backoff.delay_s(0, expected_rng) + backoff.delay_s(1, expected_rng)
    assert clock.now_utc_s() == pytest.approx(T0 + waited, abs=1e-6)  # one ulp of a POSIX time is 2.4e-7 s
    assert transport.connected and peripheral.connect_calls == 3
    c = transport.counters
    assert (c.attempts, c.failed_attempts, c.connects) == (3, 2, 1)
    await transport.disconnect()


async def test_gives_up_after_the_attempts_with_the_last_error():
    clock = SimClock(T0)
    peripheral, _ = strap(clock)
    last = BleakDeviceNotFoundError(peripheral.address, "not found")
    peripheral.connect_failures = [TimeoutError(), EOFError(), last]
    transport = transport_for(peripheral, clock, attempts=3)
    with pytest.raises(BleConnectError, match="3 attempt") as info:
        await transport.connect(lambda: None)
    assert info.value.__cause__ is last and not transport.connected


async def test_a_stalled_connect_is_cut_by_the_safety_timeout():
    clock = SimClock(T0)
    peripheral, _ = strap(clock)
    peripheral.hang_connects = 1
    transport = transport_for(peripheral, clock, connect_timeout_s=0.02, attempts=2)
    await transport.connect(lambda: None)
    assert transport.connected and transport.counters.failed_attempts == 1
    await transport.disconnect()


async def test_unavailable_bluetooth_is_not_retried():
    clock = SimClock(T0)
    peripheral, _ = strap(clock)
    peripheral.connect_failures = [BleakBluetoothNotAvailableError("off", BleakBluetoothNotAvailableReason.POWERED_OFF)]
    transport = transport_for(peripheral, clock, attempts=5)
    with pytest.raises(BleUnavailableError, match="rfkill") as info:
        await transport.connect(lambda: None)
    assert info.value.reason == "powered_off" and peripheral.connect_calls == 1


async def test_a_forgotten_ble_device_falls_back_to_the_address_and_adapter_is_passed():
    clock = SimClock(T0)
    peripheral, _ = strap(clock)
    scanned = BLEDevice(peripheral.address, peripheral.name, {"path": "/org/bluez/hci1/dev_X"})
    peripheral.connect_failures = [BleakDeviceNotFoundError(peripheral.address, "removed")]
    transport = BleTransport(
        scanned,
        clock=clock,
        adapter="hci1",
        client_backend=make_backend(peripheral),
        rng=random.Random(1),  # noqa: S311 — jitter or reproducible simulation, not a secret
    )
    await transport.connect(lambda: None)
    assert peripheral.targets == [scanned, peripheral.address.upper()]
    assert peripheral.bluez_args == [{"adapter": "hci1"}] * 2
    await transport.disconnect()


async def test_unsolicited_drop_then_reconnect_resubscribes():
    clock = SimClock(T0)
    peripheral, _ = strap(clock)
    transport = transport_for(peripheral, clock)
    drops: list[float] = []
    got: list[float] = []
    await transport.connect(lambda: drops.append(clock.now_utc_s()))
    await transport.subscribe(HRM, lambda _c, _p, t: got.append(t))
    await clock.sleep(20.0)
    await peripheral.drop()
    dropped_at = clock.now_utc_s()
    assert drops == [dropped_at] and not transport.connected
    with pytest.raises(ConnectionError):
        await transport.subscribe(HRM, lambda *_: None)
    await clock.sleep(5.0)
    before = len(got)
    await transport.connect(lambda: drops.append(clock.now_utc_s()))  # no subscribe call: remembered
    await clock.sleep(20.0)
    assert transport.subscriptions == (HRM,)
    after = got[before:]
    assert len(after) >= 15 and all(t >= dropped_at + 5.0 for t in after)
    assert not [t for t in got if dropped_at < t < dropped_at + 5.0]
    # a subscribe again only replaces the handler (no second StartNotify on the device)
    await transport.subscribe(HRM, lambda _c, _p, t: got.append(t))
    await clock.sleep(3.0)
    n = len(got)
    await clock.sleep(10.0)
    assert 8 <= len(got) - n <= 12  # one notification a second, not two
    await transport.disconnect()
    await transport.disconnect()  # safe twice
    assert drops == [dropped_at] and transport.counters.drops == 1


async def test_a_scheduled_outage_drops_the_link_and_connects_fail_until_it_ends():
    clock = SimClock(T0)
    peripheral, _ = strap(clock, outages=[LinkOutage(30.0, 40.0)])
    backoff = Backoff(initial_s=2.0, jitter=0.0)
    transport = transport_for(peripheral, clock, backoff=backoff, attempts=5)
    dropped = asyncio.Event()
    got: list[float] = []
    await transport.connect(dropped.set)
    await transport.subscribe(HRM, lambda _c, _p, t: got.append(t))
    await dropped.wait()
    assert clock.now_utc_s() == T0 + 30.0
    await transport.connect(dropped.set)
    # The attempt at 30 s fails after the device's 10-s connect timeout, the next one after a
    # 2-s backoff succeeds: the outage is over.
    assert clock.now_utc_s() == pytest.approx(T0 + 42.0)
    assert transport.counters.failed_attempts == 1
    await clock.sleep(10.0)
    assert not [t for t in got if T0 + 30.0 <= t < T0 + 42.0] and got[-1] > T0 + 42.0
    await transport.disconnect()


async def test_disconnect_during_backoff_stops_connecting():
    clock = SimClock(T0)
    peripheral, _ = strap(clock)
    peripheral.connect_failures = [TimeoutError()] * 10
    transport = transport_for(peripheral, clock, attempts=10, backoff=Backoff(initial_s=5.0, jitter=0.0))
    task = asyncio.ensure_future(transport.connect(lambda: None))
    await clock.sleep(1.0)  # inside the first backoff
    await transport.disconnect()
    with pytest.raises(BleConnectError):
        await task
    assert peripheral.connect_calls == 1


async def test_malformed_payloads_are_set_aside_and_the_stream_goes_on():
    clock = SimClock(T0)
    peripheral, _ = strap(clock)
    sink = Sink()
    link = DeviceLink(transport_for(peripheral, clock), sink)
    await link.start()
    await clock.sleep(10.0)
    beats_before = len(sink.beats)
    # Heart Rate Measurement (HRS 1.0 §3.1): empty; flags announce a uint16 HR but one byte follows;
    # flags announce energy expended but it is cut short; RR flag with an odd trailing byte.
    bad = [b"", bytes([0x01, 0x40]), bytes([0x08, 0x40, 0x01]), bytes([0x10, 0x40, 0x00, 0x04, 0x01])]
    for payload in bad:
        peripheral.inject(HRM, payload)
    await clock.sleep(10.0)
    rejected_payloads = [p for p, _ in sink.rejected]
    for payload in bad:  # the decoder's own verdict, so the test does not restate it
        try:
            decode_hrm(payload)
        except PayloadError:
            assert payload in rejected_payloads
    assert len(sink.rejected) == link.counters.rejected_payloads >= 3
    assert len(sink.beats) > beats_before + 5
    await link.stop()


async def test_a_handler_that_raises_is_counted_not_fatal(caplog):
    clock = SimClock(T0)
    peripheral, _ = strap(clock)
    transport = transport_for(peripheral, clock)
    await transport.connect(lambda: None)
    calls = []

    def handler(_c, payload, _t):
        calls.append(payload)
        if len(calls) == 2:
            raise RuntimeError("bug in a handler")

    await transport.subscribe(HRM, handler)
    await clock.sleep(10.0)
    assert transport.counters.handler_errors == 1 and len(calls) >= 9
    assert "handler raised" in caplog.text and peripheral.address not in caplog.text
    await transport.disconnect()


async def test_read_and_write_choose_the_right_gatt_operations():
    clock = SimClock(T0)
    peripheral, _ = strap(clock)
    transport = transport_for(peripheral, clock)
    await transport.connect(lambda: None)
    await clock.sleep(100.0)
    twin_clock = SimClock(T0)
    twin, _ = strap_at_rest(twin_clock, duration_s=600, seed=1)
    await twin.connect(lambda: None)
    await twin_clock.sleep(100.0)
    assert await transport.read(gatt.BATTERY_LEVEL_UUID) == await twin.read(gatt.BATTERY_LEVEL_UUID)
    assert await transport.read(gatt.MANUFACTURER_NAME_UUID) == await twin.read(gatt.MANUFACTURER_NAME_UUID)
    with pytest.raises(ValueError, match="no characteristic"):
        await transport.read("00002a00-0000-1000-8000-00805f9b34fb")
    # The PMD control point takes writes with response and answers by indication (ble.md §2).
    answers: list[bytes] = []
    await transport.subscribe(pmd.PMD_CONTROL_POINT_UUID, lambda _c, p, _t: answers.append(p))
    request = bytes.fromhex("0102")  # get ACC settings
    await transport.write(pmd.PMD_CONTROL_POINT_UUID, request)
    await clock.sleep(1.0)
    assert peripheral.writes == [(pmd.PMD_CONTROL_POINT_UUID, request, True)]
    assert answers and answers[0][:3] == bytes([0xF0, 0x01, 0x02])  # response code, opcode, type
    await transport.disconnect()
    await twin.disconnect()


async def test_the_ring_gets_write_without_response_and_answers_on_its_tx():
    clock = SimClock(T0)
    world = build_world(parse_scenario(RING_SCENARIO), t0_utc_s=T0)
    peripheral = SimPeripheral(world.devices(clock)[0])
    transport = transport_for(peripheral, clock)
    packets: list[bytes] = []
    await transport.connect(lambda: None)
    await transport.subscribe(colmi.UART_TX_UUID, lambda _c, p, _t: packets.append(p))
    start = colmi.RealTimeStart(colmi.RealTimeKind.HEART_RATE).to_packet()
    await transport.write(colmi.UART_RX_UUID, start)
    await clock.sleep(20.0)
    assert peripheral.writes == [(colmi.UART_RX_UUID, start, False)]
    assert len(packets) >= 15 and all(len(p) == 16 for p in packets)
    with pytest.raises(ValueError, match="not writable"):
        await transport.write(colmi.UART_TX_UUID, start)
    await transport.disconnect()


async def test_capturing_transport_records_a_ble_link(tmp_path):
    clock = SimClock(T0)
    peripheral, _ = strap(clock)
    path = tmp_path / "ble.jsonl"
    got: list[tuple[bytes, float]] = []
    with CaptureWriter(path, t0_utc_s=T0) as writer:
        capturing = CapturingTransport(transport_for(peripheral, clock), writer, clock)
        await capturing.connect(lambda: None)
        await capturing.subscribe(HRM, lambda _c, p, t: got.append((p, t)))
        battery = await capturing.read(gatt.BATTERY_LEVEL_UUID)
        await clock.sleep(15.0)
        await capturing.disconnect()
    _, events = read_capture(path)
    notes = [(e.payload, e.t_utc_s) for e in events if e.kind == "notify"]
    assert notes == got and len(got) >= 14
    assert [e.payload for e in events if e.kind == "read"] == [battery]
    assert {e.device for e in events} == {peripheral.address}


async def test_a_late_callback_from_an_old_connection_is_ignored():
    clock = SimClock(T0)
    peripheral, _ = strap(clock)
    transport = transport_for(peripheral, clock)
    drops: list[float] = []
    await transport.connect(lambda: drops.append(clock.now_utc_s()))
    first = peripheral.client
    await peripheral.drop()
    await transport.connect(lambda: drops.append(clock.now_utc_s()))
    assert peripheral.client is not first and len(drops) == 1
    first._disconnected_callback()  # bleak's callback of the first client, arriving late
    assert transport.connected and len(drops) == 1
    await transport.disconnect()
    peripheral.client._disconnected_callback()  # and one after a disconnect we asked for
    assert len(drops) == 1


def test_scan_listing_format():
    from vagus.edge.ble_transport import ScanResult
    from vagus.scan_cli import format_results

    rows = [
        ScanResult("CE:5F:FD:D3:C6:D1", "Polar H10 A1B2C3", -58, (), ("heart_rate", "polar_pmd")),
        ScanResult("F0:11:22:33:44:55", None, -71, (), ("colmi_ring",)),
    ]
    text = format_results(rows, 5.0)
    lines = text.splitlines()
    assert lines[0].split() == ["ADDRESS", "RSSI", "NAME", "PROFILES"]
    assert lines[1].startswith("CE:5F:FD:D3:C6:D1") and lines[1].endswith("heart_rate, polar_pmd")
    assert "(no name)" in lines[2] and lines[2].index("-71") == lines[1].index("-58")
    assert "colmi_ring: Colmi ring UART" in text
    assert "no wearable heard in 5 s" in format_results([], 5.0)
