"""Correction for :mod:`vagus.signal.artifacts`: from flagged intervals to a corrected series.

Flagged intervals are grouped into blocks, each re-divided into ``round(duration / local RR)``
intervals that keep its duration, and the blocks are applied to the series. The batch pipelines
behind ``correct_rr`` (input check, detection passes, naming Malik flags after the correction)
drive this; ``StreamingCorrector`` uses the blocks one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._artifact_detection import ArtifactKind, _detect_lipponen, _detect_malik

if TYPE_CHECKING:
    from .artifacts import LipponenParams, MalikParams

# Accepted intervals consulted (per side, within reach) for the local RR a corrected block follows.
_REF_NEIGHBOURS = 4
_REF_REACH = 12

# The fields of an ArtifactCorrection, in order: rr_ms, corrected, kinds, source_index.
_Corrected = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


# --------------------------------------------------------------------------------------------
# Validation and the two batch pipelines
# --------------------------------------------------------------------------------------------


def _correct_lipponen(rr: np.ndarray, p: LipponenParams) -> _Corrected:
    kinds_in = np.zeros(rr.size, dtype=np.int8)
    current = rr
    source = np.arange(rr.size)
    corrected = np.zeros(rr.size, dtype=bool)
    previous_count = rr.size + 1
    for _ in range(p.max_passes):
        kinds, extent = _detect_lipponen(current, p, start=0, context=np.zeros(0, dtype=bool))
        flagged = np.flatnonzero(kinds)
        # neurokit2's rule for further passes: go on only while the artifacts found decrease.
        if flagged.size == 0 or flagged.size >= previous_count:
            break
        previous_count = flagged.size
        unseen = flagged[kinds_in[source[flagged]] == ArtifactKind.NONE]
        kinds_in[source[unseen]] = kinds[unseen]
        blocks = _blocks(current, extent, frozen=0, context=np.zeros(0, dtype=bool))
        current, local_source, changed = _apply(current, blocks)
        corrected = corrected[local_source] | changed
        source = source[local_source]
    return current, corrected, kinds_in, source


def _correct_malik(rr: np.ndarray, p: MalikParams) -> _Corrected:
    kinds = _detect_malik(rr, p, 0, float(np.median(rr[:5])), 0)
    blocks = _blocks(rr, kinds != ArtifactKind.NONE, frozen=0, context=np.zeros(0, dtype=bool))
    _label_malik(kinds, blocks)
    out, source, changed = _apply(rr, blocks)
    return out, changed, kinds, source


def _label_malik(kinds: np.ndarray, blocks: list[_Block]) -> None:
    """Name Malik flags by what the correction did: a block that gained a beat held a missed one."""
    for block in blocks:
        count = block.stop - block.start
        if block.values.size != count:
            kind = ArtifactKind.MISSED if block.values.size > count else ArtifactKind.EXTRA
            span = kinds[block.start : block.stop]
            span[span != ArtifactKind.NONE] = kind


# --------------------------------------------------------------------------------------------
# Correction: time-preserving re-division of blocks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Block:
    start: int  # first input interval of the block
    stop: int  # one past its last
    values: np.ndarray  # the replacement intervals (ms), summing to the block's duration


def _local_rr(rr: np.ndarray, avoid: np.ndarray, start: int, stop: int) -> float:
    """Median (ms) of the nearest accepted intervals on both sides of a block."""
    left = [j for j in range(start - 1, max(-1, start - 1 - _REF_REACH), -1) if not avoid[j]][:_REF_NEIGHBOURS]
    right = [j for j in range(stop, min(rr.size, stop + _REF_REACH)) if not avoid[j]][:_REF_NEIGHBOURS]
    if left or right:
        return float(np.median(rr[left + right]))
    return float(np.median(rr[max(0, start - 5) : stop + 5]))


def _redivide(rr: np.ndarray, avoid: np.ndarray, start: int, stop: int) -> np.ndarray:
    duration = float(rr[start:stop].sum())
    ref = _local_rr(rr, avoid, start, stop)
    k = max(1, round(duration / ref))
    left = rr[start - 1] if start > 0 and not avoid[start - 1] else ref
    right = rr[stop] if stop < rr.size and not avoid[stop] else ref
    shape = left + (right - left) * np.arange(1, k + 1) / (k + 1)
    return shape * (duration / shape.sum())


def _block_partner(rr: np.ndarray, taken: np.ndarray, j: int, ref: float) -> int | None:
    """A free neighbour to re-divide a lone interval with: the one deviating most opposite to it."""
    options = [i for i in (j - 1, j + 1) if 0 <= i < rr.size and not taken[i]]
    return max(options, key=lambda i: (-(rr[j] - ref) * (rr[i] - ref), i)) if options else None


def _blocks(rr: np.ndarray, extent: np.ndarray, frozen: int, context: np.ndarray) -> list[_Block]:
    """Runs of ``extent`` (none before ``frozen``) and their replacement intervals.

    ``context`` marks intervals before ``frozen`` that were corrected: not references.
    """
    fix = extent.copy()
    fix[:frozen] = False
    avoid = fix.copy()
    avoid[:frozen] = context[:frozen]
    taken = fix.copy()
    taken[:frozen] = True
    idx = np.flatnonzero(fix)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = idx[np.concatenate([[0], breaks + 1])].tolist()
    stops = (idx[np.concatenate([breaks, [idx.size - 1]])] + 1).tolist()
    blocks = []
    for run_start, run_stop in zip(starts, stops, strict=True):
        start, stop = run_start, run_stop
        values = _redivide(rr, avoid, start, stop)
        if stop - start == 1 and values.size == 1:
            # A lone interval kept whole would not change: it is re-divided with a neighbour,
            # which moves the beat between them (the other side of a misplaced beat).
            partner = _block_partner(rr, taken, start, _local_rr(rr, avoid, start, stop))
            if partner is not None:
                taken[partner] = True
                start, stop = min(start, partner), max(stop, partner + 1)
                values = _redivide(rr, avoid, start, stop)
        blocks.append(_Block(start, stop, values))
    return blocks


def _changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Which replacement intervals differ from the originals (all of them if the count changed).

    A block can come back unchanged: a slow dip of three short intervals flagged by mRR has no
    compensating neighbour, and re-dividing it while keeping its duration and shape returns it.
    """
    if before.size != after.size:
        return np.ones(after.size, dtype=bool)
    return ~np.isclose(after, before, rtol=0.0, atol=1e-6)


def _apply(rr: np.ndarray, blocks: list[_Block]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The corrected series, the source interval of each output, and whether it changed."""
    pieces: list[np.ndarray] = []
    sources: list[np.ndarray] = []
    changed: list[np.ndarray] = []
    at = 0
    for block in blocks:  # sorted by start, not overlapping: partners are taken once
        pieces += [rr[at : block.start], block.values]
        sources += [np.arange(at, block.start), np.full(block.values.size, block.start)]
        changed += [np.zeros(block.start - at, dtype=bool), _changed(rr[block.start : block.stop], block.values)]
        at = block.stop
    pieces.append(rr[at:])
    sources.append(np.arange(at, rr.size))
    changed.append(np.zeros(rr.size - at, dtype=bool))
    return np.concatenate(pieces), np.concatenate(sources), np.concatenate(changed)
