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


PLAIN = {"correction": "none"}  # windows see exactly the beats pushed


def inside(beats, r):
    return [
        b.rr_ms for b in beats if r.t_start_utc_s - 1e-9 <= b.t_utc_s - b.rr_ms / 1000 and b.t_utc_s <= r.t_end_utc_s
    ]


def test_cadence_warmup_and_values():
    rng = np.random.default_rng(1)
    rr = list(900 + rng.normal(0, 40, 800))  # ~12 minutes
    beats = beats_from(rr)
    records = run(RollingWindow("d", WindowConfig(windows_s=(60,), step_s=5, warmup_s=10, **PLAIN)), beats)
    ends = np.array([r.t_end_utc_s for r in records])
    assert ends[0] == pytest.approx(T0 + 10)
    assert np.allclose(np.diff(ends), 5.0)
    assert ends[-1] > beats[-1].t_utc_s - 5
    warm = [r for r in records if r.window_s < 60 - 1e-9]
    assert [round(r.window_s) for r in warm] == list(range(10, 60, 5))
    for r in records:
        ref = time_domain(inside(beats, r))
        assert r.n_beats == len(inside(beats, r))
        for name in ("rmssd_ms", "sdnn_ms", "hr_bpm", "mean_nn_ms", "pnn50_pct", "pnn20_pct", "sd1_ms", "sd2_ms"):
            assert getattr(r, name) == pytest.approx(getattr(ref, name), rel=1e-9), name
        assert r.quality == 1.0
        assert r.null_reasons["stress_score"] is NullReason.NOT_COMPUTED
        assert "rmssd_ms" not in r.null_reasons
        assert r.lf_ms2 is None and r.null_reasons["lf_ms2"] is NullReason.WINDOW_TOO_SHORT  # 60 s cannot hold LF
        assert r.hf_ms2 is None or r.hf_ms2 > 0


def test_records_are_built_in_the_order_of_the_indicators_fields():
    # The engine builds each record positionally (a third of the cost of keywords), so a change
    # in Indicators' field order must show here, not as values in the wrong fields.
    import msgspec

    from vagus.signal import Indicators
    from vagus.signal.running import VALUE_NAMES

    names = tuple(f.name for f in msgspec.structs.fields(Indicators))
    assert names[:4] == ("device_id", "t_start_utc_s", "t_end_utc_s", "window_s")
    assert names[4:7] == ("n_beats", "quality", "window_nominal_s")
    assert names[7:14] == ("hr_bpm", "mean_nn_ms", "rmssd_ms", "sdnn_ms", "sdsd_ms", "pnn50_pct", "pnn20_pct")
    assert names[7:14] == VALUE_NAMES[:7] and names[20:23] == VALUE_NAMES[7:]
    assert names[14:20] == ("vlf_ms2", "lf_ms2", "hf_ms2", "lf_hf", "lfn_nu", "hfn_nu")
    assert names[23:] == (
        "dfa_alpha1",
        "baevsky_si",
        "baevsky_si_sqrt",
        "breathing_rate_brpm",
        "stress_score",
        "stress_level",
        "gate_reason",
        "activity_state",
        "null_reasons",
    )
    # And a whole record equals one built field by field from its own batch recipes' values.
    rng = np.random.default_rng(3)
    beats = beats_from(list(900 + rng.normal(0, 40, 500)))
    record = run(RollingWindow("d", WindowConfig(windows_s=(300,), step_s=5, warmup_s=300, **PLAIN)), beats)[-1]
    ref = time_domain(inside(beats, record))
    for name in VALUE_NAMES:
        assert getattr(record, name) == pytest.approx(getattr(ref, name), rel=1e-9), name
    assert record.window_nominal_s == 300.0 and record.lf_ms2 > 0 and record.dfa_alpha1 is not None
    assert record.stress_score is None and record.null_reasons["stress_score"] is NullReason.NOT_COMPUTED


def test_long_and_short_windows_side_by_side():
    rng = np.random.default_rng(2)
    beats = beats_from(list(850 + 30 * np.sin(np.arange(1200) / 3) + rng.normal(0, 20, 1200)))
    records = run(RollingWindow("d", WindowConfig(windows_s=(300, 60), **PLAIN)), beats)
    short = [r for r in records if r.window_nominal_s == 60]
    long = [r for r in records if r.window_nominal_s == 300]
    assert all(r.window_s == pytest.approx(300) for r in long)  # only full long windows
    assert long[0].t_end_utc_s == pytest.approx(T0 + 300)
    assert len(short) > len(long) > 100
    for r in long[::25]:
        beats_in = inside(beats, r)
        ref = time_domain(beats_in)
        assert r.n_beats == len(beats_in) and r.rmssd_ms == pytest.approx(ref.rmssd_ms, rel=1e-9)
        assert r.lf_ms2 is not None and r.hf_ms2 is not None and r.lf_hf == pytest.approx(r.lf_ms2 / r.hf_ms2)


def test_running_sums_stay_exact_over_a_day():
    rng = np.random.default_rng(3)
    rr = 800 + 80 * np.sin(np.arange(110_000) / 7) + rng.normal(0, 25, 110_000)  # ~24 h
    beats = beats_from(list(rr))
    cfg = WindowConfig(windows_s=(300,), spectral=False, resync_every=10**9, **PLAIN)  # never resynced
    records = run(RollingWindow("d", cfg), beats)
    last = records[-1]
    ref = time_domain(inside(beats, last))
    assert last.sdnn_ms == pytest.approx(ref.sdnn_ms, rel=1e-9)
    assert last.sd2_ms == pytest.approx(ref.sd2_ms, rel=1e-9)


def test_windows_never_span_a_gap():
    rr = [1000.0] * 200
    beats = beats_from(rr, gap_at={100})
    gap_t = beats[100].t_utc_s - 1.0
    records = run(RollingWindow("d", WindowConfig(**PLAIN)), beats)
    assert records
    assert not any(r.t_start_utc_s < gap_t < r.t_end_utc_s for r in records)
    after = [r for r in records if r.t_end_utc_s > gap_t]
    assert after[0].t_end_utc_s == pytest.approx(gap_t + 10)  # warm-up starts again


def test_misaligned_beat_starts_a_new_segment():
    beats = beats_from([1000.0] * 50)
    late = beats_from([1000.0] * 50, t0=beats[-1].t_utc_s + 30)  # 30 s hole, no gap flag
    records = run(RollingWindow("d", WindowConfig(**PLAIN)), beats + late)
    hole = (beats[-1].t_utc_s, late[0].t_utc_s - 1)
    assert not any(r.t_start_utc_s < hole[1] and r.t_end_utc_s > hole[0] for r in records)


def test_implausible_rr_is_set_aside_and_splits_the_segment():
    window = RollingWindow("d", WindowConfig(**PLAIN))
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
    records = run(RollingWindow("d", WindowConfig(**PLAIN)), beats)
    assert all(0.6 < r.quality < 0.9 for r in records)


def test_too_few_beats_gives_nulls_with_reasons():
    window = RollingWindow("d", WindowConfig(windows_s=(10,), step_s=5, warmup_s=5, **PLAIN))
    beats = beats_from([2300.0] * 5)
    records = run(window, beats)
    first = records[0]
    assert first.n_beats == 2 and first.rmssd_ms is None
    assert first.null_reasons["rmssd_ms"] is NullReason.TOO_FEW_BEATS
    assert first.null_reasons["lf_ms2"] is NullReason.TOO_FEW_BEATS


def test_config_validation():
    with pytest.raises(ValueError):
        WindowConfig(windows_s=(10,), step_s=20)
    with pytest.raises(ValueError):
        WindowConfig(windows_s=())
    assert WindowConfig(windows_s=(300, 60, 60)).windows_s == (60, 300)
    with pytest.raises(ValueError):
        WindowConfig(min_rr_ms=500, max_rr_ms=400)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(st.integers(1, 30), min_size=1, max_size=20))
def test_two_devices_interleaved_equal_separate_runs(seed, chunks):
    """Per-device windows do not depend on how the streams of two devices interleave."""
    rng = np.random.default_rng(seed)
    a = beats_from(list(800 + rng.normal(0, 30, 150)), device="a")
    b = beats_from(list(1000 + rng.normal(0, 30, 120)), device="b")
    cfg = WindowConfig(windows_s=(60,), spectral=False)
    alone = run(RollingWindow("a", cfg), a)
    wa, wb, mixed = RollingWindow("a", cfg), RollingWindow("b", cfg), []
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


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(st.integers(1, 50), min_size=1, max_size=30))
def test_records_do_not_depend_on_how_the_input_is_chunked(seed, chunks):
    """Feeding beats in bursts (as notifications do) or one by one gives the same records,
    artifact correction and look-ahead included."""
    rng = np.random.default_rng(seed)
    rr = list(800 + 40 * np.sin(np.arange(400) / 3) + rng.normal(0, 15, 400))
    for i in rng.choice(400, 8, replace=False):
        rr[i] *= 0.7  # premature beats for the corrector to act on
    beats = beats_from(rr)
    cfg = WindowConfig(windows_s=(60,), spectral=False)
    one_by_one = run(RollingWindow("d", cfg), beats)
    engine, chunked, i, k = RollingWindow("d", cfg), [], 0, 0
    while i < len(beats):
        n = chunks[k % len(chunks)]
        burst = beats[i : i + n]
        i, k = i + n, k + 1
        for beat in burst:
            chunked.extend(engine.push(beat))
    assert chunked == one_by_one


def test_artifacts_are_corrected_and_lower_quality():
    rng = np.random.default_rng(4)
    rr = list(900 + rng.normal(0, 15, 400))
    clean = run(RollingWindow("d", WindowConfig(windows_s=(60,), spectral=False, **PLAIN)), beats_from(rr))
    dirty_rr = list(rr)
    for i in (100, 200, 300):
        dirty_rr[i], dirty_rr[i + 1] = dirty_rr[i] * 0.7, dirty_rr[i + 1] + dirty_rr[i] * 0.3  # ectopic + pause
    engine = RollingWindow("d", WindowConfig(windows_s=(60,), spectral=False))
    fixed = run(engine, beats_from(dirty_rr)) + engine.flush()
    raw = run(RollingWindow("d", WindowConfig(windows_s=(60,), spectral=False, **PLAIN)), beats_from(dirty_rr))
    assert engine.corrected_beats >= 3
    assert min(r.quality for r in fixed) < 1.0
    # Correction brings RMSSD back towards the clean series; uncorrected it is inflated.
    clean_rmssd = np.median([r.rmssd_ms for r in clean])
    fixed_error = abs(np.median([r.rmssd_ms for r in fixed]) - clean_rmssd)
    assert fixed_error < abs(np.max([r.rmssd_ms for r in raw]) - clean_rmssd)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(300, 2000), min_size=1, max_size=600), st.sampled_from(["none", "lipponen2019", "malik"]))
def test_no_nan_or_inf_on_valid_input(rr, correction):
    engine = RollingWindow("d", WindowConfig(windows_s=(60, 300), correction=correction))
    records = run(engine, beats_from(rr)) + engine.flush()
    for r in records:
        for name in r.__slots__:
            value = getattr(r, name)
            if isinstance(value, float):
                assert np.isfinite(value), (name, value)
        assert 0.0 <= r.quality <= 1.0 and r.n_beats >= 1
        assert all(getattr(r, k) is None for k in r.null_reasons)


# -- the per-step bookkeeping ------------------------------------------------------------------


def test_bulk_running_sums_equal_the_per_beat_ones_bit_for_bit():
    # The engine brings its sums up to date once per step (extend/drop); the result must be the
    # per-beat add/remove sequence exactly, not merely close.
    from vagus.signal.running import RunningTimeDomain

    rng = np.random.default_rng(4)
    rr = list(850 + rng.normal(0, 60, 400))
    per_beat, bulk = RunningTimeDomain(rr[0]), RunningTimeDomain(rr[0])
    lo = hi = 0
    for stop in range(7, 400, 7):
        for i in range(hi, stop):
            per_beat.add(rr[i], rr[i - 1] if i > lo else None)
        bulk.extend(rr, hi, stop, lo)
        hi = stop
        new_lo = max(lo, stop - 60)
        for i in range(lo, new_lo):
            per_beat.remove(rr[i], rr[i + 1] if i + 1 < stop else None)
        bulk.drop(rr, lo, new_lo, stop)
        lo = new_lo
        assert bulk.indices() == per_beat.indices()
    ref = time_domain(rr[lo:hi])
    assert bulk.indices()["rmssd_ms"] == pytest.approx(ref.rmssd_ms, rel=1e-9)


def test_hours_of_beats_match_the_batch_recipes_in_both_windows():
    # Longer than the engine's beat lists hold before compacting, with a 60-s and a 300-s window:
    # the last records' time and frequency domains equal the batch functions on their beats.
    from vagus.signal.frequency import frequency_domain

    rng = np.random.default_rng(5)
    rr = list(700 + 50 * np.sin(np.arange(6000) / 4) + rng.normal(0, 15, 6000))  # ~70 min
    beats = beats_from(rr)
    records = run(RollingWindow("d", WindowConfig(**PLAIN)), beats)
    for nominal in (60.0, 300.0):
        last = [r for r in records if r.window_nominal_s == nominal][-1]
        beats_in = inside(beats, last)
        assert last.n_beats == len(beats_in)
        assert last.sdnn_ms == pytest.approx(time_domain(beats_in).sdnn_ms, rel=1e-9)
        ref = frequency_domain(beats_in)
        assert last.hf_ms2 == pytest.approx(ref.hf_ms2, rel=5e-3)
        if nominal == 300.0:
            assert last.lf_ms2 == pytest.approx(ref.lf_ms2, rel=5e-3)


def test_a_window_that_skips_spectra_restarts_its_stream():
    # A 5-s window at 25–50 bpm holds 1–3 beats: steps with too few beats compute no spectrum,
    # so the window's spectral stream falls behind its beats and starts afresh (its bands stay
    # null: no band fits in 5 s); the 60-s window beside it is unaffected.
    rr = [1200.0, 1200.0, 1200.0, 2400.0, 2400.0, 2400.0, 1300.0, 2400.0] * 40
    beats = beats_from(rr)
    cfg = WindowConfig(windows_s=(5.0, 60.0), step_s=5.0, warmup_s=5.0, **PLAIN)
    records = run(RollingWindow("d", cfg), beats)
    short = [r for r in records if r.window_nominal_s == 5.0]
    assert any(r.n_beats < 3 for r in short) and any(r.n_beats >= 3 for r in short)
    for r in short:
        reason = NullReason.TOO_FEW_BEATS if r.n_beats < 3 else NullReason.WINDOW_TOO_SHORT
        assert r.hf_ms2 is None and r.null_reasons["hf_ms2"] is reason
    long = [r for r in records if r.window_nominal_s == 60.0]
    from vagus.signal.frequency import frequency_domain

    computed = 0
    for r in long:
        ref = frequency_domain(inside(beats, r))
        assert r.null_reasons.get("hf_ms2") == ref.null_reasons.get("hf_ms2")
        if ref.hf_ms2 is not None:
            assert r.hf_ms2 == pytest.approx(ref.hf_ms2, rel=5e-3)
            computed += 1
    assert computed > 10
