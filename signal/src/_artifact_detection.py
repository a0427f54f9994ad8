"""Beat classification for :mod:`vagus.signal.artifacts`: what is wrong at which input beat.

The Lipponen & Tarvainen (2019) detector (normalised dRR/mRR features, their time-varying
thresholds, the subspace rules and the resolution of overlapping explanations) and the Malik
et al. (1989) rule. Both return an :class:`ArtifactKind` code per interval; neither corrects.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .artifacts import LipponenParams, MalikParams


class ArtifactKind(IntEnum):
    """What the detector found at one input beat (the codes are stable: they may be stored)."""

    NONE = 0
    ECTOPIC = 1  # a premature or late beat; the next interval compensates
    MISSED = 2  # the interval holds an undetected beat: about two local RR
    EXTRA = 3  # a spurious beat cut a normal interval; this interval is its first piece
    LONG_SHORT = 4  # too long or too short with no more specific explanation (the Malik rule's only class)


# --------------------------------------------------------------------------------------------
# Lipponen & Tarvainen (2019) detection
# --------------------------------------------------------------------------------------------


def _rolling_quantiles(
    x: np.ndarray, window: int, rows: np.ndarray, qs: tuple[float, ...], *, shift: bool
) -> list[np.ndarray]:
    """Quantiles of ``x`` (linear interpolation, as numpy and pandas) over windows around ``rows``.

    NaN values are left out; a row with no value gives 0. Near the ends of ``x`` a centred window
    is truncated (``shift=False``, as pandas' ``rolling(center=True, min_periods=1)``) or shifted
    inwards to keep ``window`` values (``shift=True``).
    """
    n = x.size
    half = window // 2
    # Windows are gathered by index, not with sliding_window_view: the streaming corrector asks for
    # a handful of rows per beat, where the view's set-up cost (~25 µs) would dominate.
    if shift and n >= window:
        starts = np.clip(rows - half, 0, n - window)
        windows = x[starts[:, None] + np.arange(window)]
    elif shift:
        windows = np.broadcast_to(np.concatenate([x, np.full(window - n, np.nan)]), (rows.size, window))
    else:
        padded = np.concatenate([np.full(half, np.nan), x, np.full(half, np.nan)])
        windows = padded[rows[:, None] + np.arange(window)]
    ordered = np.sort(windows, axis=1)  # NaN sorts last
    last = np.maximum(np.count_nonzero(~np.isnan(windows), axis=1) - 1, 0)
    at = np.arange(rows.size)
    out = []
    for q in qs:
        pos = q * last
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, last)
        value = ordered[at, lo] + (pos - lo) * (ordered[at, hi] - ordered[at, lo])
        value[np.isnan(value)] = 0.0  # a row with no value (cheaper than nan_to_num per call)
        out.append(value)
    return out


def _lipponen_features(
    rr: np.ndarray, p: LipponenParams, start: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Normalised dRR and mRR, the running median (ms) and Th2 (ms) of every interval from ``start - 1``.

    Earlier entries are 0 (Th2: infinite); no decision at or after ``start`` reads them.
    """
    n = rr.size
    lo = max(0, start - 1)  # S12 at ``start`` reads dRR[start − 1]
    rows = np.arange(lo, n)
    drr = np.empty(n)
    drr[0] = np.nan  # no interval before the first: left out of the thresholds (a 0 would bias them)
    drr[1:] = np.diff(rr)
    # Shifted threshold windows: a beat decided at the end of a stream then has as many beats
    # behind its threshold as one in mid-recording, and batch and streaming thresholds agree.
    q1, q3 = _rolling_quantiles(np.abs(drr), p.window_beats, rows, (0.25, 0.75), shift=True)
    m_lo = max(0, lo - (p.window_beats - 1))  # mRR is read across each row's threshold window
    (med_wide,) = _rolling_quantiles(rr, p.median_beats, np.arange(m_lo, n), (0.5,), shift=False)
    mrr = rr[m_lo:] - med_wide
    mrr[mrr < 0] *= 2.0  # the paper doubles negative deviations: a short interval is more suspect
    mq1, mq3 = _rolling_quantiles(np.abs(mrr), p.window_beats, rows - m_lo, (0.25, 0.75), shift=True)
    # The quartile deviation stays robust only while artifacts are a minority of the window's
    # values; at a 10–20 % artifact rate it inflates until the detector goes blind (5 % sensitivity
    # at 20 % in our tests). The cap, 20 % of the local RR (the Malik bound), sits far above the
    # thresholds of clean rest recordings (~10–14 %) and restores ~97 % sensitivity there.
    cap = np.maximum(p.max_threshold_rr_fraction * med_wide[lo - m_lo :], p.min_threshold_ms)
    th1 = np.clip(p.alpha * (q3 - q1) / 2.0, p.min_threshold_ms, cap)
    th2 = np.clip(p.alpha * (mq3 - mq1) / 2.0, p.min_threshold_ms, cap)
    d, m, med, th2_all = np.zeros(n), np.zeros(n), np.zeros(n), np.full(n, np.inf)
    ratio = drr[lo:] / th1
    ratio[np.isnan(ratio)] = 0.0
    d[lo:] = ratio
    m[lo:] = mrr[lo - m_lo :] / th2
    med[lo:] = med_wide[lo - m_lo :]
    th2_all[lo:] = th2
    return d, m, med, th2_all


@dataclass(frozen=True, slots=True)
class _Decision:
    """One explanation: claims intervals [first, end), names beat ``first``, reads [read_lo, read_hi)."""

    rank: int  # 0 missed/extra, 1 ectopic, 2 long/short
    strength: float  # normalised evidence, max(|dRR|/Th1, |mRR|/(3 Th2)) or both jumps of an ectopic
    first: int
    end: int
    kind: ArtifactKind
    read_lo: int
    read_hi: int
    robust: bool  # the evidence is |mRR| > 3: an 11-beat median, which one bad neighbour cannot fake


def _detect_lipponen(
    rr: np.ndarray, p: LipponenParams, start: int, context: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """ArtifactKind per beat, and the intervals the correction must re-divide.

    Intervals before ``start`` are context (``context`` marks those corrected earlier): they are
    read but never flagged nor re-divided.
    """
    n = rr.size
    kinds = np.zeros(n, dtype=np.int8)
    extent = np.zeros(n, dtype=bool)
    extent[:start] = context
    if start >= n:
        return kinds, extent
    d, m, med, th2 = _lipponen_features(rr, p, start)
    padded = np.concatenate([[0.0], d, [0.0, 0.0]])  # outside the series: no evidence
    prev_d, next_d, next2_d = padded[:n], padded[2 : n + 2], padded[3 : n + 3]
    s12 = np.where(d > 0, np.maximum(prev_d, next_d), np.minimum(prev_d, next_d))
    s22 = np.where(d >= 0, np.minimum(next_d, next2_d), np.maximum(next_d, next2_d))
    ectopic = ((d > 1) & (s12 < -p.c1 * d - p.c2)) | ((d < -1) & (s12 > -p.c1 * d + p.c2))
    big_m = np.abs(m) > 3
    # With |mRR| > 3 as the evidence its sign says long or short; otherwise S21/S22 do.
    long_ = np.where(big_m, m > 0, (d > 1) & (s22 < -1))
    short = np.where(big_m, m < 0, (d < -1) & (s22 > 1))

    decisions: list[_Decision] = []
    for c in np.flatnonzero(ectopic[start + 1 :]) + start + 1:
        # Centre of a short-long (or long-short) pattern: the beat ending c−1 came early (or
        # late) and interval c compensates. Both jumps are the evidence.
        strength = max(abs(d[c]), abs(d[c - 1]))
        decisions.append(_Decision(1, strength, c - 1, c + 1, ArtifactKind.ECTOPIC, c - 2, c + 2, False))
    for j in np.flatnonzero((long_ | short)[start:]) + start:
        strength = max(abs(d[j]), abs(m[j]) / 3.0)
        robust = bool(big_m[j])
        if short[j] and (first := _extra_merge(rr, med[j], th2[j], j, start)) is not None:
            decisions.append(_Decision(0, strength, first, first + 2, ArtifactKind.EXTRA, first - 1, first + 3, robust))
        elif long_[j] and abs(rr[j] / 2.0 - med[j]) < th2[j] and rr[j] >= 1.5 * med[j]:
            # The 1.5-median condition: where beat-to-beat variability is large, Th2 alone admits
            # intervals of 1.3 medians, which no split into two beats explains.
            decisions.append(_Decision(0, strength, j, j + 1, ArtifactKind.MISSED, j - 1, j + 3, robust))
        else:
            # A misplaced beat makes one interval long and its neighbour short: blame the beat
            # between this interval and the neighbour deviating the other way, if there is one.
            partner = _partner(rr, med[j], j, start)
            first, end = (j, j + 1) if partner is None else (min(j, partner), max(j, partner) + 1)
            decisions.append(_Decision(2, strength, first, end, ArtifactKind.LONG_SHORT, first - 1, end + 2, robust))

    # The paper classifies each beat on its own; one artifact then often explains its neighbours'
    # evidence too (a missed beat makes the next dRR jump down). Missed and extra beats go first
    # (landing on the local median after a split or merge is the most specific test), then the
    # strongest evidence; a decision leaning on dRR that reads an interval already claimed is
    # dropped, since that dRR measures the artifact, not the beat.
    for dec in sorted(decisions, key=lambda x: (x.rank > 0, -x.strength, x.rank, x.first)):
        if extent[dec.first : dec.end].any():
            continue
        if not dec.robust and (extent[max(0, dec.read_lo) : dec.first].any() or extent[dec.end : dec.read_hi].any()):
            continue
        kinds[dec.first] = dec.kind
        extent[dec.first : dec.end] = True
    extent[:start] = False
    return kinds, extent


def _extra_merge(rr: np.ndarray, med: float, th2: float, j: int, start: int) -> int | None:
    """The first of two intervals that merge into one normal interval around short ``j``, or None.

    The paper tests ``j`` with ``j+1`` against the median. A spurious beat late in the true
    interval leaves the short piece second, so ``j−1`` with ``j`` is tried too, and the merge that
    best continues the intervals on either side wins; those intervals also stand in for the median,
    which lags a fast change of rhythm.
    """
    best: tuple[float, int] | None = None
    for first in (j, j - 1):
        if first < start or first + 1 >= rr.size:
            continue
        merged = rr[first] + rr[first + 1]
        around = [rr[i] for i in (first - 1, first + 2) if 0 <= i < rr.size]
        cost = abs(merged - (float(np.mean(around)) if around else med))
        if min(abs(merged - med), cost) < th2 and (best is None or cost < best[0]):
            best = (cost, first)
    return None if best is None else best[1]


def _partner(rr: np.ndarray, ref: float, j: int, start: int) -> int | None:
    """The neighbour of ``j`` (at or after ``start``) deviating most opposite to it from ``ref``."""
    best: tuple[float, int] | None = None
    for i in (j - 1, j + 1):
        if start <= i < rr.size:
            score = -(rr[j] - ref) * (rr[i] - ref)
            if score > 0 and (best is None or score > best[0]):
                best = (score, i)
    return None if best is None else best[1]


# --------------------------------------------------------------------------------------------
# Malik et al. (1989) rule
# --------------------------------------------------------------------------------------------


def _malik_step(value: float, ref: float, run: int, p: MalikParams) -> tuple[bool, float, int]:
    """(rejected?, next reference, next run of rejections) for one interval."""
    if abs(value - ref) > p.max_change * ref and run < p.max_rejected_run:
        return True, ref, run + 1
    return False, value, 0


def _detect_malik(rr: np.ndarray, p: MalikParams, start: int, ref: float, run: int) -> np.ndarray:
    """LONG_SHORT at each interval from ``start`` the rule rejects, given its state before ``start``."""
    kinds = np.zeros(rr.size, dtype=np.int8)
    for j in range(start, rr.size):
        rejected, ref, run = _malik_step(float(rr[j]), ref, run, p)
        if rejected:
            kinds[j] = ArtifactKind.LONG_SHORT
    return kinds
