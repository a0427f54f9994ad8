"""One side of the speed benchmark: HRV of every 300-s window, every 5 s, over the benchmark day.

    python benchmarks/hrv_windows.py vagus OUT.npy
    python benchmarks/hrv_windows.py neurokit2 OUT.npy [--every N]

`vagus` feeds the day beat by beat through the agent's streaming engine (running time-domain
sums, Welch frequency domain per step, no artifact correction so both sides see the same beats).
`neurokit2` calls `hrv_time` and `hrv_frequency(normalize=False, interpolation_rate=4)` on the
same windows. Each writes rows (end_s, n_beats, rmssd_ms, sdnn_ms, lf_ms2, hf_ms2) and prints
its elapsed seconds; `compare.py` runs both as separate processes.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from day import build_day, window_bounds

WINDOW_S, STEP_S = 300.0, 5.0


def run_vagus(rr: np.ndarray) -> np.ndarray:
    from vagus.signal import Beat, BeatSource, RollingWindow, WindowConfig

    engine = RollingWindow(
        "bench",
        # Time + frequency domain, as the neurokit2 side; no correction, so both see the same beats.
        WindowConfig(
            windows_s=(WINDOW_S,),
            step_s=STEP_S,
            warmup_s=STEP_S,
            correction="none",
            nonlinear=False,
            breathing=False,  # not an index neurokit2's side computes
        ),
    )
    rows = []
    t = 0.0
    push, source = engine.push, BeatSource.FILE
    for value in rr.tolist():
        t += value / 1000.0
        for r in push(Beat("bench", t, value, source)):
            if r.window_s >= WINDOW_S - 1e-6:
                rows.append((r.t_end_utc_s, r.n_beats, r.rmssd_ms, r.sdnn_ms, _nan(r.lf_ms2), _nan(r.hf_ms2)))
    return np.array(rows, dtype=np.float64)


def _nan(value: float | None) -> float:
    return np.nan if value is None else value


def run_neurokit2(rr: np.ndarray, every: int) -> np.ndarray:
    import neurokit2 as nk

    rows = []
    for i, (lo, hi, end_s) in enumerate(window_bounds(rr, window_s=WINDOW_S, step_s=STEP_S)):
        if i % every:
            continue
        w = rr[lo:hi]
        rri = {"RRI": w, "RRI_Time": np.cumsum(w) / 1000.0}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = nk.hrv_time(rri)
            f = nk.hrv_frequency(rri, normalize=False, interpolation_rate=4)
        rows.append(
            (
                end_s,
                hi - lo,
                float(t["HRV_RMSSD"].iloc[0]),
                float(t["HRV_SDNN"].iloc[0]),
                float(f["HRV_LF"].iloc[0]),
                float(f["HRV_HF"].iloc[0]),
            )
        )
    return np.array(rows, dtype=np.float64)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("impl", choices=("vagus", "neurokit2"))
    parser.add_argument("out", type=Path)
    parser.add_argument("--every", type=int, default=1, help="neurokit2: only every N-th window")
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    rr = build_day(duration_s=args.hours * 3600)
    start = time.perf_counter()
    rows = run_vagus(rr) if args.impl == "vagus" else run_neurokit2(rr, args.every)
    elapsed = time.perf_counter() - start
    np.save(args.out, rows)
    print(f"{args.impl}: {len(rows)} windows in {elapsed:.2f} s")


if __name__ == "__main__":
    main()
