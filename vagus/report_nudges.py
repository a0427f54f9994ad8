"""``vagus report --nudges``: do the nudges help, and does the stress score match how you feel?

Plain text from the local store: the eligible moments of the last ``days`` days (sent / held back at
random), the effect of sending a nudge on the 30 minutes after it (sent − held back, with Welch's
95 % interval; ``vagus.signal.nudge_effect``) for the stress score, RMSSD and the 0.1-Hz power, and
the agreement between the score and the check-ins (Spearman ρ with the 1–5 rating, Cohen's κ
between "score above 50" and answering "stressed"). It says when there is too little to say.
"""

from __future__ import annotations

import time
from typing import Any

from vagus.edge.nudge_outcomes import load_moments
from vagus.errors import StoreError
from vagus.signal.nudge_effect import Agreement, EffectEstimate, cohens_kappa, effect_estimate, spearman_rho

__all__ = ["render_nudge_report"]

_ROWS = (("stress", "stress score", "points", 1), ("rmssd", "RMSSD", "ms", 1), ("lf", "0.1-Hz power", "ms²", 0))
_SCORE_HIGH_ABOVE = 50.0  # the medium and high bands (vagus.signal.stress)


def _effect_line(label: str, unit: str, digits: int, e: EffectEstimate) -> str:
    n = f"(n {e.n_sent} sent / {e.n_held} held back)"
    if e.effect is None or e.ci_low is None or e.ci_high is None:
        return f"  {label:<14} not enough moments yet {n}"
    verdict = "interval excludes 0" if e.excludes_zero else "interval includes 0: no clear effect"
    return (
        f"  {label:<14} {e.effect:+.{digits}f} {unit}  [{e.ci_low:+.{digits}f}, {e.ci_high:+.{digits}f}]  {n}; "
        + verdict
    )


def _agreement_line(label: str, a: Agreement) -> str:
    if a.value is None:
        return f"  {label}: not enough check-ins yet (n {a.n})"
    ci = "" if a.ci_low is None or a.ci_high is None else f" [{a.ci_low:+.2f}, {a.ci_high:+.2f}]"
    return f"  {label}: {a.value:+.2f}{ci}, n {a.n}"


def render_nudge_report(store: Any, *, days: int, now_utc_s: float | None = None) -> str:
    """The report for the ``days`` days up to ``now_utc_s`` (default: now) of the open ``store``."""
    if days < 1:
        raise ValueError(f"days must be ≥ 1, got {days}")
    now = time.time() if now_utc_s is None else now_utc_s
    since = now - days * 86_400.0
    moments = load_moments(store, since_utc_s=since, until_utc_s=now)
    sent = [m for m in moments if m.sent]
    held = [m for m in moments if not m.sent]
    lines = [f"Nudges, last {days} day{'s' if days != 1 else ''}", ""]
    probabilities = sorted({m.holdback_p for m in moments if m.holdback_p is not None})
    p_text = ", ".join(f"{p:g}" for p in probabilities) or "not recorded"
    lines.append(
        f"Eligible moments: {len(moments)} — sent {len(sent)}, held back at random {len(held)} "
        f"(hold-back probability {p_text})"
    )
    lines.append("")
    lines.append("Effect of a nudge on the 30 min after it (mean change sent − held back, 95 % CI, Welch):")
    for key, label, unit, digits in _ROWS:
        est = effect_estimate([m.change(key) for m in sent], [m.change(key) for m in held])
        lines.append(_effect_line(label, unit, digits, est))
    if len(probabilities) > 1:
        lines.append("  (the hold-back probability changed over the period: the plain difference is then approximate)")
    lines.append("")
    lines.append("Stress score vs what you said (check-ins):")
    lines.extend(_agreement(store, since, now))
    lines.append("")
    lines.append(
        "Moments of one person are not independent, so read the intervals as approximate. "
        "The stress score is a wellness indicator, not a diagnosis."
    )
    return "\n".join(lines) + "\n"


def _agreement(store: Any, since: float, now: float) -> list[str]:
    try:
        from vagus.edge.checkins import checkins
    except ImportError:  # a vagus without check-ins
        return ["  no check-ins in this vagus"]
    try:
        rows = checkins(store, since, now)
    except StoreError as exc:  # a store without the table: say so, keep the rest of the report
        return [f"  no check-ins ({exc})"]
    rated = [(c.stress_score, c.self_stress_1to5) for c in rows if c.stress_score is not None]
    rated = [(s, r) for s, r in rated if r is not None]
    rho = spearman_rho([s for s, _ in rated], [r for _, r in rated])
    said = [
        (c.stress_score, c.answer == "stressed")
        for c in rows
        if c.stress_score is not None and c.answer in ("stressed", "not_stressed")
    ]
    kappa = cohens_kappa([s > _SCORE_HIGH_ABOVE for s, _ in said], [a for _, a in said])
    return [
        _agreement_line("Spearman ρ, score vs your 1–5 rating", rho),
        _agreement_line(f"Cohen's κ, score > {_SCORE_HIGH_ABOVE:g} vs answering 'stressed'", kappa),
    ]
