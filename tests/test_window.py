"""The rolling window engine: cadence, warm-up, gaps, and values equal to a batch computation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vagus.signal import Beat, BeatSource, NullReason, RollingWindow, WindowConfig, time_domain

T0 = 1_700_000_000.0


def beats_from(rr_ms, *, t0=T0, device="d", gap_at=()):
    t = t0
    out = []
    for i, rr in enumerate(rr_ms):
        t += rr / 1000.0
        out.append(Beat(device_id=device, t_utc_s=t, rr_ms=rr, source=BeatSource.HRS, gap_before=i in gap_at))
    return out


def run(window, beats):
    out = []
    for b in beats:
        out.extend(window.push(b))
    return out


def test_cadence_warmup_and_values():
    rng = np.random.default_rng(1)
    rr = list(900 + rng.normal(0, 40, 800))  # ~12 minutes
    beats = beats_from(rr)
    records = run(RollingWindow("d", WindowConfig(window_s=60, step_s=5, warmup_s=10)), beats)
    ends = np.array([r.t_end_utc_s for r in records])
    assert ends[0] == pytest.approx(T0 + 10)
    assert np.allclose(np.diff(ends), 5.0)
    assert ends[-1] > beats[-1].t_utc_s - 5
    warm = [r for r in records if r.window_s < 60 - 1e-9]
    assert [round(r.window_s) for r in warm] == list(range(10, 60, 5))
    for r in records:
        inside = [
            b.rr_ms for b in beats if r.t_start_utc_s <= b.t_utc_s - b.rr_ms / 1000 and b.t_utc_s <= r.t_end_utc_s
        ]
        ref = time_domain(inside)
        assert r.n_beats == len(inside)
        assert r.rmssd_ms == pytest.approx(ref.rmssd_ms, rel=1e-12)
        assert r.hr_bpm == pytest.approx(ref.hr_bpm, rel=1e-12)
        assert r.quality == 1.0
        assert r.null_reasons["lf_ms2"] is NullReason.NOT_COMPUTED
        assert "rmssd_ms" not in r.null_reasons


def test_windows_never_span_a_gap():
    rr = [1000.0] * 200
    beats = beats_from(rr, gap_at={100})
    gap_t = beats[100].t_utc_s - 1.0
    records = run(RollingWindow("d"), beats)
    assert records
    assert not any(r.t_start_utc_s < gap_t < r.t_end_utc_s for r in records)
    after = [r for r in records if r.t_end_utc_s > gap_t]
    assert after[0].t_end_utc_s == pytest.approx(gap_t + 10)  # warm-up starts again


def test_misaligned_beat_starts_a_new_segment():
    beats = beats_from([1000.0] * 50)
    late = beats_from([1000.0] * 50, t0=beats[-1].t_utc_s + 30)  # 30 s hole, no gap flag
    records = run(RollingWindow("d"), beats + late)
    hole = (beats[-1].t_utc_s, late[0].t_utc_s - 1)
    assert not any(r.t_start_utc_s < hole[1] and r.t_end_utc_s > hole[0] for r in records)


def test_implausible_rr_is_set_aside_and_splits_the_segment():
    window = RollingWindow("d")
    beats = beats_from([1000.0] * 30 + [0.0] + [1000.0] * 30)
    records = run(window, beats)
    assert window.rejected_beats == 1
    bad_t = beats[30].t_utc_s
    assert not any(r.t_start_utc_s < bad_t < r.t_end_utc_s for r in records)


def test_contact_loss_lowers_quality():
    beats = [
        Beat(device_id="d", t_utc_s=T0 + i, rr_ms=1000.0, source=BeatSource.HRS, contact=(i % 4 != 0))
        for i in range(1, 40)
    ]
    records = run(RollingWindow("d"), beats)
    assert all(0.6 < r.quality < 0.9 for r in records)


def test_too_few_beats_gives_nulls_with_reasons():
    window = RollingWindow("d", WindowConfig(window_s=10, step_s=5, warmup_s=5, max_rr_ms=2400))
    beats = beats_from([2300.0] * 5)
    records = run(window, beats)
    first = records[0]
    assert first.n_beats == 2 and first.rmssd_ms is None
    assert first.null_reasons["rmssd_ms"] is NullReason.TOO_FEW_BEATS


def test_config_validation():
    with pytest.raises(ValueError):
        WindowConfig(window_s=10, step_s=20)
    with pytest.raises(ValueError):
        WindowConfig(min_rr_ms=500, max_rr_ms=400)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(st.integers(1, 30), min_size=1, max_size=20))
def test_two_devices_interleaved_equal_separate_runs(seed, chunks):
    """Per-device windows do not depend on how the streams of two devices interleave."""
    rng = np.random.default_rng(seed)
    a = beats_from(list(800 + rng.normal(0, 30, 150)), device="a")
    b = beats_from(list(1000 + rng.normal(0, 30, 120)), device="b")
    alone = run(RollingWindow("a"), a)
    wa, wb, mixed = RollingWindow("a"), RollingWindow("b"), []
    ia = ib = 0
    for i, n in enumerate(chunks * 20):
        if i % 2 == 0:
            for beat in a[ia : ia + n]:
                mixed.extend(wa.push(beat))
            ia += n
        else:
            for beat in b[ib : ib + n]:
                wb.push(beat)
            ib += n
    assert mixed == alone[: len(mixed)]
