"""Capture → replay: byte-identical notifications at identical times, through the transport path."""

from __future__ import annotations

import asyncio
import gzip
import json

import pytest

from vagus.clock import SimClock
from vagus.sim.capture import CaptureError, CaptureWriter, CapturingTransport, ReplayDevice, read_capture
from vagus.sim.device import SimulatedDevice
from vagus.sim.gatt_info import BATTERY_LEVEL_UUID
from vagus.sim.scenario import parse_scenario
from vagus.sim.world import build_world

from .doubles import EagerHost
from .test_sim_device import SCENARIO

T0 = 1_790_000_000.0
SPAN_S = 10 * 60.0  # covers the disconnect at 8 min


async def record(tmp_path, name: str = "capture.jsonl.gz"):
    """Every device of the test scenario through a CapturingTransport; returns what hosts saw."""
    world = build_world(parse_scenario(SCENARIO, source="t"), t0_utc_s=T0)
    clock = SimClock(T0)
    path = tmp_path / name
    hosts: list[EagerHost] = []
    with CaptureWriter(path, t0_utc_s=T0) as writer:
        tasks = []
        for setup in world.devices_setup:
            device = SimulatedDevice(
                setup.firmware(), clock=clock, t0_utc_s=T0, device_id=setup.name, outages=list(setup.outages)
            )
            host = EagerHost(
                CapturingTransport(device, writer, clock), setup.profile, clock, setup.outages, t0_utc_s=T0
            )
            hosts.append(host)
            tasks.append(asyncio.ensure_future(host.run()))
        await clock.sleep(1.0)
        battery = await hosts[0].device.read(BATTERY_LEVEL_UUID)
        await clock.sleep(SPAN_S - 1.0)
        for task in tasks:
            task.cancel()
        for host in hosts:
            await host.device.disconnect()
    return path, hosts, battery


async def replay(path, offset_s: float = 0.0):
    t0, events = read_capture(path)
    clock = SimClock(t0 + offset_s)
    devices = sorted({e.device for e in events})
    received: dict[str, list[tuple[float, str, bytes]]] = {d: [] for d in devices}
    disconnects: dict[str, list[float]] = {d: [] for d in devices}
    replays = []
    for name in devices:
        device = ReplayDevice(events, name, clock, offset_s=offset_s)
        await device.connect(lambda name=name: disconnects[name].append(clock.now_utc_s()))
        for uuid in {e.characteristic for e in events if e.device == name and e.kind == "notify"}:
            await device.subscribe(uuid, lambda c, p, t, name=name: received[name].append((t, c, p)))
        replays.append(device)
    await asyncio.gather(*(d.finished.wait() for d in replays))
    battery = await next(d for d in replays if d.device_id == "strap").read(BATTERY_LEVEL_UUID)
    return received, disconnects, battery


async def test_replay_gives_byte_identical_notifications_at_identical_times(tmp_path):
    path, hosts, battery = await record(tmp_path)
    received, disconnects, replayed_battery = await replay(path)
    for host in hosts:
        name = host.device.device_id
        assert len(host.received) > 300
        assert received[name] == host.received  # bytes, characteristic and float time, exactly
        assert disconnects[name] == host.disconnects
    assert replayed_battery == battery


async def test_replay_at_another_time_shifts_every_event_by_the_same_offset(tmp_path):
    path, hosts, _ = await record(tmp_path, "c.jsonl")
    received, _, _ = await replay(path, offset_s=86_400.0)
    for host in hosts:
        shifted = received[host.device.device_id]
        assert [(c, p) for _, c, p in shifted] == [(c, p) for _, c, p in host.received]
        assert all(abs(a[0] - b[0] - 86_400.0) < 1e-6 for a, b in zip(shifted, host.received, strict=True))


async def test_the_edge_decodes_a_replayed_strap_as_it_decoded_the_live_one(tmp_path):
    from vagus.edge.hrs import decode_hrm
    from vagus.sim.hrs_encoder import HRM_UUID

    path, hosts, _ = await record(tmp_path)
    received, _, _ = await replay(path)
    live = [decode_hrm(p).rr_1024 for _, c, p in hosts[0].received if c == HRM_UUID]
    again = [decode_hrm(p).rr_1024 for _, c, p in received["strap"] if c == HRM_UUID]
    assert live == again and sum(map(len, live)) > 300


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", "empty file"),
        ('{"format": "other"}\n', r":1: not a vagus capture"),
        ('{"format": "vagus-capture", "version": 9, "t0_utc_s": 0}\n', "version 9"),
        (
            '{"format": "vagus-capture", "version": 1, "t0_utc_s": 0}\n{"t": 1, "dev": "a", "ch": "x", "hex": "zz"}\n',
            ":2: bad",
        ),
        ('{"format": "vagus-capture", "version": 1, "t0_utc_s": 0}\n\n{"t": 1}\n', ":3: not a capture event"),
        (
            '{"format": "vagus-capture", "version": 1, "t0_utc_s": 0}\n{"t": 1, "dev": "a", "event": "x"}\n',
            "link event",
        ),
        ('{"format": "vagus-capture", "version": 1, "t0_utc_s": 0}\n{"t": 1, "dev": "a"}\n', "one of hex"),
    ],
)
def test_broken_captures_are_refused_with_the_line(tmp_path, content, match):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(CaptureError, match=match):
        read_capture(path)


def test_captures_are_plain_json_lines_optionally_gzipped(tmp_path):
    plain = tmp_path / "c.jsonl"
    with CaptureWriter(plain, t0_utc_s=5.0) as w:
        w.notification("strap", 6.000000001, "00002a37-0000-1000-8000-00805f9b34fb", b"\x10\x40\x00\x04")
        w.link("strap", 7.0, "disconnected")
    lines = plain.read_text().splitlines()
    assert json.loads(lines[0]) == {"format": "vagus-capture", "version": 1, "t0_utc_s": 5.0}
    assert json.loads(lines[1])["hex"] == "10400004" and json.loads(lines[1])["t"] == 6.000000001
    packed = tmp_path / "c.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert read_capture(packed) == read_capture(plain)
    with pytest.raises(CaptureError, match="no events of device"):
        ReplayDevice(read_capture(plain)[1], "ring", SimClock(0.0))
