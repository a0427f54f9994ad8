"""Readers of the profiles (vagus.edge.profiles): the exact commands they send to the simulated devices,
which answer byte for byte like the real ones, and what payloads become."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from vagus.clock import SimClock
from vagus.edge import colmi, pmd
from vagus.edge.hrs import HEART_RATE_MEASUREMENT_UUID as HRM
from vagus.edge.profiles import (
    HEART_RATE,
    ColmiReader,
    HrOnlyWindows,
    PolarPmdReader,
    ProfiledTransport,
    ReadProfile,
    is_hr_only,
    make_reader,
    profile_of,
)
from vagus.signal import BeatSource, WindowConfig
from vagus.sim import colmi_encoder, pmd_encoder
from vagus.sim.physiology import State
from vagus.sim.scenario import DeviceSpec, Scenario, Timeline
from vagus.sim.world import HOST_PLANS, build_world

T0 = 1_790_000_000.0


class Recording:
    """A simulated device whose writes are recorded."""

    def __init__(self, device) -> None:
        self.inner = device
        self.writes: list[tuple[str, bytes]] = []
        self.device_id = device.device_id

    async def connect(self, on_disconnect) -> None:
        await self.inner.connect(on_disconnect)

    async def subscribe(self, uuid, handler) -> None:
        await self.inner.subscribe(uuid, handler)

    async def read(self, uuid) -> bytes:
        return await self.inner.read(uuid)

    async def write(self, uuid, data) -> None:
        self.writes.append((uuid, bytes(data)))
        await self.inner.write(uuid, data)

    async def disconnect(self) -> None:
        await self.inner.disconnect()


def device(profile: str, clock: SimClock, seconds: int = 120):
    scenario = Scenario(
        name="rest",
        description="",
        timeline=Timeline.constant(State.REST, seconds),
        seed=2,
        people=(),
        devices=(DeviceSpec("d", profile),),
        events=(),
        source="test",
    )
    return build_world(scenario, t0_utc_s=T0).devices(clock)[0]


def test_profiles_are_validated_and_found_on_transports():
    with pytest.raises(ValueError, match="profile must be one of"):
        ReadProfile("polar")
    clock = SimClock(T0)
    dev = device("h10", clock)
    assert profile_of(dev) is HEART_RATE
    wrapped = ProfiledTransport(dev, ReadProfile("polar_pmd", ecg=True))
    assert profile_of(wrapped).ecg and wrapped.device_id == "d"
    assert isinstance(make_reader(ReadProfile("colmi_ring")), ColmiReader)


@pytest.mark.parametrize(("profile", "ecg"), [("h10", True), ("verity", False)])
async def test_the_pmd_reader_sends_the_documented_commands_and_the_device_accepts_them(profile, ecg):
    clock = SimClock(T0)
    dev = Recording(device(profile, clock))
    reader = PolarPmdReader(ReadProfile("polar_pmd", ecg=ecg))
    frames: list[tuple[str, bytes]] = []

    def on_notify(uuid, payload, arrival):
        frames.append((uuid, payload))
        reader.on_notify(uuid, payload, arrival)

    await dev.connect(lambda: None)
    await reader.start(dev, on_notify, clock)
    starts = [d for _, d in dev.writes if d[0] == pmd.ControlPointOpcode.REQUEST_MEASUREMENT_START]
    # The simulator's eager host plan holds the bytes ble.md documents for the beat stream.
    documented = next(d for action, _, d in HOST_PLANS[profile] if action == "write")
    assert starts[0] == documented
    assert starts[1][:2] == bytes((0x02, pmd.MeasurementType.ACC))
    answers = [pmd.decode_cp_response(p) for u, p in frames if u == pmd.PMD_CONTROL_POINT_UUID]
    assert all(a.ok for a in answers) and len(answers) == len(dev.writes)
    assert reader.beat_source is (BeatSource.ECG if ecg else BeatSource.PMD_PPI)
    assert reader.started == (["ecg", "acc"] if ecg else ["ppi", "acc"]) and reader.has_motion
    await dev.disconnect()


async def test_ecg_without_neurokit2_falls_back_to_the_straps_rr(monkeypatch, caplog):
    monkeypatch.setattr("vagus.edge.profiles.neurokit2_available", lambda: False)
    clock = SimClock(T0)
    dev = Recording(device("h10", clock))
    reader = PolarPmdReader(ReadProfile("polar_pmd", ecg=True))
    await dev.connect(lambda: None)
    await reader.start(dev, reader.on_notify, clock)
    assert reader.beat_source is BeatSource.HRS and reader.started == ["acc"]
    assert all(d[1] != pmd.MeasurementType.ECG for _, d in dev.writes)
    assert sum("neurokit2" in r.message for r in caplog.records) == 1
    await dev.disconnect()


def test_ppi_intervals_flagged_by_the_device_are_skipped():
    reader = PolarPmdReader(ReadProfile("polar_pmd"))
    reader.beat_source = BeatSource.PMD_PPI
    samples = [
        pmd_encoder.PpiSample(hr_bpm=60, ppi_ms=1000, error_estimate_ms=10),
        pmd_encoder.PpiSample(hr_bpm=60, ppi_ms=990, error_estimate_ms=10, blocker=True),
        pmd_encoder.PpiSample(hr_bpm=60, ppi_ms=1010, error_estimate_ms=10, skin_contact=False),
        pmd_encoder.PpiSample(hr_bpm=60, ppi_ms=1000, error_estimate_ms=150),
        pmd_encoder.PpiSample(hr_bpm=60, ppi_ms=1005, error_estimate_ms=20),
    ]
    out = reader.on_notify(pmd.PMD_DATA_UUID, pmd_encoder.encode_ppi_frame(10**18, samples), T0)
    assert [i.rr_ms for i in out.intervals] == [1000, 990, 1010, 1000, 1005]
    assert [i.skip for i in out.intervals] == [False, True, True, True, False]
    assert out.source is BeatSource.PMD_PPI and reader.skipped_intervals == 3


def test_hrs_rr_is_dropped_while_another_source_gives_the_beats():
    reader = PolarPmdReader(ReadProfile("polar_pmd"))
    payload = bytes.fromhex("16400304")  # contact, HR 64, one RR
    assert len(reader.on_notify(HRM, payload, T0).intervals) == 1
    reader.beat_source = BeatSource.PMD_PPI
    out = reader.on_notify(HRM, payload, T0)
    assert out.intervals == () and out.hr_bpm == 64 and out.contact is True and not out.hr_only


def test_colmi_packets_become_hr_readings_and_battery():
    reader = ColmiReader()
    ok = colmi_encoder.encode_real_time_reading(
        colmi_encoder.RealTimeReading(colmi_encoder.RealTimeKind.HEART_RATE, 72)
    )
    worn_badly = colmi_encoder.encode_real_time_reading(
        colmi_encoder.RealTimeReading(colmi_encoder.RealTimeKind.HEART_RATE, 0, error_code=1)
    )
    settling = colmi_encoder.encode_real_time_reading(
        colmi_encoder.RealTimeReading(colmi_encoder.RealTimeKind.HEART_RATE, 0)
    )
    a = reader.on_notify(colmi.UART_TX_UUID, ok, T0)
    assert (a.hr_bpm, a.hr_only, a.contact) == (72, True, True) and a.intervals == ()
    b = reader.on_notify(colmi.UART_TX_UUID, worn_badly, T0)
    assert (b.hr_bpm, b.contact) == (None, False)
    assert not reader.on_notify(colmi.UART_TX_UUID, settling, T0).hr_only
    battery = reader.on_notify(colmi.UART_TX_UUID, colmi_encoder.encode_battery(57, charging=False), T0)
    assert battery.battery_pct == 57


async def test_the_colmi_reader_starts_real_time_hr_and_keeps_it_going():
    clock = SimClock(T0)
    ring = Recording(device("colmi_ring", clock))
    reader = ColmiReader(battery_every_s=600.0)
    got: list[bytes] = []
    await ring.connect(lambda: None)
    await reader.start(ring, lambda u, p, t: got.append(p), clock)
    assert [d for _, d in ring.writes] == [colmi.real_time_start_request(), colmi.battery_request()]
    await asyncio.sleep(0)
    assert reader.next_poll_s() == pytest.approx(T0 + 30.0)
    await reader.poll(ring, T0 + 30.0)
    assert ring.writes[-1][1] == colmi.real_time_start_request(keep_alive=True)
    await clock.sleep(5.0)
    readings = [colmi.decode_colmi(p) for p in got]
    assert any(isinstance(r, colmi.ColmiBattery) for r in readings)
    assert any(isinstance(r, colmi.ColmiRealTimeReading) for r in readings)
    await ring.disconnect()


def test_hr_only_windows_report_the_mean_of_valid_readings():
    windows = HrOnlyWindows("ring", WindowConfig(windows_s=(60.0, 300.0), step_s=5.0, warmup_s=7.0))
    rng = np.random.default_rng(3)
    times = T0 + np.arange(0, 400, 1.0)
    rates = rng.integers(55, 90, size=times.size)
    valid = rng.random(times.size) > 0.1
    records = []
    for t, hr, ok in zip(times, rates, valid, strict=True):
        records += windows.push(float(t), int(hr) if ok else None)
    short = [r for r in records if r.window_nominal_s == 60.0]
    long = [r for r in records if r.window_nominal_s == 300.0]
    assert short[0].window_s >= 7.0 and all(r.window_s == 300.0 for r in long) and long
    assert np.all(np.diff([r.t_end_utc_s for r in short]) == 5.0)
    for r in short[::7] + long[::7]:
        inside = (times > r.t_start_utc_s) & (times <= r.t_end_utc_s)
        assert r.hr_bpm == pytest.approx(round(float(np.mean(rates[inside & valid])), 1))
        assert r.quality == pytest.approx(np.mean(valid[inside]))
        assert is_hr_only(r) and r.rmssd_ms is None and r.null_reasons["rmssd_ms"].value == "too_few_beats"
    windows.mark_gap()
    assert windows.push(T0 + 1000.0, 70) == []
