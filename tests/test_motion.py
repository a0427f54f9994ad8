"""Accelerometer → motion (vagus.edge.motion) on the simulator's H10 and Verity ACC frames, against the
simulator's per-second activity labels and an independent ENMO written out here."""

from __future__ import annotations

import numpy as np
import pytest

from vagus.edge import pmd
from vagus.edge.motion import ACTIVE_ENMO_MG, MotionTracker, enmo_mg
from vagus.sim.physiology import State
from vagus.sim.scenario import DeviceSpec, Scenario, Segment, Timeline
from vagus.sim.world import build_world

T0 = 1_790_000_000.0


def acc_stream(profile: str, seconds: int = 600, seed: int = 3):
    """(times, xyz as the edge decodes them, activity labels) of a rest → exercise scenario's ACC stream."""
    scenario = Scenario(
        name="move",
        description="",
        timeline=Timeline(
            (Segment(0, seconds // 2, State.REST), Segment(seconds // 2, seconds, State.EXERCISE)),
            start_of_day_s=43200.0,
        ),
        seed=seed,
        people=(),
        devices=(DeviceSpec("d", profile),),
        events=(),
        source="test",
    )
    setup = build_world(scenario, t0_utc_s=T0).devices_setup[0]
    fw = setup.firmware()
    offer = pmd.decode_cp_response(
        fw.write(pmd.PMD_CONTROL_POINT_UUID, pmd.encode_get_settings_request(pmd.MeasurementType.ACC), 0)
        .responses[0]
        .payload
    ).settings
    # FACTOR is what the device reports, not a choice (the Polar SDK never requests it).
    factor = float(offer.get(pmd.SettingType.FACTOR, (1.0,))[0])
    settings = {
        k: (min(v) if k == pmd.SettingType.SAMPLE_RATE else max(v),)
        for k, v in offer.items()
        if k != pmd.SettingType.FACTOR
    }
    changes = fw.write(pmd.PMD_CONTROL_POINT_UUID, pmd.encode_start_request(pmd.MeasurementType.ACC, settings), 0)
    decoder = pmd.PmdDataDecoder()
    rate = float(settings[pmd.SettingType.SAMPLE_RATE][0])
    decoder.configure(pmd.MeasurementType.ACC, sample_rate_hz=rate, factor=factor)
    ts, xyz = [], []
    for note in next(iter(changes.started.values())):
        if note.t_s > seconds:
            break
        frame = decoder.decode(note.payload)
        ts.append(T0 + (np.asarray(frame.sample_timestamps_ns, dtype=np.float64) - frame.timestamp_ns) / 1e9 + note.t_s)
        xyz.append(np.asarray(frame.samples, dtype=np.float64))
    return np.concatenate(ts), np.concatenate(xyz), setup.signals.activity


def test_enmo_is_the_norm_minus_one_g_clipped_at_zero():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 700, size=(500, 3))
    expected = [max(0.0, float(np.sqrt(x * x + y * y + z * z)) - 1000.0) for x, y, z in a]
    assert np.allclose(enmo_mg(a), expected)
    assert np.allclose(enmo_mg(a * 3.0, gravity=3000.0), expected)  # units of the sensor's own g
    with pytest.raises(ValueError, match="shape"):
        enmo_mg(np.zeros((4, 2)))


@pytest.mark.parametrize("profile", ["h10", "verity"])
def test_exercise_minutes_are_active_and_rest_minutes_are_not(profile):
    t, xyz, activity = acc_stream(profile)
    tracker = MotionTracker()
    for lo in range(0, t.size, 36):  # frame by frame, as the link pushes them
        tracker.push(t[lo : lo + 36], xyz[lo : lo + 36])
    # The simulator's labels: activity 0 still, ~1 walking. Minute by minute, skipping the first
    # minute of each state (the body's transition).
    for minute in range(1, 10):
        if minute == 5:
            continue
        start = T0 + 60 * minute
        truth_moving = float(np.mean(activity[60 * minute : 60 * minute + 60])) > 0.3
        state = tracker.state(start, start + 60)
        assert state == ("active" if truth_moving else "rest"), (minute, tracker.activity_mg(start, start + 60))
    assert tracker.activity_mg(T0 + 120, T0 + 180) < 10.0  # calibrated against gravity: the still floor is low
    # In mG as the SDK scales them (AccData.kt): a sensor at rest reads 1 g.
    assert tracker.gravity == pytest.approx(1000.0, rel=0.03)


def test_the_measure_does_not_depend_on_the_sensor_scale():
    t, xyz, _ = acc_stream("h10", seconds=240)
    a, b = MotionTracker(), MotionTracker()
    a.push(t, xyz)
    b.push(t, xyz * 1000.0)  # e.g. a compressed frame read with the wrong FACTOR
    for minute in range(4):
        start = T0 + 60 * minute
        assert a.activity_mg(start, start + 60) == pytest.approx(b.activity_mg(start, start + 60), rel=1e-9)
    assert a.gravity == pytest.approx(1000.0, rel=0.03)


def test_windows_without_enough_samples_have_no_measure():
    tracker = MotionTracker()
    assert tracker.state(T0, T0 + 60) is None
    t = T0 + np.arange(0, 20, 0.04)
    tracker.push(t, np.tile([0.0, 0.0, 1000.0], (t.size, 1)))
    assert tracker.activity_mg(T0, T0 + 60) is None  # 20 of 60 s covered
    assert tracker.activity_mg(T0, T0 + 20) == pytest.approx(0.0, abs=1e-9)
    assert ACTIVE_ENMO_MG > 0
    with pytest.raises(ValueError, match="n times"):
        tracker.push(np.zeros(3), np.zeros((2, 3)))
