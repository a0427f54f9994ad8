"""The simulated population: deterministic, and distributed like the published adult ranges it cites."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vagus.sim.population import Person, draw_population


@pytest.fixture(scope="module")
def crowd() -> list[Person]:
    return draw_population(400, seed=3)


def test_ids_are_stable_and_a_bigger_population_extends_a_smaller_one():
    small, big = draw_population(5, seed=8), draw_population(12, seed=8)
    assert [p.person_id for p in big] == [f"p{i:03d}" for i in range(12)]
    assert big[:5] == small
    assert draw_population(5, seed=8) == small
    assert draw_population(5, seed=9) != small
    assert draw_population(0, seed=8) == []


def test_people_follow_the_cited_adult_ranges(crowd):
    hr = np.array([p.resting_hr_bpm for p in crowd])
    rmssd = np.array([p.rmssd_rest_ms for p in crowd])
    breathing = np.array([p.breathing_rate_brpm for p in crowd])
    # Resting HR 65.5 ± 7.7 bpm (signal.md §1.7), truncated to 50–85.
    assert hr.min() >= 50 and hr.max() <= 85
    assert hr.mean() == pytest.approx(65.5, abs=1.5)
    assert hr.std() == pytest.approx(7.7, rel=0.25)
    # RMSSD: Nunan 2010, 42 ± 15 ms; everyone inside mean ± 2 SD, spread across the range.
    assert rmssd.min() >= 12 and rmssd.max() <= 72
    assert np.median(rmssd) == pytest.approx(40.0, abs=6.0)
    assert np.percentile(rmssd, 10) < 30 < 50 < np.percentile(rmssd, 90)
    # Breathing 10–20 /min: the RSA stays inside the HF band 0.15–0.4 Hz.
    assert breathing.min() >= 10 and breathing.max() <= 20
    assert breathing.min() / 60 > 0.15


def test_max_hr_follows_tanaka_and_reactivities_vary_between_people(crowd):
    age = np.array([p.age_years for p in crowd])
    hr_max = np.array([p.hr_max_bpm for p in crowd])
    slope, intercept = np.polyfit(age, hr_max, 1)
    # Tanaka, Monahan & Seals 2001: HRmax = 208 − 0.7·age.
    assert slope == pytest.approx(-0.7, abs=0.15)
    assert intercept == pytest.approx(208.0, abs=6.0)
    rise = np.array([p.stress_hr_rise_bpm for p in crowd])
    factor = np.array([p.stress_hrv_factor for p in crowd])
    assert rise.min() >= 2 and np.median(rise) == pytest.approx(8.0, abs=1.5) and rise.max() > 15
    assert factor.min() >= 0.4 and factor.max() <= 0.95
    # One latent reactivity: people whose HR rises more lose more HRV.
    assert np.corrcoef(rise, factor)[0, 1] < -0.5
    intensity = np.array([p.exercise_intensity_hrr for p in crowd])
    assert intensity.min() >= 0.45 and intensity.max() <= 0.8
    ectopic = np.array([p.ectopic_per_hour for p in crowd])
    assert np.median(ectopic) == pytest.approx(0.5, rel=0.4) and ectopic.max() > 5 * np.median(ectopic)


def test_person_validation_names_the_field():
    person = draw_population(1, seed=0)[0]
    with pytest.raises(ValueError, match="resting_hr_bpm"):
        dataclasses.replace(person, resting_hr_bpm=5.0)
    with pytest.raises(ValueError, match="stress_hrv_factor"):
        dataclasses.replace(person, stress_hrv_factor=1.5)
    with pytest.raises(ValueError, match="hr_max_bpm"):
        dataclasses.replace(person, hr_max_bpm=person.resting_hr_bpm + 5)
    with pytest.raises(ValueError, match="person_id"):
        dataclasses.replace(person, person_id="")


@pytest.mark.parametrize(("n", "seed"), [(-1, 0), (2.5, 0), (3, -1), (True, 0)])
def test_draw_population_rejects_bad_arguments(n, seed):
    with pytest.raises(ValueError, match=r"(n|seed) must"):
        draw_population(n, seed)
