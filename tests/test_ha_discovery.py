"""Home Assistant discovery messages: well-formed configs for one device per wearable, reading the
person's own topics, and — against Debian's mosquitto with the generated ACL — publishable by the
person's agent only, and delivered retained to the person's companion (Home Assistant's user)."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import ROOT
from tests.deploy_broker import compose_mosquitto
from tests.test_mosquitto_auth import NOT_AUTHORIZED, PASSWORDS, PEOPLE, Client
from vagus.mosquitto_auth import password_file, render_acl
from vagus.pki import make_ca, make_leaf
from vagus.sync.ha_discovery import SENSORS, discovery_messages
from vagus.sync.schema import pseudonymous_device_id
from vagus.sync.topics import Topics

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"),
]

DEVICE = pseudonymous_device_id("CE:5F:FD:D3:C6:D1", b"k" * 32)
HA_DEVICE_CLASSES = {"battery", "enum", None}  # the only ones used; HA's list: integrations/sensor


def test_one_device_with_the_six_sensors_reading_the_persons_topics():
    messages = discovery_messages("alice", DEVICE)
    assert len(messages) == len(SENSORS) == 6
    topics = Topics("vagus")
    configs = [json.loads(payload) for _, payload in messages]
    assert len({c["unique_id"] for c in configs}) == 6
    assert len({json.dumps(c["device"], sort_keys=True) for c in configs}) == 1  # one device
    for (topic, _), config in zip(messages, configs, strict=True):
        levels = topic.split("/")
        assert (levels[0], levels[1], levels[2], levels[4]) == ("homeassistant", "sensor", "alice", "config")
        assert len(levels) == 5
        assert config["availability_topic"] == topics.topic("alice", "status")
        assert config["state_topic"] in {topics.topic("alice", "summary"), topics.topic("alice", "device")}
        assert DEVICE in config["value_template"]
        assert config["device"]["identifiers"] and config["device"]["name"]
        assert config.get("device_class") in HA_DEVICE_CLASSES
        if config.get("device_class") == "enum":  # HA: an enum sensor has options, no unit or state class
            assert config["options"] == ["rest", "low", "medium", "high"]
            assert "unit_of_measurement" not in config and "state_class" not in config
    battery = next(c for c in configs if c.get("device_class") == "battery")
    assert battery["state_topic"] == topics.topic("alice", "device") and battery["unit_of_measurement"] == "%"
    # every field a template picks exists in the payload schema of its topic (docs/topics.md)
    schema = (ROOT / "docs" / "topics.md").read_text()
    for sensor in SENSORS:
        assert f"`{sensor.field}`" in schema, sensor.field


def test_two_wearables_are_two_devices_and_bad_input_is_refused():
    other = pseudonymous_device_id("AA:BB:CC:DD:EE:FF", b"k" * 32)
    first = {t for t, _ in discovery_messages("alice", DEVICE)}
    second = {t for t, _ in discovery_messages("alice", other)}
    assert not first & second
    for args in (("al/ice", DEVICE), ("alice", "CE:5F:FD:D3:C6:D1"), ("alice", "d-xyz")):
        with pytest.raises(ValueError):
            discovery_messages(*args)


def test_the_agent_publishes_them_retained_and_home_assistant_gets_them():
    ca_cert, ca_key = make_ca("vagus test CA")
    cert, key = make_leaf(ca_cert, ca_key, "mosquitto", dns_names=["localhost"])
    certs = {"ca.crt": ca_cert, "server.crt": cert, "server.key": key}
    with compose_mosquitto(passwd=password_file(PASSWORDS), acl=render_acl(PEOPLE), certs=certs) as broker:
        alice = Client(broker, "alice", PASSWORDS["alice"])
        bob = Client(broker, "bob", PASSWORDS["bob"])
        messages = discovery_messages("alice", DEVICE)
        try:
            for topic, payload in messages:
                assert alice.publish(topic, payload, retain=True) != NOT_AUTHORIZED, topic
                assert bob.publish(topic, b"{}", retain=True) == NOT_AUTHORIZED, topic
        finally:
            alice.close()
            bob.close()
        home_assistant = Client(broker, "alice-companion", PASSWORDS["alice-companion"])
        intruder = Client(broker, "bob-companion", PASSWORDS["bob-companion"])
        try:
            home_assistant.subscribe("homeassistant/#")
            intruder.subscribe("homeassistant/#")
            deadline = time.monotonic() + 5
            while len(home_assistant.messages) < len(messages) and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.2)
            assert sorted((t, p) for t, p, _ in home_assistant.messages) == sorted(messages)
            assert all(retained for _, _, retained in home_assistant.messages)
            assert intruder.messages == []
        finally:
            home_assistant.close()
            intruder.close()
