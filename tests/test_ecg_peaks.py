"""ECG R-peaks → RR (vagus.edge.ecg_peaks) on the simulator's H10 ECG, checked against the true R times
the simulator rendered and against neurokit2's own ecg_peaks run once over the whole recording."""

from __future__ import annotations

import numpy as np
import pytest

from vagus.clock import SimClock
from vagus.edge import pmd
from vagus.edge.ecg_peaks import EcgPeakStream, refine_peaks
from vagus.sim.world import strap_at_rest

FS = 130.0
ECG_130HZ = bytes.fromhex("02000001820001010e00")  # ble.md §2: H10 ECG start, 130 Hz, 14 bit


def rendered_ecg(seconds: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The strap's ECG as the edge decodes it from the simulated frames, and the true R times (s from start)."""
    _, world = strap_at_rest(SimClock(1.79e9), duration_s=seconds + 5, seed=seed)
    setup = world.devices_setup[0]
    changes = setup.firmware().write(pmd.PMD_CONTROL_POINT_UUID, ECG_130HZ, 0.0)
    assert pmd.decode_cp_response(changes.responses[0].payload).ok
    samples: list[int] = []
    for note in next(iter(changes.started.values())):
        if note.t_s > seconds:
            break
        samples += pmd.decode_pmd_data(note.payload).samples
    return np.asarray(samples, dtype=np.float64), setup.signals.heart.beat_times_s


def nearest(truth: np.ndarray, t: np.ndarray) -> np.ndarray:
    i = np.clip(np.searchsorted(truth, t), 1, truth.size - 1)
    return np.where(np.abs(truth[i] - t) < np.abs(truth[i - 1] - t), i, i - 1)


@pytest.mark.parametrize("seed", [4, 11])
def test_rr_from_the_stream_matches_the_true_beats_within_a_few_ms(seed):
    ecg, truth = rendered_ecg(300, seed)
    detector = EcgPeakStream(FS)
    found: list[tuple[float, float]] = []
    for start in range(0, ecg.size, 73):  # the H10's 73-sample frames
        found += detector.push(ecg[start : start + 73])
    rr = np.array([r for r, _ in found])
    pos = np.array([p for _, p in found])
    # Sample k (from 0) of a measurement started at t = 0 is taken at (k + 1)/fs (the simulator's frames).
    t = (pos + 1.0) / FS
    idx = nearest(truth, t)
    assert np.all(np.abs(t - truth[idx]) < 0.02)  # every detected peak is a true beat
    assert np.unique(idx).size == idx.size  # none found twice
    inside = truth[(truth > 3.0) & (truth < 300 - 2.0)]
    assert idx.size >= inside.size - 1  # none missed (the first peak starts the chain)
    consecutive = np.diff(idx, prepend=idx[0] - 1)[1:] == 1
    err = rr[1:][consecutive] - np.diff(truth[idx]).astype(np.float64)[consecutive] * 1000.0
    assert np.percentile(np.abs(err), 99) < 2.0 and np.abs(err).max() < 4.0


def test_the_stream_agrees_with_neurokit2_run_once_on_the_whole_recording():
    nk = pytest.importorskip("neurokit2")
    ecg, _ = rendered_ecg(240, 7)
    _, info = nk.ecg_peaks(nk.ecg_clean(ecg, sampling_rate=FS), sampling_rate=FS)
    reference = np.asarray(info["ECG_R_Peaks"], dtype=np.float64)
    detector = EcgPeakStream(FS)
    found = []
    for start in range(0, ecg.size, 73):
        found += detector.push(ecg[start : start + 73])
    pos = np.array([p for _, p in found])
    i = nearest(reference, pos)
    # The same peaks, to within the sub-sample refinement (half a sample) plus one sample of filter edge.
    assert np.all(np.abs(pos - reference[i]) <= 1.5)
    assert pos.size >= np.sum((reference > 4 * FS) & (reference < ecg.size - 2 * FS))


def test_refine_peaks_finds_the_vertex_of_a_parabola():
    x = np.arange(20, dtype=np.float64)
    for vertex in (7.0, 7.3, 6.6):
        y = -((x - vertex) ** 2)
        peak = int(np.argmax(y))
        assert refine_peaks(y, np.array([peak]))[0] == pytest.approx(vertex, abs=1e-12)
    assert refine_peaks(np.ones(5), np.array([0, 2, 4])).tolist() == [0.0, 2.0, 4.0]  # flat and at the ends


def test_a_flat_line_gives_no_beats_and_a_reset_forgets_the_chain():
    detector = EcgPeakStream(FS)
    assert detector.push(np.zeros(int(20 * FS))) == []
    ecg, _ = rendered_ecg(30, 4)
    first = detector.push(ecg)
    assert first and all(400 < rr < 1500 for rr, _ in first)
    detector.reset()
    assert detector.samples_seen == 0


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="fs_hz"):
        EcgPeakStream(0.0)
    with pytest.raises(ValueError, match="context_s"):
        EcgPeakStream(FS, context_s=0.2)
