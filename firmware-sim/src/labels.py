"""Ground truth written beside the simulated bytes, so indicators can be scored against it.

Layout of a label folder (documented in docs/simulator.md; ``version`` guards changes):

* ``manifest.json`` — format and version, scenario name, seed, ``t0_utc_s``, the people (every
  model parameter) and the devices (name, profile, person).
* ``<device>.seconds.csv`` — one row per second: ``t_utc_s`` (start of the second), ``state``,
  ``breathing_rate_brpm``, ``hr_bpm`` (true mean heart rate), ``activity`` (0 still, ~1 walking,
  ~2.5 running), ``worn``, ``contact`` and ``connected`` (0/1).
* ``<device>.beats.csv`` — every beat the device's detector reported: ``t_utc_s``, ``rr_1024``
  (0 = first beat of a chain, no interval) and ``artifact`` (none, ectopic, compensatory,
  missed, extra — see :class:`vagus.sim.sensor.Artifact`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .sensor import Artifact, SensedBeats

__all__ = ["LABELS_FORMAT", "LABELS_VERSION", "SecondTruth", "write_device_labels", "write_manifest"]

LABELS_FORMAT = "vagus-sim-labels"
LABELS_VERSION = 1
_ARTIFACT_NAMES = {a.value: a.name.lower() for a in Artifact}


@dataclass(frozen=True, slots=True)
class SecondTruth:
    """Per-second truth of one person (arrays of equal length, one value per second)."""

    state: Sequence[str]
    breathing_rate_brpm: np.ndarray
    hr_bpm: np.ndarray
    activity: np.ndarray


def write_manifest(folder: Path, content: Mapping[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.json"
    doc = {"format": LABELS_FORMAT, "version": LABELS_VERSION, **content}
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def write_device_labels(
    folder: Path,
    device: str,
    *,
    t0_utc_s: float,
    truth: SecondTruth,
    sensed: SensedBeats,
    connected: np.ndarray,
) -> tuple[Path, Path]:
    """Write ``<device>.seconds.csv`` and ``<device>.beats.csv``; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(truth.state)
    for name, arr in (("contact", sensed.contact), ("worn", sensed.worn), ("connected", connected)):
        if len(arr) != n:
            raise ValueError(f"{name} has {len(arr)} seconds, the truth has {n}")
    seconds = folder / f"{device}.seconds.csv"
    with seconds.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["t_utc_s", "state", "breathing_rate_brpm", "hr_bpm", "activity", "worn", "contact", "connected"])
        w.writerows(
            zip(
                (f"{t0_utc_s + s:.3f}" for s in range(n)),
                truth.state,
                (f"{v:.3f}" for v in truth.breathing_rate_brpm),
                (f"{v:.2f}" for v in truth.hr_bpm),
                (f"{v:.2f}" for v in truth.activity),
                sensed.worn.astype(np.int8).tolist(),
                sensed.contact.astype(np.int8).tolist(),
                np.asarray(connected).astype(np.int8).tolist(),
                strict=True,
            )
        )
    beats = folder / f"{device}.beats.csv"
    with beats.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["t_utc_s", "rr_1024", "artifact"])
        w.writerows(
            zip(
                (f"{t0_utc_s + t:.6f}" for t in sensed.t_s),
                sensed.rr_1024.tolist(),
                (_ARTIFACT_NAMES[int(a)] for a in sensed.artifact),
                strict=True,
            )
        )
    return seconds, beats
