"""The 24-hour benchmark day: real RR recordings from ../shared/data, concatenated and repeated.

Clean recordings only (the `hrv` library's rest_rri and real_rri, pyHRV's long and short NSRDB
series, ~93 minutes together), in a fixed order, repeated until 24 hours are filled, so every
run of every benchmark sees the same 24 h of beats. The data stays outside the repository.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DAY_S = 86_400.0


def _lines(path: Path) -> np.ndarray:
    values = np.array([float(x) for x in path.read_text().split()])
    return values[values > 0]  # real_rri.txt ends with a 0 line


def recordings(shared: Path = SHARED_DATA) -> list[np.ndarray]:
    missing = [p for p in ("hrv/rest_rri.txt", "pyhrv/SampleNNISeriesLong.npy") if not (shared / p).exists()]
    if missing:
        raise SystemExit(f"benchmark data missing under {shared}: {missing}")
    return [
        _lines(shared / "hrv/rest_rri.txt"),
        np.load(shared / "pyhrv/SampleNNISeriesLong.npy").astype(np.float64),
        _lines(shared / "hrv/real_rri.txt"),
        np.load(shared / "pyhrv/SampleNNISeriesShort.npy").astype(np.float64),
    ]


def build_day(shared: Path = SHARED_DATA, duration_s: float = DAY_S) -> np.ndarray:
    """RR intervals in ms adding up to at least ``duration_s``."""
    parts = recordings(shared)
    one_pass = np.concatenate(parts)
    repeats = int(np.ceil(duration_s / (one_pass.sum() / 1000.0)))
    day = np.tile(one_pass, repeats)
    end = int(np.searchsorted(np.cumsum(day) / 1000.0, duration_s)) + 1
    return day[:end]


def window_bounds(rr_ms: np.ndarray, *, window_s: float, step_s: float) -> list[tuple[int, int, float]]:
    """(first, end) beat indices and end time of each full trailing window ending at
    window_s, window_s + step_s, …: the beats whose whole interval lies inside [end − window, end],
    which is what vagus' streaming engine reports."""
    end_t = np.cumsum(rr_ms / 1000.0)  # summed in seconds, as the engine does, so edges fall alike
    start_t = end_t - rr_ms / 1000.0
    out = []
    e = window_s
    while e <= end_t[-1]:
        lo = int(np.searchsorted(start_t, e - window_s - 1e-9, side="left"))
        hi = int(np.searchsorted(end_t, e + 1e-9, side="right"))
        out.append((lo, hi, e))
        e += step_s
    return out
