"""Footprint of the edge agent on simulated Heart Rate Service straps (issue 6, acceptance "Footprint").

Not a test (CI does not run it; timings are never asserted). Every measurement runs in its own process,
so imports, start-up and peak memory (``ru_maxrss`` from ``os.wait4``) are that process's own:

    .venv/bin/python benchmarks/footprint.py            # all three parts; the strap search 10 min per K
    .venv/bin/python benchmarks/footprint.py --quick    # the strap search 1 min per K
    .venv/bin/python benchmarks/footprint.py --only lag --ks 100,200,400 --minutes 10

1. **rss**: peak resident memory of ``vagus run --sim --people 3 --duration 60`` at ``--speed 1`` and
   ``--speed 100`` (the default scenario, ``day``: three chest straps worn a simulated workday), with an
   empty config (``XDG_CONFIG_HOME`` in a temporary folder) and a temporary store. Target ≤ 80 MB.
2. **cpu**: CPU seconds (user + system, from ``wait4``) of ``vagus run --sim --scenario resting --people N
   --speed 1`` over its wall time, per strap, in % of one core: raw (start-up included), and at steady
   state — the same command with ``--duration 0.01`` (imports, building the world, start-up) subtracted.
   Target ≤ 1 % of one core per device.
3. **lag**: how many straps one core keeps up with in real time. In a child process pinned to one core
   (``os.sched_setaffinity``), ``vagus.edge.Agent`` reads K simulated straps (K people of the built-in
   ``resting`` scenario) paced by a ``SimClock`` at speed 1, for ``--minutes``. For every indicator record,
   lag = wall time it was produced − wall time at which the notification that produced it was due
   (its virtual time mapped onto the wall clock from the run's start). The agent handles each
   notification synchronously (``DeviceLink.on_notify``); a record produced outside a notification
   handler falls back to the first notification due at or after the record's window end, and is counted.
   K = 50, 100, 200, 400 …: the largest K with p99 lag under one step (5 s). Target ≥ 200.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VAGUS = Path(sys.executable).parent / "vagus"
STEP_S = 5.0


def _run(args: list[str], *, cpu: int | None = None) -> dict[str, float]:
    """Run ``args`` in a fresh process with an empty config and store; wall s, CPU s, peak RSS MB (wait4)."""
    with tempfile.TemporaryDirectory(prefix="vagus-footprint-") as tmp:
        env = {**os.environ, "XDG_CONFIG_HOME": tmp}
        if args[0] == str(VAGUS):
            args = [*args, "--db", str(Path(tmp) / "vagus.db")]
        pre = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
        with open(Path(tmp) / "out", "wb") as out, open(Path(tmp) / "err", "wb") as err:
            started = time.monotonic()
            proc = subprocess.Popen(args, env=env, stdout=out, stderr=err, preexec_fn=pre)  # noqa: PLW1509, S603 — a fixed argv of our own, no shell
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
        stdout = (Path(tmp) / "out").read_text()
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} failed ({proc.returncode}):\n{(Path(tmp) / 'err').read_text()[-2000:]}"
            )
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024.0,
        "stdout": stdout,
    }


def rss(duration_s: float, speeds: list[float], people: int) -> list[dict[str, float]]:
    rows = []
    for speed in speeds:
        args = [str(VAGUS), "run", "--sim", "--people", str(people), "--duration", str(duration_s)]
        r = _run([*args, "--speed", f"{speed:g}", "--quiet"])
        rows.append({"speed": speed, "people": people, **{k: v for k, v in r.items() if k != "stdout"}})
        print(f"rss  speed {speed:g}x, {people} straps, {duration_s:g} s: peak RSS {r['rss_mb']:.1f} MB, "
              f"CPU {r['cpu_s']:.2f} s in {r['wall_s']:.1f} s wall", flush=True)  # fmt: skip
    return rows


def cpu(duration_s: float, counts: list[int]) -> list[dict[str, float]]:
    rows = []
    for n in counts:
        args = [str(VAGUS), "run", "--sim", "--scenario", "resting", "--people", str(n), "--speed", "1", "--quiet"]
        start = _run([*args, "--duration", "0.01"])
        run = _run([*args, "--duration", str(duration_s)])
        raw = run["cpu_s"] / run["wall_s"] / n * 100.0
        steady_wall = run["wall_s"] - start["wall_s"]
        steady = (run["cpu_s"] - start["cpu_s"]) / steady_wall / n * 100.0
        rows.append({"straps": n, "cpu_s": run["cpu_s"], "wall_s": run["wall_s"], "startup_cpu_s": start["cpu_s"],
                     "startup_wall_s": start["wall_s"], "raw_pct": raw, "steady_pct": steady})  # fmt: skip
        print(f"cpu  {n} straps at 1x for {duration_s:g} s: {run['cpu_s']:.2f} CPU s in {run['wall_s']:.1f} s "
              f"(start-up {start['cpu_s']:.2f} CPU s in {start['wall_s']:.1f} s): {raw:.3f} % of a core per strap "
              f"raw, {steady:.3f} % at steady state", flush=True)  # fmt: skip
    return rows


# -- the strap search (runs in a child process pinned to one core) ------------------------------------


async def _lag_run(k: int, seconds: float, db: Path) -> dict[str, object]:
    import numpy as np

    from vagus.clock import SimClock
    from vagus.edge import Agent
    from vagus.edge.store import Store
    from vagus.sim import build_world, load_builtin
    from vagus.sim.device import SimulatedDevice

    built = time.perf_counter()
    world = build_world(load_builtin("resting"), people=k, t0_utc_s=time.time())
    build_s = time.perf_counter() - built
    clock = SimClock(world.t0_utc_s, speed=1.0)
    current: dict[str, float] = {}  # device → due time (virtual UTC s) of the notification being handled
    dues: dict[str, list[float]] = {}

    class TimedDevice(SimulatedDevice):
        async def subscribe(self, characteristic_uuid, on_notify):  # noqa: ANN001, ANN202
            log = dues.setdefault(self.device_id, [])

            def timed(characteristic: str, payload: bytes, t_utc_s: float, name: str = self.device_id) -> None:
                current[name] = t_utc_s
                log.append(t_utc_s)
                try:
                    on_notify(characteristic, payload, t_utc_s)
                finally:
                    del current[name]

            await super().subscribe(characteristic_uuid, timed)

    devices = [
        TimedDevice(d.firmware(), clock=clock, t0_utc_s=world.t0_utc_s, device_id=d.name, outages=list(d.outages))
        for d in world.devices_setup
    ]
    lags: list[float] = []
    fallback = 0
    anchor_virt, anchor_wall = clock.now_utc_s(), time.monotonic()

    def on_indicators(device_id: str, record) -> None:  # noqa: ANN001
        nonlocal fallback
        now = time.monotonic()
        due = current.get(device_id)
        if due is None:
            fallback += 1
            log = dues.get(device_id, [])
            i = bisect.bisect_left(log, record.t_end_utc_s - 1e-6)
            due = log[min(i, len(log) - 1)] if log else record.t_end_utc_s
        lags.append(now - (anchor_wall + (due - anchor_virt)))

    with Store(db) as store:
        agent = Agent(transports=devices, store=store, clock=clock, on_indicators=on_indicators)
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        cpu0 = time.process_time()
        await agent.run(stop)
        cpu_s = time.process_time() - cpu0
    lag = np.asarray(lags)
    notes = sum(len(v) for v in dues.values())
    behind_s = time.monotonic() - anchor_wall - (clock.now_utc_s() - anchor_virt)
    return {
        "straps": k,
        "seconds": seconds,
        "build_s": build_s,
        "records": int(lag.size),
        "notifications": notes,
        "fallback_records": fallback,
        "p50_s": float(np.percentile(lag, 50)) if lag.size else None,
        "p99_s": float(np.percentile(lag, 99)) if lag.size else None,
        "max_s": float(lag.max()) if lag.size else None,
        "cpu_share": cpu_s / seconds,
        "clock_behind_s": behind_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def _lag_child(k: int, seconds: float, core: int) -> None:
    os.sched_setaffinity(0, {core})
    with tempfile.TemporaryDirectory(prefix="vagus-footprint-") as tmp:
        result = asyncio.run(_lag_run(k, seconds, Path(tmp) / "vagus.db"))
    print(json.dumps(result))


def lag(ks: list[int], minutes: float, core: int, *, stop_at_first_failure: bool = True) -> list[dict[str, object]]:
    rows = []
    for k in ks:
        cmd = [sys.executable, __file__, "--lag-child", str(k), "--minutes", str(minutes), "--core", str(core)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 — a fixed argv of our own, no shell
        if out.returncode != 0:
            raise RuntimeError(f"lag child K={k} failed:\n{out.stderr[-2000:]}")
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["keeps_up"] = row["p99_s"] is not None and row["p99_s"] < STEP_S
        rows.append(row)
        print(f"lag  {k} straps on core {core} for {minutes:g} min: {row['records']} records, lag p50 "
              f"{row['p50_s']:.3f} s p99 {row['p99_s']:.3f} s max {row['max_s']:.3f} s; CPU {row['cpu_share']:.0%} "
              f"of the core; virtual clock behind by {row['clock_behind_s']:.2f} s at the end; peak RSS "
              f"{row['peak_rss_mb']:.0f} MB; {row['fallback_records']} records timed by the fallback; "
              f"{'keeps up' if row['keeps_up'] else 'FALLS BEHIND'}",
              flush=True)  # fmt: skip
        if stop_at_first_failure and not row["keeps_up"]:
            break
    passing = [r["straps"] for r in rows if r["keeps_up"]]
    print(f"lag  largest K with p99 lag < {STEP_S:g} s: {max(passing) if passing else 'none'}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("rss", "cpu", "lag"), action="append", help="run only these parts")
    parser.add_argument("--quick", action="store_true", help="the strap search for 1 minute per K instead of 10")
    parser.add_argument("--minutes", type=float, default=None, help="minutes per K in the strap search")
    parser.add_argument("--ks", default="50,100,200,400,800", help="strap counts to try, in order")
    parser.add_argument("--core", type=int, default=None, help="core to pin the strap search to (default: the last)")
    parser.add_argument("--duration", type=float, default=60.0, help="wall seconds of the rss and cpu runs")
    parser.add_argument("--cpu-straps", default="3,30", help="strap counts of the cpu part")
    parser.add_argument("--json", type=Path, help="also write every row here")
    parser.add_argument("--lag-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    minutes = args.minutes if args.minutes is not None else (1.0 if args.quick else 10.0)
    core = args.core if args.core is not None else max(os.sched_getaffinity(0))
    if args.lag_child is not None:
        _lag_child(args.lag_child, minutes * 60.0, core)
        return
    parts = args.only or ["rss", "cpu", "lag"]
    print(f"load average before: {os.getloadavg()}; cores: {sorted(os.sched_getaffinity(0))}", flush=True)
    results: dict[str, object] = {}
    if "rss" in parts:
        results["rss"] = rss(args.duration, [1.0, 100.0], 3)
    if "cpu" in parts:
        results["cpu"] = cpu(args.duration, [int(n) for n in args.cpu_straps.split(",")])
    if "lag" in parts:
        results["lag"] = lag([int(k) for k in args.ks.split(",")], minutes, core)
    print(f"load average after: {os.getloadavg()}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
