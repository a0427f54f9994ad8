"""The MQTT adapter: the only module that imports paho-mqtt.

``MqttLink`` wraps one paho client on its own network thread: connect (and reconnect) in the
background, subscribe on every connection, hand received messages to a callback, publish, and
acknowledge by hand. Everything paho-specific (callback API version, v5 properties, reason codes)
stays here; the publisher and the bridge see plain dataclasses and booleans.
"""

from __future__ import annotations

import logging
import ssl
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from .settings import Endpoint, TlsSettings

__all__ = ["Endpoint", "Inbound", "MqttLink", "MqttProtocol", "TlsSettings", "Will"]

log = logging.getLogger(__name__)


class MqttProtocol(Enum):
    # The agent: the broker reports refusals (ACL) in PUBACK reason codes.
    V5 = paho.MQTTv5
    # The bridge: persistent 3.1.1 sessions survive a restart of Debian's Mosquitto 2.0.11; v5 ones do not.
    V311 = paho.MQTTv311


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True, slots=True)
class Inbound:
    """A received message. ``generation`` numbers the connection it came on: a message id means
    nothing on a later connection, so it is acknowledged only on its own."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int
    generation: int


class _PahoLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """paho's log, minus a false alarm: after a failed connection attempt, or a clean disconnect, paho
    2.2's network thread polls a closed socket and logs "Client is not connected" at ERROR. The failed
    attempt itself is reported by ``_Client.reconnect`` with its reason. (Matching paho's text is
    confined to this adapter.)"""

    def __init__(self) -> None:
        super().__init__(logging.getLogger(f"{__name__}.paho"), {})

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        # paho logs two DEBUG lines per message received; at INFO they are dropped here, cheaply.
        if not self.logger.isEnabledFor(level):
            return
        if str(msg).startswith("Client is not connected"):
            level = logging.DEBUG
        super().log(level, msg, *args, **kwargs)


_PUBACK: Final = 0x40  # MQTT control packet type 4 (PUBACK), flags 0
_PUBACK_PACKET: Final = struct.Struct("!BBH")
_READ_CHUNK: Final = 65_536


class _Client(paho.Client):
    """paho's client, saying why a connection attempt failed (paho logs only "retrying", at DEBUG), and
    cheaper per message for the bridge (both measured: docs/sync.md, "Benchmarks").

    - paho 2.2 reads a packet with one ``recv`` for the command byte, one per length byte and one for
      the rest, and a single packet per wake-up of its network thread: about four system calls per
      message. Here one ``recv`` fills a buffer and ``loop_read`` handles every complete packet in it.
      The buffer is always drained before ``loop_read`` returns, so no packet waits in it for the
      socket to become readable again; a partial packet stays in paho's own reading state, as before.
    - ``ack_many`` queues the PUBACKs of a whole batch as one write instead of one write (and one
      wake-up of the network thread) per message.
    Both rely on paho 2.x internals (``_sock_recv``, ``loop_read``, ``_packet_queue``), pinned by the
    requirements and covered by the sync tests.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0

    def reconnect(self) -> MQTTErrorCode:
        self._rbuf, self._rpos = b"", 0  # bytes of a lost connection mean nothing on the next one
        try:
            return super().reconnect()
        except ssl.SSLCertVerificationError as exc:
            # Nothing was sent (no password either). OpenSSL's words alone do not say which setting to fix.
            log.error(
                "cannot connect to the MQTT broker %s:%d: its TLS certificate could not be verified (%s); check"
                " ca_file (the CA that signed the broker's certificate) and that host is a name or address the"
                " certificate lists; retrying",
                self.host,
                self.port,
                exc,
            )
            raise
        except OSError as exc:  # refused, unreachable, a TLS handshake that failed otherwise, …
            log.warning("cannot connect to the MQTT broker %s:%d (%s); retrying", self.host, self.port, exc)
            raise

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rpos >= len(self._rbuf):
            data = super()._sock_recv(max(bufsize, _READ_CHUNK))  # BlockingIOError: nothing there yet
            if len(data) <= bufsize:
                self._rbuf, self._rpos = b"", 0
                return data  # b"" is the peer closing: paho sees it as before
            self._rbuf, self._rpos = data, 0
        start = self._rpos
        self._rpos = end = min(start + bufsize, len(self._rbuf))
        return self._rbuf[start:end]

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._rpos < len(self._rbuf) and self._sock is not None:
            rc = super().loop_read(1)
        return rc

    def ack_many(self, mids: Sequence[int]) -> MQTTErrorCode:
        """PUBACK every QoS 1 message id in ``mids``, in that order, in one write."""
        if not mids:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        if self._sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        # A PUBACK is its type, remaining length 2, and the message id (MQTT 3.1.1 §3.4; v5 §3.4 allows
        # leaving out the reason code when it is "Success").
        blob = b"".join([_PUBACK_PACKET.pack(_PUBACK, 2, mid) for mid in mids])
        return self._packet_queue(_PUBACK, blob, 0, 0)


class MqttLink:
    """One MQTT connection, kept up in the background."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        client_id: str,
        protocol: MqttProtocol,
        persistent_session: bool = False,
        manual_ack: bool = False,
        subscriptions: Sequence[tuple[str, int]] = (),
        on_message: Callable[[Inbound], None] | None = None,
        on_connected: Callable[[int, bool], None] | None = None,
        on_publish_refused: Callable[[int, str], None] | None = None,
        will: Will | None = None,
        resend_from_memory: bool = True,
        max_inflight: int = 20,
        reconnect_min_s: int = 1,
        reconnect_max_s: int = 30,
    ) -> None:
        if persistent_session and protocol is not MqttProtocol.V311:
            # Mosquitto 2.0.11 forgets v5 sessions on restart (research/sync.md); only 3.1.1 is durable there.
            raise ValueError("a persistent session needs MQTT 3.1.1 here")
        if persistent_session and not client_id:
            raise ValueError("a persistent session needs a fixed client id")
        self._endpoint = endpoint
        self._protocol = protocol
        self._subscriptions = list(subscriptions)
        self._on_message = on_message
        self._on_connected = on_connected
        self._on_publish_refused = on_publish_refused
        self._resend_from_memory = resend_from_memory
        self._generation = 0
        self._connected = threading.Event()
        self._stopping = False
        kwargs: dict[str, Any] = {}
        if protocol is MqttProtocol.V311:
            kwargs["clean_session"] = not persistent_session
        self._client = _Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol.value,
            manual_ack=manual_ack,
            **kwargs,
        )
        # A bug in a callback is logged (paho logs through ours), never kills the network thread. paho
        # logs topics only at DEBUG, payloads never.
        self._client.suppress_exceptions = True
        self._client.enable_logger(_PahoLog())  # type: ignore[arg-type]  # paho only calls .log()
        if endpoint.username is not None:
            self._client.username_pw_set(endpoint.username, endpoint.password)
        if endpoint.tls is not None:
            self._client.tls_set(
                ca_certs=endpoint.tls.ca_file, certfile=endpoint.tls.cert_file, keyfile=endpoint.tls.key_file
            )
        if will is not None:
            self._client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        self._client.max_inflight_messages_set(max_inflight)
        self._client.reconnect_delay_set(min_delay=reconnect_min_s, max_delay=reconnect_max_s)
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message
        self._client.on_publish = self._handle_publish
        self._client.on_subscribe = self._handle_subscribe

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; paho keeps reconnecting with backoff until ``stop``."""
        kwargs: dict[str, Any] = {}
        if self._protocol is MqttProtocol.V5:
            kwargs["clean_start"] = True  # the agent's durability is its outbox, not a broker session
        self._client.connect_async(self._endpoint.host, self._endpoint.port, self._endpoint.keepalive_s, **kwargs)
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect cleanly (so no last will is sent) and stop the network thread."""
        self._stopping = True
        if self._connected.is_set():
            self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def generation(self) -> int:
        return self._generation

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    # -- traffic -----------------------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> int:
        """Queue a message; return its message id (reported to ``on_publish_refused`` if refused)."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise RuntimeError(f"MQTT publish failed: {paho.error_string(info.rc)}")
        return int(info.mid)

    def ack(self, message: Inbound) -> bool:
        """Acknowledge ``message`` (manual ack); False if its connection is gone (it will be redelivered)."""
        if message.generation != self._generation or not self.connected:
            return False
        return self._client.ack(message.mid, message.qos) == MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_all(self, messages: Sequence[Inbound]) -> int:
        """Acknowledge ``messages`` in their order, in one write; return how many were skipped because
        their connection is gone (they will be redelivered). QoS 0 messages need no acknowledgement."""
        generation = self._generation
        if not self.connected:
            return sum(1 for m in messages if m.qos > 0)
        mids = [m.mid for m in messages if m.qos == 1 and m.generation == generation]
        skipped = sum(1 for m in messages if m.qos > 0 and (m.qos != 1 or m.generation != generation))
        for m in messages:  # QoS 2 is not used by vagus; acknowledge it the slow way if it ever comes
            if m.qos == 2 and m.generation == generation:
                skipped -= self._client.ack(m.mid, 2) == MQTTErrorCode.MQTT_ERR_SUCCESS
        if self._client.ack_many(mids) != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return skipped + len(mids)
        return skipped

    # -- paho callbacks (network thread) -----------------------------------------------------------

    def _handle_connect(self, client: paho.Client, _u: object, flags: Any, reason: ReasonCode, _p: object) -> None:
        if reason.is_failure:
            # The reason ("Not authorized", "Bad user name or password") says what to fix; no credentials.
            log.error("the MQTT broker %s:%d refused the connection: %s", *self._addr(), reason.getName())
            return
        if not self._resend_from_memory:
            # Before paho replays its in-memory copies: the caller's durable outbox re-sends, in order.
            client.drop_out_messages()
        self._generation += 1
        self._connected.set()
        if self._subscriptions:
            client.subscribe(self._subscriptions)
        log.info("connected to the MQTT broker %s:%d (session present: %s)", *self._addr(), flags.session_present)
        if self._on_connected is not None:
            self._on_connected(self._generation, bool(flags.session_present))

    def _handle_disconnect(self, _c: paho.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        if self._connected.is_set() and not self._stopping:
            log.warning("lost the MQTT broker %s:%d: %s; reconnecting", *self._addr(), reason.getName())
        self._connected.clear()

    def _handle_subscribe(self, _c: paho.Client, _u: object, _mid: int, reasons: list[ReasonCode], _p: object) -> None:
        refused = [f for (f, _), r in zip(self._subscriptions, reasons, strict=False) if r.is_failure]
        if refused:
            log.error("the MQTT broker refused %d subscription(s); check the ACL of this user", len(refused))
        else:
            log.info("subscribed to %d topic filter(s)", len(self._subscriptions))

    def _handle_message(self, _c: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        if self._on_message is None:
            return
        inbound = Inbound(
            topic=message.topic,
            payload=bytes(message.payload),
            qos=message.qos,
            retain=bool(message.retain),
            mid=message.mid,
            generation=self._generation,
        )
        self._on_message(inbound)

    def _handle_publish(self, _c: paho.Client, _u: object, mid: int, reason: ReasonCode, _p: object) -> None:
        if reason.is_failure and self._on_publish_refused is not None:
            self._on_publish_refused(mid, reason.getName())

    def _addr(self) -> tuple[str, int]:
        return self._endpoint.host, self._endpoint.port
