"""The physiological model of the simulator.

``simulate``: a whole day of one person (``population.Person``) following a ``scenario.Timeline``
  of states (sleep, rest, stress, exercise, recovery) with first-order transitions, circadian drift,
  respiratory sinus arrhythmia (RSA) at a wandering breathing rate, paced breathing with resonance,
  a Mayer (~0.1 Hz) component and noise, turned into beats by integral pulse frequency modulation
  (IPFM; Mateo & Laguna 2000, IEEE TBME 47:985). Every constant sits in a named table below with
  its source.

Sources tagged "[assumption]" are modelling choices inside published ranges, not measured values;
"[unverified]" means recalled from the literature but not checked against the paper here.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .population import Person
    from .scenario import Timeline

__all__ = [
    "AR1_BLOCK",
    "CHUNK_S",
    "FS_HZ",
    "STATES",
    "Physiology",
    "State",
    "Targets",
    "ar1_filter",
    "lf_amplitude_for_ratio",
    "simulate",
    "state_targets",
]


# -- A day of one person: states, transitions, RSA, Mayer waves, IPFM -----------------------------
#
# The module is long (~350 lines) because the constants and the generator share one vocabulary;
# each function stays short and the tables carry the sources.


class State(StrEnum):
    """Physiological state of a simulated person; the order of definition is the integer code."""

    SLEEP = "sleep"
    REST = "rest"
    STRESS = "stress"
    EXERCISE = "exercise"
    RECOVERY = "recovery"

    @property
    def code(self) -> int:
        """Small-integer code used in the per-second truth arrays (sleep 0 … recovery 4)."""
        return STATES.index(self)

    @classmethod
    def from_code(cls, code: int) -> State:
        if not 0 <= code < len(STATES):
            raise ValueError(f"state code must lie in 0–{len(STATES) - 1}, got {code}")
        return STATES[code]


STATES: tuple[State, ...] = tuple(State)

FS_HZ = 8  # grid of the instantaneous heart period; 4× the fastest modulation (breathing ≤ 1 Hz)
RR_MIN_MS, RR_MAX_MS = 300.0, 2000.0  # 200–30 bpm: keeps every RR physiologically bounded
CHUNK_S = 3600  # the grid is generated an hour at a time (memory: one hour's temporaries, not a day's)
AR1_BLOCK = 240  # samples per closed-form block of the AR(1) noise (30 s at FS_HZ; see ar1_filter)

# State effects on the person's resting values. HR offsets in bpm; the scales multiply resting
# amplitudes (vagal: RSA and fast beat noise; LF: Mayer wave and slow noise) and breathing rate.
SLEEP_HR_OFFSET_BPM = -6.0  # NREM HR a few bpm below quiet wake, on top of the circadian trough
# (Burgess et al. 1997, Am J Physiol 273:H1761; Trinder et al. 2001, J Sleep Res 10:253) [unverified].
SLEEP_VAGAL_SCALE = 1.3  # NREM: HF power up, LF down (Trinder et al. 2001) [unverified size; assumption]
SLEEP_LF_SCALE = 0.6
SLEEP_BREATHING_SCALE = 0.92  # slightly slower, more regular breathing in NREM [assumption]
STRESS_LF_SCALE = 1.0  # LF kept while HF falls, so LF/HF rises under mental stress (signal.md §3.2) [assumption]
STRESS_BREATHING_SCALE = 1.2  # faster breathing under mental stress [assumption]
EXERCISE_VAGAL_K = 4.0  # vagal scale exp(−k·%HRR): RMSSD of a few ms at moderate exercise [assumption]
EXERCISE_LF_SCALE = 0.25
EXERCISE_BREATHING_PER_HRR = 25.0  # brpm added per unit %HRR: ~25–35 brpm at moderate work [assumption]
RECOVERY_HR_OFFSET_BPM = 8.0  # HR stays elevated for tens of minutes after exercise [assumption]
RECOVERY_VAGAL_SCALE = 0.6  # vagal reactivation is incomplete for ~1 h after moderate exercise
# (Stanley, Peake & Buchheit 2013, Sports Med 43:1259) [unverified size].
RECOVERY_LF_SCALE = 0.8
RECOVERY_BREATHING_SCALE = 1.25
ACTIVITY = {State.SLEEP: 0.02, State.REST: 0.05, State.STRESS: 0.1, State.RECOVERY: 0.15}
# Exercise activity rises with intensity: 1.0 (brisk walk) at 45 % HRR to 2.5 (running) at 85 %.

# First-order time constants (s) of the move toward a new state's targets, chosen by direction.
HR_TAU_UP_S = {State.EXERCISE: 40.0, State.STRESS: 60.0}  # exercise onset 30–60 s; stress onset ~1 min
HR_TAU_UP_DEFAULT_S = 60.0  # [assumption]
HR_TAU_DOWN_S = {State.SLEEP: 600.0}  # HR settles over ~10 min after sleep onset [assumption]
HR_TAU_DOWN_DEFAULT_S = 90.0  # [assumption]
HR_TAU_AFTER_EXERCISE_S = 120.0  # mono-exponential HR decline after exercise, τ of 1–3 min
# (e.g. Imai et al. 1994, JACC 24:1529; Pierpont et al. 2000, Am J Cardiol 85:1302) [unverified].
VAGAL_TAU_DOWN_S = {State.EXERCISE: 20.0, State.STRESS: 45.0}  # vagal withdrawal is fast at onset
VAGAL_TAU_DOWN_DEFAULT_S = 60.0
VAGAL_TAU_UP_S = {State.SLEEP: 600.0}
VAGAL_TAU_UP_DEFAULT_S = 180.0
VAGAL_TAU_AFTER_EXERCISE_S = 300.0  # HRV recovers more slowly than HR (Stanley et al. 2013)
BREATHING_TAU_S = 20.0
PACED_BREATHING_TAU_S = 5.0  # a person follows a pacer within a breath or two
ACTIVITY_TAU_S = 3.0

# Circadian drift of HR: a 24-h cosine with its trough in the late night (Burgess et al. 1997;
# constant-routine studies report a few bpm) [unverified size; assumption: 3 bpm, trough 04:00].
CIRCADIAN_HR_AMPLITUDE_BPM = 3.0
CIRCADIAN_TROUGH_S = 4 * 3600.0

# RSA transfer: the RSA amplitude in ms falls with breathing frequency like a low-pass whose corner is
# near 0.1 Hz (Hirsch & Bishop 1981, Am J Physiol 241:H620) [unverified corner], and breathing near
# 0.1 Hz adds the baroreflex resonance (Vaschillo et al. 2002; Lehrer & Gevirtz 2014, Front Psychol
# 5:756): together ~3× the amplitude at 6/min than at 15/min [assumption inside the reported range].
RSA_CORNER_HZ = 0.1
RSA_RESONANCE_GAIN = 0.6
RSA_RESONANCE_HZ = 0.1
RSA_RESONANCE_WIDTH_HZ = 0.035  # resonance is broad: individual resonance rates span ~4.5–7.5 /min
# (Lehrer & Gevirtz 2014; Shaffer & Meehan 2020, Front Neurosci 14:570400) [unverified span]
RSA_SHARE = 0.75  # share of the non-Mayer successive-difference variance due to RSA [assumption]
BREATHING_WANDER_SD, PACED_WANDER_SD, BREATHING_WANDER_TAU_S = 0.05, 0.01, 10.0  # relative; [assumption]

# Mayer wave ~0.1 Hz (baroreflex; Task Force 1996 LF band 0.04–0.15 Hz), slowly wandering.
MAYER_HZ, MAYER_WANDER_HZ, MAYER_WANDER_TAU_S = 0.1, 0.008, 100.0
MAYER_AM_SD, MAYER_AM_TAU_S = 0.25, 30.0  # amplitude modulation, relative [assumption]
# Slow breathing entrains the baroreflex oscillation to the breathing rhythm (Vaschillo et al. 2002):
# the free-running Mayer wave shrinks by up to this share as breathing nears 0.1 Hz [assumption].
MAYER_ENTRAINMENT, MAYER_ENTRAINMENT_WIDTH_HZ = 0.6, 0.05
FAST_NOISE_TAU_S = 0.3  # beat-scale noise (nearly white from beat to beat)
SLOW_NOISE_TAU_S, SLOW_NOISE_PER_LF = 40.0, 0.7  # VLF wander, sd as a share of the Mayer amplitude

# A paced-breathing break (scenario.Intervention). The breathing follows the pacer like a paced
# segment (PACED_BREATHING_TAU_S in, BREATHING_TAU_S back out). For a person with breathing_response
# R > 0 a relief r(t) builds up during the break toward R and fades afterwards; it removes the share
# r of the HR rise above resting HR and of the vagal withdrawal below resting tone, in every state but
# exercise. Slow breathing / HRV biofeedback lowers self-reported stress (Goessl et al. 2017, Psychol
# Med 47:2578) and raises vagal indices after a session (e.g. a 4-week RCT, PMC8924557); the build-up
# and fade constants are [assumption]: the single-session time course is not reported in those sources.
RELIEF_TAU_ON_S = 60.0
RELIEF_TAU_S = 1800.0


@dataclass(frozen=True, slots=True)
class Targets:
    """Where one person's physiology settles in one state (before circadian drift)."""

    hr_bpm: float
    vagal_scale: float  # × resting RSA and fast-noise amplitude
    lf_scale: float  # × resting Mayer and slow-noise amplitude
    breathing_brpm: float
    activity: float  # 0 still, ~1 walking, ~2.5 running


def state_targets(person: Person, state: State) -> Targets:
    """The steady-state targets of ``person`` in ``state``; see the constant tables for sources."""
    rest_hr, br = person.resting_hr_bpm, person.breathing_rate_brpm
    if state is State.SLEEP:
        return Targets(
            rest_hr + SLEEP_HR_OFFSET_BPM, SLEEP_VAGAL_SCALE, SLEEP_LF_SCALE, br * SLEEP_BREATHING_SCALE, 0.02
        )
    if state is State.REST:
        return Targets(rest_hr, 1.0, 1.0, br, ACTIVITY[State.REST])
    if state is State.STRESS:
        return Targets(
            rest_hr + person.stress_hr_rise_bpm,
            person.stress_hrv_factor,
            STRESS_LF_SCALE,
            br * STRESS_BREATHING_SCALE,
            ACTIVITY[State.STRESS],
        )
    if state is State.EXERCISE:
        hrr = person.exercise_intensity_hrr
        return Targets(
            rest_hr + hrr * (person.hr_max_bpm - rest_hr),  # Karvonen: target = rest + %HRR·(max − rest)
            math.exp(-EXERCISE_VAGAL_K * hrr),
            EXERCISE_LF_SCALE,
            br + EXERCISE_BREATHING_PER_HRR * hrr,
            float(np.clip(1.0 + 3.75 * (hrr - 0.45), 0.8, 2.5)),
        )
    return Targets(
        rest_hr + RECOVERY_HR_OFFSET_BPM,
        RECOVERY_VAGAL_SCALE,
        RECOVERY_LF_SCALE,
        br * RECOVERY_BREATHING_SCALE,
        ACTIVITY[State.RECOVERY],
    )


@dataclass(frozen=True, slots=True, eq=False)
class Physiology:
    """The true physiology of one person over a timeline.

    Beats: ``beat_times_s`` (R-peak times, s from the timeline start) and ``rr_ms`` (the RR interval
    preceding each beat, ms; ``rr_ms == 1000·diff`` of the beat times, the first measured from a
    virtual beat before t = 0). Per-second truth, one value per second of the timeline: ``state``
    (``State.code``), ``breathing_rate_brpm``, ``hr_bpm`` (mean HR level incl. circadian drift,
    without RSA/Mayer/noise) and ``activity`` (0 still … ~2.5 running). Beats are float64 (a day's
    seconds need it); the per-second truth is float32 (~7 significant digits, far finer than any
    model constant), which halves what a day of truth holds in memory.
    """

    beat_times_s: npt.NDArray[np.float64]
    rr_ms: npt.NDArray[np.float64]
    state: npt.NDArray[np.int8]
    breathing_rate_brpm: npt.NDArray[np.float32]
    hr_bpm: npt.NDArray[np.float32]
    activity: npt.NDArray[np.float32]

    @property
    def duration_s(self) -> int:
        return len(self.state)

    def states(self) -> list[State]:
        """The per-second state codes mapped back to ``State`` members."""
        return [STATES[c] for c in self.state.tolist()]


def _rsa_gain(f_hz: npt.ArrayLike) -> npt.NDArray[np.float64]:
    f = np.asarray(f_hz, dtype=np.float64)
    low_pass = 1.0 / np.sqrt(1.0 + (f / RSA_CORNER_HZ) ** 2)
    resonance = 1.0 + RSA_RESONANCE_GAIN * np.exp(-(((f - RSA_RESONANCE_HZ) / RSA_RESONANCE_WIDTH_HZ) ** 2))
    return low_pass * resonance


def _mayer_entrainment(f_hz: npt.ArrayLike) -> npt.NDArray[np.float64]:
    f = np.asarray(f_hz, dtype=np.float64)
    return 1.0 - MAYER_ENTRAINMENT * np.exp(-(((f - MAYER_HZ) / MAYER_ENTRAINMENT_WIDTH_HZ) ** 2))


def _sinusoid_terms(f_hz: float, period_s: float) -> tuple[float, float]:
    """(amplitude kept by averaging over one beat, mean squared successive difference per unit amplitude²)."""
    x = f_hz * period_s
    kept = float(np.sinc(x))
    return kept, 2.0 * math.sin(math.pi * x) ** 2 * kept**2


def _ou_beat_terms(period_s: float) -> tuple[float, float]:
    """(variance, mean squared successive difference) of an OU process (unit sd, FAST_NOISE_TAU_S) averaged per beat."""
    r = FAST_NOISE_TAU_S / period_s
    decay = 1.0 - math.exp(-1.0 / r)
    var = 2.0 * r * (1.0 - r * decay)
    cov = r**2 * decay**2
    return var, 2.0 * (var - cov)


def _resting_amplitudes(
    person_hr_bpm: float, rmssd_ms: float, breathing_brpm: float, lf_ms: float
) -> tuple[float, float]:
    """(RSA amplitude, fast-noise sd), ms, that give ``rmssd_ms`` at rest next to a Mayer wave of ``lf_ms``."""
    period_s = 60.0 / person_hr_bpm
    _, d2_rsa = _sinusoid_terms(breathing_brpm / 60.0, period_s)
    _, d2_mayer = _sinusoid_terms(MAYER_HZ, period_s)
    _, d2_noise = _ou_beat_terms(period_s)
    residual = max(rmssd_ms**2 - lf_ms**2 * (1.0 + MAYER_AM_SD**2) * d2_mayer, 0.2 * rmssd_ms**2)
    return math.sqrt(RSA_SHARE * residual / d2_rsa), math.sqrt((1.0 - RSA_SHARE) * residual / d2_noise)


def lf_amplitude_for_ratio(resting_hr_bpm: float, rmssd_ms: float, breathing_brpm: float, lf_hf: float) -> float:
    """Mayer-wave amplitude (ms) that gives a resting LF/HF of about ``lf_hf`` with ``rmssd_ms``.

    Band powers are approximated analytically (sinusoids keep amplitude²/2; the per-beat noise spreads
    evenly up to half the beat rate; the slow noise follows its OU spectrum), so the realised LF/HF of
    a simulated recording is near, not exactly, ``lf_hf``.
    """
    period_s = 60.0 / resting_hr_bpm
    kept_b, _ = _sinusoid_terms(breathing_brpm / 60.0, period_s)
    kept_m, d2_mayer = _sinusoid_terms(MAYER_HZ, period_s)
    var_noise, _ = _ou_beat_terms(period_s)
    nyquist = 0.5 / period_s
    slow_lf = (2 / math.pi) * (
        math.atan(2 * math.pi * 0.15 * SLOW_NOISE_TAU_S) - math.atan(2 * math.pi * 0.04 * SLOW_NOISE_TAU_S)
    )
    lf_ms = 0.0
    for _ in range(8):  # fixed point: the Mayer wave takes part of the RMSSD budget from the RSA
        rsa_ms, noise_ms = _resting_amplitudes(resting_hr_bpm, rmssd_ms, breathing_brpm, lf_ms)
        hf = (rsa_ms * kept_b) ** 2 / 2 + noise_ms**2 * var_noise * 0.25 / nyquist
        lf_noise = noise_ms**2 * var_noise * 0.11 / nyquist
        per_unit = (1.0 + MAYER_AM_SD**2) * kept_m**2 / 2 + SLOW_NOISE_PER_LF**2 * slow_lf
        lf_ms = math.sqrt(max(lf_hf * hf - lf_noise, 0.0) / per_unit)
        lf_ms = min(lf_ms, math.sqrt(0.6 * rmssd_ms**2 / ((1.0 + MAYER_AM_SD**2) * d2_mayer)))
    return lf_ms


def ar1_filter(innovations: npt.NDArray[np.float64], a: float, x_prev: float) -> npt.NDArray[np.float64]:
    """x[k] = a·x[k−1] + e[k] with x[−1] = ``x_prev``: the AR(1) recursion in closed form, block by block.

    Within a block of B samples x[k] = a^(k+1)·x[−1] + a^k·Σ_{j≤k} e[j]·a^(−j): one cumulative sum
    and two products instead of a Python loop per sample (scipy's ``lfilter([1], [1, −a])`` computes
    the same recursion). ``AR1_BLOCK`` keeps a^(−B) far from overflow for the shortest time constant
    (0.3 s: a^(−240) ≈ e^100), and the rounding error of sample k stays ~k·ε of the innovations' size.
    Only the carry from block to block runs in Python (one step per block). ``0 ≤ a < 1``.
    """
    if not 0.0 <= a < 1.0:
        raise ValueError(f"AR(1) coefficient must lie in [0, 1), got {a}")
    e = np.asarray(innovations, dtype=np.float64)
    n = e.size
    if n == 0:
        return np.empty(0)
    if a == 0.0:
        return e.copy()
    blocks = -(-n // AR1_BLOCK)
    padded = np.zeros(blocks * AR1_BLOCK)
    padded[:n] = e
    k = np.arange(AR1_BLOCK, dtype=np.float64)
    rising, decay = a**-k, a**k  # a^(−k), a^k
    local = padded.reshape(blocks, AR1_BLOCK)
    local *= rising
    np.cumsum(local, axis=1, out=local)
    local *= decay  # response of each block to its own innovations, from rest
    carry = np.empty(blocks)
    a_block, x = a**AR1_BLOCK, float(x_prev)
    ends = local[:, -1].tolist()
    for b in range(blocks):
        carry[b] = x
        x = a_block * x + ends[b]
    local += (a * decay)[None, :] * carry[:, None]
    return padded[:n]


@dataclass(slots=True)
class _OrnsteinUhlenbeck:
    """A stationary Ornstein–Uhlenbeck (AR(1)) series on the FS_HZ grid, drawn chunk by chunk.

    Its own generator draws the innovations in order, so the series does not depend on the chunk
    lengths (numpy's ``Generator.standard_normal`` keeps no state besides the bit generator's).
    """

    rng: np.random.Generator
    a: float
    innovation_sd: float
    x: float  # the sample before the next chunk

    @classmethod
    def start(cls, rng: np.random.Generator, tau_s: float, sd: float) -> _OrnsteinUhlenbeck:
        a = math.exp(-1.0 / (FS_HZ * tau_s))
        return cls(rng, a, sd * math.sqrt(1.0 - a * a), float(rng.standard_normal()) * sd)  # stationary start

    def next(self, n: int) -> npt.NDArray[np.float64]:
        innovations = self.rng.standard_normal(n)
        innovations *= self.innovation_sd
        x = ar1_filter(innovations, self.a, self.x)
        self.x = float(x[-1])
        return x


def _tau(table: dict[State, float], default: float, state: State) -> float:
    return table.get(state, default)


@dataclass(frozen=True, slots=True)
class _Course:
    """The first-order courses of one segment, samples [lo, hi) of the FS_HZ grid: per channel (HR level,
    vagal scale, LF scale, breathing rate, activity) value(k) = target + (start − target)·exp(−k/FS/τ)."""

    lo: int
    hi: int
    start: tuple[float, ...]
    target: tuple[float, ...]
    tau_s: tuple[float, ...]
    paced: bool


def _courses(person: Person, timeline: Timeline) -> list[_Course]:
    """Each segment's channel courses, each starting where the previous one ended."""
    segments = timeline.segments
    first = state_targets(person, segments[0].state)
    value = [first.hr_bpm, first.vagal_scale, first.lf_scale, first.breathing_brpm, first.activity]
    if segments[0].paced_breathing_brpm is not None:
        value[3] = segments[0].paced_breathing_brpm
    previous: State | None = None
    courses: list[_Course] = []
    for seg in segments:
        tg = state_targets(person, seg.state)
        target = [tg.hr_bpm, tg.vagal_scale, tg.lf_scale, tg.breathing_brpm, tg.activity]
        after_exercise = previous is State.EXERCISE
        if target[0] > value[0]:
            hr_tau = _tau(HR_TAU_UP_S, HR_TAU_UP_DEFAULT_S, seg.state)
        else:
            hr_tau = (
                HR_TAU_AFTER_EXERCISE_S if after_exercise else _tau(HR_TAU_DOWN_S, HR_TAU_DOWN_DEFAULT_S, seg.state)
            )
        if target[1] > value[1]:
            vagal_tau = (
                VAGAL_TAU_AFTER_EXERCISE_S
                if after_exercise
                else _tau(VAGAL_TAU_UP_S, VAGAL_TAU_UP_DEFAULT_S, seg.state)
            )
        else:
            vagal_tau = _tau(VAGAL_TAU_DOWN_S, VAGAL_TAU_DOWN_DEFAULT_S, seg.state)
        breathing_tau = BREATHING_TAU_S
        if seg.paced_breathing_brpm is not None:
            target[3], breathing_tau = seg.paced_breathing_brpm, PACED_BREATHING_TAU_S
        taus = (hr_tau, vagal_tau, vagal_tau, breathing_tau, ACTIVITY_TAU_S)
        courses.append(
            _Course(
                seg.start_s * FS_HZ,
                seg.end_s * FS_HZ,
                tuple(value),
                tuple(target),
                taus,
                seg.paced_breathing_brpm is not None,
            )
        )
        span_s = seg.duration_s
        value = [t + (v - t) * math.exp(-span_s / tau) for v, t, tau in zip(value, target, taus, strict=True)]
        previous = seg.state
    return courses


def _intervene(
    person: Person,
    timeline: Timeline,
    lo: int,
    hi: int,
    channels: tuple[npt.NDArray[np.float64], ...],
) -> None:
    """Apply the timeline's paced-breathing breaks to the channels of grid samples [lo, hi), in place.

    Only samples at or after a break's start change, so everything before it stays bit for bit."""
    hr_level, vagal, _lf, breathing, _activity, paced = channels
    states: npt.NDArray[np.int8] | None = None
    for iv in timeline.interventions:
        s = iv.start_s * FS_HZ
        a = max(s, lo)
        if a >= hi:
            continue
        t = (np.arange(a, hi) - s) / FS_HZ  # s since the break started
        length = float(iv.duration_s)
        during = t < length
        pace = np.where(
            during,
            1.0 - np.exp(-t / PACED_BREATHING_TAU_S),
            (1.0 - math.exp(-length / PACED_BREATHING_TAU_S)) * np.exp(-(t - length) / BREATHING_TAU_S),
        )
        k = slice(a - lo, hi - lo)
        breathing[k] += pace * (iv.paced_brpm - breathing[k])
        paced[k] |= during
        if person.breathing_response <= 0.0:
            continue
        relief = person.breathing_response * np.where(
            during,
            1.0 - np.exp(-t / RELIEF_TAU_ON_S),
            (1.0 - math.exp(-length / RELIEF_TAU_ON_S)) * np.exp(-(t - length) / RELIEF_TAU_S),
        )
        if states is None:
            per_second = timeline.state_codes()
            states = per_second[np.minimum(np.arange(lo, hi) // FS_HZ, per_second.size - 1)]
        relief[states[k] == State.EXERCISE.code] = 0.0
        hr_level[k] -= relief * np.maximum(hr_level[k] - person.resting_hr_bpm, 0.0)
        vagal[k] += relief * np.maximum(1.0 - vagal[k], 0.0)


def _channels(courses: list[_Course], lo: int, hi: int) -> tuple[npt.NDArray[np.float64], ...]:
    """HR level, vagal scale, LF scale, breathing rate, activity and paced flag on grid samples [lo, hi)."""
    out = np.empty((5, hi - lo))
    paced = np.zeros(hi - lo, dtype=bool)
    for c in courses:
        a, b = max(c.lo, lo), min(c.hi, hi)
        if a >= b:
            continue
        k = np.arange(a - c.lo, b - c.lo) / FS_HZ
        for i in range(5):
            out[i, a - lo : b - lo] = c.target[i] + (c.start[i] - c.target[i]) * np.exp(-k / c.tau_s[i])
        paced[a - lo : b - lo] = c.paced
    return (*out, paced)


@dataclass(slots=True)
class _Ipfm:
    """Integral pulse frequency modulation over consecutive chunks (Mateo & Laguna 2000): a beat
    falls where the integral of the heart rate 1000/period crosses an integer. The rate is held
    constant over each grid step; ``phase`` is the integral (beats) at the start of the next chunk."""

    phase: float  # share of the first beat cycle already elapsed at t = 0, then the running integral

    def beats(self, period_ms: npt.NDArray[np.float64], first_sample: int) -> npt.NDArray[np.float64]:
        """Beat times (s) in the chunk of grid samples starting at ``first_sample``."""
        phase = np.empty(period_ms.size + 1)
        phase[0] = self.phase
        np.divide(1000.0 / FS_HZ, period_ms, out=phase[1:])  # beats per grid step
        np.cumsum(phase, out=phase)  # one running sum from the carried phase: chunk lengths do not matter
        self.phase = float(phase[-1])
        k = np.arange(math.floor(phase[0]) + 1, math.floor(phase[-1]) + 1, dtype=np.float64)
        idx = np.searchsorted(phase, k, side="left")  # phase[idx-1] < k <= phase[idx]
        frac = (k - phase[idx - 1]) / (phase[idx] - phase[idx - 1])
        return (first_sample + idx - 1 + frac) / FS_HZ


@dataclass(slots=True)
class _HeartPeriod:
    """The instantaneous heart period of one person, chunk after chunk of the grid: the noise states and
    the running sums of the breathing and Mayer frequencies carry over from one chunk to the next."""

    person: Person
    timeline: Timeline
    courses: list[_Course]
    noise: tuple[_OrnsteinUhlenbeck, ...]  # breathing wander, Mayer wander, Mayer AM, fast, slow
    rsa_ms: float
    breath_phase0: float
    mayer_phase0: float
    breath_sum: float = 0.0  # Σ breathing frequency (Hz) over the samples so far
    mayer_sum: float = 0.0

    @classmethod
    def start(cls, person: Person, timeline: Timeline, sequence: np.random.SeedSequence) -> _HeartPeriod:
        rng = np.random.default_rng(sequence)
        rsa_ms, noise_ms = _resting_amplitudes(
            person.resting_hr_bpm, person.rmssd_rest_ms, person.breathing_rate_brpm, person.lf_amplitude_ms
        )
        params = (
            (BREATHING_WANDER_TAU_S, 1.0),
            (MAYER_WANDER_TAU_S, MAYER_WANDER_HZ),
            (MAYER_AM_TAU_S, MAYER_AM_SD),
            (FAST_NOISE_TAU_S, noise_ms),
            (SLOW_NOISE_TAU_S, SLOW_NOISE_PER_LF * person.lf_amplitude_ms),
        )
        noise = tuple(
            _OrnsteinUhlenbeck.start(np.random.default_rng(child), tau_s, sd)
            for child, (tau_s, sd) in zip(sequence.spawn(len(params)), params, strict=True)
        )
        phases = rng.uniform(0, 2 * np.pi, size=2)
        return cls(person, timeline, _courses(person, timeline), noise, rsa_ms, float(phases[0]), float(phases[1]))

    def _running_phase(self, f_hz: npt.NDArray[np.float64], carried: float) -> npt.NDArray[np.float64]:
        """Σ f over the samples so far, continuing ``carried`` (one running sum, whatever the chunks)."""
        cum = np.empty(f_hz.size + 1)
        cum[0] = carried
        cum[1:] = f_hz
        return np.cumsum(cum, out=cum)[1:]

    def chunk(self, lo: int, hi: int) -> tuple[npt.NDArray[np.float64], ...]:
        """(period ms, breathing frequency Hz, HR level bpm, activity) on grid samples [lo, hi)."""
        person, n = self.person, hi - lo
        breath_wander, mayer_wander, mayer_am_noise, fast_noise, slow_noise = self.noise
        channels = _channels(self.courses, lo, hi)
        if self.timeline.interventions:
            _intervene(person, self.timeline, lo, hi, channels)
        hr_level, vagal, lf, breathing, activity, paced = channels
        time_of_day = self.timeline.start_of_day_s + np.arange(lo, hi) / FS_HZ
        hr = hr_level - CIRCADIAN_HR_AMPLITUDE_BPM * np.cos(2 * np.pi * (time_of_day - CIRCADIAN_TROUGH_S) / 86400.0)
        hr = np.clip(hr, 60000.0 / RR_MAX_MS, 60000.0 / RR_MIN_MS)
        del hr_level, time_of_day  # temporaries go as soon as they are used: the chunk's peak stays small

        wander_sd = np.where(paced, PACED_WANDER_SD, BREATHING_WANDER_SD)
        f_breath = np.clip(breathing / 60.0 * (1.0 + wander_sd * breath_wander.next(n)), 0.03, 1.0)
        breath_cum = self._running_phase(f_breath, self.breath_sum)
        self.breath_sum = float(breath_cum[-1])
        mayer_cum = self._running_phase(np.clip(MAYER_HZ + mayer_wander.next(n), 0.06, 0.14), self.mayer_sum)
        self.mayer_sum = float(mayer_cum[-1])
        del wander_sd, breathing, paced
        mayer_am = np.maximum(1.0 + mayer_am_noise.next(n), 0.0)
        mayer_am *= _mayer_entrainment(f_breath) / _mayer_entrainment(person.breathing_rate_brpm / 60.0)

        gain = _rsa_gain(f_breath) / _rsa_gain(person.breathing_rate_brpm / 60.0)
        # Inspiration shortens the heart period (RSA): the period is lowest at the phase of peak inflow.
        vagal_part = -self.rsa_ms * gain * np.sin(self.breath_phase0 + 2 * np.pi * breath_cum / FS_HZ)
        vagal_part += fast_noise.next(n)
        del gain, breath_cum
        lf_part = person.lf_amplitude_ms * mayer_am * np.sin(self.mayer_phase0 + 2 * np.pi * mayer_cum / FS_HZ)
        lf_part += slow_noise.next(n)
        del mayer_am, mayer_cum
        period_ms = np.clip(60000.0 / hr + vagal * vagal_part + lf * lf_part, RR_MIN_MS, RR_MAX_MS)
        return period_ms, f_breath, hr, activity


def simulate(person: Person, timeline: Timeline, *, seed: int, chunk_s: int = CHUNK_S) -> Physiology:
    """Simulate ``person`` over ``timeline``: beat times, RR and per-second truth.

    Instantaneous heart period on an 8-Hz grid: T(t) = 60000/HR(t) + v(t)·[RSA + fast noise] +
    l(t)·[Mayer + slow noise] (ms), with HR(t) the state level (first-order transitions) plus the
    circadian cosine, v and l the state's vagal and LF scales, the RSA a sinusoid whose phase integrates
    the (wandering or paced) breathing rate, scaled by the RSA transfer gain at that rate. T is clipped to
    300–2000 ms and beats placed by IPFM. Deterministic for (seed, person_id).

    The grid is generated ``chunk_s`` seconds at a time (vectorised within a chunk), carrying the noise
    states, phases and the IPFM integral across chunks, so memory peaks at one chunk's temporaries
    rather than a day's (~20 arrays × 8 B × 8 Hz: ~4.6 MB for an hour) and the result is the same, bit
    for bit, for every ``chunk_s`` that is a multiple of ``AR1_BLOCK / FS_HZ`` (30 s). A 24-h day takes
    a fraction of a second.
    """
    block_s = AR1_BLOCK // FS_HZ
    if chunk_s <= 0 or chunk_s % block_s:
        raise ValueError(f"chunk_s must be a positive multiple of {block_s} s, got {chunk_s}")
    duration_s = timeline.duration_s
    sequence = np.random.SeedSequence([int(seed), zlib.crc32(person.person_id.encode())])
    heart = _HeartPeriod.start(person, timeline, sequence)
    # A sixth child of the sequence (the heart period spawned five, one per noise stream).
    ipfm = _Ipfm(float(np.random.default_rng(sequence.spawn(1)[0]).uniform(0.0, 1.0)))
    breathing_truth, hr_truth, activity_truth = (np.empty(duration_s, dtype=np.float32) for _ in range(3))
    beats: list[npt.NDArray[np.float64]] = []
    for s0 in range(0, duration_s, chunk_s):
        s1 = min(s0 + chunk_s, duration_s)
        period_ms, f_breath, hr, activity = heart.chunk(s0 * FS_HZ, s1 * FS_HZ)
        if s0 == 0:  # the virtual beat before t = 0
            beats.append(np.array([-ipfm.phase * period_ms[0] / 1000.0]))
        beats.append(ipfm.beats(period_ms, s0 * FS_HZ))
        per_second = s1 - s0, FS_HZ
        breathing_truth[s0:s1] = (f_breath * 60.0).reshape(per_second).mean(axis=1)
        hr_truth[s0:s1] = hr.reshape(per_second).mean(axis=1)
        activity_truth[s0:s1] = activity.reshape(per_second).mean(axis=1)

    beat_times = np.concatenate(beats)
    arrays = (
        beat_times[1:],
        np.diff(beat_times) * 1000.0,
        timeline.state_codes(),
        breathing_truth,
        hr_truth,
        activity_truth,
    )
    for array in arrays:
        array.flags.writeable = False  # the dataclass is frozen; so are its arrays
    return Physiology(*arrays)
