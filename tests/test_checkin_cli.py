"""`vagus checkin`: stores the answer locally and shows the support resources when the rule fires."""

from __future__ import annotations

import argparse
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from vagus.checkin_cli import add_checkin_parser, main, run_checkin
from vagus.edge.checkins import checkins
from vagus.edge.safety import NOT_A_MEDICAL_DEVICE

MONDAY_NOON = datetime(2026, 3, 2, 12, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.delenv("VAGUS_CONFIG", raising=False)
    path = tmp_path / "config.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "vagus.db"}"\n', encoding="utf-8")
    return path


def parse(argv):
    parser = argparse.ArgumentParser(prog="vagus")
    add_checkin_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["checkin", *argv])


def test_an_answer_is_stored_from_the_terminal(config, tmp_path, capsys):
    assert main(["stressed", "--stress", "4", "--nudge", "n-7", "--config", str(config)]) == 0
    [stored] = checkins(tmp_path / "vagus.db")
    assert (stored.answer, stored.source, stored.self_stress_1to5, stored.nudge_id) == ("stressed", "cli", 4, "n-7")
    out = capsys.readouterr().out
    assert "Noted" in out and "stressed, 4/5" in out
    assert "Support" not in out  # one stressed day is not a pattern


def test_snooze_defaults_to_an_hour_and_takes_minutes(config, tmp_path, capsys):
    assert main(["snooze", "--config", str(config)]) == 0
    assert main(["snooze", "--minutes", "20", "--config", str(config)]) == 0
    assert [c.snooze_minutes for c in checkins(tmp_path / "vagus.db")] == [60.0, 20.0]
    assert "snoozed until" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [["maybe"], ["stressed", "--stress", "6"], ["stressed", "--stress", "x"], ["snooze", "--minutes", "0"]]
)
def test_bad_arguments_are_usage_errors(argv):
    with pytest.raises(SystemExit) as exit_:
        parse(argv)
    assert exit_.value.code == 2


def test_minutes_go_with_snooze_only(config, tmp_path, capsys):
    assert main(["stressed", "--minutes", "5", "--config", str(config)]) == 2
    assert "snooze only" in capsys.readouterr().err
    assert not (tmp_path / "vagus.db").exists()  # refused before the store was opened


def test_need_help_without_resources_prints_the_configuration_hint(config, capsys):
    assert main(["need_help", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "[[safety.resources]]" in out and "docs/safety.md" in out
    assert NOT_A_MEDICAL_DEVICE in out


def test_three_stressed_days_show_the_persons_resources_once(config):
    config.write_text(
        config.read_text()
        + '[safety]\ntimezone = "Europe/Berlin"\n\n'
        + '[[safety.resources]]\nname = "My sister Ana"\ncontact = "text her: 0176 0000000"\n',
        encoding="utf-8",
    )
    outputs = []
    for day, hour in ((0, 0), (1, 0), (2, 0), (2, 2)):
        out = io.StringIO()
        now = MONDAY_NOON + day * 86_400 + hour * 3600
        assert (
            run_checkin(
                parse(["stressed", "--config", str(config)]),
                now_utc_s=lambda n=now: n,
                out=out,
            )
            == 0
        )
        outputs.append(out.getvalue())
    shown = ["My sister Ana: text her: 0176 0000000" in text for text in outputs]
    assert shown == [False, False, True, False]  # the third day; not again that day


def test_the_off_switch_silences_it(config):
    config.write_text(config.read_text() + "[safety]\nenabled = false\n", encoding="utf-8")
    out = io.StringIO()
    assert run_checkin(parse(["need_help", "--config", str(config)]), out=out) == 0
    assert "Support" not in out.getvalue()


def test_the_safety_section_from_the_config_file(config, capsys):
    config.write_text(
        config.read_text() + '[[safety.resources]]\nname = "Local helpline"\nphone = "0800 000 000"\n', encoding="utf-8"
    )
    assert main(["need_help", "--config", str(config)]) == 0
    assert "Local helpline: phone 0800 000 000" in capsys.readouterr().out
