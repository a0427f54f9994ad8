"""The bridge: MQTT in, InfluxDB out, nothing lost, nothing doubled.

One worker thread takes received messages in batches (``batch_max`` or ``flush_interval_s``, whichever
comes first), writes their points synchronously, and only then acknowledges the MQTT messages, in
receive order, and publishes each person's write confirmation (``ack``). While the database is down it
retries the same batch with backoff and acknowledges nothing: the broker stops delivering at its
in-flight limit (back-pressure) and keeps the rest in the bridge's persistent session. A message it
cannot use goes to the dead-letter store and is acknowledged, so it never blocks the stream.

Run it with ``python -m vagus.sync.bridge --config bridge.toml`` (or ``vagus bridge``).
"""

from __future__ import annotations

import argparse
import logging
import queue
import random
import secrets
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from vagus.errors import ConfigError, VagusError

from ._influx import InfluxWriter, WriteFailed, WriteRejected
from ._mqtt import Inbound, MqttLink, MqttProtocol
from .backoff import backoff_s
from .confirmations import Confirmations
from .deadletter import DeadLetter, DeadLetters
from .errors import Problem
from .intake import Refused, classify
from .schema import SEQUENCED_TYPES, Ack, Beats, Nudge, Summary, encode
from .settings import BridgeConfig, bucket_for, influx_target, load_bridge_config, mqtt_endpoint
from .topics import QOS, RETAIN, Kind, Topics

__all__ = ["Bridge", "BridgeCounters", "main"]

log = logging.getLogger(__name__)

_WRITTEN_KINDS = (Kind.SUMMARY, Kind.NUDGE, Kind.CHECKIN, Kind.STATUS, Kind.BEATS, Kind.DEVICE, Kind.NIGHT)
_STATS_EVERY_S = 60.0


@dataclass(slots=True)
class BridgeCounters:
    received: int = 0
    points_written: int = 0
    dead_letters: int = 0
    write_retries: int = 0
    acks_published: int = 0
    mqtt_acks_skipped: int = 0  # messages of a lost connection: the broker redelivers them


@dataclass(frozen=True, slots=True)
class _Entry:
    inbound: Inbound
    line: str  # line protocol: one line, or several for a Beats message (one per beat)


class Bridge:
    """Wires an MQTT link, the database writer and the dead-letter store; ``run`` until stopped."""

    def __init__(
        self,
        config: BridgeConfig,
        *,
        writer: InfluxWriter | None = None,
        env: Mapping[str, str] | None = None,
        now_utc_s: Callable[[], float] = time.time,
    ) -> None:
        """``env`` supplies the secrets' environment variables (default: ``os.environ``)."""
        self._config = config
        self._topics = Topics(config.bridge.prefix)
        self._now_utc_s = now_utc_s
        self._inbox: queue.SimpleQueue[Inbound] = queue.SimpleQueue()
        endpoint = mqtt_endpoint(config.mqtt, env)
        self._writer = writer or InfluxWriter(influx_target(config.influx, env))
        self._dead = DeadLetters(config.bridge.dead_letter_path)
        self._confirmations = Confirmations()
        self.counters = BridgeCounters()
        group = config.bridge.share_group
        subscriptions = [
            (self._topics.shared(group, kind) if group else self._topics.every_person(kind), QOS[kind])
            for kind in _WRITTEN_KINDS
        ]
        # Every worker sees every ack (never shared), so workers confirm across each other's gaps.
        # QoS 0: an ack missed is only a delay, and it needs no manual acknowledgement.
        subscriptions.append((self._topics.every_person(Kind.ACK), 0))
        client_id = config.mqtt.client_id
        if group:
            # Shared workers use clean sessions (docs/sync.md): an offline member with a persistent
            # session would keep being handed its share. Unique ids, so workers never evict each other.
            client_id = f"{client_id}-{secrets.token_hex(4)}"
        self._link = MqttLink(
            endpoint,
            client_id=client_id,
            protocol=MqttProtocol.V311,
            persistent_session=not group,
            manual_ack=True,
            subscriptions=subscriptions,
            on_message=self._inbox.put,
        )
        self._last_stats = time.monotonic()

    def run(self, stop: threading.Event, *, alive: Callable[[], None] | None = None) -> None:
        """Bridge until ``stop`` is set; unacknowledged messages stay with the broker for the next run.
        ``alive`` is called every round while the bridge is connected to the broker (a healthcheck's
        liveness file, ``vagus.heartbeat``)."""
        log.info(
            "bridge starting: prefix %r, %s, batches of up to %d every %.2f s",
            self._topics.prefix,
            f"shared group {self._config.bridge.share_group!r}" if self._config.bridge.share_group else "one session",
            self._config.bridge.batch_max,
            self._config.bridge.flush_interval_s,
        )
        self._link.start()
        try:
            while not stop.is_set():
                batch = self._collect(stop)
                if batch:
                    self._handle(batch, stop)
                self._log_stats()
                if alive is not None and self._link.connected:
                    alive()
        finally:
            self._link.stop()
            self._writer.close()
            self._dead.close()
            c = self.counters
            log.info(
                "bridge stopped: received %d, written %d points, %d dead letters, %d write retries",
                c.received,
                c.points_written,
                c.dead_letters,
                c.write_retries,
            )

    @property
    def link(self) -> MqttLink:
        return self._link

    # -- one batch -----------------------------------------------------------------------------------

    def _collect(self, stop: threading.Event) -> list[Inbound]:
        try:
            batch = [self._inbox.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self._config.bridge.flush_interval_s
        limit = self._config.bridge.batch_max
        get_nowait = self._inbox.get_nowait
        while len(batch) < limit and not stop.is_set():
            try:  # what is already there, without a timed wait per message
                while len(batch) < limit:
                    batch.append(get_nowait())
                break
            except queue.Empty:
                pass
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                break
            try:
                batch.append(self._inbox.get(timeout=remaining_s))
            except queue.Empty:
                break
        return batch

    def _handle(self, batch: list[Inbound], stop: threading.Event) -> None:
        self.counters.received += len(batch)
        now_s = self._now_utc_s()
        received_utc_ms = round(now_s * 1000)
        letters: list[DeadLetter] = []
        by_bucket: dict[str, list[_Entry]] = {}
        sequenced: list[Summary | Nudge | Beats] = []
        observed: list[Ack] = []
        for inbound in batch:
            outcome = classify(
                self._topics, inbound.topic, inbound.payload, retained=inbound.retain, received_utc_ms=received_utc_ms
            )
            if isinstance(outcome, Refused):
                letters.append(DeadLetter(inbound.topic, outcome.problem, outcome.detail, inbound.payload, now_s))
                continue
            message = outcome.message
            if isinstance(message, Ack):
                observed.append(message)
                continue
            points = outcome.points
            if points:
                line = points[0].line() if len(points) == 1 else "\n".join([p.line() for p in points])
                bucket = bucket_for(self._config.influx.bucket, message.person)
                by_bucket.setdefault(bucket, []).append(_Entry(inbound, line))
            if isinstance(message, SEQUENCED_TYPES):
                sequenced.append(message)
        if not self._store(by_bucket, letters, now_s, stop):
            return  # stopping with the database down: nothing acknowledged, the broker keeps it all
        # Receive order, as MQTT expects. A message of a lost connection is redelivered (and rewritten,
        # which overwrites itself), so it is not acknowledged here.
        self.counters.mqtt_acks_skipped += self._link.ack_all(batch)
        for message in sequenced:
            self._confirmations.written(message.person, message.stream, message.seq, message.settled_below)
        for ack in observed:
            self._confirmations.observed(ack)
        for ack in self._confirmations.due():
            self._link.publish(
                self._topics.topic(ack.person, Kind.ACK), encode(ack), qos=QOS[Kind.ACK], retain=RETAIN[Kind.ACK]
            )
            self.counters.acks_published += 1

    def _store(
        self, by_bucket: dict[str, list[_Entry]], letters: list[DeadLetter], now_s: float, stop: threading.Event
    ) -> bool:
        """Write every point and dead letter; retry with backoff until done (True) or stopped (False)."""
        attempt = 0
        while True:
            try:
                refused: list[DeadLetter] = []
                written = 0
                for bucket, entries in by_bucket.items():
                    written += self._write_splitting(bucket, entries, refused, now_s)
                self._dead.add(letters + refused)
            except (WriteFailed, sqlite3.Error) as exc:
                delay_s = backoff_s(attempt, jitter=random.random())  # noqa: S311 — jitter or reproducible simulation, not a secret
                # The reason, never the points: they are personal data.
                log.warning("write failed (%s); retrying in %.1f s, nothing acknowledged meanwhile", exc, delay_s)
                self.counters.write_retries += 1
                attempt += 1
                if stop.wait(delay_s):
                    return False
                continue
            self.counters.points_written += written
            self.counters.dead_letters += len(letters) + len(refused)
            if letters or refused:
                reasons = sorted({d.reason.value for d in letters + refused})
                log.warning("set aside %d message(s) as dead letters: %s", len(letters) + len(refused), reasons)
            if attempt:
                log.info("the database is back; the batch is written")
            return True

    def _write_splitting(self, bucket: str, entries: Sequence[_Entry], refused: list[DeadLetter], now_s: float) -> int:
        """Write ``entries``; where the database refuses the batch, halve it to find the refused points."""
        try:
            self._writer.write(bucket, [e.line for e in entries])
            return sum(e.line.count("\n") + 1 for e in entries)  # points: a Beats message is several
        except WriteRejected as exc:
            if len(entries) == 1:
                inbound = entries[0].inbound
                refused.append(DeadLetter(inbound.topic, Problem.DATABASE_REJECTED, str(exc), inbound.payload, now_s))
                return 0
        half = len(entries) // 2
        return self._write_splitting(bucket, entries[:half], refused, now_s) + self._write_splitting(
            bucket, entries[half:], refused, now_s
        )

    def _log_stats(self) -> None:
        if time.monotonic() - self._last_stats < _STATS_EVERY_S:
            return
        self._last_stats = time.monotonic()
        c = self.counters
        log.info(
            "received %d, written %d points, %d dead letters, %d write retries, %d acks published",
            c.received,
            c.points_written,
            c.dead_letters,
            c.write_retries,
            c.acks_published,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vagus.sync.bridge``: run the bridge until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(prog="vagus bridge", description="MQTT → InfluxDB bridge of vagus")
    parser.add_argument("--config", type=Path, metavar="PATH", help="bridge config file (TOML); see docs/sync.md")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument(
        "--health-file", type=Path, metavar="PATH", help="touch PATH while connected (python -m vagus.heartbeat)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        bridge = Bridge(load_bridge_config(args.config))
    except ConfigError as exc:
        print(f"vagus bridge: error: {exc}", file=sys.stderr)
        return 2
    except VagusError as exc:
        print(f"vagus bridge: error: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping on %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    from vagus.heartbeat import Heartbeat

    bridge.run(stop, alive=Heartbeat(args.health_file).beat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
