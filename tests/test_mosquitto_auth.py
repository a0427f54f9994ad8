"""``vagus.mosquitto_auth`` against Debian's mosquitto: the password lines are what ``mosquitto_passwd``
writes, and the broker — running the compose stack's own mosquitto.conf with TLS, the generated password
file and ACL — lets each identity do exactly what docs/topics.md's table says, and nothing else."""

from __future__ import annotations

import base64
import re
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import ROOT
from tests.deploy_broker import ComposeMosquitto, compose_mosquitto
from tests.servers import require_binary
from vagus.mosquitto_auth import HEALTH_USER, password_file, password_line, render_acl
from vagus.pki import make_ca, make_leaf

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"),
]

PEOPLE = ["alice", "bob"]
PASSWORDS = {
    "alice": "alice-secret-1",
    "bob": "bob-secret-2",
    "alice-companion": "ac-3",
    "bob-companion": "bc-4",
    "vagus-bridge": "br-5",
    HEALTH_USER: "health-6",
}


def test_password_line_is_what_mosquitto_passwd_writes(tmp_path):
    binary = require_binary("mosquitto_passwd", "mosquitto")
    path = tmp_path / "passwd"
    path.touch()
    argv = [binary, "-b", str(path), "alice", "s3cret pass"]
    subprocess.run(argv, check=True, capture_output=True)  # noqa: S603 — a fixed argv of our own, no shell
    line = path.read_text().strip()
    user, _, rest = line.partition(":")
    _, kind, iterations, salt, _ = rest.split("$")
    assert (user, kind) == ("alice", "7")
    assert password_line("alice", "s3cret pass", salt=base64.b64decode(salt), iterations=int(iterations)) == line
    assert password_line("alice", "other", salt=base64.b64decode(salt)) != line
    assert password_line("alice", "x") != password_line("alice", "x")  # a fresh random salt each time


@pytest.mark.parametrize(
    ("args", "message"),
    [(("a:b", "pw"), "not usable"), (("alice", ""), "non-empty"), (("alice", "a\nb"), "one line")],
)
def test_password_line_refuses_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        password_line(*args)


def _table_acl_lines() -> dict[str, set[str]]:
    """The ACL lines of docs/topics.md's table, by identity ("agent", "bridge", "companion")."""
    text = (ROOT / "docs" / "topics.md").read_text()
    found: dict[str, set[str]] = {"agent": set(), "bridge": set(), "companion": set()}
    for row in text.splitlines():
        if not row.startswith("| `"):
            continue
        acl = row.rstrip("|").split("|")[-1]
        for who, line in re.findall(r"(agent|bridge|companion): `([^`]+)`", acl):
            found[who].add(line)
    return found


def _blocks(acl: str) -> dict[str, set[str]]:
    """ACL lines by user (``None`` key: the ``pattern`` lines that apply to everybody)."""
    blocks: dict[str, set[str]] = {"*": set()}
    user = "*"
    for line in acl.splitlines():
        if line.startswith("user "):
            user = line.split(" ", 1)[1]
            blocks.setdefault(user, set())
        elif line.startswith("pattern "):
            blocks["*"].add(line)
        elif line.startswith("topic "):
            blocks[user].add(line)
    return blocks


def test_render_acl_has_exactly_the_lines_of_the_topic_table():
    table = _table_acl_lines()
    assert len(table["agent"]) >= 7 and len(table["bridge"]) >= 7 and len(table["companion"]) >= 5
    blocks = _blocks(render_acl(PEOPLE, raw_beats_for=["bob"]))
    beats = "pattern write vagus/%u/beats"
    assert beats in table["agent"]  # the table's agent line, which vagus init narrows to the opted-in people
    assert blocks["*"] == (table["agent"] - {beats}) | {"pattern write homeassistant/+/%u/+/config"}
    assert blocks["vagus-bridge"] == table["bridge"]
    for person in PEOPLE:
        expected = {line.replace("/alice/", f"/{person}/") for line in table["companion"]}
        expected.add(f"topic read homeassistant/+/{person}/+/config")
        assert blocks[f"{person}-companion"] == expected
    assert blocks["bob"] == {"topic write vagus/bob/beats"}
    assert "alice" not in blocks
    assert blocks[HEALTH_USER] == {"topic read $SYS/broker/uptime"}


@pytest.mark.parametrize(
    ("people", "kwargs", "message"),
    [
        (["vagus-bridge"], {}, "service or companion"),
        (["a", "a-companion"], {}, "service or companion"),
        (["alice", "alice"], {}, "unique"),
        (["al/ice"], {}, "not usable"),
        (["alice"], {"raw_beats_for": ["bob"]}, "not in the list"),
        (["alice"], {"prefix": "vagus/#"}, "not usable"),
    ],
)
def test_render_acl_refuses_unsafe_input(people, kwargs, message):
    with pytest.raises(ValueError, match=message):
        render_acl(people, **kwargs)


# -- the real broker -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broker():
    ca_cert, ca_key = make_ca("vagus test CA")
    cert, key = make_leaf(ca_cert, ca_key, "mosquitto", dns_names=["localhost", "mosquitto"])
    acl = render_acl(PEOPLE, raw_beats_for=["bob"])
    certs = {"ca.crt": ca_cert, "server.crt": cert, "server.key": key}
    with compose_mosquitto(passwd=password_file(PASSWORDS), acl=acl, certs=certs) as server:
        yield server


class Client:
    """A paho MQTT v5 client over TLS that records CONNACK, PUBACK reason codes and messages."""

    def __init__(self, broker: ComposeMosquitto, user: str | None, password: str | None, *, tls: bool = True):
        self.connected = threading.Event()
        self.reason: object = None
        self.pubacks: dict[int, int] = {}
        self.messages: list[tuple[str, bytes, bool]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if user is not None:
            self.client.username_pw_set(user, password)
        if tls:
            self.client.tls_set(ca_certs=str(broker.ca_file))
        self.client.on_connect = self._on_connect
        self.client.on_publish = lambda c, u, mid, rc, p: self.pubacks.__setitem__(mid, rc.value)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload, bool(m.retain)))
        self.client.connect("localhost", broker.port, clean_start=True)
        self.client.loop_start()
        self.connected.wait(10)

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        self.reason = reason
        self.connected.set()

    @property
    def accepted(self) -> bool:
        return self.reason is not None and not self.reason.is_failure

    def publish(self, topic: str, payload: bytes = b"{}", *, retain: bool = False) -> int:
        """The PUBACK reason code (0 success, 16 no matching subscribers, 135 not authorized)."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        deadline = time.monotonic() + 10
        while info.mid not in self.pubacks and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.pubacks[info.mid]

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe(topic, qos=1)
        assert done.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


NOT_AUTHORIZED = 135


def test_right_password_connects_wrong_password_and_anonymous_do_not(broker):
    ok = Client(broker, "alice", PASSWORDS["alice"])
    assert ok.accepted, ok.reason
    ok.close()
    for user, password in (("alice", "wrong"), ("alice", PASSWORDS["bob"]), (None, None), ("nobody", "x")):
        refused = Client(broker, user, password)
        assert refused.connected.is_set() and not refused.accepted, (user, refused.reason)
        refused.close()


def test_plain_tcp_gets_nowhere(broker):
    plain = Client(broker, "alice", PASSWORDS["alice"], tls=False)
    assert not plain.accepted
    plain.close()


def test_each_identity_gets_exactly_its_topics(broker):
    alice = Client(broker, "alice", PASSWORDS["alice"])
    bob = Client(broker, "bob", PASSWORDS["bob"])
    bridge = Client(broker, "vagus-bridge", PASSWORDS["vagus-bridge"])
    companion = Client(broker, "alice-companion", PASSWORDS["alice-companion"])
    try:
        for kind in ("summary", "nudge", "device", "status"):
            assert alice.publish(f"vagus/alice/{kind}") != NOT_AUTHORIZED, kind
            assert alice.publish(f"vagus/bob/{kind}") == NOT_AUTHORIZED, kind
            assert companion.publish(f"vagus/alice/{kind}") == NOT_AUTHORIZED, kind
        assert alice.publish("vagus/alice/beats") == NOT_AUTHORIZED  # alice did not opt in
        assert bob.publish("vagus/bob/beats") != NOT_AUTHORIZED  # bob did
        assert alice.publish("vagus/alice/ack") == NOT_AUTHORIZED  # only the bridge confirms
        assert alice.publish("vagus/alice/checkin") == NOT_AUTHORIZED
        assert companion.publish("vagus/alice/checkin") != NOT_AUTHORIZED
        assert companion.publish("vagus/bob/checkin") == NOT_AUTHORIZED
        assert bridge.publish("vagus/alice/ack") != NOT_AUTHORIZED
        assert bridge.publish("vagus/alice/summary") == NOT_AUTHORIZED
        assert alice.publish("homeassistant/sensor/alice/stress/config") != NOT_AUTHORIZED
        assert alice.publish("homeassistant/sensor/bob/stress/config") == NOT_AUTHORIZED

        bridge.subscribe("vagus/+/summary")
        companion.subscribe("vagus/+/summary")  # the ACL lets through alice's only
        bob.subscribe("vagus/alice/summary")  # bob may not read alice
        assert alice.publish("vagus/alice/summary", b'{"n":1}') == 0
        assert bob.publish("vagus/bob/summary", b'{"n":2}') == 0
        deadline = time.monotonic() + 5
        while len(bridge.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        assert sorted(t for t, _, _ in bridge.messages) == ["vagus/alice/summary", "vagus/bob/summary"]
        assert [t for t, _, _ in companion.messages] == ["vagus/alice/summary"]
        assert bob.messages == []
    finally:
        for client in (alice, bob, bridge, companion):
            client.close()


def test_the_compose_healthcheck_command_works_with_the_health_user_only(broker, tmp_path):
    """The healthcheck in docker-compose.yml, run with Debian's mosquitto_sub against this broker."""
    from tests.test_compose import service_config

    require_binary("mosquitto_sub", "mosquitto-clients")
    test = service_config("mosquitto")["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    (broker.root / "secrets" / "health-password").write_text(PASSWORDS[HEALTH_USER] + "\n")
    # `docker-compose config` prints "$$" (compose's escape for a literal "$") as it was written.
    command = test[1].replace("$$", "$").replace("/mosquitto/", f"{broker.root}/")
    command = command.replace("-p 8883", f"-p {broker.port}")
    sh = ["/bin/sh", "-c", command]  # the compose file's CMD-SHELL, run as Docker runs it
    ok = subprocess.run(sh, capture_output=True, text=True, timeout=30, check=False)  # noqa: S603 — our compose file
    assert ok.returncode == 0, ok.stderr + broker.log()[-1500:]
    (broker.root / "secrets" / "health-password").write_text("wrong\n")
    bad = subprocess.run(sh, capture_output=True, text=True, timeout=30, check=False)  # noqa: S603 — our compose file
    assert bad.returncode != 0 and "not authorised" in bad.stderr
    # and the health user can read nothing else
    health = Client(broker, HEALTH_USER, PASSWORDS[HEALTH_USER])
    assert health.accepted
    assert health.publish("vagus/alice/summary") == NOT_AUTHORIZED
    health.close()
