"""Breathing rate from RR intervals against a real respiration belt (benchmarks/breathing_real.py).

The recording (ECG + belt, 25.6 min, Legrand et al. 2020, shipped in the systole 0.3.1 sdist) is
not in the repository: it is read from a pip-fetched tarball pinned by sha256, in
``$VAGUS_REAL_DATA`` or ``~/.cache/vagus/real-data``. Absent, the check skips (fails in CI) with the
command that fetches it:

    .venv/bin/python benchmarks/breathing_real.py --fetch-only

Issue 5's target is an MAE ≤ 2 breaths/min on the windows vagus reports. It is held out: nothing
in vagus was tuned on this recording (two estimators have been run on it, each fixed beforehand:
the spectral peak failed, the breath count with its agreement rule passes; docs/indicators.md).
~15 s of CPU.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.benchmark_module import load_benchmark
from tests.conftest import IN_CI

TARGET_MAE_BRPM = 2.0  # issue 5
# A check that reports in under half of the minutes with a readable belt hides its errors in its
# silences. Set when vagus reported in 81 % of them (spectral peak alone), before the breath count
# and its agreement rule, which report in 60 %.
MIN_SHARE_REPORTED = 0.5


@pytest.fixture(scope="module")
def breathing_real():
    return load_benchmark("breathing_real")


@pytest.fixture(scope="module")
def systole(breathing_real):
    data = Path(os.environ.get("VAGUS_REAL_DATA") or breathing_real.DEFAULT_DATA)
    try:
        path = breathing_real.tarball(breathing_real.SYSTOLE, data, download=False)
    except FileNotFoundError as exc:
        if IN_CI:
            pytest.fail(f"{exc} (CI must fetch it first)")
        pytest.skip(str(exc))
    results, n_peaks = breathing_real.evaluate(breathing_real.load_systole(path))
    rows, median_ref = breathing_real.summaries(results)
    return results, n_peaks, {row.label.strip(): row for row in rows}, median_ref


def test_the_recording_is_a_fair_test(breathing_real, systole) -> None:
    results, n_peaks, _, median_ref = systole
    duration_s = results[-1].t_end_s
    # Every beat found: the ECG's own heart rate, 40–120 bpm at rest, and few Lipponen corrections.
    assert 40 <= 60 * n_peaks / duration_s <= 120
    valid = [r for r in results if r.valid]
    assert len(valid) >= 0.75 * len(results)
    # The belt's rate lies inside vagus' search band (0.15–0.70 Hz), so a miss is the estimator's.
    assert 9.0 < median_ref < 42.0
    # The two readings of the belt (interval rate, breath count) agree: the reference is stable.
    assert np.mean([abs(r.ref_brpm - r.count_brpm) for r in valid]) < 1.0


def test_issue_target_on_every_readable_window(systole) -> None:
    # Met since the breath count with the agreement rule (2026-11-27: MAE 1.60 on the 60 % of the 253
    # readable windows reported; the spectral peak alone had 3.3 on 81 %, worse than a constant).
    _, _, rows, _ = systole
    s = rows["valid belt"]
    assert s.share_reported >= MIN_SHARE_REPORTED
    assert s.mae <= TARGET_MAE_BRPM
    assert s.mae < s.baseline_mae  # the estimate carries information beyond the person's usual rate


def test_target_met_where_the_belt_shows_one_clear_rhythm(systole) -> None:
    # Windows whose breath-peak rate agrees with the belt's own spectral peak (a belt-only rule,
    # fixed before vagus' numbers were seen): steady breathing without sighs or movement.
    _, _, rows, _ = systole
    s = rows["unambiguous reference"]
    assert s.windows >= 60  # ≥ 5 independent minutes
    assert s.share_reported >= MIN_SHARE_REPORTED
    assert s.mae <= TARGET_MAE_BRPM
    assert s.mae < s.baseline_mae
    assert s.pearson_r > 0.5


def test_a_pinned_source_rejects_another_file(breathing_real, tmp_path: Path) -> None:
    source = breathing_real.SYSTOLE
    with pytest.raises(FileNotFoundError, match="pip download"):
        breathing_real.tarball(source, tmp_path, download=False)
    (tmp_path / source.filename).write_bytes(b"not the sdist")
    with pytest.raises(ValueError, match="sha256"):
        breathing_real.tarball(source, tmp_path, download=False)


def test_rail_mask_flags_saturation_not_a_resting_trough(breathing_real) -> None:
    fs = 1000.0
    t = np.arange(0, 20, 1 / fs)
    belt = np.round(np.sin(2 * np.pi * 0.3 * t), 3)  # quantised: troughs rest on one step for ms
    assert not breathing_real.rail_mask(belt, fs).any()
    clipped = belt.copy()
    clipped[5000:5400] = -10.0  # 0.4 s at the amplifier's rail
    clipped[9000:9004] = -10.0  # a brief touch of the same rail
    mask = breathing_real.rail_mask(clipped, fs)
    assert mask.sum() == 404 and mask[9000:9004].all()
