"""The closed-loop nudge evaluation (benchmarks/nudge_eval.py) at the issue's acceptance target:
responders' 95 % intervals exclude zero in the expected direction (stress falls, 0.1-Hz power
rises); non-responders' include zero. ~60 s of CPU: the same people and seed as docs/benchmarks.md
(a smaller set, 6 people × 4 days, has too few moments to resolve the stress effect)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "nudge_eval.py"


@pytest.fixture(scope="module")
def nudge_eval():
    spec = importlib.util.spec_from_file_location("nudge_eval", _PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["nudge_eval"] = module
    spec.loader.exec_module(module)
    return module


def test_responders_show_the_effect_and_non_responders_do_not(nudge_eval) -> None:
    people = nudge_eval.draw_population(12 * len(nudge_eval.GROUPS), 2026)
    seed = 2026
    responders, breaks = nudge_eval.evaluate_group(people[:12], 5, seed, nudge_eval.RESPONSE, True)
    assert breaks > 40
    assert responders["stress"].ci_high < 0  # stress falls
    assert responders["lf"].ci_low > 0  # 0.1-Hz power rises
    assert responders["stress"].n_sent > 30 and responders["stress"].n_held > 30
    others, breaks = nudge_eval.evaluate_group(people[12:24], 5, seed + 10_000, 0.0, False)
    assert breaks == 0
    for outcome in ("stress", "rmssd", "lf"):
        e = others[outcome]
        assert e.ci_low is not None and e.ci_low <= 0 <= e.ci_high, outcome
