"""The agent's publisher: summaries, nudges and device states from the durable outbox to the broker,
until confirmed; and the person's check-ins from the broker to the agent.

``submit_*`` stores a record in the outbox (never blocks on the network) and wakes the sending thread.
That thread publishes due records in seq order over MQTT v5 (QoS 1), nudges first (they are for
now; see ``pump``), at most ``max_in_flight`` unconfirmed at a time, and deletes them from the outbox
only when the bridge's ``ack`` says they are written. A record still unconfirmed ``resend_after_s``
after it was sent is sent again; after a reconnect everything unconfirmed is sent again at once, in
order (paho's in-memory copies are dropped: the outbox is the one source). The retained ``status``
says online on connect and, as the last will, offline when the agent vanishes. All time comes from
the injected clock's ``now_utc_s()``.

With an ``on_checkin`` callback the publisher also subscribes to the person's ``checkin`` topic: each
valid check-in (from a companion app or Home Assistant) is handed to the callback on the sending
thread, never on paho's network thread; an invalid one is counted and logged by its problem only.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol

import msgspec

from ._mqtt import Inbound, MqttLink, MqttProtocol, Will
from .errors import Problem, SchemaError, TopicError
from .ports import BeatsOutboxPort, OutboxPort, Pending, StoredBeat, Ticket
from .schema import (
    MAX_BEATS_PER_MESSAGE,
    Ack,
    Beats,
    Checkin,
    DeviceStatus,
    LinkStateWord,
    Night,
    Nudge,
    NudgeKind,
    Resource,
    Status,
    beat_flags,
    decode,
    encode,
    summary_from_mapping,
)
from .settings import Endpoint
from .topics import QOS, RETAIN, Kind, Topics, check_person

__all__ = ["NudgeDecisionLike", "Publisher", "PublisherCounters", "PublisherSettings"]

log = logging.getLogger(__name__)


class NowClock(Protocol):
    def now_utc_s(self) -> float: ...


class BreathingLike(Protocol):
    """A breathing exercise's timing (the edge's nudge decision carries one)."""

    @property
    def rate_brpm(self) -> float: ...
    @property
    def inhale_s(self) -> float: ...
    @property
    def exhale_s(self) -> float: ...
    @property
    def duration_s(self) -> float: ...


class NightLike(Protocol):
    """What ``submit_night`` reads from the edge's night summary (``vagus.signal.sleep.NightSummary``)."""

    @property
    def onset_utc_s(self) -> float: ...
    @property
    def wake_utc_s(self) -> float: ...
    @property
    def asleep_min(self) -> int: ...
    @property
    def lowest_hr_bpm(self) -> float | None: ...
    @property
    def mean_hr_bpm(self) -> float | None: ...
    @property
    def rmssd_ms(self) -> float | None: ...
    @property
    def recovery(self) -> str | None: ...
    @property
    def recovery_sd(self) -> float | None: ...


class NudgeDecisionLike(Protocol):
    """What ``submit_nudge_decision`` reads from the edge's nudge decision (sync never imports the edge).

    ``held_back`` is read if present: a held-back nudge never leaves the device."""

    @property
    def nudge_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def stress_score(self) -> float | None: ...
    @property
    def breathing(self) -> BreathingLike | None: ...
    @property
    def t_utc_s(self) -> float: ...


# A notification title per nudge kind, for the phone or Home Assistant when the edge gives none.
DEFAULT_TITLES: dict[str, str] = {
    "slow_breathing": "A breathing break?",
    "check_in": "How are you doing?",
    "support": "Support, if you want it",
    "weekly_summary": "Your week",
}


@dataclass(frozen=True, slots=True)
class PublisherSettings:
    person: str
    prefix: str = "vagus"
    client_id: str = ""  # empty: vagus-agent-<person>
    resend_after_s: float = 30.0  # clock seconds before an unconfirmed record is sent again
    max_in_flight: int = 200  # unconfirmed records sent and not yet timed out
    pump_interval_s: float = 0.5  # wall seconds between checks for due records when nothing wakes the thread
    agent_version: str | None = None
    # Raw beats are published only if the person opted in ([sync] raw_beats): then every this many wall
    # seconds (and on stop) the beats stored since the last time enter the outbox.
    raw_beats: bool = False
    raw_beats_interval_s: float = 30.0

    def __post_init__(self) -> None:
        check_person(self.person)
        if not self.raw_beats_interval_s > 0:
            raise ValueError(f"raw_beats_interval_s must be > 0, got {self.raw_beats_interval_s}")
        if not self.resend_after_s > 0:
            raise ValueError(f"resend_after_s must be > 0, got {self.resend_after_s}")
        if self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {self.max_in_flight}")


@dataclass(slots=True)
class PublisherCounters:
    sent: int = 0  # first sends
    resent: int = 0
    confirmed: int = 0  # records deleted from the outbox on the bridge's ack
    refused: int = 0  # PUBACKs with a failure reason (e.g. "Not authorized": the ACL)
    bad_acks: int = 0  # ack messages that failed validation
    checkins: int = 0  # check-ins received and handed to on_checkin
    bad_checkins: int = 0  # check-in messages that failed validation (or named another person)
    beats_queued: int = 0  # raw beats taken into the outbox (opt-in)
    beats_skipped: int = 0  # raw beats the schema refused (logged with counts only), or a second one in a ms


@dataclass(frozen=True, slots=True)
class _Connected:
    generation: int


@dataclass(frozen=True, slots=True)
class _Refused:
    mid: int
    reason: str


@dataclass(frozen=True, slots=True)
class _Announce:
    pass


_Event = _Connected | _Refused | _Announce | Ack | Checkin
_MAX_TRACKED_MIDS = 10_000
# The outbox assigns a record's stream and seqs when it stores it; a message is built before that with
# these, to fail early (in the caller) if it does not fit the schema.
_PLACEHOLDER: Final = {"stream": "0" * 16, "seq": 1, "settled_below": 1}
_URGENT: tuple[str, ...] = (Kind.NUDGE.value,)  # sent ahead of everything else (pump)
_URGENT_LIMIT = 50


class Publisher:
    """Sends one person's outbox; ``start``/``stop`` it around the agent's run."""

    def __init__(
        self,
        *,
        outbox: OutboxPort,
        endpoint: Endpoint,
        settings: PublisherSettings,
        clock: NowClock,
        device_pseudonym: Callable[[str], str] | None = None,
        on_checkin: Callable[[Checkin], None] | None = None,
    ) -> None:
        """``device_pseudonym`` turns a stored beat's device id into the id that is published
        (``schema.pseudonymous_device_id`` with the edge's key); required with ``settings.raw_beats``,
        and then ``outbox`` must also be a ``BeatsOutboxPort``. ``on_checkin`` receives each valid
        check-in of this person from the broker (on the sending thread; a duplicate QoS 1 delivery
        arrives twice with the same ``checkin_id``); without it the agent does not subscribe."""
        if settings.raw_beats and (device_pseudonym is None or not isinstance(outbox, BeatsOutboxPort)):
            raise ValueError("raw beats need a device_pseudonym function and an outbox that stores beats")
        self._device_pseudonym = device_pseudonym
        self._next_beats_s = time.monotonic() + settings.raw_beats_interval_s
        self._outbox = outbox
        self._settings = settings
        self._clock = clock
        self._person = settings.person
        self._topics = Topics(settings.prefix)
        self.counters = PublisherCounters()
        self._events: queue.SimpleQueue[_Event] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mids: OrderedDict[int, int] = OrderedDict()  # MQTT message id → seq, to name refusals
        self._on_checkin = on_checkin
        self._announcements: dict[str, bytes] = {}
        self._announce_lock = threading.Lock()
        subscriptions = [(self._topics.topic(self._person, Kind.ACK), QOS[Kind.ACK])]
        if on_checkin is not None:
            subscriptions.append((self._topics.topic(self._person, Kind.CHECKIN), QOS[Kind.CHECKIN]))
        offline = Status(person=self._person, state="offline", agent_version=settings.agent_version)
        self._link = MqttLink(
            endpoint,
            client_id=settings.client_id or f"vagus-agent-{self._person}",
            protocol=MqttProtocol.V5,
            subscriptions=subscriptions,
            on_message=self._on_message,
            on_connected=self._on_connected,
            on_publish_refused=lambda mid, reason: self._post(_Refused(mid, reason)),
            will=Will(self._topics.topic(self._person, Kind.STATUS), encode(offline), QOS[Kind.STATUS], True),
            resend_from_memory=False,
            max_inflight=settings.max_in_flight,
        )

    # -- the agent's side ----------------------------------------------------------------------------

    def announce(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Retained messages that describe this agent rather than record anything (Home Assistant's
        discovery configs, ``vagus.sync.ha_discovery``): published now if connected and again after
        every reconnect (a broker that lost its retained store gets them back). Not kept in the outbox:
        they are rebuilt at every start. A later message for the same topic replaces the earlier one."""
        with self._announce_lock:
            self._announcements.update(messages)
        self._post(_Announce())

    def submit_summary(self, values: Mapping[str, object], *, device: str) -> Ticket:
        """Store an indicators record (a mapping of ``Indicators`` field → value) for sending.

        ``device`` is the pseudonymous device id (``schema.pseudonymous_device_id``), never a BLE address.
        Raises ``SchemaError`` if the record does not fit the schema; never blocks on the network."""

        def build(ticket: Ticket) -> bytes:
            return encode(
                summary_from_mapping(
                    values,
                    person=self._person,
                    device=device,
                    stream=ticket.stream,
                    seq=ticket.seq,
                    settled_below=ticket.settled_below,
                )
            )

        return self._append(Kind.SUMMARY, build)

    def submit_nudge(
        self,
        *,
        nudge_id: str,
        nudge: NudgeKind,
        text: str,
        t_utc_ms: int,
        stress_score: float | None = None,
        title: str | None = None,
        rate_brpm: float | None = None,
        inhale_s: float | None = None,
        exhale_s: float | None = None,
        duration_s: float | None = None,
        resources: Sequence[Resource] = (),
    ) -> Ticket:
        """Store a nudge for sending (``schema.Nudge``: the breathing timing is all four values or none;
        ``resources`` for a support message). ``title`` defaults to ``DEFAULT_TITLES[nudge]``. Only
        nudges that are delivered come here: a held-back one never leaves the device. Raises
        ``SchemaError`` if the nudge does not fit the schema."""
        try:
            message = Nudge(
                **_PLACEHOLDER,
                person=self._person,
                t_utc_ms=t_utc_ms,
                nudge_id=nudge_id,
                nudge=nudge,
                text=text,
                stress_score=stress_score,
                title=title if title is not None else DEFAULT_TITLES.get(nudge),
                rate_brpm=rate_brpm,
                inhale_s=inhale_s,
                exhale_s=exhale_s,
                duration_s=duration_s,
                resources=tuple(resources),
            )
        except ValueError as exc:  # __post_init__: timing incomplete or longer than a breath, non-finite
            raise SchemaError(Problem.INVALID, f"nudge: {exc}") from exc
        return self._submit(Kind.NUDGE, message)

    def submit_nudge_decision(
        self, decision: NudgeDecisionLike, *, title: str | None = None, resources: Sequence[Resource] = ()
    ) -> Ticket | None:
        """``submit_nudge`` for the edge's nudge decision; ``None`` (nothing stored) if it was held back."""
        if getattr(decision, "held_back", False):
            return None
        breathing = decision.breathing
        timing: dict[str, float | None] = dict.fromkeys(("rate_brpm", "inhale_s", "exhale_s", "duration_s"))
        if breathing is not None:
            timing = {name: float(getattr(breathing, name)) for name in timing}
        return self.submit_nudge(
            nudge_id=decision.nudge_id,
            nudge=decision.kind,  # type: ignore[arg-type]  # validated by the schema
            text=decision.text,
            t_utc_ms=round(decision.t_utc_s * 1000),
            stress_score=decision.stress_score,
            title=title,
            resources=resources,
            **timing,
        )

    def submit_device_status(
        self, *, device: str, t_utc_ms: int, link_state: LinkStateWord, battery_pct: int | None = None
    ) -> Ticket:
        """Store a wearable's link state (a ``LinkState`` word) and battery (0–100, or ``None`` unknown)
        for sending. ``device`` is the pseudonymous id, never a BLE address."""
        try:
            message = DeviceStatus(
                **_PLACEHOLDER,
                person=self._person,
                device=device,
                t_utc_ms=t_utc_ms,
                battery_pct=battery_pct,
                link_state=link_state,
            )
        except ValueError as exc:
            raise SchemaError(Problem.INVALID, f"device: {exc}") from exc
        return self._submit(Kind.DEVICE, message)

    def submit_night(self, night: NightLike) -> Ticket:
        """Store a sleep period the agent found (``vagus.signal.sleep.NightSummary``) for sending.
        Raises ``SchemaError`` if it does not fit the schema."""
        try:
            message = Night(
                **_PLACEHOLDER,
                person=self._person,
                onset_utc_ms=round(night.onset_utc_s * 1000),
                wake_utc_ms=round(night.wake_utc_s * 1000),
                asleep_min=night.asleep_min,
                lowest_hr_bpm=night.lowest_hr_bpm,
                mean_hr_bpm=night.mean_hr_bpm,
                rmssd_ms=night.rmssd_ms,
                recovery=night.recovery,  # type: ignore[arg-type]  # validated by the schema
                recovery_sd=night.recovery_sd,
            )
        except ValueError as exc:
            raise SchemaError(Problem.INVALID, f"night: {exc}") from exc
        return self._submit(Kind.NIGHT, message)

    def _submit(self, kind: Kind, message: Nudge | DeviceStatus | Night) -> Ticket:
        encode(message)  # validate now, where a mistake is made, not in the sending thread

        def build(ticket: Ticket) -> bytes:
            return encode(
                msgspec.structs.replace(
                    message, stream=ticket.stream, seq=ticket.seq, settled_below=ticket.settled_below
                )
            )

        return self._append(kind, build)

    def submit_beats(self) -> int:
        """Take the beats stored since the last call into the outbox (opt-in: ``settings.raw_beats``);
        return how many. Called by the sending thread every ``raw_beats_interval_s`` and on ``stop``."""
        if not self._settings.raw_beats:
            return 0
        assert isinstance(self._outbox, BeatsOutboxPort) and self._device_pseudonym is not None  # noqa: S101 — a type-narrowing invariant, not input validation
        pseudonym = self._device_pseudonym
        queued = 0

        def build(ticket: Ticket, device_id: str, beats: Sequence[StoredBeat]) -> bytes | None:
            nonlocal queued
            times, rrs, flags = [], [], []
            for beat in beats:
                t_ms = round(beat.t_utc_s * 1000)
                if times and t_ms <= times[-1]:
                    continue  # two beats in one ms (the database's key): not a heartbeat, dropped
                times.append(t_ms)
                rrs.append(beat.rr_ms)
                flags.append(beat_flags(gap_before=beat.gap_before, corrected=beat.corrected, contact=beat.contact))
            self.counters.beats_skipped += len(beats) - len(times)
            try:
                payload = encode(
                    Beats(
                        person=self._person,
                        stream=ticket.stream,
                        seq=ticket.seq,
                        settled_below=ticket.settled_below,
                        device=pseudonym(device_id),
                        source=beats[0].source,  # type: ignore[arg-type]  # validated by encode
                        t_utc_ms=tuple(times),
                        rr_ms=tuple(rrs),
                        flags=tuple(flags),
                    )
                )
            except (SchemaError, ValueError) as exc:
                # Never stop the export on one bad batch: it would hold back every later beat.
                self.counters.beats_skipped += len(times)
                log.warning("%d raw beats were not queued for sync: %s", len(times), exc)
                return None
            queued += len(times)
            return payload

        self._outbox.append_beats(
            self._person,
            Kind.BEATS.value,
            build,
            now_utc_s=self._clock.now_utc_s(),
            max_per_record=MAX_BEATS_PER_MESSAGE,
        )
        self.counters.beats_queued += queued
        if queued:
            self._wake.set()
        return queued

    def _append(self, kind: Kind, build: Callable[[Ticket], bytes]) -> Ticket:
        ticket = self._outbox.append(self._person, kind.value, build, now_utc_s=self._clock.now_utc_s())
        self._wake.set()
        return ticket

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._link.start()
        self._thread = threading.Thread(target=self._run, name="vagus-sync-publisher", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Say offline (retained: a clean disconnect sends no last will), disconnect, stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        try:  # the beats stored until now wait in the outbox for the next run
            self.submit_beats()
        except Exception:
            log.exception("the raw beats stored last were not queued for sync; the next run takes them")
        if self._link.connected:
            self._publish_status("offline")
        self._link.stop()

    @property
    def connected(self) -> bool:
        return self._link.connected

    def wait_connected(self, timeout_s: float) -> bool:
        return self._link.wait_connected(timeout_s)

    # -- the sending thread --------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._settings.pump_interval_s)
            self._wake.clear()
            try:
                if self._settings.raw_beats and time.monotonic() >= self._next_beats_s:
                    self._next_beats_s = time.monotonic() + self._settings.raw_beats_interval_s
                    self.submit_beats()
                self.pump()
            except Exception:  # keep sending: one failure (a locked store?) must not end sync for good
                log.exception("the sync publisher failed a round; trying again")

    def pump(self) -> None:
        """Apply what the broker said, then send what is due. Called by the sending thread."""
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
            self._apply(event)
        if not self._link.connected:
            return
        s = self._settings
        now_s = self._clock.now_utc_s()
        # A nudge is for now: it goes out ahead of the summaries and past the in-flight budget, which
        # a backlog of summaries (a bridge that is down) can fill for a long time.
        window = {"now_utc_s": now_s, "resend_after_s": s.resend_after_s}
        self._send(self._outbox.due(self._person, **window, limit=_URGENT_LIMIT, kinds=_URGENT), now_s)
        budget = s.max_in_flight - self._outbox.in_flight(self._person, **window)
        self._send(self._outbox.due(self._person, **window, limit=budget), now_s)

    def _send(self, due: list[Pending], now_s: float) -> None:
        if not due:
            return
        for record in due:
            mid = self._link.publish(self._topics.topic(self._person, Kind(record.kind)), record.payload, qos=1)
            self._mids[mid] = record.seq
            if len(self._mids) > _MAX_TRACKED_MIDS:
                self._mids.popitem(last=False)
            if record.attempts:
                self.counters.resent += 1
            else:
                self.counters.sent += 1
        self._outbox.mark_sent(self._person, [r.seq for r in due], now_utc_s=now_s)

    def _apply(self, event: _Event) -> None:
        if isinstance(event, _Connected):
            # Whatever was in flight on the old connection may be lost (a broker killed with SIGKILL
            # forgets what it acknowledged): send everything unconfirmed again, in order.
            self._outbox.mark_all_unsent(self._person)
            self._publish_status("online")
            self._publish_announcements()
        elif isinstance(event, _Announce):
            if self._link.connected:
                self._publish_announcements()
        elif isinstance(event, Ack):
            self.counters.confirmed += self._outbox.confirm(self._person, event.stream, event.upto_seq)
        elif isinstance(event, Checkin):
            if self._on_checkin is None:
                return
            self.counters.checkins += 1
            try:
                self._on_checkin(event)
            except Exception as exc:  # the agent's bug must not stop sync; its message may hold personal data
                log.error("handling a received check-in failed (%s); it was not kept", type(exc).__name__)
        elif isinstance(event, _Refused):
            self.counters.refused += 1
            seq = self._mids.pop(event.mid, None)
            log.error(
                "the MQTT broker refused record seq %s: %s. The MQTT username must be the person id and the "
                "broker's ACL must let it publish there (docs/topics.md); the record stays in the outbox.",
                seq,
                event.reason,
            )

    def _publish_status(self, state: Literal["online", "offline"]) -> None:
        status = Status(
            person=self._person,
            state=state,
            t_utc_ms=round(self._clock.now_utc_s() * 1000),
            agent_version=self._settings.agent_version,
        )
        topic = self._topics.topic(self._person, Kind.STATUS)
        self._link.publish(topic, encode(status), qos=QOS[Kind.STATUS], retain=RETAIN[Kind.STATUS])

    def _publish_announcements(self) -> None:
        with self._announce_lock:
            messages = list(self._announcements.items())
        for topic, payload in messages:
            self._link.publish(topic, payload, qos=1, retain=True)

    # -- paho's network thread -----------------------------------------------------------------------

    def _post(self, event: _Event) -> None:
        self._events.put(event)
        self._wake.set()

    def _on_connected(self, generation: int, _session_present: bool) -> None:
        self._post(_Connected(generation))

    def _on_message(self, inbound: Inbound) -> None:
        try:
            _person, kind = self._topics.parse(inbound.topic)
        except TopicError:
            return  # only our own subscriptions arrive here; nothing else is ours to read
        if kind is Kind.CHECKIN:
            self._on_checkin_message(inbound.payload)
            return
        if kind is not Kind.ACK:
            return
        try:
            ack = decode(Kind.ACK, inbound.payload)
        except SchemaError as exc:
            self.counters.bad_acks += 1
            log.warning("ignored an invalid ack message: %s", exc.problem.value)
            return
        if isinstance(ack, Ack) and ack.person == self._person:
            self._post(ack)

    def _on_checkin_message(self, payload: bytes) -> None:
        # Logged by problem only: a check-in is personal (the detail text can quote its values).
        try:
            checkin = decode(Kind.CHECKIN, payload)
        except SchemaError as exc:
            self.counters.bad_checkins += 1
            log.warning("ignored an invalid check-in message: %s", exc.problem.value)
            return
        if not isinstance(checkin, Checkin) or checkin.person != self._person:
            self.counters.bad_checkins += 1
            log.warning("ignored a check-in about another person on this person's topic")
            return
        self._post(checkin)
