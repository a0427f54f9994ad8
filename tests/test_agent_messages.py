"""What the running agent says to the person outside MQTT: the desktop notification, and a snooze
answered over MQTT taking effect at once (the MQTT paths run end to end in test_sync_agent.py)."""

from __future__ import annotations

import io
import os
import stat
import time
from pathlib import Path

from tests.servers import wait_until
from vagus.agent_messages import PersonChannel, desktop_notification
from vagus.edge import Store
from vagus.edge.checkins import checkins
from vagus.edge.nudge_policy import NudgeSettings
from vagus.edge.nudge_stage import NudgeStage
from vagus.edge.safety import SafetySettings
from vagus.sync.schema import Checkin


def fake_notify_send(folder: Path) -> Path:
    """A `notify-send` on PATH that records its arguments (libnotify itself needs a desktop session)."""
    log = folder / "calls.txt"
    script = folder / "notify-send"
    script.write_text(f'#!/bin/sh\nprintf "%s|" "$@" >> {log}\necho >> {log}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return log


def test_a_desktop_notification_needs_notify_send_and_a_session(tmp_path):
    log = fake_notify_send(tmp_path)
    path = f"{tmp_path}:{os.environ.get('PATH', '')}"
    assert desktop_notification("vagus", "Want a break?", env={"PATH": path}) is False  # no session: a Pi
    assert desktop_notification("vagus", "Want a break?", env={"PATH": "/nonexistent", "DISPLAY": ":0"}) is False
    assert desktop_notification("vagus", "Want a 2-minute break?", env={"PATH": path, "DISPLAY": ":0"}) is True
    wait_until(log.exists, timeout_s=10, what="notify-send")
    assert log.read_text().splitlines() == ["--app-name=vagus|vagus|Want a 2-minute break?|"]


class NoSync:
    def submit_nudge(self, decision: object) -> None:
        raise AssertionError("no nudge expected")

    def submit_support(self, message: object, t_utc_s: float) -> None:
        raise AssertionError("no support message expected")


def test_a_snooze_from_home_assistant_pauses_nudges_at_once(tmp_path):
    now = time.time()
    out = io.StringIO()
    with Store(tmp_path / "s.db") as store:
        stage = NudgeStage(store, NudgeSettings())
        channel = PersonChannel(store, NoSync(), SafetySettings(), out=out, desktop=False)  # type: ignore[arg-type]
        channel.nudges = stage
        snooze = Checkin(
            person="alice",
            t_utc_ms=round(now * 1000),
            checkin_id="ha-9",
            source="home_assistant",
            answer="snooze",
            snooze_minutes=45,
        )
        channel.on_checkin(snooze)
        channel.on_checkin(snooze)  # a QoS 1 duplicate: kept once
        assert abs(stage.policy.snoozed_until_utc_s - (now + 45 * 60)) < 0.01
        assert [c.checkin_id for c in checkins(store)] == ["ha-9"]
    assert "check-in from home assistant: snooze" in out.getvalue()


def test_the_weekly_summary_goes_to_the_terminal_and_to_sync(tmp_path):
    from vagus.edge.weekly import WeekSummary

    queued = []

    class Sync:
        def submit_weekly(self, summary: WeekSummary) -> None:
            queued.append(summary)

    summary = WeekSummary(0.0, 7 * 86_400.0, 600, 95, "Tuesday", 6, 425.0, 3)
    out = io.StringIO()
    with Store(tmp_path / "s.db") as store:
        channel = PersonChannel(store, Sync(), SafetySettings(), out=out, desktop=False)  # type: ignore[arg-type]
        channel.on_weekly(summary)
    assert queued == [summary]
    assert "  Your week: 1 h 35 min of medium or high stress (most on Tuesday)" in out.getvalue()
