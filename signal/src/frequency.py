"""Frequency-domain HRV indices of one window of NN intervals: VLF, LF, HF power, LF/HF, n.u.

The RR series is resampled onto an even grid, its mean removed, and its power spectral density
estimated with Welch's method; band powers are integrals of that PSD in ms². The default
:class:`FrequencyParams` reproduce neurokit2's ``hrv_frequency(..., normalize=False,
interpolation_rate=4)``; the presets :meth:`FrequencyParams.pyhrv`,
:meth:`FrequencyParams.hrv_library` and :meth:`FrequencyParams.neurokit2` reproduce those
libraries' recipes. Absolute LF and HF differ between recipes by 10–25 % on the same series
(Welch segment length, window, zero padding and band integration all matter), so compare values
only within one recipe.

:func:`frequency_domain` is the exact recipe (``vagus analyze``); the streaming engine uses
:class:`~vagus.signal.spectrum_stream.StreamingSpectrum`, which shares this module's Welch plan,
bin weights, tapers and spline pieces. The default recipe needs no ``scipy.signal`` or
``scipy.interpolate``: Hann and Hamming tapers are computed here, and the quadratic spline's
tridiagonal system is solved with LAPACK's ``dgtsv`` (``scipy.linalg``, imported on first use).

References
----------
Task Force of the European Society of Cardiology and the North American Society of Pacing and
Electrophysiology (1996). Heart rate variability: standards of measurement, physiological
interpretation and clinical use. Circulation 93(5), 1043–1065.
Welch, P. (1967). The use of fast Fourier transform for the estimation of power spectra: a method
based on time averaging over short, modified periodograms. IEEE Trans Audio Electroacoust 15(2),
70–73.
Makowski, D. et al. (2021). NeuroKit2: A Python toolbox for neurophysiological signal
processing. Behavior Research Methods 53, 1689–1696.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, NamedTuple

import msgspec
import numpy as np
import numpy.typing as npt

from ._input import validated_rr
from .records import NullReason

__all__ = ["FrequencyDomain", "FrequencyParams", "frequency_domain"]

Band = tuple[float, float]
# A piecewise quadratic: breaks, then the constant, linear and quadratic coefficients of each piece.
Pieces = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]

# Points a spline of each degree needs through the beats (degree + 1).
_SPLINE_DEGREE = {"linear": 1, "quadratic": 2, "cubic": 3}


@dataclass(frozen=True, slots=True)
class FrequencyParams:
    """How the PSD is estimated and integrated. The defaults reproduce neurokit2 at 4 Hz.

    Attributes
    ----------
    resample_hz : float
        Rate of the even grid the RR series is interpolated onto, in Hz. 4 Hz is Kubios' rate
        (neurokit2's own default is 100 Hz; its docstring says to set 4 to replicate Kubios).
    interpolation : {"quadratic", "cubic", "linear"}
        Interpolant through the points (beat time, RR). ``"quadratic"`` is neurokit2's
        ``signal_interpolate`` default and so ours; ``"cubic"`` (not-a-knot spline) is pyHRV's
        and hrv's. The choice alone moves LF and HF by about 2 % (up to 5 %) on real 300-s
        windows.
    include_end : bool
        Whether the grid ``t0, t0 + 1/resample_hz, …`` takes one sample at or just past the
        last beat, held at the last RR (neurokit2, hrv), or stops before it (pyHRV).
    detrend : {"none", "constant", "linear"}
        Detrending of each Welch segment, as scipy's ``welch(detrend=...)``. The mean of the
        whole resampled series is always removed first, so the DC offset cannot leak into VLF.
        neurokit2 uses ``"none"``; pyHRV and hrv use scipy's default ``"constant"``.
    window : str
        Taper of each segment, any name ``scipy.signal.get_window`` accepts (periodic form).
    segment_s : float or None
        Welch segment length in s (rounded to whole samples, clipped to the series). ``None``
        is neurokit2's rule: the segment is half the resampled series, and frequencies with
        fewer than 2 cycles per segment (below 4/T Hz for a window of T s) are discarded, so
        VLF then only covers 0.0133–0.04 Hz of a 300-s window.
    whole_window_below_s : float
        Series spanning less than this many seconds (first to last beat) are analysed as one
        Welch segment whatever ``segment_s`` says. pyHRV switches this way at 300 s.
    overlap : float
        Fraction of a segment shared with the next, in [0, 1).
    nfft : int or None
        FFT length in samples (zero padding); ``None`` is twice the segment, as neurokit2.
        Never less than the segment length.
    method : {"welch"}
        PSD estimator; only Welch's averaged periodogram is implemented.
    integration : {"trapezoid", "rectangle"}
        Band power rule. ``"trapezoid"``: trapezoidal integral over the PSD bins with
        ``lo <= f < hi`` (neurokit2, hrv). ``"rectangle"``: ``sum(P) * df`` over the bins with
        ``lo <= f <= hi``, inclusive at both ends (pyHRV).
    vlf_hz, lf_hz, hf_hz : tuple of float
        Band edges in Hz. Task Force 1996: VLF 0.0033–0.04, LF 0.04–0.15, HF 0.15–0.4.
    vlf_min_window_s, lf_min_window_s, hf_min_window_s : float
        Shortest window (sum of its RR intervals, in s) for which each band is reported;
        shorter windows give ``None`` with ``WINDOW_TOO_SHORT``. The Task Force asks for about
        1 min of recording for HF, 2 min for LF and 5 min for short-term analysis including
        VLF (it calls VLF from 5 min or less "a dubious measure"). Each threshold is 95 % of
        that, because a window made of whole beats spans slightly less than its nominal length
        (one RR of up to 2.4 s is 4 % of a minute): 57 s, 114 s, 285 s.

    Examples
    --------
    >>> FrequencyParams().interpolation, FrequencyParams.pyhrv().window
    ('quadratic', 'hamming')
    """

    resample_hz: float = 4.0
    interpolation: Literal["quadratic", "cubic", "linear"] = "quadratic"
    include_end: bool = True
    detrend: Literal["none", "constant", "linear"] = "none"
    window: str = "hann"
    segment_s: float | None = None
    whole_window_below_s: float = 0.0
    overlap: float = 0.5
    nfft: int | None = None
    method: Literal["welch"] = "welch"
    integration: Literal["trapezoid", "rectangle"] = "trapezoid"
    vlf_hz: Band = (0.0033, 0.04)
    lf_hz: Band = (0.04, 0.15)
    hf_hz: Band = (0.15, 0.4)
    vlf_min_window_s: float = 285.0
    lf_min_window_s: float = 114.0
    hf_min_window_s: float = 57.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.resample_hz) and self.resample_hz > 0):
            raise ValueError(f"resample_hz must be > 0, got {self.resample_hz}")
        if self.interpolation not in _SPLINE_DEGREE:
            raise ValueError(f"interpolation must be one of {sorted(_SPLINE_DEGREE)}, got {self.interpolation!r}")
        if self.detrend not in ("none", "constant", "linear"):
            raise ValueError(f"detrend must be 'none', 'constant' or 'linear', got {self.detrend!r}")
        if self.method != "welch":
            raise ValueError(f"only method='welch' is implemented, got {self.method!r}")
        if self.integration not in ("trapezoid", "rectangle"):
            raise ValueError(f"integration must be 'trapezoid' or 'rectangle', got {self.integration!r}")
        if not 0.0 <= self.overlap < 1.0:
            raise ValueError(f"overlap must be within [0, 1), got {self.overlap}")
        if self.segment_s is not None and not self.segment_s > 0:
            raise ValueError(f"segment_s must be > 0 or None, got {self.segment_s}")
        if self.nfft is not None and self.nfft < 1:
            raise ValueError(f"nfft must be >= 1 or None, got {self.nfft}")
        for name in ("vlf_hz", "lf_hz", "hf_hz"):
            lo, hi = getattr(self, name)
            if not 0.0 <= lo < hi:
                raise ValueError(f"{name} must satisfy 0 <= lo < hi, got {(lo, hi)}")
        # Above the grid's Nyquist frequency the HF band would hold no spectrum at all.
        if self.hf_hz[1] > self.resample_hz / 2:
            raise ValueError(f"resample_hz {self.resample_hz} cannot resolve HF up to {self.hf_hz[1]} Hz")
        if min(self.vlf_min_window_s, self.lf_min_window_s, self.hf_min_window_s, self.whole_window_below_s) < 0:
            raise ValueError("window thresholds must be >= 0 s")

    @classmethod
    def neurokit2(cls, *, resample_hz: float = 100.0) -> FrequencyParams:
        """neurokit2 0.3 ``hrv_frequency(..., normalize=False)``, by default at its own 100 Hz.

        ``FrequencyParams()`` equals ``FrequencyParams.neurokit2(resample_hz=4.0)``. The
        recipe: quadratic interpolation on ``arange(t0, t_end + dt, dt)`` (values past the
        last beat held), mean removed, Welch with a periodic Hann window, segments of half the
        series with 50 % overlap, no per-segment detrending, ``nfft = 2·nperseg``, bins below
        4/T Hz dropped, trapezoid over ``lo <= f < hi``.
        """
        return cls(resample_hz=resample_hz)

    @classmethod
    def pyhrv(cls) -> FrequencyParams:
        """pyHRV 0.4 ``frequency_domain.welch_psd`` with its defaults.

        4 Hz cubic interpolation on ``arange(t0, t_end, 250 ms)``, mean removed, Hamming
        window, ``nfft = 4096``; the segment is the whole series when it spans less than
        300 s, else 300 samples (75 s) with 50 % overlap and per-segment constant detrend;
        band powers ``sum(P) * df`` over inclusive bands VLF 0–0.04, LF 0.04–0.15,
        HF 0.15–0.4 Hz.
        """
        return cls(
            resample_hz=4.0,
            interpolation="cubic",
            include_end=False,
            detrend="constant",
            window="hamming",
            segment_s=75.0,
            whole_window_below_s=300.0,
            nfft=4096,
            integration="rectangle",
            vlf_hz=(0.0, 0.04),
        )

    @classmethod
    def hrv_library(cls) -> FrequencyParams:
        """rhenanbartels/hrv 0.2 ``classical.frequency_domain`` with scipy's Welch defaults.

        4 Hz cubic spline (``splrep(s=0)``) on ``arange(0, t_end + 0.25, 0.25)``, Welch with a
        Hann window, 256-sample (64 s) segments, 50 % overlap, per-segment constant detrend,
        ``nfft = nperseg``; trapezoid over ``lo <= f < hi`` with VLF 0–0.04 Hz. hrv
        extrapolates the spline for its last grid sample, where this preset holds the last RR;
        the difference is one sample.
        """
        return cls(
            resample_hz=4.0,
            interpolation="cubic",
            include_end=True,
            detrend="constant",
            window="hann",
            segment_s=64.0,
            nfft=256,
            vlf_hz=(0.0, 0.04),
        )


class FrequencyDomain(msgspec.Struct, frozen=True):
    """Band powers in ms², their ratio, and normalised units.

    ``total_power_ms2`` is VLF + LF + HF (power from the VLF band's lower edge to 0.4 Hz, as
    Kubios and hrv report it; neurokit2's ``TP`` also adds ULF and VHF). ``lfn_nu`` and
    ``hfn_nu`` are the Task Force normalised units ``100·LF/(TP − VLF)``, which with this TP is
    ``100·LF/(LF + HF)`` (pyHRV's and hrv's ``lfnu``); they are not neurokit2's ``LFn = LF/TP``.
    A field that is ``None`` has its reason in ``null_reasons``. A frozen ``msgspec.Struct``, as
    the records of ``records.py`` (the streaming engine makes one per window: cheaper to build).
    """

    vlf_ms2: float | None
    lf_ms2: float | None
    hf_ms2: float | None
    total_power_ms2: float | None
    lf_hf: float | None
    lfn_nu: float | None
    hfn_nu: float | None
    null_reasons: dict[str, NullReason] = msgspec.field(default_factory=dict)


def frequency_domain(rr_ms: npt.ArrayLike, *, params: FrequencyParams = FrequencyParams()) -> FrequencyDomain:
    """Compute VLF, LF and HF power of consecutive NN intervals with Welch's method.

    This is the exact recipe of ``params`` (for the defaults, neurokit2's to rounding error);
    :class:`~vagus.signal.spectrum_stream.StreamingSpectrum` computes the same indices
    incrementally, within 1 % of this function, for a window sliding over a beat stream.

    Parameters
    ----------
    rr_ms : array_like
        Consecutive NN intervals in ms, all finite and > 0, with no gap between them.
    params : FrequencyParams
        Resampling, Welch and integration settings, and the shortest window per band.

    Returns
    -------
    FrequencyDomain
        Powers in ms² (the PSD is in ms²/Hz), ``lf_hf`` dimensionless, ``lfn_nu``/``hfn_nu``
        in normalised units (0–100). A band is ``None`` with ``WINDOW_TOO_SHORT`` when the
        window (sum of RR) is below its threshold in ``params`` or the PSD has fewer than two
        bins in it; everything is ``None`` with ``TOO_FEW_BEATS`` when there are too few beats
        for the interpolant (degree + 1). Ratios of a window with no variability at all (HF
        power 0) are ``None`` with ``NOT_COMPUTED``.

    Raises
    ------
    ValueError
        If ``rr_ms`` is empty, not one-dimensional, or holds a value that is not finite and > 0.

    Examples
    --------
    A 5-min series breathing at 0.25 Hz (15 breaths/min) with ±40 ms of respiratory sinus
    arrhythmia puts nearly all its power, about 40²/2 = 800 ms², in HF:

    >>> t_s = np.cumsum(np.full(400, 750.0)) / 1000.0
    >>> rr = 750.0 + 40.0 * np.sin(2 * np.pi * 0.25 * t_s)
    >>> fd = frequency_domain(rr)
    >>> round(fd.hf_ms2), fd.lf_hf < 0.01, round(fd.hfn_nu)
    (787, True, 100)
    >>> frequency_domain(rr[:100]).lf_ms2, frequency_domain(rr[:100]).null_reasons["lf_ms2"]
    (None, <NullReason.WINDOW_TOO_SHORT: 'window_too_short'>)
    """
    rr = validated_rr(rr_ms)
    if rr.size < _SPLINE_DEGREE[params.interpolation] + 1:
        return too_few_beats()
    wanted = wanted_bands(float(np.sum(rr)) / 1000.0, params)
    if not wanted:
        return assemble((None, None, None))
    if np.ptp(rr) == 0.0:
        # Equal RR have no variability: exactly zero power, not the interpolant's rounding noise.
        return assemble(tuple(0.0 if want else None for want in wanted))
    x = _resample(rr, params)
    plan = welch_plan(x.size, float(np.sum(rr[1:])) / 1000.0 < params.whole_window_below_s, params)
    return assemble(_welch_band_powers(x, plan, params, params.resample_hz, wanted))


# -- shared with the streaming path (spectrum_stream.py) -------------------------------------


class WelchPlan(NamedTuple):
    """Welch geometry for a resampled series of ``n`` samples, as :func:`welch_plan` derives it.

    ``f_min_hz`` is the lowest frequency kept (0 unless neurokit2's segment rule applies).
    """

    nperseg: int
    noverlap: int
    n_segments: int
    nfft: int
    f_min_hz: float


@lru_cache(maxsize=512)
def welch_plan(n: int, whole_series: bool, params: FrequencyParams) -> WelchPlan:
    """Welch segment length, overlap, count, FFT length and lowest kept frequency.

    Parameters
    ----------
    n : int
        Samples in the resampled series (>= 1).
    whole_series : bool
        Whether the series spans (first to last beat) less than ``whole_window_below_s``, so
        that it is analysed as one segment.
    params : FrequencyParams
        The recipe.

    Returns
    -------
    WelchPlan
    """
    fs = params.resample_hz
    f_min_hz = 0.0
    if params.segment_s is None:
        # neurokit2's signal_psd: min_frequency = 2·fs/(N/2), nperseg = int(2/min_frequency·fs)
        # capped at N/2, and the PSD is cut below min_frequency. Same float expressions.
        f_min_hz = (2 * fs) / (n / 2)
        nperseg = int((2 / f_min_hz) * fs)
        if nperseg > n / 2:
            nperseg = int(n / 2)
    else:
        nperseg = round(params.segment_s * fs)
    if whole_series:
        nperseg = n
    nperseg = max(1, min(nperseg, n))
    nfft = 2 * nperseg if params.nfft is None else max(params.nfft, nperseg)
    noverlap = int(params.overlap * nperseg)
    n_segments = (n - noverlap) // (nperseg - noverlap)
    return WelchPlan(nperseg, noverlap, n_segments, nfft, f_min_hz)


class BinWeights(NamedTuple):
    """Band integration as weights on the one-sided FFT bins ``first_bin … stop_bin − 1``.

    ``weights[b] @ power`` is band ``b``'s (VLF, LF, HF) integral in ms² when ``power`` holds
    each bin's periodogram power already divided by ``fs · Σ taper² · segments``; the weights
    carry the one-sided doubling and the trapezoid (or rectangle) rule. ``valid[b]`` is False
    where the band holds fewer than two bins (no integral to speak of).
    """

    first_bin: int
    stop_bin: int
    weights: npt.NDArray[np.float64]
    valid: tuple[bool, bool, bool]


@lru_cache(maxsize=512)
def bin_weights(nfft: int, f_min_hz: float, params: FrequencyParams) -> BinWeights:
    """Integration weights of the VLF, LF and HF bands over the bins of an ``nfft``-point FFT.

    Parameters
    ----------
    nfft : int
        FFT length; bin ``k`` is at ``k · resample_hz / nfft`` Hz.
    f_min_hz : float
        Bins below this frequency are discarded before integration (neurokit2's rule).
    params : FrequencyParams
        Sampling rate, band edges and integration rule.

    Returns
    -------
    BinWeights
    """
    freq = np.fft.rfftfreq(nfft, 1.0 / params.resample_hz)
    kept = int(np.searchsorted(freq, f_min_hz, side="left")) if f_min_hz > 0.0 else 0
    freq_kept = freq[kept:]
    side = "right" if params.integration == "rectangle" else "left"
    spans = []
    for lo, hi in (params.vlf_hz, params.lf_hz, params.hf_hz):
        # freq is ascending, so a band is one slice: [lo, hi) or, for "rectangle", [lo, hi].
        first = kept + int(np.searchsorted(freq_kept, lo, side="left"))
        stop = kept + int(np.searchsorted(freq_kept, hi, side=side))
        spans.append((first, stop))
    valid = tuple(stop - first >= 2 for first, stop in spans)
    used = [span for span, ok in zip(spans, valid, strict=True) if ok] or [(kept, kept)]
    first_bin = min(first for first, _ in used)
    stop_bin = max(stop for _, stop in used)
    # One-sided PSD: every bin but DC (and Nyquist, for an even nfft) carries its mirror's power.
    one_sided = np.full(freq.size, 2.0)
    one_sided[0] = 1.0
    if nfft % 2 == 0:
        one_sided[-1] = 1.0
    df_hz = params.resample_hz / nfft
    weights = np.zeros((3, stop_bin - first_bin))
    for row, ((first, stop), ok) in enumerate(zip(spans, valid, strict=True)):
        if not ok:
            continue
        rule = np.full(stop - first, df_hz)
        if params.integration == "trapezoid":
            rule[[0, -1]] *= 0.5
        weights[row, first - first_bin : stop - first_bin] = rule * one_sided[first:stop]
    weights.setflags(write=False)
    return BinWeights(first_bin, stop_bin, weights, valid)  # type: ignore[arg-type]


@lru_cache(maxsize=512)
def taper(window: str, n: int) -> tuple[npt.NDArray[np.float64], float]:
    """Periodic taper of ``n`` samples (as ``scipy.signal.get_window``) and its energy Σ w².

    Hann and Hamming are computed here; other names are passed to scipy, imported only then.
    """
    if window in ("hann", "hamming") and n > 1:
        a0 = 0.5 if window == "hann" else 0.54
        values = a0 - (1.0 - a0) * np.cos(2.0 * np.pi * np.arange(n) / n)
    else:
        from scipy.signal import get_window

        values = np.asarray(get_window(window, n), dtype=np.float64)
    values.setflags(write=False)
    return values, float(values @ values)


def quadratic_pieces(t_s: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> Pieces:
    """The quadratic interpolating spline of ``scipy.interpolate.make_interp_spline(k=2)``, as pieces.

    scipy's knots for ``k = 2`` are the ends (each three times) and the midpoints between
    successive points except the first and last midpoints. Each point then lies in one knot
    interval, so the collocation system is tridiagonal: solved here with LAPACK's ``dgtsv``.

    Parameters
    ----------
    t_s : ndarray
        Strictly increasing abscissae (beat times in s), at least 3.
    y : ndarray
        Values at ``t_s`` (RR in ms).

    Returns
    -------
    breaks, c0, c1, c2 : ndarray
        Piece ``j`` covers ``[breaks[j], breaks[j + 1])`` (the last one up to ``t_s[-1]``)
        and is ``c0 + c1·u + c2·u²`` with ``u = t − breaks[j]``.

    References
    ----------
    de Boor, C. (2001). A Practical Guide to Splines, revised ed., ch. IX and XIII. Springer.
    """
    from scipy.linalg.lapack import dgtsv

    n = t_s.size
    knots = np.empty(n + 3)
    knots[:3] = t_s[0]
    knots[3:n] = 0.5 * (t_s[1:-2] + t_s[2:-1])
    knots[n:] = t_s[-1]
    # Row i (0 < i < n − 1): point t_i lies in [knots[i+1], knots[i+2]], where B-splines i−1, i and
    # i+1 are non-zero; the end rows are B_0(t_0) = 1 and B_{n−1}(t_{n−1}) = 1.
    x = t_s[1:-1]
    k0, k1, k2, k3 = knots[1 : n - 1], knots[2:n], knots[3 : n + 1], knots[4 : n + 2]
    h = k2 - k1
    lower = np.zeros(n - 1)
    upper = np.zeros(n - 1)
    diag = np.ones(n)
    lower[:-1] = (k2 - x) ** 2 / ((k2 - k0) * h)
    upper[1:] = (x - k1) ** 2 / ((k3 - k1) * h)
    diag[1:-1] = 1.0 - lower[:-1] - upper[1:]
    *_, coef, info = dgtsv(lower, diag, upper, y.reshape(-1, 1).astype(np.float64))
    if info != 0:  # cannot happen for increasing t_s: the matrix is totally positive
        raise ArithmeticError(f"spline collocation failed (dgtsv info {info})")
    return _pieces(knots, coef[:, 0])


def _pieces(knots: npt.NDArray[np.float64], coef: npt.NDArray[np.float64]) -> Pieces:
    """Power-basis pieces of the quadratic B-spline ``(knots, coef)`` on its n − 2 intervals."""
    n = coef.size
    left, right = knots[1 : n - 1], knots[4 : n + 2]
    start, end = knots[2:n], knots[3 : n + 1]
    h = end - start
    c_prev, c_mid, c_next = coef[:-2], coef[1:-1], coef[2:]
    # On [start, end] the spline is c_mid + (c_prev − c_mid)·(end − t)²/((end − left)·h)
    #                                     + (c_next − c_mid)·(t − start)²/((right − start)·h).
    e_prev = (c_prev - c_mid) / ((end - left) * h)
    e_next = (c_next - c_mid) / ((right - start) * h)
    return start, c_mid + e_prev * h * h, -2.0 * e_prev * h, e_prev + e_next


def evaluate_pieces(
    pieces: Pieces, t_s: npt.NDArray[np.float64], index: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Values of a piecewise quadratic ``(breaks, c0, c1, c2)`` at ascending ``t_s >= breaks[0]``.

    ``index`` is ``arange(len(breaks))`` as floats, passed in so callers can reuse one array:
    linear interpolation of it at ``t_s`` gives each point's piece number plus a fraction (exact
    at a break), which is cheaper than ``searchsorted`` and never rounds down across a break.
    """
    breaks, c0, c1, c2 = pieces
    piece = np.interp(t_s, breaks, index).astype(np.intp)
    u = t_s - breaks[piece]
    out = c2[piece]
    out *= u
    out += c1[piece]
    out *= u
    out += c0[piece]
    return out


# -- batch internals ------------------------------------------------------------------------

_BANDS = ("vlf_ms2", "lf_ms2", "hf_ms2")
_FIELDS = (*_BANDS, "total_power_ms2", "lf_hf", "lfn_nu", "hfn_nu")


def wanted_bands(window_s: float, params: FrequencyParams) -> tuple[bool, bool, bool]:
    return (
        window_s >= params.vlf_min_window_s,
        window_s >= params.lf_min_window_s,
        window_s >= params.hf_min_window_s,
    )


def too_few_beats() -> FrequencyDomain:
    return FrequencyDomain(*(None,) * len(_FIELDS), null_reasons=dict.fromkeys(_FIELDS, NullReason.TOO_FEW_BEATS))


def assemble(powers: tuple[float | None, float | None, float | None]) -> FrequencyDomain:
    """The record from VLF, LF and HF (``None``: window too short for that band)."""
    vlf, lf, hf = powers
    if vlf is not None and lf is not None and hf is not None and hf > 0.0 and math.isfinite(lf / hf):
        # Every band present (the streaming engine's usual case): no null to explain.
        ratio = lf / hf
        return FrequencyDomain(vlf, lf, hf, vlf + lf + hf, ratio, 100.0 * lf / (lf + hf), 100.0 * hf / (lf + hf), {})
    reasons = {name: NullReason.WINDOW_TOO_SHORT for name, power in zip(_BANDS, powers, strict=True) if power is None}
    total = None if vlf is None or lf is None or hf is None else vlf + lf + hf
    if total is None:
        reasons["total_power_ms2"] = NullReason.WINDOW_TOO_SHORT
    lf_hf = lfn = hfn = None
    if lf is None or hf is None:
        reasons.update(dict.fromkeys(("lf_hf", "lfn_nu", "hfn_nu"), NullReason.WINDOW_TOO_SHORT))
    elif hf > 0.0 and math.isfinite(lf / hf):
        lf_hf = lf / hf
        lfn = 100.0 * lf / (lf + hf)
        hfn = 100.0 * hf / (lf + hf)
    else:
        # Only a window without variability has no HF power (its ratios are 0/0); a denormal HF
        # would overflow the ratio.
        reasons.update(dict.fromkeys(("lf_hf", "lfn_nu", "hfn_nu"), NullReason.NOT_COMPUTED))
    return FrequencyDomain(vlf, lf, hf, total, lf_hf, lfn, hfn, null_reasons=reasons)


def _resample(rr: npt.NDArray[np.float64], params: FrequencyParams) -> npt.NDArray[np.float64]:
    """RR (ms) on an even grid of beat time starting at the first beat."""
    step_s = 1.0 / params.resample_hz
    # The same expressions as neurokit2 (times in s from the start of the first interval), so
    # the grid, and hence the sample count that sets its Welch segment, match it exactly.
    t_s = np.cumsum(rr) / 1000.0
    stop_s = t_s[-1] + step_s if params.include_end else t_s[-1]
    # Grid points past the last beat take its RR, as neurokit2's interp1d fill value does.
    grid_s = np.minimum(np.arange(t_s[0], stop_s, step_s), t_s[-1])
    if params.interpolation == "linear":
        return np.interp(grid_s, t_s, rr)
    if params.interpolation == "quadratic":
        pieces = quadratic_pieces(t_s, rr)
        return evaluate_pieces(pieces, grid_s, np.arange(pieces[0].size, dtype=np.float64))
    from scipy.interpolate import make_interp_spline

    return make_interp_spline(t_s, rr, k=_SPLINE_DEGREE[params.interpolation], check_finite=False)(grid_s)


def _welch_band_powers(
    x: npt.NDArray[np.float64],
    plan: WelchPlan,
    params: FrequencyParams,
    fs_hz: float,
    wanted: tuple[bool, bool, bool],
) -> tuple[float | None, float | None, float | None]:
    """Welch band powers (ms²) of the resampled series ``x`` sampled at ``fs_hz``."""
    x = x - np.mean(x)
    nperseg, noverlap, n_segments, nfft, f_min_hz = plan
    step = nperseg - noverlap
    segments = x[(np.arange(n_segments) * step)[:, None] + np.arange(nperseg)]
    if params.detrend == "constant":
        segments = segments - segments.mean(axis=1, keepdims=True)
    elif params.detrend == "linear":
        ramp = np.arange(nperseg) - (nperseg - 1) / 2.0
        centred = segments - segments.mean(axis=1, keepdims=True)
        slope = (centred @ ramp) / max(float(ramp @ ramp), np.finfo(float).tiny)
        segments = centred - slope[:, None] * ramp
    window, energy = taper(params.window, nperseg)
    bins = bin_weights(nfft, f_min_hz, params)
    if energy <= 0.0:
        # A one- or two-sample taper can be all zeros; there is no spectrum to speak of.
        return (None, None, None)
    spectrum = np.fft.rfft(segments * window, n=nfft, axis=1)[:, bins.first_bin : bins.stop_bin]
    power = np.sum(spectrum.real**2 + spectrum.imag**2, axis=0) / (fs_hz * energy * n_segments)
    bands = bins.weights @ power
    return tuple(  # type: ignore[return-value]
        float(band) if want and ok else None for band, want, ok in zip(bands, wanted, bins.valid, strict=True)
    )
