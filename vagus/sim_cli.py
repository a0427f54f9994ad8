"""``vagus sim``: list scenarios, device profiles and simulated people; write a capture with labels."""

from __future__ import annotations

import argparse
import heapq
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from vagus.errors import ConfigError

__all__ = ["add_sim_parser", "load_any_scenario"]


def load_any_scenario(name_or_path: str):  # noqa: ANN201 (vagus.sim.Scenario; imported lazily)
    """A built-in scenario by name, or a scenario file by path; ConfigError if neither."""
    from vagus.sim.scenario import ScenarioError, builtin_names, load_builtin, load_scenario

    try:
        if name_or_path in builtin_names():
            return load_builtin(name_or_path)
        path = Path(name_or_path)
        if not path.exists():
            raise ConfigError(
                f"scenario {name_or_path!r} is neither a built-in ({', '.join(builtin_names())}) nor an existing file"
            )
        return load_scenario(path)
    except ScenarioError as exc:
        raise ConfigError(str(exc)) from exc


def add_sim_parser(commands: argparse._SubParsersAction) -> None:
    sim = commands.add_parser(
        "sim",
        help="the wearable simulator: scenarios, device profiles, people, captures",
        description="Simulated wearables for trying vagus without hardware and for testing. See docs/simulator.md.",
    )
    verbs = sim.add_subparsers(dest="verb", required=True, metavar="VERB")
    verbs.add_parser("scenarios", help="list the built-in scenarios").set_defaults(func=_cmd_scenarios)
    verbs.add_parser("profiles", help="list the device profiles").set_defaults(func=_cmd_profiles)
    people = verbs.add_parser("people", help="show simulated people drawn from the population")
    people.add_argument("--n", type=int, default=10, help="how many (default 10)")
    people.add_argument("--seed", type=int, default=1, help="population seed (default 1)")
    people.set_defaults(func=_cmd_people)
    capture = verbs.add_parser(
        "capture",
        help="write a scenario's notification bytes (a capture) and its ground-truth labels",
        description="Render every notification an eager host would receive from the scenario's devices into "
        "OUT/capture.jsonl.gz, and the ground truth into OUT/labels/. Replay with `vagus run --replay`.",
    )
    capture.add_argument("scenario", help="a built-in scenario name (vagus sim scenarios) or a scenario TOML file")
    capture.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (created)")
    capture.add_argument("--people", type=int, default=1, help="simulate N people, each wearing every device")
    capture.add_argument("--seed", type=int, help="seed (default: the scenario's)")
    capture.add_argument(
        "--start", help="start time, ISO 8601 (default: the scenario's start; 'now' for the current time)"
    )
    capture.set_defaults(func=_cmd_capture)


def _cmd_scenarios(args: argparse.Namespace) -> int:
    out = sys.stdout
    from vagus.sim.scenario import builtin_names, load_builtin

    for name in builtin_names():
        s = load_builtin(name)
        devices = ", ".join(f"{d.name} ({d.profile})" for d in s.devices) or "no devices"
        out.write(f"{name:<10} {s.timeline.duration_s / 3600:5.1f} h  {s.description}\n{'':<18}devices: {devices}\n")
    return 0


def _cmd_profiles(args: argparse.Namespace) -> int:
    out = sys.stdout
    from vagus.sim.firmware import PROFILES

    for p in PROFILES.values():
        out.write(f"{p.name:<11} RR: {'yes' if p.has_rr else 'no ':<4} {p.description}\n")
    return 0


def _cmd_people(args: argparse.Namespace) -> int:
    out = sys.stdout
    from vagus.sim.population import draw_population

    if not 1 <= args.n <= 10_000:
        raise ConfigError(f"--n: expected 1–10000, got {args.n}")
    out.write("id     age  rest HR  RMSSD  breathing  stress HR  stress HRV  HRmax  ectopics/h\n")
    for p in draw_population(args.n, args.seed):
        out.write(
            f"{p.person_id}  {p.age_years:4.0f}  {p.resting_hr_bpm:6.1f}  {p.rmssd_rest_ms:5.1f}  "
            f"{p.breathing_rate_brpm:8.1f}  {p.stress_hr_rise_bpm:+8.1f}  {p.stress_hrv_factor:9.2f}  "
            f"{p.hr_max_bpm:5.0f}  {p.ectopic_per_hour:9.1f}\n"
        )
    return 0


def _start(text: str | None) -> float | None:
    if text is None:
        return None
    if text == "now":
        return time.time()
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ConfigError(f"--start: expected an ISO 8601 time or 'now', got {text!r}") from None


def _cmd_capture(args: argparse.Namespace) -> int:
    out = sys.stdout
    from vagus.sim.capture import CaptureWriter
    from vagus.sim.world import build_world, render

    if not 1 <= args.people <= 1000:
        raise ConfigError(f"--people: expected 1–1000, got {args.people}")
    scenario = load_any_scenario(args.scenario)
    started = time.perf_counter()
    try:
        world = build_world(scenario, t0_utc_s=_start(args.start), people=args.people, seed=args.seed)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "capture.jsonl.gz"
    counts: Counter[str] = Counter()
    with CaptureWriter(path, t0_utc_s=world.t0_utc_s) as writer:
        for setup in world.devices_setup:
            links = sorted(
                [(o.start_s, "disconnected") for o in setup.outages] + [(o.end_s, "connected") for o in setup.outages]
            )
            notes = ((n.t_s, n) for n in render(setup))
            for t_s, item in heapq.merge(notes, links, key=lambda pair: pair[0]):
                if isinstance(item, str):
                    writer.link(setup.name, world.t0_utc_s + t_s, item)
                else:
                    writer.notification(setup.name, world.t0_utc_s + t_s, item.characteristic, item.payload)
                    counts[setup.name] += 1
    labels = world.write_labels(args.out / "labels")
    elapsed = time.perf_counter() - started
    out.write(
        f"vagus sim: {scenario.name}, {len(world.people)} person(s), {scenario.timeline.duration_s / 3600:g} h "
        f"from {datetime.fromtimestamp(world.t0_utc_s).isoformat(timespec='seconds')}\n"
    )
    for setup in world.devices_setup:
        out.write(f"  {setup.name:<16} {setup.profile:<11} {counts[setup.name]:>9} notifications\n")
    out.write(f"  capture: {path}\n  labels:  {labels[0].parent} ({len(labels)} files)\n  took {elapsed:.1f} s\n")
    return 0
