"""Home Assistant MQTT discovery: one HA device per wearable, with its stress level and score, heart
rate, RMSSD, breathing rate and battery as sensors (docs/topics.md, the ``homeassistant/...`` row).

Schema: Home Assistant's MQTT discovery and MQTT sensor docs (home-assistant.io, integrations/mqtt
"Discovery messages", integrations/sensor.mqtt; research/sync.md §6). Topic
``<discovery_prefix>/sensor/<person>/<object_id>/config`` — the node id is the person id, which is
what the ACL line ``pattern write homeassistant/+/%u/+/config`` lets the person's agent publish —
and the messages are **retained**, so Home Assistant finds the entities again after a restart.

States come from the agent's own topics, so nothing is published twice: the indicators from the
person's ``summary`` topic, the battery from its ``device`` topic, availability from its retained
``status`` topic (``{"state": "online"|"offline"}``). A person's topics carry every wearable and
every window length, so each template keeps the entity's current state (``this.state``) for a
record of another wearable or window. A JSON ``null`` renders as ``None``, which the MQTT sensor
shows as unknown.

Pure builders only: the agent publishes the list it returns (retained, QoS 1).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .errors import TopicError
from .topics import Kind, Topics, check_person

__all__ = ["SENSORS", "Sensor", "discovery_messages"]

_PSEUDONYM = re.compile(r"^d-[0-9a-f]{16}$")  # schema.pseudonymous_device_id
WINDOW_S = 60  # the window the dashboards and the stress level use (docs/indicators.md)
LEVELS = ("rest", "low", "medium", "high")  # schema's stress levels, in order


@dataclass(frozen=True, slots=True)
class Sensor:
    object_id: str
    name: str
    kind: Kind  # the topic it reads
    field: str  # the payload field
    unit: str | None = None
    device_class: str | None = None  # HA sensor device classes (integrations/sensor "Device class")
    state_class: str | None = "measurement"
    icon: str | None = None
    options: tuple[str, ...] = ()  # for device_class "enum"


SENSORS: tuple[Sensor, ...] = (
    Sensor("stress_level", "Stress level", Kind.SUMMARY, "stress_level", None, "enum", None, "mdi:gauge", LEVELS),
    Sensor("stress_score", "Stress score", Kind.SUMMARY, "stress_score", None, None, "measurement", "mdi:gauge"),
    Sensor("heart_rate", "Heart rate", Kind.SUMMARY, "hr_bpm", "bpm", None, "measurement", "mdi:heart-pulse"),
    # RMSSD is a variability in milliseconds, not a duration: no device class (HA's "duration" would
    # turn it into a time span in the UI).
    Sensor("rmssd", "RMSSD", Kind.SUMMARY, "rmssd_ms", "ms", None, "measurement", "mdi:heart-flash"),
    Sensor("breathing_rate", "Breathing rate", Kind.SUMMARY, "breathing_rate_brpm", "breaths/min", None),
    Sensor("battery", "Battery", Kind.DEVICE, "battery_pct", "%", "battery", "measurement"),
)


def _template(sensor: Sensor, device: str) -> str:
    match = f"value_json.device == '{device}'"
    if sensor.kind is Kind.SUMMARY:
        match += f" and value_json.window_nominal_s == {WINDOW_S}"
    return f"{{{{ value_json.{sensor.field} if {match} else this.state }}}}"


def discovery_messages(
    person: str,
    device_pseudonym: str,
    *,
    prefix: str = "vagus",
    discovery_prefix: str = "homeassistant",
    model: str | None = None,
    sw_version: str | None = None,
) -> list[tuple[str, bytes]]:
    """(topic, payload) of every retained discovery config for one wearable of ``person``.

    ``device_pseudonym`` is the keyed pseudonym of the wearable's address (``d-`` + 16 hex digits):
    the address itself never leaves the edge. An empty payload on the same topics removes the
    entities (Home Assistant's documented way)."""
    try:
        check_person(person)
        topics = Topics(prefix)
        Topics(discovery_prefix)
    except TopicError as exc:
        raise ValueError(str(exc)) from exc
    if not _PSEUDONYM.match(device_pseudonym):
        raise ValueError(f"device must be a pseudonym 'd-' + 16 hex digits, not {device_pseudonym!r}")
    node = f"vagus_{person}_{device_pseudonym[2:]}".replace("-", "_")
    device = {
        "identifiers": [node],
        "name": f"vagus {person} wearable {device_pseudonym[2:6]}",
        "manufacturer": "vagus",
        "model": model or "BLE heart-rate wearable",
    }
    if sw_version:
        device["sw_version"] = sw_version
    messages = []
    for sensor in SENSORS:
        config: dict[str, object] = {
            "name": sensor.name,
            "unique_id": f"{node}_{sensor.object_id}",
            "object_id": f"{node}_{sensor.object_id}",
            "state_topic": topics.topic(person, sensor.kind),
            "value_template": _template(sensor, device_pseudonym),
            "availability_topic": topics.topic(person, Kind.STATUS),
            "availability_template": "{{ value_json.state }}",
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": device,
            "origin": {"name": "vagus"},
            "qos": 1,
        }
        for key, value in (
            ("unit_of_measurement", sensor.unit),
            ("device_class", sensor.device_class),
            ("state_class", sensor.state_class),
            ("icon", sensor.icon),
        ):
            if value is not None:
                config[key] = value
        if sensor.options:
            config["options"] = list(sensor.options)
        # object_id level: unique per wearable, so two wearables of one person stay two devices.
        topic = f"{discovery_prefix}/sensor/{person}/{device_pseudonym[2:]}_{sensor.object_id}/config"
        messages.append((topic, json.dumps(config, separators=(",", ":"), sort_keys=True).encode("utf-8")))
    return messages
