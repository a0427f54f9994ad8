"""``vagus analyze``: HRV of a recorded RR file, whole or in sliding windows.

Wellness self-monitoring, not a medical device: the numbers are not a diagnosis.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

import numpy as np

from vagus.errors import ConfigError
from vagus.rr_files import Format, read_rr_file
from vagus.signal.frequency import FrequencyParams, frequency_domain
from vagus.signal.nonlinear import nonlinear
from vagus.signal.records import NullReason
from vagus.signal.time_domain import MIN_BEATS, Conventions, time_domain

__all__ = ["PRESETS", "UNITS", "AnalyzeOptions", "run_analyze", "summarise"]

# Output key → (source attribute, unit). Keys follow the common short names (`hrv`, pyHRV).
_TIME = {
    "mean_nn": ("mean_nn_ms", "ms"),
    "hr": ("hr_bpm", "bpm"),
    "sdnn": ("sdnn_ms", "ms"),
    "rmssd": ("rmssd_ms", "ms"),
    "sdsd": ("sdsd_ms", "ms"),
    "pnn50": ("pnn50_pct", "%"),
    "pnn20": ("pnn20_pct", "%"),
    "sd1": ("sd1_ms", "ms"),
    "sd2": ("sd2_ms", "ms"),
    "sd1_sd2": ("sd1_sd2", "1"),
}
_FREQ = {
    "vlf": ("vlf_ms2", "ms²"),
    "lf": ("lf_ms2", "ms²"),
    "hf": ("hf_ms2", "ms²"),
    "lf_hf": ("lf_hf", "1"),
    "lfn": ("lfn_nu", "n.u."),
    "hfn": ("hfn_nu", "n.u."),
}
_NONLIN = {
    "dfa_alpha1": ("dfa_alpha1", "1"),
    "baevsky_si": ("baevsky_si", "1"),
    "baevsky_si_sqrt": ("baevsky_si_sqrt", "1"),
}
UNITS = {k: u for table in (_TIME, _FREQ, _NONLIN) for k, (_, u) in table.items()} | {
    "breathing_rate": "1/min",
    "stress_score": "0–100",
    "stress_level": "",
    "n_beats": "1",
    "duration_s": "s",
    "corrected_fraction": "1",
    "start": "s",
}
# Sleep periods are looked for in whole-file runs at least this long (SleepParams.min_period_min).
_SLEEP_MIN_S = 3 * 3600.0
# Breathing rate and stress are minute-scale: computed for stretches up to this long (the whole file
# gets the median of its minutes' breathing rates instead).
_SHORT_S = 120.0

# Library conventions a person can select to compare with published numbers.
PRESETS: dict[str, tuple[Conventions, FrequencyParams]] = {
    "vagus": (Conventions(), FrequencyParams()),
    "neurokit2": (Conventions.neurokit2(), FrequencyParams.neurokit2()),
    "pyhrv": (Conventions.pyhrv(), FrequencyParams.pyhrv()),
    "hrv": (Conventions(), FrequencyParams.hrv_library()),
}


@dataclass(frozen=True, slots=True)
class AnalyzeOptions:
    path: Path
    fmt: Format | None = None
    strict: bool = False
    window_s: float | None = None
    step_s: float | None = None
    as_json: bool = False
    correction: Literal["none", "lipponen2019", "malik"] = "none"
    preset: str = "vagus"


def summarise(rr_ms: np.ndarray, *, conventions: Conventions, frequency: FrequencyParams) -> dict[str, Any]:
    """Every index of one stretch of consecutive NN intervals, keyed as in ``UNITS``."""
    out: dict[str, Any] = {"n_beats": int(rr_ms.size), "duration_s": float(rr_ms.sum() / 1000.0)}
    reasons: dict[str, str] = {}
    if rr_ms.size >= MIN_BEATS:
        td = time_domain(rr_ms, conventions=conventions)
        out.update({k: getattr(td, attr) for k, (attr, _) in _TIME.items()})
        fd = frequency_domain(rr_ms, params=frequency)
        nl = nonlinear(rr_ms)
        for table, result in ((_FREQ, fd), (_NONLIN, nl)):
            for key, (attr, _) in table.items():
                out[key] = getattr(result, attr)
                if attr in result.null_reasons:
                    reasons[key] = str(result.null_reasons[attr])
    else:
        for table in (_TIME, _FREQ, _NONLIN):
            out.update(dict.fromkeys(table))
            reasons.update(dict.fromkeys(table, str(NullReason.TOO_FEW_BEATS)))
    _breathing_and_stress(rr_ms, out, reasons)
    out["null_reasons"] = reasons
    return out


def _breathing_and_stress(rr_ms: np.ndarray, out: dict[str, Any], reasons: dict[str, str]) -> None:
    """Breathing rate (and, for stretches of ≤ 2 min, the stress score against population norms).

    A recorded file carries no personal baseline, so the stress score here uses the population
    reference (vagus.signal.baseline.POPULATION); the agent uses the person's own."""
    from vagus.signal.baseline import POPULATION
    from vagus.signal.breathing import breathing_rate
    from vagus.signal.stress import stress_level, stress_score

    duration_s = float(rr_ms.sum()) / 1000.0
    out["breathing_rate"] = out["stress_score"] = out["stress_level"] = None
    if rr_ms.size < MIN_BEATS:
        reasons.update(dict.fromkeys(("breathing_rate", "stress_score", "stress_level"), str(NullReason.TOO_FEW_BEATS)))
        return
    if duration_s <= _SHORT_S:
        est = breathing_rate(rr_ms)
        out["breathing_rate"] = est.rate_brpm
        if est.rate_brpm is None and est.reason is not None:
            reasons["breathing_rate"] = str(est.reason)
        if out.get("rmssd") and out.get("hr"):
            score = stress_score(out["rmssd"], out["hr"], POPULATION)
            out["stress_score"], out["stress_level"] = score, stress_level(score).value
        return
    per_minute = [breathing_rate(chunk).rate_brpm for _, chunk in _windows(rr_ms, 60.0, 60.0)]
    rates = [r for r in per_minute if r is not None]
    out["breathing_rate"] = float(np.median(rates)) if rates else None
    if not rates:
        reasons["breathing_rate"] = str(NullReason.LOW_QUALITY)
    # Stress is a minute-scale state: not computed for a long stretch (use --window 60 --step 60).
    reasons["stress_score"] = reasons["stress_level"] = str(NullReason.NOT_COMPUTED)


def sleep_periods(rr_ms: np.ndarray) -> list[dict[str, Any]] | None:
    """Sleep periods of a recording of at least 3 h, on its own time line (s from its start).

    Per minute: mean HR and RMSSD of the minute's intervals (minutes with fewer than 20 beats are
    missing), then :func:`vagus.signal.sleep.detect_sleep` and :func:`night_summary`. A file has no
    personal baseline, and population norms misplace anyone whose resting HR is far from 65 bpm
    (a 81-bpm person never "sleeps", a 54-bpm one sleeps all evening), so the awake reference comes
    from the recording itself: the median and robust SD (MAD × 1.4826, at least 2 bpm and 0.1 ln ms)
    of HR and ln RMSSD over its minutes in the top 30 % of HR. That holds when about a third of the
    recording or more is awake (a night from the evening to the morning, a whole day); on simulated
    nights with 2 h awake before and after 7 h asleep, onset and wake are within 5 min (median).
    ``None`` for a shorter recording; ``[]`` when it holds no sleep period.
    """
    from vagus.signal.baseline import Reference
    from vagus.signal.sleep import MinuteSample, detect_sleep, night_summary

    if rr_ms.size == 0 or float(rr_ms.sum()) / 1000.0 < _SLEEP_MIN_S:
        return None
    minutes = []
    for start, chunk in _windows(rr_ms, 60.0, 60.0):
        ok = chunk.size >= 20
        hr = 60_000.0 / float(chunk.mean()) if ok else None
        rmssd = float(np.sqrt(np.mean(np.diff(chunk) ** 2))) if ok else None
        minutes.append(MinuteSample(start + 60.0, hr, rmssd if rmssd else None))
    known = [m for m in minutes if m.hr_bpm is not None and m.rmssd_ms]
    if len(known) < 60:
        return []
    hr = np.array([m.hr_bpm for m in known])
    ln = np.log([m.rmssd_ms for m in known])
    awake = hr >= np.percentile(hr, 70)

    def robust_sd(x: np.ndarray, floor: float) -> float:
        return max(float(np.median(np.abs(x - np.median(x)))) * 1.4826, floor)

    reference = Reference(
        float(np.median(ln[awake])),
        robust_sd(ln[awake], 0.1),
        float(np.median(hr[awake])),
        robust_sd(hr[awake], 2.0),
        personal_weight=1.0,
        days=0,
    )
    out = []
    for period in detect_sleep(minutes, reference):
        night = night_summary(minutes, period, reference)
        out.append(
            {
                "onset_s": night.onset_utc_s,
                "wake_s": night.wake_utc_s,
                "asleep_min": night.asleep_min,
                "lowest_hr": night.lowest_hr_bpm,
                "mean_hr": night.mean_hr_bpm,
                "rmssd": night.rmssd_ms,
            }
        )
    return out


def _correct(rr_ms: np.ndarray, method: str) -> tuple[np.ndarray, float]:
    if method == "none":
        return rr_ms, 0.0
    from vagus.signal.artifacts import correct_rr

    result = correct_rr(rr_ms, method=method)  # type: ignore[arg-type]
    return result.rr_ms, result.fraction_corrected


def _windows(rr_ms: np.ndarray, window_s: float, step_s: float) -> list[tuple[float, np.ndarray]]:
    """Full windows [k·step, k·step + window] of the file's own time line, with their beats."""
    end_s = np.cumsum(rr_ms) / 1000.0
    start_s = end_s - rr_ms / 1000.0
    total_s = float(end_s[-1]) if end_s.size else 0.0
    out = []
    k = 0
    while k * step_s + window_s <= total_s + 1e-9:
        a, b = k * step_s, k * step_s + window_s
        lo = int(np.searchsorted(start_s, a - 1e-9, side="left"))
        hi = int(np.searchsorted(end_s, b + 1e-9, side="right"))
        out.append((a, rr_ms[lo:hi]))
        k += 1
    return out


class _Progress:
    """A one-line progress bar on stderr, only when it is a terminal."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self._total, self._stream = total, stream
        self._on = total >= 50 and stream.isatty()
        self._shown = -1

    def update(self, done: int) -> None:
        pct = done * 100 // self._total
        if self._on and pct != self._shown:
            bar = "#" * (pct // 4)
            self._stream.write(f"\ranalysing [{bar:<25}] {pct:3d}% ({done}/{self._total} windows)")
            self._stream.flush()
            self._shown = pct

    def close(self) -> None:
        if self._on:
            self._stream.write("\r" + " " * 70 + "\r")
            self._stream.flush()


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1e5 else f"{value:.4g}"
    return str(value)


def run_analyze(options: AnalyzeOptions, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    if options.preset not in PRESETS:
        raise ConfigError(f"--preset: expected one of {', '.join(PRESETS)}, got {options.preset!r}")
    if (options.window_s is None) != (options.step_s is None):
        raise ConfigError("--window and --step go together")
    if options.window_s is not None and not (
        options.step_s is not None and options.window_s > 0 and options.step_s > 0 and math.isfinite(options.window_s)
    ):
        raise ConfigError("--window and --step must be > 0 seconds")
    recording = read_rr_file(options.path, fmt=options.fmt, strict=options.strict)
    for warning in recording.warnings:
        err.write(f"vagus: warning: {warning}\n")
    rr, corrected = _correct(np.asarray(recording.rr_ms, dtype=np.float64), options.correction)
    if options.window_s is None:
        result = summarise(rr, conventions=PRESETS[options.preset][0], frequency=PRESETS[options.preset][1])
        result["corrected_fraction"] = corrected
        result["sleep"] = sleep_periods(rr)
        if result["sleep"] is None:
            result["null_reasons"]["sleep"] = str(NullReason.WINDOW_TOO_SHORT)
        if options.as_json:
            json.dump(result, out, indent=2)
            out.write("\n")
        else:
            _print_summary(
                result,
                f"{recording.format}; preset {options.preset}; correction {options.correction}",
                options.path,
                out,
            )
        return 0
    assert options.step_s is not None  # noqa: S101 — a type-narrowing invariant, not input validation
    rows = _sliding(rr, options, err)
    if options.as_json:
        json.dump(rows, out, indent=1)
        out.write("\n")
    else:
        _print_rows(rows, out)
    if not rows:
        err.write(f"vagus: warning: the recording is shorter than one {options.window_s:g}-s window\n")
    return 0


def _sliding(rr: np.ndarray, options: AnalyzeOptions, err: TextIO) -> list[dict[str, Any]]:
    assert options.window_s is not None and options.step_s is not None  # noqa: S101 — a type-narrowing invariant, not input validation
    conventions, frequency = PRESETS[options.preset]
    windows = _windows(rr, options.window_s, options.step_s)
    progress = _Progress(len(windows), err)
    rows = []
    for i, (start, chunk) in enumerate(windows, start=1):
        rows.append({"start": start} | summarise(chunk, conventions=conventions, frequency=frequency))
        progress.update(i)
    progress.close()
    return rows


def _print_summary(result: dict[str, Any], how: str, path: Path, out: TextIO) -> None:
    out.write(f"{path}: {result['n_beats']} beats, {result['duration_s'] / 60:.1f} min ({how})\n")
    for key, unit in UNITS.items():
        if key in result and key not in ("n_beats", "duration_s"):
            reason = result["null_reasons"].get(key)
            note = f"  ({reason})" if reason else ""
            out.write(f"  {key:<18} {_fmt(result[key]):>12} {unit if result[key] is not None else ''}{note}\n")
    sleep = result.get("sleep")
    if sleep is not None:
        out.write(f"  sleep periods (reference: the recording's own awake minutes): {len(sleep) or 'none'}\n")
        for p in sleep:
            out.write(
                f"    {_clock(p['onset_s'])}–{_clock(p['wake_s'])} from the start: {p['asleep_min']} min asleep, "
                f"lowest HR {_fmt(p['lowest_hr'])} bpm, mean HR {_fmt(p['mean_hr'])} bpm, RMSSD {_fmt(p['rmssd'])} ms\n"
            )
    out.write("Wellness self-monitoring, not a medical device; these numbers are not a diagnosis.\n")


def _clock(seconds: float) -> str:
    minutes = round(seconds / 60.0)
    return f"{minutes // 60}:{minutes % 60:02d}"


def _print_rows(rows: list[dict[str, Any]], out: TextIO) -> None:
    out.write(
        f"{'start_s':>9} {'beats':>6} {'hr':>7} {'rmssd':>8} {'sdnn':>8} {'lf':>9} {'hf':>9} {'lf_hf':>7}"
        f" {'breath':>7} {'stress':>7}\n"
    )
    for r in rows:
        out.write(
            f"{r['start']:>9.1f} {r['n_beats']:>6} {_fmt(r['hr']):>7} {_fmt(r['rmssd']):>8} {_fmt(r['sdnn']):>8} "
            f"{_fmt(r['lf']):>9} {_fmt(r['hf']):>9} {_fmt(r['lf_hf']):>7} {_fmt(r['breathing_rate']):>7}"
            f" {_fmt(r['stress_score']):>7}\n"
        )
    if rows:
        out.write("Stress against population norms (a file has no personal baseline); not a diagnosis.\n")
