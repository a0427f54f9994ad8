"""The nudge-effect statistics against independent references: scipy's Welch test and Spearman,
Cohen's κ of a published worked example, sklearn's κ, bootstrap and coverage simulations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from vagus.signal.nudge_effect import (
    before_after_means,
    cohens_kappa,
    effect_estimate,
    score_agreement,
    spearman_rho,
)


@pytest.mark.parametrize(("n1", "n0", "shift", "seed"), [(40, 35, -4.0, 1), (12, 30, 0.0, 2), (200, 190, 1.5, 3)])
def test_welch_interval_matches_scipy(n1: int, n0: int, shift: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    sent = rng.normal(shift, 6.0, n1)
    held = rng.normal(0.0, 3.0, n0)
    est = effect_estimate(sent, held)
    ref = stats.ttest_ind(sent, held, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert est.effect == pytest.approx(sent.mean() - held.mean(), rel=1e-12)
    assert (est.ci_low, est.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert est.df == pytest.approx(ref.df, rel=1e-9)
    assert (est.n_sent, est.n_held) == (n1, n0)
    assert est.excludes_zero == (ref.pvalue < 0.05)


def test_effect_drops_missing_changes_and_needs_two_per_group() -> None:
    est = effect_estimate([1.0, None, 3.0, float("nan")], [0.0, 1.0])
    assert (est.n_sent, est.n_held, est.effect) == (2, 2, pytest.approx(1.5))
    thin = effect_estimate([1.0], [0.0, 1.0, 2.0])
    assert thin.effect == pytest.approx(0.0) and thin.ci_low is None and not thin.excludes_zero
    with pytest.raises(ValueError, match="confidence"):
        effect_estimate([1, 2], [1, 2], confidence=1.0)


def test_before_after_means_use_half_open_windows() -> None:
    t = np.arange(0.0, 7200.0, 60.0)  # one value a minute
    v = np.where(t < 3600.0, 10.0, 20.0) + t / 1e4
    before, after = before_after_means(t, v, [3600.0, 300.0, 7000.0], window_s=1800.0)
    # (1800, 3600] holds minutes 31..60 — the minute at 3600 already carries the new level.
    expected_before = np.mean([(10.0 if x < 3600 else 20.0) + x / 1e4 for x in t if 1800 < x <= 3600])
    expected_after = np.mean([20.0 + x / 1e4 for x in t if 3600 < x <= 5400])
    assert before[0] == pytest.approx(expected_before) and after[0] == pytest.approx(expected_after)
    assert not math.isnan(before[1])  # 5 minutes before t = 300 s: enough
    assert math.isnan(after[2])  # t = 7000: only 3 samples after
    with pytest.raises(ValueError, match="equal length"):
        before_after_means([0.0, 1.0], [1.0], [0.0])


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_spearman_matches_scipy_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    score = np.round(rng.uniform(0, 100, 80))
    rating = np.clip(np.round(score / 25 + rng.normal(0, 1.2, 80)), 1, 5)  # many ties
    got = spearman_rho(score, rating)
    assert got.value == pytest.approx(stats.spearmanr(score, rating).statistic, rel=1e-10)
    assert got.n == 80 and got.ci_low < got.value < got.ci_high


def test_spearman_interval_covers_the_true_rho_about_95_percent() -> None:
    # Bivariate normal with r: the population Spearman ρ is (6/π)·asin(r/2) (Pearson 1907).
    r, n, reps = 0.5, 40, 600
    true_rho = 6 / math.pi * math.asin(r / 2)
    rng = np.random.default_rng(7)
    cov = [[1.0, r], [r, 1.0]]
    hits = 0
    for _ in range(reps):
        x, y = rng.multivariate_normal([0, 0], cov, n).T
        a = spearman_rho(x, y)
        hits += a.ci_low <= true_rho <= a.ci_high
    assert 0.92 <= hits / reps <= 0.98


def test_kappa_of_the_published_worked_example() -> None:
    # The worked example of the "Cohen's kappa" article (Wikipedia, after Cohen 1960): 50 proposals,
    # both readers yes 20, A yes/B no 5, A no/B yes 10, both no 15 → p_o = 0.7, p_e = 0.5, κ = 0.4.
    a = [True] * 20 + [True] * 5 + [False] * 10 + [False] * 15
    b = [True] * 20 + [False] * 5 + [True] * 10 + [False] * 15
    po = (20 + 15) / 50
    pe = (25 / 50) * (30 / 50) + (25 / 50) * (20 / 50)  # by hand from the margins
    assert (po, pe) == pytest.approx((0.7, 0.5))
    got = cohens_kappa(a, b)
    assert got.value == pytest.approx((po - pe) / (1 - pe)) and got.value == pytest.approx(0.4)
    assert got.n == 50


def test_kappa_matches_sklearn_and_its_interval_matches_the_bootstrap() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(8)
    n = 300
    truth = rng.random(n) < 0.35
    a = truth ^ (rng.random(n) < 0.15)
    b = truth ^ (rng.random(n) < 0.25)
    got = cohens_kappa(a, b)
    assert got.value == pytest.approx(metrics.cohen_kappa_score(a, b), rel=1e-10)
    boot = []
    for _ in range(2000):
        i = rng.integers(0, n, n)
        boot.append(metrics.cohen_kappa_score(a[i], b[i]))
    se_boot = float(np.std(boot, ddof=1))
    se_formula = (got.ci_high - got.ci_low) / (2 * stats.norm.ppf(0.975))
    assert se_formula == pytest.approx(se_boot, rel=0.1)


def test_score_agreement_pairs_and_thresholds() -> None:
    scores = [80.0, 20.0, None, 60.0, 30.0, 90.0, 10.0]
    ratings = [5, 1, 4, 4, None, 3, 2]
    rho, kappa = score_agreement(scores, ratings)
    kept_s, kept_r = [80.0, 20.0, 60.0, 90.0, 10.0], [5, 1, 4, 3, 2]
    assert rho.n == kappa.n == 5
    assert rho.value == pytest.approx(stats.spearmanr(kept_s, kept_r).statistic)
    # high: 80, 60, 90; stressed (≥ 4): 5, 4 → table: both 2, score only 1 (90/3), rating only 0, neither 2.
    po, pe = 4 / 5, (3 / 5) * (2 / 5) + (2 / 5) * (3 / 5)
    assert kappa.value == pytest.approx((po - pe) / (1 - pe))
    with pytest.raises(ValueError, match="1–5"):
        score_agreement([50.0], [6])


# -- from the store: vagus.edge.nudge_outcomes and vagus report --nudges -------------------------------


def _store_with_moments(tmp_path, rng: np.random.Generator):
    import sqlite3

    from vagus.edge import Store

    path = tmp_path / "store.db"
    Store(path).close()
    t0 = 1_790_000_000.0
    moments = [(t0 + 7200.0 * k, bool(k % 2)) for k in range(12)]
    minutes = np.arange(t0 - 3600.0, t0 + 7200.0 * 12 + 3600.0, 60.0)
    stress = 40.0 + rng.normal(0, 5, minutes.size)
    for t, sent in moments:  # sent moments: 10 points lower for 30 min after
        if sent:
            stress[(minutes > t) & (minutes <= t + 1800.0)] -= 10.0
    with sqlite3.connect(path) as conn:
        for t, s in zip(minutes, stress, strict=True):
            conn.execute(
                "INSERT INTO indicators (device_id, window_nominal_s, t_end_utc_s, t_start_utc_s, window_s, n_beats,"
                " quality, rmssd_ms, stress_score, lf_ms2) VALUES ('strap', 60, ?, ?, 60, 70, 1, 40, ?, NULL)",
                (t, t - 60.0, s),
            )
        for k, (t, sent) in enumerate(moments):
            conn.execute(
                "INSERT INTO nudge_events (nudge_id, t_utc_s, device_id, kind, sent, holdback_p, text)"
                " VALUES (?, ?, 'strap', 'slow_breathing', ?, 0.5, 'want a break?')",
                (f"n{k}", t, int(sent)),
            )
    return path, minutes, stress, moments


def test_outcomes_from_the_store_match_a_direct_computation(tmp_path) -> None:
    from vagus.edge.nudge_outcomes import load_moments

    path, minutes, stress, moments = _store_with_moments(tmp_path, np.random.default_rng(9))
    got = load_moments(path)
    assert [(m.t_utc_s, m.sent) for m in got] == moments
    changes: dict[bool, list[float]] = {True: [], False: []}
    for m, (t, sent) in zip(got, moments, strict=True):
        before = stress[(minutes > t - 1800.0) & (minutes <= t)].mean()
        after = stress[(minutes > t) & (minutes <= t + 1800.0)].mean()
        assert m.change("stress") == pytest.approx(after - before)
        assert m.change("lf") is None  # no 300-s windows stored
        changes[sent].append(after - before)
    ref = stats.ttest_ind(changes[True], changes[False], equal_var=False).confidence_interval(0.95)
    est = effect_estimate([m.change("stress") for m in got if m.sent], [m.change("stress") for m in got if not m.sent])
    assert (est.ci_low, est.ci_high) == pytest.approx((ref.low, ref.high))
    assert est.ci_high < 0


def test_nudge_report_text(tmp_path) -> None:
    from vagus.edge import Store
    from vagus.report_nudges import render_nudge_report

    path, _, _, moments = _store_with_moments(tmp_path, np.random.default_rng(10))
    with Store(path) as store:
        text = render_nudge_report(store, days=7, now_utc_s=moments[-1][0] + 3600.0)
        empty = render_nudge_report(store, days=1, now_utc_s=moments[0][0] - 86_400.0)
    assert "Eligible moments: 12 — sent 6, held back at random 6 (hold-back probability 0.5)" in text
    stress_line = next(line for line in text.splitlines() if "stress score" in line)
    assert "interval excludes 0" in stress_line and stress_line.split()[2].startswith("-")
    assert "0.1-Hz power" in text and "not enough moments yet" in text  # no LF stored
    assert "not a diagnosis" in text
    assert "Eligible moments: 0" in empty
