"""``vagus breathe`` on a simulated strap: the pacer's lines, the live biofeedback, and the recorded
exercise (checked against the RR spectrum of the simulated beats by scipy's Welch)."""

from __future__ import annotations

import argparse
import asyncio
import io
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from vagus.breathe import BreatheOptions, Exercise, load_exercises, run_breathe
from vagus.breathe_cli import add_breathe_parser, main
from vagus.edge import Store
from vagus.edge.pacer import DEFAULT_INHALE_SHARE, DEFAULT_RATE_BRPM
from vagus.errors import ConfigError


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("VAGUS_CONFIG", raising=False)


def _run(tmp_path: Path, **kwargs: object) -> tuple[str, list[Exercise], Path]:
    db = tmp_path / "store.db"
    out = io.StringIO()
    options = BreatheOptions(sim=True, db_path=db, speed=float("inf"), seed=3, **kwargs)  # type: ignore[arg-type]
    assert asyncio.run(run_breathe(options, out=out, tty=False)) == 0
    with Store(db) as store:
        return out.getvalue(), load_exercises(store), db


def test_plain_output_and_the_recorded_exercise(tmp_path: Path) -> None:
    text, exercises, db = _run(tmp_path, minutes=2.0)
    assert "\x1b" not in text and "\r" not in text  # not a terminal: no escape codes
    updates = [line for line in text.splitlines() if line.startswith("breathe t=")]
    assert len(updates) >= 20  # one per 5-s step over 2 min
    assert {"phase=inhale", "phase=exhale"} <= {w for line in updates for w in line.split()}
    (e,) = exercises
    assert e.completed and e.rate_brpm == 6.0 and e.inhale_share == 0.4
    assert e.end_utc_s - e.start_utc_s == pytest.approx(120.0, abs=0.5)
    # The beats in the store during the pacing are the ones counted.
    with sqlite3.connect(db) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM beats WHERE t_utc_s > ? AND t_utc_s <= ?", (e.start_utc_s, e.end_utc_s)
        ).fetchone()[0]
        rr = np.array(
            [
                r[0]
                for r in conn.execute("SELECT rr_ms FROM beats WHERE t_utc_s > ? ORDER BY t_utc_s", (e.end_utc_s - 60,))
            ]
        )
    assert abs(e.n_beats - stored) <= 6  # a few beats of the decoder's batching at the edges
    # The resonance shows: 0.1-Hz power up several-fold; independently, the last minute's RR spectrum
    # (scipy Welch) peaks at the pacer's 0.1 Hz.
    assert e.before_lf_ms2 is not None and e.after_lf_ms2 is not None
    assert e.after_lf_ms2 > 3 * e.before_lf_ms2
    from scipy.interpolate import CubicSpline
    from scipy.signal import welch

    t = np.cumsum(rr) / 1000.0
    grid = np.arange(t[0], t[-1], 0.25)
    f, p = welch(CubicSpline(t, rr)(grid) - rr.mean(), fs=4.0, nperseg=len(grid))
    band = (f >= 0.04) & (f <= 0.4)
    assert f[band][np.argmax(p[band])] == pytest.approx(0.1, abs=0.02)
    assert "done" in text and "Recorded in the local store" in text


def test_auto_rate_uses_past_exercises(tmp_path: Path) -> None:
    _run(tmp_path, minutes=1.0, rate_brpm=5.0)
    _run(tmp_path, minutes=1.0, rate_brpm=7.0)
    text, exercises, _ = _run(tmp_path, minutes=1.0, rate_brpm=None)
    best = max(exercises[:2], key=lambda e: e.after_lf_ms2 or 0.0)
    assert exercises[-1].rate_brpm == best.rate_brpm
    assert f"breathing at {best.rate_brpm:g}/min" in text


def test_terminal_output_redraws_one_line(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    out = io.StringIO()
    options = BreatheOptions(sim=True, db_path=db, speed=float("inf"), seed=1, minutes=1.0)
    assert asyncio.run(run_breathe(options, out=out, tty=True)) == 0
    frames = out.getvalue().split("\r\x1b[2K")
    assert len(frames) > 300  # 10 frames a second for a minute
    assert any("breathe in" in f for f in frames) and any("breathe out" in f for f in frames)
    assert any("█" * 25 in f for f in frames) and any("[" + " " * 25 for f in frames)


def test_parser_and_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="vagus")
    add_breathe_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["breathe", "--rate", "auto", "--minutes", "3", "--ratio", "0.5", "--sim"])
    assert (args.rate, args.minutes, args.ratio, args.sim) == (None, 3.0, 0.5, True)
    # The parser keeps its defaults as literals (it must not import the pacer); they are the pacer's.
    defaults = parser.parse_args(["breathe"])
    assert (defaults.rate, defaults.ratio) == (DEFAULT_RATE_BRPM, DEFAULT_INHALE_SHARE)
    with pytest.raises(SystemExit):
        parser.parse_args(["breathe", "--rate", "15"])
    with pytest.raises(SystemExit):
        parser.parse_args(["breathe", "--sim", "--config", "x.toml"])
    assert main(["--sim", "--minutes", "0.5", "--db", str(tmp_path / "s.db")]) == 2
    assert "--minutes" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="--ratio"):
        BreatheOptions(inhale_share=0.95)
