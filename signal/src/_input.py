"""The one check every signal function applies to its RR input."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def validated_rr(rr_ms: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """RR intervals as a float64 array; ``ValueError`` naming the first bad value otherwise."""
    rr = np.asarray(rr_ms, dtype=np.float64)
    if rr.ndim != 1:
        raise ValueError(f"rr_ms must be one-dimensional, got shape {rr.shape}")
    if rr.size == 0:
        raise ValueError("rr_ms is empty: need at least one RR interval")
    bad = ~(np.isfinite(rr) & (rr > 0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"RR intervals must be finite and > 0 ms: {int(bad.sum())} invalid, the first rr_ms[{first}] = {rr[first]}"
        )
    return rr
