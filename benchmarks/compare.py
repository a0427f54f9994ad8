"""Speed, memory and agreement of vagus and neurokit2 on the 24-hour benchmark day.

    .venv/bin/python benchmarks/compare.py [--every N] [--hours H]

Runs each side of `hrv_windows.py` as its own process (so imports, start-up and peak memory are
each side's own), then prints: windows computed, wall time, time per window, the speed ratio
per window, each process's peak resident memory (ru_maxrss from wait4), and the share of
windows where vagus' LF and HF are within 1 % of neurokit2's. `--every N` computes neurokit2 on
every N-th window only (its per-window time is then scaled), to keep a run short.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


# Both sides load cached bytecode, as an installed program does: neurokit2's was compiled by pip at
# install, vagus' (an editable checkout) is written by a warm-up import. Without it, an environment
# with PYTHONDONTWRITEBYTECODE set recompiles vagus' sources in every timed run and not neurokit2's.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def warm_up() -> None:
    subprocess.run(
        [sys.executable, "-c", "import vagus.signal.window, vagus.signal.spectrum_stream"], env=_ENV, check=True
    )


def run(impl: str, out: Path, extra: list[str]) -> tuple[float, float, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(  # noqa: S603 — a fixed argv of our own, no shell
        [sys.executable, str(HERE / "hrv_windows.py"), impl, str(out), *extra],
        stdout=subprocess.PIPE,
        text=True,
        env=_ENV,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    output = proc.stdout.read() if proc.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{impl} failed: {output}")
    return elapsed, usage.ru_maxrss / 1024.0, output.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    hours = ["--hours", str(args.hours)]
    warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        v_out, n_out = Path(tmp) / "vagus.npy", Path(tmp) / "nk.npy"
        v_s, v_mb, v_msg = run("vagus", v_out, hours)
        n_s, n_mb, n_msg = run("neurokit2", n_out, [*hours, "--every", str(args.every)])
        v, n = np.load(v_out), np.load(n_out)
    print(v_msg)
    print(n_msg)
    per_v, per_n = v_s / len(v), n_s / len(n)
    print(f"vagus     : {len(v):6d} windows, {v_s:8.2f} s wall, {per_v * 1e3:7.3f} ms/window, peak RSS {v_mb:6.1f} MB")
    print(f"neurokit2 : {len(n):6d} windows, {n_s:8.2f} s wall, {per_n * 1e3:7.3f} ms/window, peak RSS {n_mb:6.1f} MB")
    print(f"speed ratio (per window, whole processes): {per_n / per_v:.0f}x")
    # Agreement on the windows both computed (matched by end time).
    index = {round(t, 6): i for i, t in enumerate(v[:, 0])}
    pairs = [(index[round(t, 6)], j) for j, t in enumerate(n[:, 0]) if round(t, 6) in index]
    vi, nj = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    same_beats = np.mean(v[vi, 1] == n[nj, 1])
    lf_ok = np.abs(v[vi, 4] / n[nj, 4] - 1) <= 0.01
    hf_ok = np.abs(v[vi, 5] / n[nj, 5] - 1) <= 0.01
    rmssd = np.max(np.abs(v[vi, 2] / n[nj, 2] - 1))
    print(f"matched windows: {len(pairs)} (same beat count in {same_beats:.1%})")
    print(f"RMSSD max relative difference: {rmssd:.2e}")
    print(f"LF within 1 %: {lf_ok.mean():.1%}   HF within 1 %: {hf_ok.mean():.1%}   both: {(lf_ok & hf_ok).mean():.1%}")


if __name__ == "__main__":
    main()
