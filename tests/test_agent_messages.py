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


def test_a_support_message_shown_by_vagus_checkin_reaches_the_phone_through_the_running_agent(tmp_path):
    from vagus.edge.checkins import record_checkin
    from vagus.edge.safety import Resource, check_safety

    sent = []

    class Sync:
        enabled = True

        def submit_support(self, message: object, t_utc_s: float) -> None:
            sent.append((message, t_utc_s))

    settings = SafetySettings(resources=[Resource(name="Ana", phone="+44 20 7946 0000")])
    now = time.time()
    with Store(tmp_path / "s.db") as store:
        # Three days ago: shown then, never sent; too old to send late.
        record_checkin(store, "need_help", now - 3 * 86_400, source="cli")
        assert check_safety(store, now - 3 * 86_400, settings) is not None
        channel = PersonChannel(store, Sync(), settings, out=None, desktop=False)  # type: ignore[arg-type]
        channel.poll()
        assert sent == []
        # `vagus checkin need_help` in a terminal (another process): it shows the message there ...
        record_checkin(tmp_path / "s.db", "need_help", now, source="cli")
        assert check_safety(tmp_path / "s.db", now, settings) is not None
        channel.poll()  # within 30 s of the last look: not yet
        assert sent == []
        channel.relay_support()  # ... and the agent sends it over MQTT, once
        channel.relay_support()
    [(message, t)] = sent
    assert t == now and message.nudge_fields()["nudge"] == "support"
    assert [(r.name, r.how) for r in message.payload_resources()] == [("Ana", "phone +44 20 7946 0000")]


def test_without_sync_nothing_is_marked_sent(tmp_path):
    from vagus.edge.checkins import record_checkin
    from vagus.edge.safety import check_safety, unsent_messages

    class NoSyncHere:
        enabled = False

    now = time.time()
    with Store(tmp_path / "s.db") as store:
        record_checkin(store, "need_help", now, source="cli")
        assert check_safety(store, now, SafetySettings()) is not None
        PersonChannel(store, NoSyncHere(), SafetySettings(), out=None, desktop=False).relay_support()  # type: ignore[arg-type]
        assert len(unsent_messages(store.connection, SafetySettings(), since_utc_s=now - 60)) == 1
