"""Simulator benchmarks (issue 4): a 24-hour day for 3 devices, without and with vagus's processing.

Not a test (CI does not run it). Each measurement runs as its own process, so imports and start-up
count and peak memory (ru_maxrss) is that process's own:

    .venv/bin/python benchmarks/sim_bench.py [--scenario workday] [--repeat 3]

1. **generate (in-process parts)**: people and physiology (`build_world`), every notification of every
   device (`render`, the eager host's view: HRS, PMD ECG 130 Hz + ACC 50 Hz on the strap, the watch's
   HRS, the ring's real-time packets), and the label files — timed separately inside one process.
2. **capture**: `vagus sim capture SCENARIO` as a person runs it — the above plus writing the gzip'd
   capture file.
3. **agent**: `vagus run --sim --scenario SCENARIO --speed inf --quiet` — the devices paced on the virtual
   clock, decoded, timed, windowed (60 s and 300 s every 5 s) and stored in SQLite: the simulator *with*
   vagus's processing. Only Heart Rate Service devices are read by the agent (the strap and the watch).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VAGUS = Path(sys.executable).parent / "vagus"

IN_PROCESS = """
import time, tempfile, pathlib
from vagus.sim import build_world, load_builtin, render
t = time.perf_counter()
world = build_world(load_builtin({scenario!r}))
t1 = time.perf_counter()
n = size = 0
for d in world.devices_setup:
    for note in render(d):
        n += 1
        size += len(note.payload)
t2 = time.perf_counter()
world.write_labels(pathlib.Path(tempfile.mkdtemp()) / "labels")
t3 = time.perf_counter()
print(f"{{t1 - t:.2f}} {{t2 - t1:.2f}} {{t3 - t2:.2f}} {{n}} {{size}} {{len(world.devices_setup)}}")
"""


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stdout) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603 — a fixed argv of our own, no shell
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    out = proc.stdout.read() if proc.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd} failed: {proc.stderr.read() if proc.stderr else ''}")
    return elapsed, usage.ru_maxrss / 1024.0, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="workday")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    parts = []
    for _ in range(args.repeat):
        wall, rss, out = timed([sys.executable, "-c", IN_PROCESS.format(scenario=args.scenario)])
        build, rend, labels, n, size, devices = out.split()
        parts.append((wall, rss, float(build), float(rend), float(labels)))
    wall, rss, build, rend, labels = (statistics.median(p[i] for p in parts) for i in range(5))
    print(f"generate ({devices} devices, {args.scenario}): {n} notifications, {int(size) / 1e6:.1f} MB of payload")
    print(f"  people + physiology {build:.2f} s, bytes {rend:.2f} s, labels {labels:.2f} s; "
          f"whole process {wall:.2f} s, peak RSS {rss:.0f} MB  (median of {args.repeat})")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        runs = [
            timed([str(VAGUS), "sim", "capture", args.scenario, "--out", f"{tmp}/c{i}"]) for i in range(args.repeat)
        ]
        size_mb = (Path(tmp) / "c0" / "capture.jsonl.gz").stat().st_size / 1e6
        print(f"capture: vagus sim capture {args.scenario}: {statistics.median(r[0] for r in runs):.2f} s wall, "
              f"peak RSS {statistics.median(r[1] for r in runs):.0f} MB, file {size_mb:.0f} MB")  # fmt: skip

        runs = []
        for i in range(args.repeat):
            db = f"{tmp}/v{i}.db"
            runs.append(
                timed(
                    [str(VAGUS), "run", "--sim", "--scenario", args.scenario, "--speed", "inf", "--quiet", "--db", db]
                )
            )
        wall = statistics.median(r[0] for r in runs)
        rss = statistics.median(r[1] for r in runs)
        print(
            f"agent: vagus run --sim --scenario {args.scenario} --speed inf: {wall:.2f} s wall, peak RSS {rss:.0f} MB"
        )
        print("  " + runs[0][2].strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
