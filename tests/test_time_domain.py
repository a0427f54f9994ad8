"""Time-domain and Poincaré indices against published values and neurokit2."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vagus.signal import time_domain
from vagus.signal.time_domain import Conventions

from .conftest import load_rr_ms, shared_data


def _neurokit(rr_ms: np.ndarray) -> dict[str, float]:
    import neurokit2 as nk

    rri = {"RRI": rr_ms, "RRI_Time": np.cumsum(rr_ms) / 1000.0}
    t = nk.hrv_time(rri)
    n = nk.hrv_nonlinear(rri)
    return {
        "mean_nn_ms": float(t["HRV_MeanNN"].iloc[0]),
        "sdnn_ms": float(t["HRV_SDNN"].iloc[0]),
        "rmssd_ms": float(t["HRV_RMSSD"].iloc[0]),
        "sdsd_ms": float(t["HRV_SDSD"].iloc[0]),
        "pnn50_pct": float(t["HRV_pNN50"].iloc[0]),
        "pnn20_pct": float(t["HRV_pNN20"].iloc[0]),
        "sd1_ms": float(n["HRV_SD1"].iloc[0]),
        "sd2_ms": float(n["HRV_SD2"].iloc[0]),
        "sd1_sd2": float(n["HRV_SD1SD2"].iloc[0]),
    }


def test_rest_rri_matches_the_hrv_library_published_values():
    # rhenanbartels/hrv, hrv/classical.py docstrings, on sampledata/rest_rri.txt.
    td = time_domain(load_rr_ms("hrv/rest_rri.txt"))
    assert td.rmssd_ms == pytest.approx(55.1374, abs=5e-5)
    assert td.sdnn_ms == pytest.approx(57.8182, abs=5e-5)
    assert td.sdsd_ms == pytest.approx(55.1677, abs=5e-5)
    assert td.pnn50_pct == pytest.approx(35.2747, abs=5e-5)
    assert td.mean_nn_ms == pytest.approx(1058.7187, abs=5e-5)
    assert td.hr_bpm == pytest.approx(56.8528, abs=5e-5)  # mean(60000/RR), hrv's "mhr"


def _report_value(label: str) -> float:
    """A value printed in pyHRV's SampleReport.txt, e.g. "RMSSD (ms)   ; 60.523"."""
    for line in shared_data("pyhrv/SampleReport.txt").read_text().splitlines():
        if line.startswith(label):
            return float(line.split(";")[1])
    raise KeyError(label)


def test_pyhrv_report_reproduced_with_pyhrv_conventions():
    # SampleReport.txt reports 4684 NN intervals with mean 768.438 ms: it is the report of
    # SampleNNISeriesLong.npy, not of the short series research/signal.md names.
    rr = np.load(shared_data("pyhrv/SampleNNISeriesLong.npy")).astype(float)
    assert _report_value("Number of NNIs") == rr.size
    td = time_domain(rr, conventions=Conventions.pyhrv())
    for label, value in [
        ("Mean NNI (ms)", td.mean_nn_ms),
        ("Mean Heart Rate (bpm)", td.hr_bpm),
        ("SDNN (ms)", td.sdnn_ms),
        ("SDSD (ms)", td.sdsd_ms),
        ("RMSSD (ms)", td.rmssd_ms),
        ("pNN50 (%)", td.pnn50_pct),
        ("pNN20 (%)", td.pnn20_pct),
        ("SD1 (ms)", td.sd1_ms),
        ("SD2 (ms)", td.sd2_ms),
        ("SD2/SD1 (-)", 1 / td.sd1_sd2),
    ]:
        assert round(value, 3) == _report_value(label), label


def test_pyhrv_short_series_values_from_research_notes():
    # research/signal.md §1.9(a): pyHRV's values on the short series; pNN50 over N−1 differences.
    rr = np.load(shared_data("pyhrv/SampleNNISeriesShort.npy")).astype(float)
    td = time_domain(rr, conventions=Conventions.pyhrv())
    assert (round(td.mean_nn_ms, 3), round(td.sdnn_ms, 3), round(td.rmssd_ms, 3)) == (888.955, 95.690, 101.301)
    assert round(td.pnn50_pct, 3) == 48.512
    assert (round(td.sd1_ms, 3), round(td.sd2_ms, 3)) == (71.630, 114.785)
    nk = time_domain(rr)
    assert round(nk.pnn50_pct, 3) == 48.368  # neurokit2's denominator N
    assert (round(nk.sd1_ms, 3), round(nk.sd2_ms, 3)) == (71.737, 114.956)


@pytest.mark.parametrize("seed", range(5))
def test_matches_neurokit2_on_random_series(seed):
    rng = np.random.default_rng(seed)
    rr = 900 + 60 * np.sin(np.arange(300) / 4) + rng.normal(0, 40, 300)
    ours = time_domain(rr)
    for name, ref in _neurokit(rr).items():
        assert getattr(ours, name) == pytest.approx(ref, rel=1e-6), name


def test_matches_neurokit2_on_real_series():
    rr = np.asarray(load_rr_ms("hrv/real_rri.txt"))
    ours = time_domain(rr)
    for name, ref in _neurokit(rr).items():
        assert getattr(ours, name) == pytest.approx(ref, rel=1e-6), name


@pytest.mark.parametrize("bad", [[], [800.0, 810.0], [800.0, 0.0, 810.0], [800.0, float("nan"), 820.0, 830.0]])
def test_rejects_too_short_or_invalid_input(bad):
    with pytest.raises(ValueError):
        time_domain(bad)


@given(st.lists(st.floats(300, 2400), min_size=3, max_size=400))
def test_finite_and_consistent_on_valid_input(rr):
    td = time_domain(rr)
    values = [td.mean_nn_ms, td.hr_bpm, td.sdnn_ms, td.rmssd_ms, td.sdsd_ms, td.pnn50_pct, td.sd1_ms, td.sd2_ms]
    assert all(np.isfinite(values))
    assert 0 <= td.pnn50_pct <= 100
    # SD1 is SDSD/√2 by construction of the Poincaré axes (Brennan et al. 2001).
    assert td.sd1_ms == pytest.approx(td.sdsd_ms / np.sqrt(2), rel=1e-9, abs=1e-9)


def test_docstring_examples_run():
    import doctest
    import importlib

    module = importlib.import_module("vagus.signal.time_domain")  # the package re-exports a function of that name
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
