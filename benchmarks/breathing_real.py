"""Breathing rate from RR intervals against a real respiration belt (issue 5, held-out check).

    .venv/bin/python benchmarks/breathing_real.py [--data DIR] [--no-pyphysio] [--fetch-only]

The recordings are not in the repository: they ship inside two GPL-3.0 source distributions on
PyPI, fetched with pip into a cache (``--data``, env ``VAGUS_REAL_DATA``, default
``~/.cache/vagus/real-data``), pinned by their sha256 and read from the tarball at run time:

* **systole 0.3.1** ``src/systole/datasets/Task1_{ECG,Respiration}.npy``: ECG and respiration belt
  of one young healthy participant rating neutral and disgusting images, 1000 Hz, 25.6 min
  (Legrand et al. 2020, Sci Rep 10, doi:10.1038/s41598-020-71858-2; systole's
  ``import_dataset1``). This is the check with the issue's target (MAE ≤ 2 breaths/min).
* **pyphysio 4.10.0** ``pyphysio/test_data/medical.txt.bz2``: ECG, EDA, BVP and respiration,
  2048 Hz (pyphysio's ``TestData._fsamp_medical``; its ``info_medical`` says 1024 Hz and 120 s, which
  the 245,760 rows contradict), 120 s: 10 overlapping 60-s windows, a secondary look.

Method, per recording:

1. ECG → R-peaks as the agent finds them in a live ECG stream (``vagus.edge.ecg_peaks.EcgPeakStream``:
   neurokit2's ``ecg_clean`` + ``ecg_peaks`` on overlapping stretches, sub-sample refinement) → RR
   (ms) → ``Beat`` records (source ECG, time of the closing R-peak) → the agent's rolling 60-s
   window (``RollingWindow``, default Lipponen 2019 correction, a record every 5 s) → each full
   record's ``breathing_rate_brpm`` (None = not reported, with its null reason).
2. Belt → breaths with neurokit2 ``rsp_process`` (band-pass 0.05–3 Hz, Khodadad et al. 2018 peak
   detection, Physiol Meas 39:094001), computed independently of the ECG. The reference of a
   window is 60 / the mean breath-to-breath interval of the breath peaks inside the window's span
   (``(n − 1)`` intervals over ``last − first``), not the breath count, which is off by up to one
   breath per minute from where the window's edges fall; the count is printed as a sanity check.
3. A window is **invalid** (excluded, counted) where the belt touches its amplifier's rail (systole:
   −10 V; the recording's extreme value held ≥ 50 ms) or fewer than 3 breath peaks
   fall inside it. A window's reference is **ambiguous** where it disagrees with the dominant
   frequency of the belt signal itself (periodogram peak 0.05–1 Hz) by more than 2 breaths/min:
   sighs, movement and irregular breathing, where "the" rate of the minute is not well defined.
   Both criteria look at the belt only, never at the estimate.

Reported on the windows vagus reports: MAE, bias (vagus − belt) and median absolute error in
breaths/min, Pearson and Spearman r, and the MAE of a naive baseline that always predicts the
recording's median reference rate (an oracle constant: it knows the person's typical rate), so an
MAE close to it means the estimate carries little information beyond that.
"""

from __future__ import annotations

import argparse
import bz2
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vagus.signal import Beat, BeatSource, RollingWindow, WindowConfig
from vagus.signal.records import NullReason

DEFAULT_DATA = Path.home() / ".cache" / "vagus" / "real-data"
WINDOW_S = 60.0
# Belt-only rule for an ambiguous reference: peak-interval rate vs the belt's own spectral peak.
AMBIGUOUS_BRPM = 2.0
# Diagnostic only: estimates this close to the search band's lower edge (0.15 Hz = 9 br/min).
LOW_EDGE_BRPM = 10.0
_T0 = 1_700_000_000.0  # arbitrary epoch for the beat clock


@dataclass(frozen=True, slots=True)
class Source:
    """A PyPI source distribution pinned by version and sha256 (of the .tar.gz pip saves)."""

    requirement: str
    filename: str
    sha256: str


SYSTOLE = Source(
    "systole==0.3.1", "systole-0.3.1.tar.gz", "9bc145f7b87caa57b53e45f34276bcfefec101bc1c662e4e104f53fdfa5a405a"
)
PYPHYSIO = Source(
    "pyphysio==4.10.0", "pyphysio-4.10.0.tar.gz", "85c1a60ae8ab6761d461108e82ddce2989ab7858d5d2a5a66daf7911fda571ce"
)


def fetch_command(source: Source, data_dir: Path) -> list[str]:
    """The pip command that downloads ``source`` into ``data_dir`` (no install, no dependencies)."""
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        source.requirement,
        "-d",
        str(data_dir),
    ]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tarball(source: Source, data_dir: Path, *, download: bool = True) -> Path:
    """The verified sdist in ``data_dir``, fetched with pip first when absent and ``download``.

    Raises FileNotFoundError (absent, no download), RuntimeError (pip failed) or ValueError
    (the file's sha256 is not the pinned one: a different or corrupted file).
    """
    path = data_dir / source.filename
    if not path.exists():
        command = fetch_command(source, data_dir)
        if not download:
            raise FileNotFoundError(f"{path} is absent; fetch it with: {' '.join(command)}")
        data_dir.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 (fixed argv, no shell)
        if done.returncode != 0 or not path.exists():
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
            raise RuntimeError(
                f"could not fetch {source.requirement} (needs pip and PyPI): {' '.join(command)}\n{tail}"
            )
    actual = _sha256(path)
    if actual != source.sha256:
        raise ValueError(f"{path}: sha256 {actual} is not the pinned {source.sha256}")
    return path


def _member(path: Path, name: str) -> bytes:
    with tarfile.open(path, "r:gz") as tar:
        f = tar.extractfile(name)
        if f is None:
            raise ValueError(f"{path} has no file {name}")
        return f.read()


@dataclass(frozen=True, slots=True)
class Recording:
    name: str
    ecg: npt.NDArray[np.float64]
    belt: npt.NDArray[np.float64]
    fs_hz: float
    stimuli_s: npt.NDArray[np.float64] | None = None  # onsets of the task's images, where known


def load_systole(path: Path) -> Recording:
    """ECG (mV) and respiration belt (V) at 1000 Hz from the systole sdist (numeric arrays, no pickle)."""
    prefix = "systole-0.3.1/src/systole/datasets/Task1_"
    ecg = np.load(io.BytesIO(_member(path, prefix + "ECG.npy")), allow_pickle=False)
    belt = np.load(io.BytesIO(_member(path, prefix + "Respiration.npy")), allow_pickle=False)
    # Stim channel: 1 (neutral) or 2 (disgusting) while an image is shown, else 0.
    stim = np.load(io.BytesIO(_member(path, prefix + "Stim.npy")), allow_pickle=False)
    onsets = np.flatnonzero(np.diff((stim > 0).astype(np.int8)) == 1) / 1000.0
    return Recording("systole Task1 (Legrand 2020)", ecg.astype(np.float64), belt.astype(np.float64), 1000.0, onsets)


def load_pyphysio(path: Path) -> Recording:
    """ECG and respiration at 2048 Hz from pyphysio's test file (columns ecg, eda, bvp, resp)."""
    text = bz2.decompress(_member(path, "pyphysio-4.10.0/pyphysio/test_data/medical.txt.bz2"))
    table = np.loadtxt(io.BytesIO(text), dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 4:
        raise ValueError(f"expected 4 columns (ecg, eda, bvp, resp), got shape {table.shape}")
    return Recording("pyphysio medical (2 min)", table[:, 0].copy(), table[:, 3].copy(), 2048.0)


def r_peaks_s(ecg: npt.NDArray[np.float64], fs_hz: float) -> npt.NDArray[np.float64]:
    """R-peak times (s) as the agent finds them in a live ECG stream (:class:`vagus.edge.ecg_peaks.EcgPeakStream`:
    neurokit2's default detector on overlapping stretches, sub-sample refinement), fed 1 s at a time."""
    from vagus.edge.ecg_peaks import EcgPeakStream

    stream = EcgPeakStream(fs_hz)
    step = round(fs_hz)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # as in belt_breaths
        positions = [pos for i in range(0, ecg.size, step) for _, pos in stream.push(ecg[i : i + step])]
    return np.asarray(positions, dtype=np.float64) / fs_hz


def vagus_records(peaks_s: npt.NDArray[np.float64]) -> list[tuple[float, float, float | None, NullReason | None]]:
    """(start s, end s, breathing rate or None, null reason) of every full 60-s record, as the agent makes them."""
    config = WindowConfig(windows_s=(WINDOW_S,), spectral=False, nonlinear=False, breathing=True)
    engine = RollingWindow("ecg", config)
    out = []
    rr_ms = np.diff(peaks_s) * 1000.0
    for t, rr in zip(peaks_s[1:].tolist(), rr_ms.tolist(), strict=True):
        for rec in engine.push(Beat(device_id="ecg", t_utc_s=_T0 + t, rr_ms=rr, source=BeatSource.ECG)):
            if rec.window_s < WINDOW_S - 1e-6:
                continue
            reason = rec.null_reasons.get("breathing_rate_brpm")
            out.append((rec.t_start_utc_s - _T0, rec.t_end_utc_s - _T0, rec.breathing_rate_brpm, reason))
    return out


def rail_mask(belt: npt.NDArray[np.float64], fs_hz: float, min_hold_s: float = 0.05) -> npt.NDArray[np.bool_]:
    """Samples where the belt sits at its amplifier's rail.

    A rail is the recording's minimum or maximum value held for ≥ ``min_hold_s`` in one run: a
    breathing signal can rest on one quantisation step at a trough for a few tens of ms (pyphysio's
    belt: 18 ms), an amplifier at its rail holds for hundreds (systole's belt at −10 V: up to
    0.6 s during movements). Every sample at a rail value is then masked, short runs included.
    """
    mask = np.zeros(belt.size, dtype=bool)
    for value in (belt.min(), belt.max()):
        at = belt == value
        edges = np.flatnonzero(np.diff(np.r_[False, at, False].astype(np.int8))).reshape(-1, 2)
        if edges.size and int(np.max(edges[:, 1] - edges[:, 0])) >= min_hold_s * fs_hz:
            mask |= at
    return mask


@dataclass(frozen=True, slots=True)
class Belt:
    peaks_s: npt.NDArray[np.float64]
    cleaned: npt.NDArray[np.float64]
    fs_hz: float
    rail: npt.NDArray[np.bool_]


def belt_breaths(belt: npt.NDArray[np.float64], fs_hz: float) -> Belt:
    """Breath peaks (s) of the belt by neurokit2 ``rsp_process`` (Khodadad 2018), and its cleaned signal."""
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # neurokit2/pandas deprecation chatter, not about the data
        signals, info = nk.rsp_process(belt, sampling_rate=fs_hz)
    peaks = np.asarray(info["RSP_Peaks"], dtype=np.float64) / fs_hz
    return Belt(peaks, signals["RSP_Clean"].to_numpy(dtype=np.float64), fs_hz, rail_mask(belt, fs_hz))


def spectral_brpm(x: npt.NDArray[np.float64], fs_hz: float) -> float:
    """Dominant frequency (breaths/min) of a belt segment: periodogram peak 0.05–1 Hz, Hann taper, 0.005-Hz grid."""
    x = x - x.mean()
    x = x * np.hanning(x.size)
    nfft = max(x.size, int(fs_hz / 0.005))
    power = np.abs(np.fft.rfft(x, n=nfft)) ** 2
    freqs = np.fft.rfftfreq(nfft, 1.0 / fs_hz)
    band = (freqs >= 0.05) & (freqs <= 1.0)
    return float(freqs[band][np.argmax(power[band])] * 60.0)


@dataclass(frozen=True, slots=True)
class WindowResult:
    """One 60-s window: vagus' estimate and the belt's reference, both in breaths/min."""

    t_start_s: float
    t_end_s: float
    vagus_brpm: float | None
    reason: NullReason | None
    valid: bool  # belt not at its rail and ≥ 3 breath peaks inside
    ref_brpm: float | None  # 60 / mean breath-to-breath interval
    count_brpm: float | None  # breath peaks in the window per minute (sanity check)
    spectral_brpm: float | None  # the belt's own dominant frequency
    stimuli: int  # task images shown during the window (0 where unknown)

    @property
    def ambiguous(self) -> bool:
        return (
            self.ref_brpm is not None
            and self.spectral_brpm is not None
            and abs(self.ref_brpm - self.spectral_brpm) > AMBIGUOUS_BRPM
        )


def evaluate(recording: Recording) -> tuple[list[WindowResult], int]:
    """Every full 60-s record of the recording against the belt, and the number of R-peaks found."""
    peaks = r_peaks_s(recording.ecg, recording.fs_hz)
    belt = belt_breaths(recording.belt, recording.fs_hz)
    fs = recording.fs_hz
    out = []
    for lo, hi, rate, reason in vagus_records(peaks):
        a, b = int(lo * fs), int(np.ceil(hi * fs))
        inside = belt.peaks_s[(belt.peaks_s >= lo) & (belt.peaks_s <= hi)]
        valid = not bool(belt.rail[a:b].any()) and inside.size >= 3
        ref = count = spec = None
        if valid:
            ref = 60.0 * (inside.size - 1) / float(inside[-1] - inside[0])
            count = inside.size * 60.0 / (hi - lo)
            spec = spectral_brpm(belt.cleaned[a:b], fs)
        shown = (
            0 if recording.stimuli_s is None else int(np.sum((recording.stimuli_s >= lo) & (recording.stimuli_s < hi)))
        )
        out.append(WindowResult(lo, hi, rate, reason, valid, ref, count, spec, shown))
    return out, int(peaks.size)


@dataclass(frozen=True, slots=True)
class Summary:
    """Agreement on one subset of windows; errors in breaths/min."""

    label: str
    windows: int
    reported: int
    mae: float
    bias: float
    median_ae: float
    baseline_mae: float
    pearson_r: float
    spearman_r: float

    @property
    def share_reported(self) -> float:
        return self.reported / self.windows if self.windows else 0.0


def summarize(label: str, results: list[WindowResult], baseline_brpm: float) -> Summary:
    """Agreement on the windows of ``results`` vagus reports; ``baseline_brpm`` is the constant predictor."""
    from scipy.stats import pearsonr, spearmanr

    pairs = [(r.vagus_brpm, r.ref_brpm) for r in results if r.vagus_brpm is not None and r.ref_brpm is not None]
    nan = float("nan")
    if not pairs:
        return Summary(label, len(results), 0, nan, nan, nan, nan, nan, nan)
    est, ref = (np.asarray(v, dtype=np.float64) for v in zip(*pairs, strict=True))
    err = est - ref
    enough = len(pairs) >= 3 and np.ptp(est) > 0 and np.ptp(ref) > 0
    return Summary(
        label,
        len(results),
        len(pairs),
        float(np.mean(np.abs(err))),
        float(np.mean(err)),
        float(np.median(np.abs(err))),
        float(np.mean(np.abs(baseline_brpm - ref))),
        float(pearsonr(est, ref)[0]) if enough else nan,
        float(spearmanr(est, ref)[0]) if enough else nan,
    )


def summaries(results: list[WindowResult]) -> tuple[list[Summary], float]:
    """Summaries on valid windows (the issue's target), then subsets; and the recording's median reference.

    The subsets are diagnostic: unambiguous reference (belt-only rule), and, where the recording
    marks its task's images, windows with and without images shown.
    """
    valid = [r for r in results if r.valid]
    median_ref = float(np.median([r.ref_brpm for r in valid])) if valid else float("nan")
    rows = [
        summarize("valid belt", valid, median_ref),
        summarize("  unambiguous reference", [r for r in valid if not r.ambiguous], median_ref),
        summarize("  ambiguous reference", [r for r in valid if r.ambiguous], median_ref),
    ]
    if any(r.stimuli for r in results):
        rows.append(summarize("  no image shown", [r for r in valid if r.stimuli == 0], median_ref))
        rows.append(summarize("  images shown", [r for r in valid if r.stimuli > 0], median_ref))
    return rows, median_ref


def report(recording: Recording, results: list[WindowResult], n_peaks: int) -> list[Summary]:
    """Print the recording's numbers and table; returns the summaries."""
    duration_min = recording.ecg.size / recording.fs_hz / 60.0
    invalid = sum(not r.valid for r in results)
    ambiguous = sum(r.valid and r.ambiguous for r in results)
    reasons: dict[str, int] = {}
    for r in results:
        if r.vagus_brpm is None:
            key = str(r.reason) if r.reason else "none"
            reasons[key] = reasons.get(key, 0) + 1
    rows, median_ref = summaries(results)
    valid = [r for r in results if r.valid]
    print(
        f"\n== {recording.name}: {duration_min:.1f} min, {n_peaks} R-peaks ({60 * n_peaks / duration_min / 60:.0f} bpm)"
    )
    print(f"   60-s windows every 5 s: {len(results)} (~{len(results) / 12:.0f} independent minutes)")
    print(f"   excluded, belt at its rail or < 3 breaths: {invalid}; ambiguous reference (belt-only rule): {ambiguous}")
    print(f"   vagus null reasons: {reasons or 'none'}")
    if valid:
        refs = np.array([r.ref_brpm for r in valid])
        counts = np.array([r.count_brpm for r in valid])
        print(
            f"   belt reference: median {median_ref:.1f} br/min (5–95 %: {np.percentile(refs, 5):.1f}–"
            f"{np.percentile(refs, 95):.1f}); breath count vs interval rate: mean |diff| "
            f"{np.mean(np.abs(counts - refs)):.2f} br/min"
        )
    low = [r for r in valid if r.vagus_brpm is not None and r.vagus_brpm < LOW_EDGE_BRPM]
    wrong = sum(abs(r.vagus_brpm - r.ref_brpm) > 3.0 for r in low if r.vagus_brpm is not None and r.ref_brpm)
    print(
        f"   reported estimates < {LOW_EDGE_BRPM:g} br/min (band edge 9): {len(low)}, of which > 3 br/min off: {wrong}"
    )
    print(
        f"   {'windows':<26}{'n':>5}{'reported':>10}{'MAE':>7}{'bias':>7}{'MedAE':>7}{'naive MAE':>11}"
        f"{'Pearson':>9}{'Spearman':>10}"
    )
    for s in rows:
        print(
            f"   {s.label:<26}{s.windows:>5}{s.share_reported:>9.0%} {s.mae:>7.2f}{s.bias:>+7.2f}{s.median_ae:>7.2f}"
            f"{s.baseline_mae:>11.2f}{s.pearson_r:>9.2f}{s.spearman_r:>10.2f}"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("VAGUS_REAL_DATA", DEFAULT_DATA)), help="sdist cache dir"
    )
    parser.add_argument("--no-pyphysio", action="store_true", help="skip the 2-min secondary recording")
    parser.add_argument("--fetch-only", action="store_true", help="fetch and verify the sdists, evaluate nothing")
    args = parser.parse_args(argv)
    try:
        paths = [tarball(SYSTOLE, args.data)] + ([] if args.no_pyphysio else [tarball(PYPHYSIO, args.data)])
    except (RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.fetch_only:
        print("\n".join(f"ok {path}" for path in paths))
        return 0
    recordings = [load_systole(paths[0])] + [load_pyphysio(path) for path in paths[1:]]
    for recording in recordings:
        results, n_peaks = evaluate(recording)
        report(recording, results, n_peaks)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
