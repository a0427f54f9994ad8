"""The agent's side of sync ([sync] enabled = true): what leaves the device, and the check-ins that come in.

Out, through the outbox until the bridge confirms them: the indicator summaries; the raw beats if
the person opted in ([sync] raw_beats); the nudges that were sent (never a held-back one); the
support message of the safety rule; each wearable's link state and battery; each night the sleep
detection found. Announced (retained,
rebuilt at every start): Home Assistant's discovery configs if [sync] home_assistant. Every
wearable appears under its keyed pseudonym, never its BLE address.

In: the person's check-ins from a companion (Home Assistant, an app), handed to ``on_checkin`` on
the agent's event loop — the publisher delivers them on its own thread, and the store is the loop's.

Sync must never stop the agent: a record the schema refuses is logged (without personal data) and
skipped; the outbox keeps every other one until the bridge confirms it. With sync off every method
is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import msgspec.structs

from vagus.clock import RealClock
from vagus.config import Config
from vagus.edge import Store
from vagus.signal import Indicators
from vagus.sync import SchemaError, pseudonymous_device_id

if TYPE_CHECKING:
    from vagus.edge.nudge_policy import NudgeDecision
    from vagus.edge.safety import SafetyMessage
    from vagus.edge.weekly import WeekSummary
    from vagus.signal.sleep import NightSummary
    from vagus.sync.schema import Checkin

__all__ = ["AgentSync"]

log = logging.getLogger(__name__)


class AgentSync:
    def __init__(self, config: Config, store: Store, *, on_checkin: Callable[[Checkin], None] | None = None) -> None:
        """``on_checkin`` receives each valid check-in of this person on the running event loop
        (enter this context inside it); without it the agent does not subscribe to check-ins."""
        self._section = config.sync
        self._store = store
        self._on_checkin = on_checkin
        self._publisher: Any = None
        self._outbox: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._key = b""
        self._link_state: dict[str, str] = {}
        self._battery: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        return self._publisher is not None

    def __enter__(self) -> AgentSync:
        if not self._section.enabled:
            return self
        from vagus import __version__
        from vagus.edge.outbox import Outbox
        from vagus.sync.publisher import Publisher, PublisherSettings
        from vagus.sync.settings import mqtt_endpoint

        sync = self._section
        assert sync.person is not None  # validated with the config  # noqa: S101 — a type-narrowing invariant, not input validation
        if self._on_checkin is not None:
            self._loop = asyncio.get_running_loop()
        self._outbox = Outbox.of_store(self._store, capacity=sync.outbox_capacity)
        self._key = self._outbox.device_key()
        self._publisher = Publisher(
            outbox=self._outbox,
            endpoint=mqtt_endpoint(sync, where="sync"),
            settings=PublisherSettings(
                person=sync.person,
                prefix=sync.prefix,
                resend_after_s=sync.resend_after_s,
                max_in_flight=sync.max_in_flight,
                agent_version=__version__,
                raw_beats=sync.raw_beats,
                raw_beats_interval_s=sync.raw_beats_interval_s,
            ),
            # Resend timeouts are about the network, so they run on the wall clock even in
            # accelerated simulated runs.
            clock=RealClock(),
            # Raw beats leave the device only if the person opted in ([sync] raw_beats), and then
            # under the same pseudonym as the summaries.
            device_pseudonym=self.pseudonym if sync.raw_beats else None,
            on_checkin=self._received if self._on_checkin is not None else None,
        )
        self._publisher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._publisher is not None:
            self._publisher.stop()
        if self._outbox is not None:
            self._outbox.close()

    def pseudonym(self, device_id: str) -> str:
        return pseudonymous_device_id(device_id, self._key)

    # -- out -----------------------------------------------------------------------------------------

    def _queue(self, what: str, submit: Callable[[Any], object]) -> None:
        """``submit(publisher)``; a record the schema refuses is logged by its problem and skipped."""
        if self._publisher is None:
            return
        try:
            submit(self._publisher)
        except SchemaError as exc:
            log.warning("%s was not queued for sync: %s", what, exc.problem.value)

    def submit(self, device_id: str, record: Indicators) -> None:
        self._queue(
            "a record", lambda p: p.submit_summary(msgspec.structs.asdict(record), device=self.pseudonym(device_id))
        )

    def submit_nudge(self, decision: NudgeDecision) -> None:
        self._queue("a nudge", lambda p: p.submit_nudge_decision(decision))

    def submit_night(self, night: NightSummary) -> None:
        self._queue("a night", lambda p: p.submit_night(night))

    def submit_weekly(self, summary: WeekSummary) -> None:
        """The week's summary, as a ``weekly_summary`` nudge (docs/nudges.md, "Mode")."""
        self._queue(
            "the weekly summary",
            lambda p: p.submit_nudge(
                nudge_id=f"w-{secrets.token_hex(8)}",
                nudge="weekly_summary",
                text=summary.text,
                t_utc_ms=round(summary.end_utc_s * 1000),
            ),
        )

    def submit_support(self, message: SafetyMessage, t_utc_s: float) -> None:
        """The safety rule's message, as a ``support`` nudge (docs/safety.md)."""
        fields = message.nudge_fields()
        self._queue(
            "the support message",
            lambda p: p.submit_nudge(nudge_id=f"s-{secrets.token_hex(8)}", t_utc_ms=round(t_utc_s * 1000), **fields),
        )

    def device_status(
        self, device_id: str, t_utc_s: float, *, link_state: str | None = None, battery_pct: int | None = None
    ) -> None:
        """A wearable's link state changed, or its battery was read: send both as they now stand."""
        if link_state is not None:
            self._link_state[device_id] = link_state
        if battery_pct is not None:
            self._battery[device_id] = battery_pct
        self._queue(
            "a device status",
            lambda p: p.submit_device_status(
                device=self.pseudonym(device_id),
                t_utc_ms=round(t_utc_s * 1000),
                # A battery is read on a live connection; before any link event that is "streaming".
                link_state=self._link_state.get(device_id, "streaming"),
                battery_pct=self._battery.get(device_id),
            ),
        )

    def announce_devices(self, device_ids: Iterable[str]) -> None:
        """Home Assistant discovery for each wearable, if [sync] home_assistant (retained)."""
        if self._publisher is None or not self._section.home_assistant:
            return
        from vagus import __version__
        from vagus.sync.ha_discovery import discovery_messages

        sync = self._section
        assert sync.person is not None  # noqa: S101 — a type-narrowing invariant, not input validation
        messages = [
            message
            for device_id in device_ids
            for message in discovery_messages(
                sync.person,
                self.pseudonym(device_id),
                prefix=sync.prefix,
                discovery_prefix=sync.discovery_prefix,
                sw_version=__version__,
            )
        ]
        self._publisher.announce(messages)

    # -- in ------------------------------------------------------------------------------------------

    def _received(self, message: Checkin) -> None:
        # The publisher's thread: hand the check-in to the loop, which owns the store.
        assert self._loop is not None and self._on_checkin is not None  # noqa: S101 — set together in __enter__
        self._loop.call_soon_threadsafe(self._on_checkin, message)
