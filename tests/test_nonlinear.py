"""DFA α1 against neurokit2, Baevsky's stress index against a histogram worked by hand."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vagus.signal.nonlinear import (
    SI_MIN_BEATS,
    Nonlinear,
    baevsky_stress_index,
    dfa_alpha1,
    nonlinear,
)
from vagus.signal.records import NullReason

from .conftest import load_rr_ms, shared_data

FIELDS = ("dfa_alpha1", "baevsky_si", "baevsky_si_sqrt")


def _nk_fractal_dfa(rr_ms: np.ndarray, scales: tuple[int, int]) -> float:
    """The call neurokit2's hrv_nonlinear makes for HRV_DFA_alpha1 (hrv_nonlinear.py, _hrv_dfa)."""
    import neurokit2 as nk

    lo, hi = scales
    window = np.linspace(lo, hi, int(hi - lo + 1)).astype(int)
    alpha, _ = nk.fractal_dfa(rr_ms, multifractal=False, scale=window)
    return float(alpha)


def _nk_hrv_nonlinear_alpha1(rr_ms: np.ndarray) -> float:
    import neurokit2 as nk

    with warnings.catch_warnings():
        # Its entropy and multifractal indices warn on some short series; α1 is unaffected.
        warnings.simplefilter("ignore")
        out = nk.hrv_nonlinear({"RRI": rr_ms, "RRI_Time": np.cumsum(rr_ms) / 1000.0})
    return float(out["HRV_DFA_alpha1"].iloc[0])


def _real_series() -> dict[str, np.ndarray]:
    return {
        "rest_rri": np.asarray(load_rr_ms("hrv/rest_rri.txt")),
        "real_rri": np.asarray(load_rr_ms("hrv/real_rri.txt")),
        "pyhrv_short": np.load(shared_data("pyhrv/SampleNNISeriesShort.npy")).astype(float),
        "pyhrv_long": np.load(shared_data("pyhrv/SampleNNISeriesLong.npy")).astype(float),
    }


# -- DFA α1 -------------------------------------------------------------------------------------


def test_dfa_alpha1_matches_neurokit2_hrv_nonlinear():
    # hrv_nonlinear takes seconds on long series (entropies, MFDFA), so: the 5-min sample and
    # 300-beat stretches of the two hrv recordings.
    series = _real_series()
    for rr in (series["pyhrv_short"], series["rest_rri"][300:600], series["real_rri"][:300]):
        assert dfa_alpha1(rr) == pytest.approx(_nk_hrv_nonlinear_alpha1(rr), rel=1e-6)


@pytest.mark.parametrize("scales", [(4, 11), (4, 16)])
def test_dfa_alpha1_matches_neurokit2_on_real_series(scales):
    for name, rr in _real_series().items():
        assert dfa_alpha1(rr, scales=scales) == pytest.approx(_nk_fractal_dfa(rr, scales), rel=1e-6), name


@pytest.mark.parametrize("seed", range(5))
def test_dfa_alpha1_matches_neurokit2_on_random_series(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(22, 600))
    rr = 900 + 50 * np.sin(np.arange(n) / 5) + np.cumsum(rng.normal(0, 8, n)) + rng.normal(0, 30, n)
    assert dfa_alpha1(rr) == pytest.approx(_nk_fractal_dfa(rr, (4, 11)), rel=1e-6)


def test_dfa_alpha1_published_values_on_the_pyhrv_sample():
    # signal.md §0.5: neurokit2 gives 0.679 over 4–11 beats and 0.672 over 4–16 (pyHRV: 0.756).
    rr = np.load(shared_data("pyhrv/SampleNNISeriesShort.npy")).astype(float)
    assert round(dfa_alpha1(rr), 3) == 0.679
    assert round(dfa_alpha1(rr, scales=(4, 16)), 3) == 0.672


def test_dfa_alpha1_needs_two_windows_of_the_largest_size():
    rng = np.random.default_rng(3)
    rr = 800 + rng.normal(0, 40, 40)
    assert dfa_alpha1(rr[:21]) is None
    assert dfa_alpha1(rr[:22]) is not None
    assert dfa_alpha1(rr[:31], scales=(4, 16)) is None
    assert dfa_alpha1(rr[:32], scales=(4, 16)) is not None
    assert nonlinear(rr[:21]).null_reasons["dfa_alpha1"] is NullReason.TOO_FEW_BEATS


@pytest.mark.parametrize("scales", [(1, 11), (11, 4), (4, 4), (4.5, 11)])
def test_dfa_alpha1_rejects_invalid_scales(scales):
    with pytest.raises(ValueError, match="scales"):
        dfa_alpha1([800.0] * 50, scales=scales)


# -- Baevsky's stress index ---------------------------------------------------------------------

# 40 beats, in no particular order. With 50-ms bins aligned to multiples of 50 ms:
#   [650, 700):  650 ×2                        →  2
#   [750, 800):  760 ×5, 790 ×3                →  8
#   [800, 850):  800 ×6, 820 ×4, 849.9 ×2      → 12   ← the mode
#   [850, 900):  850 ×5 (an edge goes up), 880 ×3 →  8
#   [900, 950):  910 ×6                        →  6
#   [950, 1000): 960 ×4                        →  4
# Mo    = centre of [800, 850) = 825 ms = 0.825 s
# AMo   = 12 / 40 = 30 %
# MxDMn = 960 − 650 = 310 ms = 0.310 s
# SI    = AMo / (2 · Mo · MxDMn) = 30 / (2 · 0.825 · 0.310) = 30 / 0.5115 = 58.6510…
# √SI   = 7.6584…
HAND_RR_MS = [
    rr
    for row in (
        (820.0, 650.0, 910.0, 760.0, 800.0, 850.0, 960.0, 790.0, 880.0, 800.0),
        (849.9, 760.0, 910.0, 850.0, 800.0, 650.0, 820.0, 960.0, 760.0, 880.0),
        (800.0, 910.0, 850.0, 790.0, 820.0, 960.0, 800.0, 760.0, 910.0, 850.0),
        (849.9, 880.0, 800.0, 790.0, 820.0, 910.0, 760.0, 960.0, 850.0, 910.0),
    )
    for rr in row
]


def test_baevsky_si_on_a_histogram_worked_by_hand():
    assert len(HAND_RR_MS) == 40
    si = baevsky_stress_index(HAND_RR_MS)
    assert si == pytest.approx(30 / (2 * 0.825 * 0.310), rel=1e-12)
    assert si == pytest.approx(58.6510, abs=1e-4)
    nl = nonlinear(HAND_RR_MS)
    assert nl.baevsky_si == si
    assert nl.baevsky_si_sqrt == pytest.approx(7.6584, abs=1e-4)  # Kubios' "Stress index"


def test_baevsky_si_with_baevskys_original_bin():
    # 1/128 s = 7.8125 ms bins: bin k is [7.8125·k, 7.8125·(k+1)). The six 800s fall in k = 102
    # ([796.875, 804.6875)), but 849.9 ×2 and 850 ×5 share k = 108 ([843.75, 851.5625)): 7 beats,
    # the tallest. Mo = 847.65625 ms, AMo = 7/40 = 17.5 %, MxDMn still 0.310 s.
    si = baevsky_stress_index(HAND_RR_MS, bin_ms=1000 / 128)
    assert si == pytest.approx(17.5 / (2 * 0.84765625 * 0.310), rel=1e-12)


def test_baevsky_si_ties_go_to_the_shorter_bin():
    # 15 beats each in [800, 850) and [900, 950): Mo = 0.825 s, AMo = 50 %, MxDMn = 0.1 s.
    rr = [810.0] * 15 + [910.0] * 15
    assert baevsky_stress_index(rr) == pytest.approx(50 / (2 * 0.825 * 0.1))


def test_baevsky_si_reference_values_computed_in_signal_md():
    # signal.md §1.6 (computed there with the same convention, not published elsewhere).
    short = np.load(shared_data("pyhrv/SampleNNISeriesShort.npy")).astype(float)
    assert baevsky_stress_index(short) == pytest.approx(33.25, abs=5e-3)  # Mo 0.825, AMo 26.11 %, 0.476 s
    assert baevsky_stress_index(load_rr_ms("hrv/rest_rri.txt")) == pytest.approx(41.54, abs=5e-3)


def test_baevsky_si_needs_enough_beats_and_some_variability():
    assert baevsky_stress_index(HAND_RR_MS[: SI_MIN_BEATS - 1]) is None
    assert baevsky_stress_index(HAND_RR_MS[:SI_MIN_BEATS]) is not None
    assert nonlinear(HAND_RR_MS[:10]).null_reasons["baevsky_si"] is NullReason.TOO_FEW_BEATS
    flat = nonlinear([800.0] * 60)
    assert flat.baevsky_si is None and flat.baevsky_si_sqrt is None and flat.dfa_alpha1 is None
    assert flat.null_reasons == dict.fromkeys(FIELDS, NullReason.NO_VARIABILITY)


@pytest.mark.parametrize("bin_ms", [0.0, -50.0, float("nan")])
def test_baevsky_si_rejects_invalid_bins(bin_ms):
    with pytest.raises(ValueError, match="bin_ms"):
        baevsky_stress_index(HAND_RR_MS, bin_ms=bin_ms)


# -- the record, invalid and arbitrary input ------------------------------------------------------


def test_nonlinear_record_on_a_real_series():
    rr = np.load(shared_data("pyhrv/SampleNNISeriesShort.npy")).astype(float)
    nl = nonlinear(rr)
    assert nl.null_reasons == {}
    assert nl.dfa_alpha1 == dfa_alpha1(rr)
    assert nl.baevsky_si_sqrt == pytest.approx(math.sqrt(nl.baevsky_si))


@pytest.mark.parametrize("bad", [[], [800.0, 0.0, 810.0], [800.0, -1.0], [800.0, float("nan"), 820.0], [[800.0]]])
@pytest.mark.parametrize("function", [nonlinear, dfa_alpha1, baevsky_stress_index])
def test_rejects_empty_or_invalid_input(function, bad):
    with pytest.raises(ValueError, match=r"rr_ms|RR"):
        function(bad)


@settings(deadline=None)
@given(st.lists(st.floats(300, 2000), min_size=3, max_size=500))
def test_no_nan_or_inf_and_every_null_has_a_reason(rr):
    nl = nonlinear(rr)
    assert isinstance(nl, Nonlinear)
    for name in FIELDS:
        value = getattr(nl, name)
        if value is None:
            assert name in nl.null_reasons, name
        else:
            assert math.isfinite(value) and name not in nl.null_reasons, name
    if nl.baevsky_si is not None:
        assert nl.baevsky_si > 0 and nl.baevsky_si_sqrt == pytest.approx(math.sqrt(nl.baevsky_si))


def test_docstring_examples_run():
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module("vagus.signal.nonlinear"))
    assert result.attempted > 0 and result.failed == 0
