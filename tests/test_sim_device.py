"""The simulated devices end to end: scenario → world → firmware → bytes on a clock.

Bytes are decoded with decoders that do not share code with the simulator: vagus's edge HRS
decoder, bleakheart's PMD decoders, and small decoders written here from the specifications.
"""

from __future__ import annotations

import asyncio
import struct

import numpy as np
import pytest

from vagus.clock import SimClock
from vagus.edge.hrs import decode_hrm
from vagus.sim import colmi_encoder as colmi
from vagus.sim import pmd_encoder as pmd
from vagus.sim.device import CONNECT_TIMEOUT_S, DeviceUnavailableError, Notification, SimulatedDevice
from vagus.sim.gatt_info import BATTERY_LEVEL_UUID
from vagus.sim.hrs_encoder import HRM_UUID
from vagus.sim.scenario import parse_scenario
from vagus.sim.sensor import Artifact
from vagus.sim.world import World, build_world, render

from .doubles import EagerHost

T0 = 1_790_000_000.0

SCENARIO = """
start = "09:00"
duration = "20min"
seed = 4
[[segment]]
at = "09:00"
state = "rest"
[[segment]]
at = "09:12"
state = "exercise"
[[device]]
name = "strap"
profile = "h10"
[[device]]
name = "watch"
profile = "hr_watch"
[[device]]
name = "sense"
profile = "verity"
[[device]]
name = "ring"
profile = "colmi_ring"
[[event]]
kind = "contact_loss"
at = "09:05"
duration = "30s"
device = "strap"
[[event]]
kind = "disconnect"
at = "09:08"
duration = "40s"
device = "*"
"""


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(parse_scenario(SCENARIO, source="test"), t0_utc_s=T0)


def setup_of(world: World, name: str):
    return next(d for d in world.devices_setup if d.name == name)


async def run_host(world: World, name: str, seconds: float) -> EagerHost:
    setup = setup_of(world, name)
    clock = SimClock(T0)
    device = SimulatedDevice(setup.firmware(), clock=clock, t0_utc_s=T0, device_id=name, outages=list(setup.outages))
    host = EagerHost(device, setup.profile, clock, setup.outages, t0_utc_s=T0)
    task = asyncio.ensure_future(host.run())
    await clock.sleep(seconds)
    task.cancel()
    await device.disconnect()
    return host


@pytest.mark.parametrize("name", ["strap", "watch", "sense", "ring"])
async def test_the_clocked_device_delivers_exactly_what_the_offline_renderer_produces(world, name):
    """Two paths to the same bytes: the in-process feed (asyncio, clock) and render() (pure)."""
    host = await run_host(world, name, 20 * 60.0 + 1)
    offline = [(T0 + n.t_s, n.characteristic, n.payload) for n in render(setup_of(world, name))]
    assert len(host.received) > 600
    assert host.received == offline
    assert host.disconnects == [T0 + 8 * 60.0]


def hrs_notes(world: World, name: str) -> list[Notification]:
    return [n for n in render(setup_of(world, name)) if n.characteristic == HRM_UUID]


def test_strap_batches_about_one_notification_a_second_with_every_detected_interval(world):
    setup = setup_of(world, "strap")
    notes = hrs_notes(world, "strap")
    gaps = np.diff([n.t_s for n in notes])
    assert np.median(gaps) == pytest.approx(1.0, abs=1e-6)
    sent = [rr for n in notes for rr in decode_hrm(n.payload).rr_1024]
    sensed = setup.signals.sensed
    connected = setup.connected_mask()
    truth = [
        int(rr)
        for t, rr in zip(sensed.t_s, sensed.rr_1024, strict=True)
        if rr > 0 and connected[int(t)] and sensed.contact[int(t)]
    ]
    # Beats detected during the outage are lost, as on a real strap (its buffer is not flushed to
    # nobody); everything else arrives, oldest first, as 1/1024-s ticks.
    assert len(sent) == pytest.approx(len(truth), abs=3)
    assert sent[:200] == truth[:200]


def test_contact_loss_clears_the_contact_bit_and_sends_no_intervals(world):
    for n in hrs_notes(world, "strap"):
        m = decode_hrm(n.payload)
        if 5 * 60 + 1 <= n.t_s < 5 * 60 + 30:
            assert m.sensor_contact is False and m.rr_1024 == () and m.hr_bpm == 0
        elif n.t_s > 6 * 60:
            assert m.sensor_contact is True


def test_watch_sends_heart_rate_without_intervals_or_contact_bits(world):
    phys = world.physiology[setup_of(world, "watch").person_id]
    decoded = [(n.t_s, decode_hrm(n.payload)) for n in hrs_notes(world, "watch")]
    assert all(m.rr_1024 == () and m.sensor_contact is None for _, m in decoded)
    rest = [m.hr_bpm for t, m in decoded if 120 < t < 300]
    assert np.median(rest) == pytest.approx(np.mean(phys.hr_bpm[120:300]), abs=4)


def test_exercise_raises_the_reported_rate(world):
    decoded = [(n.t_s, decode_hrm(n.payload).hr_bpm) for n in hrs_notes(world, "strap")]
    rest = np.median([hr for t, hr in decoded if 60 < t < 290])
    exercise = np.median([hr for t, hr in decoded if 17 * 60 < t < 20 * 60])
    assert exercise > rest + 30


def ecg_frames(world: World) -> list[Notification]:
    return [
        n
        for n in render(setup_of(world, "strap"))
        if n.characteristic == pmd.PMD_DATA_UUID and n.payload[0] == pmd.MeasurementType.ECG
    ]


def test_h10_ecg_frames_decode_with_bleakheart_and_show_the_true_beats(world):
    from bleakheart import PolarMeasurementData

    frames = ecg_frames(world)
    decoder = PolarMeasurementData.__new__(PolarMeasurementData)
    samples: list[int] = []
    stamps: list[int] = []
    for n in frames[:400]:  # ~3.7 min before the contact loss
        stamps.append(struct.unpack_from("<Q", n.payload, 1)[0])
        samples += decoder._decode_ecg_data(bytearray(n.payload))  # frame type 0 checked by bleakheart
    # Frame timestamps are the last sample's time: 73 samples at 130 Hz apart.
    assert all(len(n.payload) == 10 + 73 * 3 for n in frames[:400])
    assert np.allclose(np.diff(stamps), 73 / 130 * 1e9, atol=2)
    assert stamps[0] == pmd.polar_ns(T0 + frames[0].t_s)
    # R peaks found by neurokit2 in the decoded ECG sit on the true beat times (±1 sample).
    import neurokit2 as nk

    ecg = np.asarray(samples, dtype=float)
    _, info = nk.ecg_peaks(nk.ecg_clean(ecg, sampling_rate=130), sampling_rate=130)
    first_sample_t = frames[0].t_s - 72 / 130
    peaks_t = first_sample_t + np.asarray(info["ECG_R_Peaks"]) / 130
    true_t = world.devices_setup[0].signals.heart.beat_times_s
    inside = true_t[(true_t > peaks_t[0] + 1) & (true_t < peaks_t[-1] - 1)]
    nearest = np.min(np.abs(inside[:, None] - peaks_t[None, :]), axis=1)
    assert np.mean(nearest <= 1.5 / 130) >= 0.99


async def control_point(device: SimulatedDevice, clock: SimClock, data: bytes) -> bytes:
    answers: list[bytes] = []
    await device.subscribe(pmd.PMD_CONTROL_POINT_UUID, lambda _c, p, _t: answers.append(p))
    await device.write(pmd.PMD_CONTROL_POINT_UUID, data)
    await clock.sleep(0.01)
    assert len(answers) == 1
    return answers[0]


@pytest.mark.parametrize(
    ("request_hex", "status"),
    [
        ("02000001820001010e00", pmd.ControlPointStatus.SUCCESS),
        ("02000001800001010e00", pmd.ControlPointStatus.INVALID_SAMPLE_RATE),  # 128 Hz is not offered
        ("02000001820001010c00", pmd.ControlPointStatus.INVALID_RESOLUTION),
        ("0203", pmd.ControlPointStatus.NOT_SUPPORTED),  # no PPI on a strap
        ("0200ff", pmd.ControlPointStatus.INVALID_LENGTH),  # a setting cut short
        ("0a00", pmd.ControlPointStatus.INVALID_OP_CODE),
    ],
)
async def test_pmd_control_point_answers_with_the_sdk_status(world, request_hex, status):
    setup = setup_of(world, "strap")
    clock = SimClock(T0)
    device = SimulatedDevice(setup.firmware(), clock=clock, t0_utc_s=T0, device_id="strap")
    await device.connect(lambda: None)
    answer = await control_point(device, clock, bytes.fromhex(request_hex))
    assert answer[0] == pmd.CP_RESPONSE_CODE and answer[1] == bytes.fromhex(request_hex)[0]
    assert answer[3] == status, pmd.ControlPointStatus(answer[3]).name
    await device.disconnect()


async def test_pmd_features_settings_and_a_second_start(world):
    setup = setup_of(world, "strap")
    clock = SimClock(T0)
    device = SimulatedDevice(setup.firmware(), clock=clock, t0_utc_s=T0, device_id="strap")
    await device.connect(lambda: None)
    features = await device.read(pmd.PMD_CONTROL_POINT_UUID)
    assert features[0] == 0x0F and features[1] == 0x05  # ECG | ACC
    settings = await control_point(device, clock, bytes.fromhex("0102"))
    assert settings[:5] == bytes.fromhex("f001020000")
    assert pmd.parse_cp_request(b"\x02\x02" + settings[5:]).settings[pmd.SettingType.SAMPLE_RATE] == (25, 50, 100, 200)
    ecg = bytes.fromhex("02000001820001010e00")
    device.firmware.write(pmd.PMD_CONTROL_POINT_UUID, ecg, 0.0)
    again = device.firmware.write(pmd.PMD_CONTROL_POINT_UUID, ecg, 0.0).responses[0].payload
    assert again[3] == pmd.ControlPointStatus.ALREADY_IN_STATE
    await device.disconnect()


def test_verity_ppi_frames_carry_the_detected_intervals(world):
    setup = setup_of(world, "sense")
    frames = [
        n for n in render(setup) if n.characteristic == pmd.PMD_DATA_UUID and n.payload[0] == pmd.MeasurementType.PPI
    ]
    ppi: list[int] = []
    flags: list[int] = []
    errors: list[int] = []
    for n in frames:
        body = n.payload[10:]
        assert len(body) % 6 == 0
        for i in range(0, len(body), 6):
            hr, pp, err, flag = struct.unpack_from("<BHHB", body, i)
            assert hr == round(60_000 / pp)
            errors.append(err)
            ppi.append(pp)
            flags.append(flag)
    sensed = setup.signals.sensed
    before_outage = sensed.t_s < 8 * 60
    truth = [round(int(t) * 1000 / 1024) for t in sensed.rr_1024[before_outage] if t > 0]
    assert ppi[: len(truth) - 2] == truth[: len(truth) - 2]
    exercise = [f for n, f in zip(frames, flags, strict=False) if n.t_s > 13 * 60]
    assert all(f & 0b110 == 0b110 for f in flags[:100])  # skin contact supported and present
    assert exercise and any(f & 1 for f in exercise)  # moving: the blocker bit
    assert np.median(errors[-100:]) > 2 * np.median(errors[:100])  # optical intervals are worse in motion


async def test_ring_answers_requests_and_streams_real_time_heart_rate(world):
    setup = setup_of(world, "ring")
    clock = SimClock(T0)
    device = SimulatedDevice(setup.firmware(), clock=clock, t0_utc_s=T0, device_id="ring")
    got: list[bytes] = []
    await device.connect(lambda: None)
    await device.subscribe(colmi.UART_TX_UUID, lambda _c, p, _t: got.append(p))
    await device.write(colmi.UART_RX_UUID, colmi.BatteryRequest().to_packet())
    await device.write(colmi.UART_RX_UUID, b"\x03" + bytes(15))  # bad checksum: ignored, counted
    await device.write(colmi.UART_RX_UUID, colmi.RealTimeStart(colmi.RealTimeKind.HEART_RATE).to_packet())
    await clock.sleep(60.5)
    await device.write(colmi.UART_RX_UUID, colmi.RealTimeStop(colmi.RealTimeKind.HEART_RATE).to_packet())
    await clock.sleep(10.0)
    await device.disconnect()
    assert all(len(p) == 16 and sum(p[:15]) & 0xFF == p[15] for p in got)
    assert got[0][0] == 0x03 and got[0][1] == 100  # battery full at the start
    assert device.firmware.rejected_writes == 1
    readings = [p[3] for p in got[1:] if p[0] == 0x69]
    assert len(readings) == 60  # one a second until stopped
    assert readings[:3] == [0, 0, 0]  # settling
    phys = world.physiology[setup.person_id]
    assert np.median(readings[3:]) == pytest.approx(np.mean(phys.hr_bpm[:60]), abs=5)


async def test_ring_heart_rate_log_holds_the_true_rate_per_slot(world):
    setup = setup_of(world, "ring")
    fw = setup.firmware()
    from datetime import UTC, datetime

    day = datetime.fromtimestamp(T0, UTC)
    changes = fw.write(
        colmi.UART_RX_UUID, colmi.HrLogRequest(day.replace(hour=0, minute=0, second=0)).to_packet(), 1200
    )
    packets = [n.payload for n in changes.responses]
    assert packets[0][0] == 0x15 and packets[0][2] == len(packets) and packets[0][3] == 5
    values = bytes(packets[1][6:15]) + b"".join(p[2:15] for p in packets[2:])
    slot0 = int((T0 - day.replace(hour=0, minute=0, second=0).timestamp()) // 300)
    phys = world.physiology[setup.person_id]
    offset = int(slot0 * 300 + day.replace(hour=0, minute=0, second=0).timestamp() - T0)
    for k in range(slot0 + 1, slot0 + 3):  # whole slots inside the simulated span
        lo = offset + (k - slot0) * 300
        assert values[k] == round(float(np.mean(phys.hr_bpm[lo : lo + 300])))
    assert values[slot0 - 1] == 0  # before the simulation: no reading


async def test_out_of_range_connects_time_out_then_succeed_after_the_outage(world):
    setup = setup_of(world, "watch")
    clock = SimClock(T0 + 8 * 60 + 5)
    device = SimulatedDevice(setup.firmware(), clock=clock, t0_utc_s=T0, device_id="watch", outages=list(setup.outages))
    with pytest.raises(DeviceUnavailableError):
        await device.connect(lambda: None)
    assert clock.now_utc_s() == T0 + 8 * 60 + 5 + CONNECT_TIMEOUT_S
    await clock.sleep(30.0)
    await device.connect(lambda: None)
    battery = await device.read(BATTERY_LEVEL_UUID)
    assert 0 <= battery[0] <= 100
    with pytest.raises(ValueError, match="no notifying characteristic"):
        await device.subscribe(pmd.PMD_DATA_UUID, lambda *_: None)
    await device.disconnect()
    with pytest.raises(ConnectionError):
        await device.read(BATTERY_LEVEL_UUID)


def test_labelled_artifacts_look_like_what_they_are_labelled():
    scenario = parse_scenario(SCENARIO.replace('duration = "20min"', 'duration = "6h"', 1), source="t")
    world = build_world(scenario, t0_utc_s=T0)
    sensed = setup_of(world, "sense").signals.sensed  # optical: missed and extra detections
    rr = sensed.rr_1024.astype(float)
    art = sensed.artifact
    ok = (art == Artifact.NONE) & (rr > 0)
    local = np.median(rr[ok])
    missed = rr[art == Artifact.MISSED]
    extra = rr[art == Artifact.EXTRA]
    assert missed.size >= 10 and extra.size >= 10
    # Merged intervals are about two normal ones; split ones are shorter than one.
    assert np.median(missed) > 1.6 * local * 0.8
    assert np.all(extra < rr[ok].max())
    strap = setup_of(world, "strap").signals
    heart = strap.heart
    ectopic = np.flatnonzero(heart.kind == Artifact.ECTOPIC)
    assert ectopic.size >= 1
    t = heart.beat_times_s
    for i in ectopic:
        prev_rr, early_rr, pause_rr = t[i - 1] - t[i - 2], t[i] - t[i - 1], t[i + 1] - t[i]
        assert 0.6 * prev_rr < early_rr < 0.9 * prev_rr
        assert pause_rr > prev_rr * 1.05


def test_worlds_are_reproducible_and_people_differ():
    scenario = parse_scenario(SCENARIO, source="t")
    a = [n.payload for n in render(build_world(scenario, t0_utc_s=T0).devices_setup[1])]
    b = [n.payload for n in render(build_world(scenario, t0_utc_s=T0).devices_setup[1])]
    c = [n.payload for n in render(build_world(scenario, t0_utc_s=T0, seed=99).devices_setup[1])]
    assert a == b and a != c
    many = build_world(scenario, t0_utc_s=T0, people=3)
    assert [d.name for d in many.devices_setup[:5]] == [
        "p000-strap",
        "p000-watch",
        "p000-sense",
        "p000-ring",
        "p001-strap",
    ]
    assert len({p.resting_hr_bpm for p in many.people}) == 3
