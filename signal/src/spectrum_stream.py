"""Frequency-domain HRV of a window sliding over a beat stream, without redoing the whole window.

The streaming engine asks for VLF, LF and HF of its trailing window every few seconds. The batch
:func:`~vagus.signal.frequency.frequency_domain` fits the window's spline and runs Welch from
scratch each time: most of that work repeats, and neurokit2's Welch rule (segments of half the
series, zero padded to twice that) gives FFT lengths such as 2·599 that are slow to transform.
:class:`StreamingSpectrum` follows the same recipe with two departures, both far below the 1 %
agreement it is held to:

1. **One spline for the stream.** The quadratic interpolating spline (scipy's
   ``make_interp_spline(k=2)`` knots) is fitted to every beat since the last reset and extended
   per call: the rows of its tridiagonal system that new beats add are eliminated forward once,
   and back-substitution from the newest beat stops where coefficients move by less than
   0.01 ms. A coefficient's sensitivity to a beat decays by about 0.17 per knot, so only the
   last ~12 beats are redone. Inside a window this is the window's own spline except near the
   window's first beats, where the batch spline has its end condition: ~1e-6 relative in LF/HF.
2. **A resampling rate that gives a fast FFT.** Where the batch recipe cuts the series at
   ``fs`` (4 Hz) into segments of ``N`` samples and transforms them with ``nfft = 2N`` (2·599
   for a typical 300-s window: twice a prime, ~9× slower than 2·640), the spline is sampled
   at ``fs' = fs·N'/N`` with ``N' >= N`` a length of the same parity whose ``2N'``-point FFT is
   fast (:func:`_fast_length`), and segment ``k`` starts at the sample nearest the batch
   segment's start time. Segments last the same ``N/fs`` seconds, the taper spans the same
   time, and FFT bin ``j`` lies at the same ``j·fs/(2N)`` Hz, so band edges cut the same bins;
   only the sampling of the continuous spline differs (``fs'`` is 0–33 % above ``fs``, never
   below it).

Validation (24-hour benchmark day of real recordings, every 300-s window 5 s apart, 17 221
windows): LF and HF within 0.1 % of :func:`frequency_domain`, which is neurokit2's recipe to
rounding, on every window; HF of 60-s windows within 0.3 %. Where the heart beats faster than
the 4-Hz grid's 2-Hz Nyquist rate (above ~120 bpm), resampling at 4 Hz aliases the spline, and
neurokit2's own LF and HF move by about 1 % with the sampling rate; there this path can differ
from it by a few per cent in a band that holds little of the power (by at most 0.4 % of LF + HF
over 400 random streams at 40–170 bpm). ``vagus analyze`` keeps the exact
batch function. Recipes other than quadratic interpolation with neurokit2's Welch rule
(``segment_s`` or ``nfft`` set) are computed with the batch function on each call.

Cost per step (300-s window every 5 s, ~6 new beats; profiled on the benchmark day): Welch on the
~1,280 resampled samples is about two thirds of it — piece lookup (``np.interp``) and quadratic
evaluation ~15 µs, segments and taper ~5 µs, three 2N'-point real FFTs ~10 µs, band sums ~3 µs —
and the spline's update (forward elimination of ~8 rows, back-substitution of ~12 and pieces of
~14) in Python ~10 µs. The grid cannot be reused between steps: it starts at the window's first beat and
its rate follows N, which changes with the window's sample count from one step to the next.

References
----------
de Boor, C. (2001). A Practical Guide to Splines, revised ed., ch. IX and XIII. Springer.
Welch, P. (1967). The use of fast Fourier transform for the estimation of power spectra: a method
based on time averaging over short, modified periodograms. IEEE Trans Audio Electroacoust 15(2),
70–73.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from .frequency import (
    FrequencyDomain,
    FrequencyParams,
    assemble,
    bin_weights,
    frequency_domain,
    taper,
    too_few_beats,
    wanted_bands,
    welch_plan,
)

__all__ = ["StreamingSpectrum"]

try:  # numpy >= 2: the ufunc behind np.fft.rfft for even lengths, called directly to skip its wrapper
    from numpy.fft._pocketfft_umath import rfft_n_even as _rfft_even

    # A private function: check that it still takes these arguments and gives np.fft.rfft.
    _probe = np.arange(8.0).reshape(2, 4)
    if not np.allclose(
        _rfft_even(_probe, 1.0, axes=[(1,), (), (1,)], out=np.empty((2, 3), np.complex128)),
        np.fft.rfft(_probe, axis=1),
    ):
        _rfft_even = None
except (ImportError, TypeError, ValueError, AttributeError):  # pragma: no cover - numpy 1.x
    _rfft_even = None
_AXES = [(1,), (), (1,)]

try:  # np.interp's compiled core, without the wrapper's dtype checks (the arrays here are float64)
    from numpy._core.multiarray import interp as _interp
except ImportError:  # pragma: no cover - numpy 1.x
    _interp = np.interp
# Called a dozen times per step on ~1,300 samples, where the lookup of ``np.<name>`` and an
# ``out=`` keyword are a measurable part of each call.
_add_reduce = np.add.reduce
_multiply, _subtract, _square = np.multiply, np.subtract, np.square

# Back-substitution stops once a coefficient moves by no more than this (ms), ~1e-5 of an RR: the
# change left behind is below 1e-3 of the RR variability that makes LF and HF (on the benchmark
# day LF and HF move by at most 8e-6 relative against 1e-3 ms, which redid ~1.3 more rows a step).
_SETTLED_MS = 1e-2
# Rows kept before the window's first beat, so back-substitution never runs off the stored rows.
_KEEP_BEFORE = 32

Bands = tuple[float | None, float | None, float | None]


class _Plan(NamedTuple):
    """One window length's Welch computation: everything that depends only on its sample count."""

    grid_s: npt.NDArray[np.float64]  # sample times after the first beat, at the adjusted rate
    segment_index: npt.NDArray[np.intp]  # (segments, N') sample indices
    taper: npt.NDArray[np.float64]
    nfft: int
    first_bin: int
    stop_bin: int
    weights: npt.NDArray[np.float64]  # (3 bands, segments · 2 · bins) on squared re/im parts
    valid: tuple[bool, bool, bool]
    detrend: str


class _Work:
    """One stream's buffers for one plan: the resampled series, the zero-padded FFT input, the spectrum."""

    __slots__ = ("bins", "bulge", "coef", "padded", "piece", "plan", "segments", "series", "slope", "spectrum")
    __slots__ += ("squares", "squares_flat", "strided", "value")

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        size = plan.grid_s.size
        self.series = np.empty(size)
        self.piece = np.empty(size, dtype=np.intp)
        # Each sample's piece coefficients, gathered in one ``take``, and views of its rows.
        self.coef = np.empty((3, size))
        self.bulge, self.slope, self.value = self.coef
        rows, width = plan.segment_index.shape
        self.padded = np.zeros((rows, plan.nfft))  # the second half of each row stays zero
        self.segments = self.padded[:, :width]
        # Segments equally spaced (always so for an even N): a strided view of the series
        # replaces the gather through segment_index.
        starts = plan.segment_index[:, 0]
        step = int(starts[1] - starts[0]) if rows > 1 else 0
        self.strided = None
        if np.array_equal(starts, np.arange(rows) * step):
            self.strided = np.lib.stride_tricks.as_strided(
                self.series, shape=(rows, width), strides=(step * self.series.itemsize, self.series.itemsize)
            )
        self.spectrum = np.empty((rows, plan.nfft // 2 + 1), dtype=np.complex128)
        # The band bins of the spectrum as (re, im) float pairs, squared into ``squares``.
        self.bins = self.spectrum[:, plan.first_bin : plan.stop_bin].view(np.float64)
        self.squares = np.empty((rows, 2 * (plan.stop_bin - plan.first_bin)))
        self.squares_flat = self.squares.reshape(-1)


class StreamingSpectrum:
    """VLF, LF and HF of a sliding window over one beat stream, updated incrementally.

    Feed it the window's beats at each step with :meth:`update` (or, when the caller already
    knows which beats are new, :meth:`advance`); between calls the window may gain beats at its
    end and lose beats at its start. Make a new one (or :meth:`reset`) at a gap in the beats.
    The approximation is described in the module docstring.

    Parameters
    ----------
    params : FrequencyParams, optional
        The recipe, ``FrequencyParams()`` by default. The fast path covers quadratic
        interpolation with neurokit2's Welch rule (``segment_s`` and ``nfft`` None, the
        default) and any taper, detrend, overlap, bands or window thresholds; other recipes
        are computed with the exact batch function on each call.

    Examples
    --------
    >>> rr = 850.0 + 40.0 * np.sin(np.arange(1000) / 2.0)
    >>> end_s = np.cumsum(rr) / 1000.0
    >>> stream = StreamingSpectrum()
    >>> for last in range(400, 1000, 6):
    ...     fd = stream.update(rr[last - 400 : last], end_s[last - 400 : last])
    >>> exact = frequency_domain(rr[last - 400 : last])
    >>> abs(fd.hf_ms2 / exact.hf_ms2 - 1) < 1e-3
    True
    """

    __slots__ = (
        "_a",
        "_b",
        "_brk",
        "_c",
        "_coef",
        "_cp",
        "_dp",
        "_exact",
        "_final",
        "_grid",
        "_index",
        "_key",
        "_knot",
        "_moves",
        "_plans",
        "_rows",
        "_sum_ms",
        "_t",
        "_y",
        "params",
    )

    def __init__(self, params: FrequencyParams | None = None) -> None:
        self.params = params = params or FrequencyParams()
        self._exact = params.interpolation != "quadratic" or params.segment_s is not None or params.nfft is not None
        # Read every step: the grid step, what the grid adds past the last beat and the whole-window
        # threshold (s), as plain floats.
        step_s = 1.0 / params.resample_hz
        self._grid = (step_s, step_s if params.include_end else 0.0, params.whole_window_below_s)
        self._plans: dict[int, _Work | None] = {}
        self.reset()

    def reset(self) -> None:
        """Forget every beat (start of a new segment of beats)."""
        # Per beat i, in Python lists: read and written a few at a time, where lists beat numpy.
        self._key: list[float] = []  # the caller's time of the beat, only to align update() calls
        self._y: list[float] = []  # RR, ms
        self._sum_ms: list[float] = []  # RR summed from the first beat, ms
        self._t: list[float] = []  # beat time, s, from the start of the first interval
        self._knot: list[float] = []  # spline knot i (the three right-end knots are implicit)
        self._moves: list[int] = []  # RR changes among beats 0 … i (to spot a flat window)
        # Spline row i (B-splines at beat i: a_i c_{i−1} + (1 − a_i − b_i) c_i + b_i c_{i+1} = y_i),
        # its forward-elimination state, and coefficient c_i. Rows whose knots no longer change
        # (all but the last three) are kept; ``_final`` counts them.
        self._cp: list[float] = []
        self._dp: list[float] = []
        self._c: list[float] = []
        self._a: list[float] = []  # knot factors of piece i, h/(hi − left) and h/(right − lo)
        self._b: list[float] = []
        self._final = 0
        # Per piece j (knot interval holding beat j), in numpy arrays for evaluation: its left
        # break, and the spline on it as value + τ·(slope − bulge·τ) with τ the fraction of the
        # piece covered (the chord to the next break plus bulge·τ(1 − τ)). Entry n − 1 is the last
        # beat, with zero slope and bulge: it holds the last RR past the end, as neurokit2 does.
        # The three coefficients are the rows of one array (bulge, slope, value), gathered by
        # Welch with one ``take``; the spline's update writes them one float at a time through
        # memoryviews of the rows (cheaper than collecting them in lists to assign).
        capacity = 1024
        self._brk = np.empty(capacity)
        self._coef = np.empty((3, capacity))
        self._rows = tuple(memoryview(row) for row in self._coef)
        self._index = np.arange(capacity, dtype=np.float64)

    def update(self, rr_ms: npt.NDArray[np.float64], end_s: npt.NDArray[np.float64]) -> FrequencyDomain:
        """Frequency-domain indices of the current window.

        Parameters
        ----------
        rr_ms : ndarray
            The window's consecutive NN intervals in ms, finite and > 0 (not re-validated).
        end_s : ndarray
            Each beat's end time in s, as the caller stores it: only used to recognise the beats
            already seen (equal floats for the same beat), so any clock will do.

        Returns
        -------
        FrequencyDomain
            As :func:`~vagus.signal.frequency.frequency_domain` returns it, within the
            approximation described in the module docstring.
        """
        if self._exact:
            return frequency_domain(rr_ms, params=self.params)
        m = len(rr_ms)
        if m < 3:
            return too_few_beats()
        keys = self._key
        n_old = len(keys)
        seen = 0
        if n_old:
            last_key = keys[-1]
            seen = int(end_s.searchsorted(last_key, side="right"))
            if not (
                n_old == len(self._y)
                and 0 < seen <= n_old
                and end_s[seen - 1] == last_key
                and keys[n_old - seen] == end_s[0]
            ):
                seen = 0  # not the window that follows the last one: start afresh
                self.reset()
                keys = self._key
        new = rr_ms[seen:].tolist() if m > seen else []
        if new:
            keys.extend(end_s[seen:].tolist())
        fd = self.advance(new, m)
        if len(keys) > len(self._y):  # rows dropped to make room
            del keys[: len(keys) - len(self._y)]
        return fd

    def advance(self, new_rr_ms: list[float], window_beats: int) -> FrequencyDomain:
        """Append the beats that follow the last ones given, then analyse the last ``window_beats``.

        The streaming engine's entry point: it knows which beats are new, so nothing needs
        matching. ``new_rr_ms`` are consecutive NN intervals in ms (finite, > 0, not
        re-validated) that follow the stream's last beat without a gap; ``window_beats`` counts
        the window's beats, the newest last, and is at most the number of beats seen since the
        last :meth:`reset`. Mixing this with :meth:`update` on one stream starts it afresh.
        """
        params = self.params
        if self._exact:
            y = self._y
            y.extend(new_rr_ms)
            del y[: max(0, len(y) - window_beats)]
            return frequency_domain(np.array(y), params=params)
        y = self._y
        n_old = len(y)
        if new_rr_ms:
            lo = n_old + len(new_rr_ms) - window_beats
            if n_old + len(new_rr_ms) >= self._brk.size:
                dropped = self._make_room(lo, n_old + len(new_rr_ms))
                lo -= dropped
                n_old -= dropped
            self._append(new_rr_ms)
            self._refit(n_old)
        else:
            lo = n_old - window_beats
        if window_beats < 3:
            return too_few_beats()
        sums = self._sum_ms
        window_ms = sums[-1] - sums[lo] + y[lo]
        wanted = wanted_bands(window_ms / 1000.0, params)
        if not (wanted[0] or wanted[1] or wanted[2]):
            return assemble((None, None, None))
        moves = self._moves
        if moves[-1] == moves[lo]:
            # Equal RR have no variability: exactly zero power, not the interpolant's rounding noise.
            return assemble(tuple(0.0 if want else None for want in wanted))  # type: ignore[arg-type]
        return assemble(self._band_powers(lo, window_ms, wanted))

    # -- the stream's spline ------------------------------------------------------------------

    def _append(self, rr: list[float]) -> None:
        y, t, knot, moves = self._y, self._t, self._knot, self._moves
        sums = self._sum_ms
        n = len(y)
        total = sums[-1] if n else 0.0
        previous = y[-1] if n else rr[0]
        changes = moves[-1] if n else 0
        for value in rr:
            changes += value != previous
            previous = value
            moves.append(changes)
            total += value
            sums.append(total)
            t.append(total / 1000.0)
            n += 1
            # Knots: the first beat three times, then the midpoints of beats 1–2 … n−3–n−2.
            knot.append(t[0] if n <= 3 else 0.5 * (t[n - 3] + t[n - 2]))
        y.extend(rr)

    def _make_room(self, lo: int, needed: int) -> int:
        """Drop rows well before the window, growing the piece arrays if that is not enough."""
        drop = max(0, min(lo - _KEEP_BEFORE, self._final - 1))
        if needed - drop >= self._brk.size // 2:
            capacity = 2 * max(self._brk.size, needed)
            n = len(self._y)
            brk, coef = np.empty(capacity), np.empty((3, capacity))
            brk[:n] = self._brk[:n]
            coef[:, :n] = self._coef[:, :n]
            self._brk, self._coef = brk, coef
            self._rows = tuple(memoryview(row) for row in coef)
            self._index = np.arange(capacity, dtype=np.float64)
        if drop > 0:
            for values in (self._y, self._sum_ms, self._t, self._knot, self._moves, self._cp, self._dp):
                del values[:drop]
            for values in (self._c, self._a, self._b):
                del values[:drop]
            self._final -= drop
            n = len(self._y)
            self._brk[:n] = self._brk[drop : drop + n]
            self._coef[:, :n] = self._coef[:, drop : drop + n]
        return drop

    def _refit(self, n_old: int) -> None:
        """Eliminate the new final rows, solve the tail, and redo the pieces that moved."""
        t, y, knot, cp, dp, a, b = self._t, self._y, self._knot, self._cp, self._dp, self._a, self._b
        n = len(y)
        t_end = t[-1]
        # Rows and pieces below n − 3 have all their knots; the last three use the end knots.
        final = self._final
        del cp[final:], dp[final:], a[final:], b[final:]
        if not cp:
            cp.append(0.0)  # row 0 is c_0 = y_0
            dp.append(y[0])
            a.append(0.0)
            b.append(0.0)
        first = len(cp)
        if first < n - 1:
            knots = knot[first:]  # knots first … n + 1, the missing right-end ones being t_end
            knots += (t_end, t_end)
            cp_prev, dp_prev = cp[-1], dp[-1]
            # Row i reads knots i … i + 3: the first three roll along with the loop.
            k0, k1, k2 = knots[0], knots[1], knots[2]
            for k3, ti, yi in zip(knots[3:], t[first : n - 1], y[first : n - 1], strict=True):
                # Row i: lower = (k2 − t)²/((k2 − k0)·h) and upper = (t − k1)²/((k3 − k1)·h), h = k2 − k1.
                h = k2 - k1
                fa = h / (k2 - k0)
                fb = h / (k3 - k1)
                u = (k2 - ti) / h
                v = (ti - k1) / h
                lower = fa * u * u
                upper = fb * v * v
                inverse = 1.0 / (1.0 - lower - upper - lower * cp_prev)
                cp_prev = upper * inverse
                dp_prev = (yi - lower * dp_prev) * inverse
                cp.append(cp_prev)
                dp.append(dp_prev)
                a.append(fa)
                b.append(fb)
                k0, k1, k2 = k1, k2, k3
        self._final = max(1, n - 3)
        self._solve_tail(n_old)

    def _solve_tail(self, n_old: int) -> None:
        """Back-substitute from the last row, then redo the evaluation pieces that moved."""
        t, y, knot, cp, dp, c, a, b = self._t, self._y, self._knot, self._cp, self._dp, self._c, self._a, self._b
        n = len(y)
        # Back-substitution from the last row (c_{n−1} = y_{n−1}) until coefficients settle: rows
        # first_new … n − 2 are new or had end knots; below them, until a coefficient moves by
        # no more than _SETTLED_MS.
        first_new = max(1, n_old - 3)
        missing = n - len(c)
        if missing > 0:
            c += [math.nan] * missing  # nan never counts as settled
        c[n - 1] = nxt = y[n - 1]
        for i in range(n - 2, first_new - 1, -1):
            c[i] = nxt = dp[i] - cp[i] * nxt
        i = first_new - 1
        while i >= 0:
            solved = dp[i] - cp[i] * nxt
            moved = solved - c[i]
            c[i] = nxt = solved
            if -_SETTLED_MS <= moved <= _SETTLED_MS:
                break
            i -= 1
        # Pieces from one left of the first moved coefficient (piece j reads c_{j−1}, c_j, c_{j+1}) to
        # the last beat, last to first (a piece's slope reads the next piece's value). Piece 0 does
        # not exist: beats 0 and 1 share piece 1, which starts at the first beat.
        start = max(1, i - 1)
        bulge, slope, value = self._rows
        after_value = after = value[n - 1] = y[n - 1]
        slope[n - 1] = bulge[n - 1] = 0.0
        mid = c[n - 2]
        for j in range(n - 2, start - 1, -1):
            before = c[j - 1]
            rise = a[j] * (before - mid)  # from c_j to the spline's value at the piece's left break
            here = mid + rise
            curve = -rise - b[j] * (after - mid)
            value[j] = here
            bulge[j] = curve
            slope[j] = after_value - here + curve
            after_value = here
            after, mid = mid, before
        # Piece j's break is knot j + 1, the last one's the last beat: only the entries from the
        # previous last beat on are new (knots never move once the next beat has come).
        first_break = max(1, n_old - 1)
        brk = knot[first_break + 1 :]
        brk.append(t[-1])
        self._brk[first_break:n] = brk

    # -- Welch ----------------------------------------------------------------------------------

    def _band_powers(self, lo: int, window_ms: float, wanted: tuple[bool, bool, bool]) -> Bands:
        step_s, past_end_s, whole_below_s = self._grid
        # neurokit2's sample count: len(arange(t0, t_end + step, step)) on the window's own times.
        first_s = self._y[lo] / 1000.0
        end_s = window_ms / 1000.0
        n = max(1, math.ceil((end_s + past_end_s - first_s) / step_s))
        whole = end_s - first_s < whole_below_s
        key = -n if whole else n
        work = self._plans.get(key, False)
        if work is False:
            params = self.params
            plan = _plan(n, whole, params)
            work = self._plans[key] = None if plan is None else _Work(plan)
        if work is None:  # a series too short for the fast path: the exact recipe is cheap there
            return _exact_powers(np.asarray(self._y[lo:]), self.params, wanted)
        plan = work.plan
        n_beats = len(self._y)
        start = lo if lo else 1
        # Each sample's piece and fraction τ of it, then value + τ·(slope − bulge·τ); past the last
        # beat the last entry holds its RR. Breaks are taken relative to the window's first beat.
        position = _interp(plan.grid_s, self._brk[start:n_beats] - self._t[lo], self._index[start:n_beats])
        piece, x = work.piece, work.series
        piece[...] = position  # truncation (assignment casts unsafely): positions are >= 0
        position -= piece
        # (take's out= is unbuffered only with mode="clip"; the pieces are in range anyway.)
        self._coef.take(piece, axis=1, out=work.coef, mode="clip")
        _multiply(work.bulge, position, x)
        _subtract(work.slope, x, x)
        x *= position
        x += work.value
        x -= _add_reduce(x) / x.size
        # The segments, tapered, into the first half of each row of the zero-padded FFT input.
        segments = work.segments
        if plan.detrend != "none":
            x.take(plan.segment_index, out=segments, mode="clip")
            segments[...] = _detrended(segments, plan.detrend)
            segments *= plan.taper
        elif work.strided is not None:
            _multiply(work.strided, plan.taper, segments)
        else:
            x.take(plan.segment_index, out=segments, mode="clip")
            segments *= plan.taper
        if _rfft_even is None:
            work.spectrum[...] = np.fft.rfft(work.padded, axis=1)
        else:  # nfft = 2N' is even
            _rfft_even(work.padded, 1.0, axes=_AXES, out=work.spectrum)
        _square(work.bins, work.squares)
        vlf, lf, hf = (plan.weights @ work.squares_flat).tolist()
        valid = plan.valid
        return (
            vlf if wanted[0] and valid[0] else None,
            lf if wanted[1] and valid[1] else None,
            hf if wanted[2] and valid[2] else None,
        )


def _detrended(segments: npt.NDArray[np.float64], detrend: str) -> npt.NDArray[np.float64]:
    centred = segments - segments.mean(axis=1, keepdims=True)
    if detrend == "constant":
        return centred
    ramp = np.arange(segments.shape[1]) - (segments.shape[1] - 1) / 2.0
    slope = (centred @ ramp) / max(float(ramp @ ramp), np.finfo(float).tiny)
    return centred - slope[:, None] * ramp


def _exact_powers(rr: npt.NDArray[np.float64], params: FrequencyParams, wanted: tuple[bool, bool, bool]) -> Bands:
    fd = frequency_domain(rr, params=params)
    return (
        fd.vlf_ms2 if wanted[0] else None,
        fd.lf_ms2 if wanted[1] else None,
        fd.hf_ms2 if wanted[2] else None,
    )


def _fast_length(n: int) -> int:
    """The segment length N' >= N to sample at, with N's parity, for a fast FFT of 2N' points.

    An even N becomes the smallest 2ᵃ, 3·2ᵃ or 5·2ᵃ (pocketfft's quickest real FFTs); an odd N
    the smallest odd 3ᵃ·5ᵇ·7ᶜ, because the batch step (N + 1)/2 of an odd N is only reproduced by
    an odd N' (its segments would otherwise start up to half a sample off, moving 60-s HF by 2 %).
    """
    if n % 2 == 0:
        best = 1 << max(0, (n - 1).bit_length())
        for odd in (3, 5):
            best = min(best, odd << max(0, math.ceil(math.log2(n / odd))))
        return best
    m = n
    while True:
        r = m
        for p in (3, 5, 7):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 2


@lru_cache(maxsize=256)
def _plan(n: int, whole_series: bool, params: FrequencyParams) -> _Plan | None:
    """The fast-path Welch of a window of ``n`` samples at ``params.resample_hz``.

    The batch recipe's N-sample segments become N' >= N samples at ``fs·N'/N`` Hz: the same
    duration and bin frequencies, starts within half a sample of the batch ones; the series
    grows to ``n·N'/N`` samples. ``None`` for series too short to bother.
    """
    batch = welch_plan(n, whole_series, params)
    if batch.nperseg < 16 or batch.n_segments < 1:
        return None
    nperseg = _fast_length(batch.nperseg)
    ratio = nperseg / batch.nperseg
    window, energy = taper(params.window, nperseg)
    if energy <= 0.0:
        return None
    starts = np.round(np.arange(batch.n_segments) * ((batch.nperseg - batch.noverlap) * ratio)).astype(np.intp)
    size = max(round(n * ratio), int(starts[-1]) + nperseg)
    fs_hz = params.resample_hz * ratio
    bins = bin_weights(batch.nfft, batch.f_min_hz, params)
    # The weights take the squared real and imaginary parts of every segment's bins, flattened;
    # they fold in the PSD scaling 1/(fs'·Σw²·segments).
    scale = 1.0 / (fs_hz * energy * batch.n_segments)
    weights = np.tile(np.repeat(bins.weights * scale, 2, axis=1), (1, batch.n_segments))
    grid_s = np.arange(size) / fs_hz
    segment_index = starts[:, None] + np.arange(nperseg)
    for array in (weights, grid_s, segment_index):
        array.setflags(write=False)
    # nfft = 2N', the batch 2N scaled by N'/N: bin j stays at j·fs/(2N) Hz.
    return _Plan(
        grid_s, segment_index, window, 2 * nperseg, bins.first_bin, bins.stop_bin, weights, bins.valid, params.detrend
    )
