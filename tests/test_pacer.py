"""The breathing pacer: phases, ratio, rate, and the resonance-rate choice."""

from __future__ import annotations

import numpy as np
import pytest

from vagus.edge.pacer import Pacer, Phase, resonance_rate_from_exercises


def test_default_is_six_per_minute_with_four_second_inhale() -> None:
    p = Pacer()
    assert p.period_s == pytest.approx(10.0)
    assert (p.inhale_s, p.exhale_s) == pytest.approx((4.0, 6.0))
    assert p.phase_at(0.0) == (Phase.INHALE, 0.0)
    assert p.phase_at(2.0) == (Phase.INHALE, pytest.approx(0.5))
    assert p.phase_at(4.0) == (Phase.EXHALE, 0.0)
    assert p.phase_at(7.0) == (Phase.EXHALE, pytest.approx(0.5))
    assert p.phase_at(10.0) == (Phase.INHALE, pytest.approx(0.0))
    assert p.phase_at(123.0) == (Phase.INHALE, pytest.approx(0.75))


@pytest.mark.parametrize(("rate", "share"), [(6.0, 0.4), (5.5, 0.5), (4.5, 0.33), (7.0, 0.45)])
def test_time_shares_and_spectral_peak_match_the_settings(rate: float, share: float) -> None:
    p = Pacer(rate, share)
    fs = 20.0
    t = np.arange(0, 600.0, 1 / fs)
    inhaling = np.array([p.phase_at(x)[0] is Phase.INHALE for x in t])
    assert inhaling.mean() == pytest.approx(share, abs=0.01)
    level = np.array([p.lung_level(x) for x in t])
    assert level.min() >= 0.0 and level.max() <= 1.0
    spectrum = np.abs(np.fft.rfft(level - level.mean()))
    freqs = np.fft.rfftfreq(level.size, 1 / fs)
    assert freqs[np.argmax(spectrum)] == pytest.approx(rate / 60.0, abs=1 / 600.0)
    # Between two samples of the same phase the bar rises while inhaling and falls while exhaling.
    step = np.diff(level)
    same = inhaling[1:] == inhaling[:-1]
    assert np.all(step[same & inhaling[1:]] > 0) and np.all(step[same & ~inhaling[1:]] < 0)


def test_timing_payload_and_breath_count() -> None:
    timing = Pacer(6.0, 0.4).timing(120.0)
    assert timing == {"rate_brpm": 6.0, "inhale_s": 4.0, "exhale_s": 6.0, "duration_s": 120.0, "breaths": 12}
    assert Pacer(5.5).breaths(120.0) == 11  # 120 / 10.909 = 11.0


@pytest.mark.parametrize(
    "kwargs", [{"rate_brpm": 2.0}, {"rate_brpm": 12.0}, {"inhale_share": 0.9}, {"rate_brpm": True}]
)
def test_bad_settings_raise(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        Pacer(**kwargs)


def test_bad_time_raises() -> None:
    with pytest.raises(ValueError, match="t_s"):
        Pacer().phase_at(-1.0)
    with pytest.raises(ValueError, match="t_s"):
        Pacer().phase_at(float("nan"))


def test_resonance_rate_needs_two_rates_and_takes_the_most_lf_power() -> None:
    assert resonance_rate_from_exercises([]) == 6.0
    assert resonance_rate_from_exercises([(5.0, 900.0)]) == 6.0  # one rate says nothing about others
    past = [(6.0, 800.0), (5.0, 1500.0), (6.5, 700.0), (5.0, None), (5.5, 1200.0)]
    assert resonance_rate_from_exercises(past) == 5.0
    assert resonance_rate_from_exercises([(6.0, 500.0), (20.0, 9000.0)]) == 6.0  # out of range ignored
