"""What the running agent says to the person, and what it hears back.

Out: each nudge the policy sends (docs/nudges.md) goes to the terminal (unless ``--quiet``), to a
desktop notification where the agent runs in a desktop session ([nudges] desktop), and to the MQTT
``nudge`` topic for a phone or Home Assistant ([sync]). In: a check-in over MQTT is stored with the
indicators of its moment (``vagus.edge.checkins``); a snooze pauses the nudges at once; then the
safety rule (``vagus.edge.safety``, docs/safety.md) looks at the person's own check-ins and, when
it fires, shows the support contacts through the same three channels, at most once a day. A message
``vagus checkin`` showed in a terminal (another process) is sent over MQTT by the running agent too.

Nothing here logs what a message says at INFO: a nudge or a check-in is personal.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
import threading
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from vagus.agent_sync import AgentSync
    from vagus.edge import Store
    from vagus.edge.nudge_policy import NudgeDecision
    from vagus.edge.nudge_stage import NudgeStage
    from vagus.edge.safety import SafetyMessage, SafetySettings
    from vagus.edge.weekly import WeekSummary
    from vagus.sync.schema import Checkin

__all__ = ["PersonChannel", "desktop_notification"]

log = logging.getLogger(__name__)

_ANSWERS = "stressed | not_stressed | need_help | snooze"
_POLL_S = 30.0  # how often the running agent looks for safety messages shown by `vagus checkin`
_RELAY_WITHIN_S = 86_400.0  # a message shown longer ago than this is not sent late


def desktop_notification(title: str, body: str, *, env: dict[str, str] | None = None) -> bool:
    """Show a desktop notification with ``notify-send`` (libnotify) if there is a desktop session to
    show it in; ``False`` (and nothing shown) otherwise. Never blocks the caller: the program runs
    and is reaped on a daemon thread."""
    env = dict(os.environ) if env is None else env
    program = shutil.which("notify-send", path=env.get("PATH"))
    if program is None or not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("DBUS_SESSION_BUS_ADDRESS")):
        return False
    argv = [program, "--app-name=vagus", title, body]

    def show() -> None:
        try:
            subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False)  # noqa: S603 — notify-send found on PATH, fixed flags, no shell
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("the desktop notification failed: %s", type(exc).__name__)

    threading.Thread(target=show, name="vagus-notify", daemon=True).start()
    return True


def _clock(t_utc_s: float) -> str:
    return time.strftime("%H:%M", time.localtime(t_utc_s))


class PersonChannel:
    """The agent's ``on_nudge`` and ``on_checkin``. ``out`` is the terminal (``None``: ``--quiet``)."""

    def __init__(
        self,
        store: Store,
        sync: AgentSync,
        safety: SafetySettings,
        *,
        out: TextIO | None,
        desktop: bool,
    ) -> None:
        self._store = store
        self._sync = sync
        self._safety = safety
        self._out = out
        self._desktop = desktop
        self.nudges: NudgeStage | None = None  # the agent's nudge stage, set once the agent exists
        self.received = 0  # check-ins stored from MQTT
        self.support_shown = 0
        self._polled = -math.inf

    def _say(self, text: str) -> None:
        if self._out is not None:
            self._out.write(text + "\n")
            self._out.flush()

    def on_nudge(self, decision: NudgeDecision) -> None:
        """A nudge the policy sent: terminal, desktop, MQTT."""
        how = f"vagus checkin {{{_ANSWERS}}} --nudge {decision.nudge_id}"
        extra = ""
        if decision.kind == "slow_breathing":
            how = f"vagus breathe --nudge {decision.nudge_id}; or {how}"
            extra = f" ({decision.breathing.rate_brpm:g} breaths/min, {decision.breathing.duration_s / 60:g} min)"
        self._say(f"{_clock(decision.t_utc_s)}  nudge: {decision.text}{extra}\n        answer: {how}")
        if self._desktop:
            desktop_notification("vagus", decision.text)
        self._sync.submit_nudge(decision)

    def on_weekly(self, summary: WeekSummary) -> None:
        """The week's summary (the "weekly_summary" mode): terminal, desktop, MQTT."""
        self._say(f"{_clock(summary.end_utc_s)}  {summary.text}")
        if self._desktop:
            desktop_notification("vagus — your week", summary.text)
        self._sync.submit_weekly(summary)

    def on_checkin(self, message: Checkin) -> None:
        """A check-in from a companion over MQTT (already validated, on the event loop)."""
        from vagus.edge.checkins import record_received
        from vagus.edge.safety import check_safety

        t_utc_s = message.t_utc_ms / 1000.0
        try:
            checkin = record_received(self._store, message)
        except ValueError as exc:  # the schema allows what the store's rules refuse (e.g. a future source)
            log.warning("a received check-in was not kept: %s", type(exc).__name__)
            return
        self.received += 1
        if checkin.answer == "snooze" and self.nudges is not None:
            self.nudges.on_checkin("snooze", checkin.t_utc_s, snooze_minutes=checkin.snooze_minutes)
        self._say(f"{_clock(t_utc_s)}  check-in from {message.source.replace('_', ' ')}: {checkin.answer}")
        message_due = check_safety(self._store, t_utc_s, self._safety)
        if message_due is not None:
            self.show_support(message_due, t_utc_s)

    def show_support(self, message: SafetyMessage, t_utc_s: float) -> None:
        """The safety rule fired here: the support contacts in the terminal and on the desktop, and (as
        every message shown, :meth:`relay_support`) over MQTT."""
        self.support_shown += 1
        self._say("\n" + message.render() + "\n")
        if self._desktop:
            desktop_notification(message.title, message.text)
        self.relay_support()

    def poll(self) -> None:
        """Called with every record; at most every ``_POLL_S`` of wall time, relays the safety messages
        another process showed (``vagus checkin need_help`` in a terminal)."""
        now = time.monotonic()
        if now - self._polled < _POLL_S:
            return
        self._polled = now
        self.relay_support()

    def relay_support(self) -> None:
        """Send every safety message shown in the last day and not sent yet over MQTT, once (the store
        records which were sent). Without sync nothing is marked, so a later run with sync sends them."""
        from vagus.edge.safety import unsent_messages

        if not self._sync.enabled:
            return
        since = time.time() - _RELAY_WITHIN_S
        for t_utc_s, message in unsent_messages(self._store.connection, self._safety, since_utc_s=since):
            self._sync.submit_support(message, t_utc_s)
