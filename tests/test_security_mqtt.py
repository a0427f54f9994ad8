"""The broker's side of per-person isolation, against Debian's Mosquitto with TLS only, a password file
and the ACL: person A cannot write into B's subtree (MQTT v5 says "Not authorized"), cannot read it,
anonymous and plain-TCP clients get nowhere, and a client that does not trust the broker's
certificate fails with a message that says so."""

from __future__ import annotations

import gc
import logging
import threading
import time
from pathlib import Path

import pytest

from tests.servers import BRIDGE_USER, PASSWORDS, Mosquitto, Pki, serving, wait_until, workdir
from vagus.sync import Kind, Topics
from vagus.sync._mqtt import MqttLink, MqttProtocol
from vagus.sync.settings import Endpoint, TlsSettings

pytestmark = [
    pytest.mark.timeout(120),
    # paho 2.2 leaves the socket of a failed TLS handshake to the garbage collector (a ResourceWarning).
    pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"),
]

TOPICS = Topics("vagus")
A, B = "alice", "bob"


def make_pki(root: Path, name: str = "vagus test CA") -> Pki:
    """A CA and the broker's certificate for 127.0.0.1, made by the first-run command's own ``vagus.pki``."""
    from vagus.pki import make_ca, make_leaf

    ca_cert, ca_key = make_ca(name)
    cert, key = make_leaf(ca_cert, ca_key, "localhost", dns_names=["localhost"], ip_addresses=["127.0.0.1"])
    for file, data in (("ca.crt", ca_cert), ("server.crt", cert), ("server.key", key)):
        (root / file).write_bytes(data)
        (root / file).chmod(0o644)  # readable by mosquitto's user when it drops root
    return Pki(root / "ca.crt", root / "server.crt", root / "server.key")


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    root.chmod(0o755)
    return make_pki(root)


@pytest.fixture(scope="module")
def tls_broker(pki):
    """Mosquitto whose only listener speaks TLS: the shipped ACL, a password file, no anonymous access."""
    root = workdir("mosquitto-tls")
    server = Mosquitto(root, acl=True)
    conf = root / "mosquitto.conf"
    lines = conf.read_text().splitlines()
    at = lines.index(f"listener {server.port} 127.0.0.1") + 1
    lines[at:at] = [f"certfile {pki.server_cert}", f"keyfile {pki.server_key}"]
    conf.write_text("\n".join(lines) + "\n")
    with serving(root, server.start()) as broker:
        yield broker


def link(broker: Mosquitto, username: str | None, ca: Path | None, **kwargs) -> MqttLink:
    endpoint = Endpoint(
        "127.0.0.1",
        broker.port,
        username,
        PASSWORDS.get(username or "", None),
        None if ca is None else TlsSettings(str(ca)),
    )
    mqtt = MqttLink(endpoint, client_id=f"{username}-{time.monotonic_ns()}", protocol=MqttProtocol.V5, **kwargs)
    mqtt.start()
    return mqtt


def test_a_publish_into_another_persons_subtree_is_refused_with_v5_reason_135(tls_broker, pki):
    refusals: list[tuple[int, str]] = []
    refused = threading.Event()

    def on_refused(mid: int, reason: str) -> None:
        refusals.append((mid, reason))
        refused.set()

    alice = link(tls_broker, A, pki.ca_cert, on_publish_refused=on_refused)
    try:
        assert alice.wait_connected(10)
        own = alice.publish(TOPICS.topic(A, Kind.SUMMARY), b"{}")
        theirs = alice.publish(TOPICS.topic(B, Kind.SUMMARY), b"{}")
        assert refused.wait(10)
        time.sleep(0.3)  # the PUBACK of her own publish has arrived too by now
    finally:
        alice.stop()
    # Reason code 135 is paho's "Not authorized" (MQTT 5.0 §3.4.2.1); only the write into B's subtree.
    assert refusals == [(theirs, "Not authorized")]
    assert own != theirs


def test_a_subscription_to_another_persons_subtree_receives_nothing(tls_broker, pki):
    seen_by_alice: list[str] = []
    seen_by_bridge: list[str] = []
    alice = link(
        tls_broker,
        A,
        pki.ca_cert,
        subscriptions=[(f"vagus/{B}/#", 1)],
        on_message=lambda m: seen_by_alice.append(m.topic),
    )
    # The control: the bridge user may read every summary, so B's messages do go through the broker.
    bridge = link(
        tls_broker,
        BRIDGE_USER,
        pki.ca_cert,
        subscriptions=[("vagus/+/summary", 1)],
        on_message=lambda m: seen_by_bridge.append(m.topic),
    )
    bob = link(tls_broker, B, pki.ca_cert)
    try:
        for client in (alice, bridge, bob):
            assert client.wait_connected(10)
        time.sleep(0.5)  # subscriptions settled
        for _ in range(5):
            bob.publish(TOPICS.topic(B, Kind.SUMMARY), b"{}")
        wait_until(lambda: len(seen_by_bridge) == 5, timeout_s=10, what="B's messages at the bridge")
        time.sleep(0.5)
    finally:
        for client in (alice, bridge, bob):
            client.stop()
    assert seen_by_alice == []


def test_anonymous_clients_are_refused(tls_broker, pki, caplog):
    anonymous = link(tls_broker, None, pki.ca_cert)
    try:
        assert not anonymous.wait_connected(2.0)
    finally:
        anonymous.stop()
    assert "refused the connection: Not authorized" in caplog.text


def test_plain_tcp_gets_no_connection_where_only_tls_is_configured(tls_broker, caplog):
    caplog.set_level(logging.INFO)
    plain = link(tls_broker, A, None)
    try:
        assert not plain.wait_connected(3.0)
    finally:
        plain.stop()
    assert not plain.connected


def test_a_client_with_the_wrong_ca_fails_with_a_clear_error(tls_broker, tmp_path, caplog):
    other_root = tmp_path / "other"
    other_root.mkdir()
    other = make_pki(other_root, "someone else's CA")
    alice = link(tls_broker, A, other.ca_cert)
    try:
        assert not alice.wait_connected(3.0)
    finally:
        alice.stop()
        gc.collect()
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    # Says what failed (the broker's certificate), where (host and port) and what to check (the CA file).
    assert any("certificate" in m and "ca_file" in m and str(tls_broker.port) in m for m in messages), messages
    assert PASSWORDS[A] not in caplog.text  # the password is never sent to a broker it cannot verify
