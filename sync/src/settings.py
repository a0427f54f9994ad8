"""Sync settings: the bridge's own config file, the agent's ``[sync]`` section, and the resolved
connection targets (with their secrets read from files or the environment, never from logs).

msgspec and the standard library only, so ``vagus.config`` can import the agent's section cheaply.
Secrets are never config values: a Struct's repr shows every field, and configs get pasted into
issues. They come from ``*_file`` keys (Docker/systemd secrets) or from environment variables.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import msgspec

from vagus.errors import ConfigError
from vagus.tomlconfig import load_toml_config

from .errors import TopicError
from .topics import PERSON_PATTERN, Kind, Topics

__all__ = [
    "AgentSyncSection",
    "BridgeConfig",
    "BridgeSection",
    "Endpoint",
    "InfluxSection",
    "InfluxTarget",
    "MqttSection",
    "TlsSettings",
    "bucket_for",
    "influx_target",
    "load_bridge_config",
    "mqtt_endpoint",
]

PositiveSeconds = Annotated[float, msgspec.Meta(gt=0)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65_535)]


# -- resolved targets (plain dataclasses; secrets hidden from repr) ---------------------------------


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """TLS with the broker's certificate always verified (there is no switch to turn that off)."""

    ca_file: str | None = None  # None: the system's trusted CAs
    cert_file: str | None = None  # a client certificate, where the broker asks for one
    key_file: str | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a repr, so never in a log
    tls: TlsSettings | None = None
    keepalive_s: int = 30


@dataclass(frozen=True, slots=True)
class InfluxTarget:
    url: str
    org: str = "-"  # "-" for InfluxDB 1.8 and VictoriaMetrics, which ignore it
    token: str = field(default="", repr=False)
    timeout_s: float = 10.0
    gzip: bool = False


# -- config sections ---------------------------------------------------------------------------------


class MqttSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The broker, as the bridge sees it. The password: ``password_file`` or $VAGUS_MQTT_PASSWORD."""

    host: str = "localhost"
    port: Port = 1883
    username: str = "vagus-bridge"
    password_file: str = ""
    tls: bool = False
    ca_file: str = ""  # empty with tls = true: the system's trusted CAs
    cert_file: str = ""
    key_file: str = ""
    client_id: str = "vagus-bridge"  # the persistent session's name: keep it fixed
    keepalive_s: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 30


class InfluxSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The database. The token: ``token_file`` or $VAGUS_INFLUX_TOKEN."""

    url: str = "http://localhost:8086"
    org: str = "-"
    bucket: str = "vagus"  # "{person}" is replaced by the person id: "vagus-{person}" is a bucket per person
    token_file: str = ""
    timeout_s: PositiveSeconds = 10.0
    gzip: bool = False

    def __post_init__(self) -> None:
        names = {name for _, name, _, _ in string.Formatter().parse(self.bucket) if name is not None}
        if names - {"person"}:
            raise ValueError(f"bucket may only use the placeholder {{person}}, found {sorted(names - {'person'})}")


class BridgeSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    prefix: str = "vagus"
    batch_max: Annotated[int, msgspec.Meta(ge=1, le=50_000)] = 1000
    flush_interval_s: Annotated[float, msgspec.Meta(gt=0, le=10)] = 0.2
    # Empty: one bridge with a persistent MQTT 3.1.1 session. A name: workers share
    # $share/<group>/... subscriptions with clean sessions (docs/sync.md, "Scale-out").
    share_group: str = ""
    dead_letter_path: str = "/var/lib/vagus/dead-letters.db"


class BridgeConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    mqtt: MqttSection = msgspec.field(default_factory=MqttSection)
    influx: InfluxSection = msgspec.field(default_factory=InfluxSection)
    bridge: BridgeSection = msgspec.field(default_factory=BridgeSection)


class AgentSyncSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The agent's ``[sync]`` section. The password: ``password_file`` or $VAGUS_MQTT_PASSWORD."""

    enabled: bool = False
    person: Annotated[str, msgspec.Meta(pattern=PERSON_PATTERN)] | None = None  # also the MQTT username
    host: str = "localhost"
    port: Port = 1883
    username: str = ""  # empty: the person id (the shipped ACL's %u patterns expect that)
    password_file: str = ""
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    prefix: str = "vagus"
    resend_after_s: PositiveSeconds = 30.0
    max_in_flight: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 200
    outbox_capacity: Annotated[int, msgspec.Meta(ge=100)] = 200_000
    # A privacy choice, off unless the person opts in: also publish the raw beats (every RR interval,
    # with its time) that the store keeps, not only the summaries (docs/sync.md, "Raw beats").
    raw_beats: bool = False
    raw_beats_interval_s: Annotated[float, msgspec.Meta(ge=1, le=3600)] = 30.0
    # Retained Home Assistant MQTT discovery configs, so each wearable shows up there as a device with
    # its sensors (vagus.sync.ha_discovery; docs/topics.md).
    home_assistant: bool = False
    discovery_prefix: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "homeassistant"

    def __post_init__(self) -> None:
        if self.enabled and not self.person:
            raise ValueError("sync.person is required when sync is enabled")


# -- resolving secrets -------------------------------------------------------------------------------


def _secret(file_key: str, file_value: str, env_name: str, env: Mapping[str, str]) -> str | None:
    if file_value:
        try:
            return Path(file_value).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{file_key}: cannot read {file_value}: {exc.strerror}") from exc
    return env.get(env_name) or None


def mqtt_endpoint(
    section: MqttSection | AgentSyncSection, env: Mapping[str, str] | None = None, *, where: str = "mqtt"
) -> Endpoint:
    """The broker to connect to, with the password read from its file or $VAGUS_MQTT_PASSWORD."""
    env = os.environ if env is None else env
    username = section.username or getattr(section, "person", None) or None
    password = _secret(f"{where}.password_file", section.password_file, "VAGUS_MQTT_PASSWORD", env)
    tls = None
    if section.tls:
        tls = TlsSettings(
            ca_file=section.ca_file or None, cert_file=section.cert_file or None, key_file=section.key_file or None
        )
    elif section.ca_file or section.cert_file:
        raise ConfigError(f"{where}.ca_file/cert_file are set but {where}.tls is false")
    keepalive_s = getattr(section, "keepalive_s", 30)
    return Endpoint(section.host, section.port, username, password, tls, keepalive_s)


def influx_target(section: InfluxSection, env: Mapping[str, str] | None = None) -> InfluxTarget:
    env = os.environ if env is None else env
    token = _secret("influx.token_file", section.token_file, "VAGUS_INFLUX_TOKEN", env) or ""
    return InfluxTarget(section.url, section.org, token, section.timeout_s, section.gzip)


def bucket_for(template: str, person: str) -> str:
    return template.format(person=person)


# -- the bridge's config file ------------------------------------------------------------------------

_ENV_KEY = re.compile(r"^VAGUS_BRIDGE_([A-Z]+)__([A-Z0-9_]+)$")


def load_bridge_config(path: Path | None, env: Mapping[str, str] | None = None) -> BridgeConfig:
    """The bridge's TOML file (if any) plus ``VAGUS_BRIDGE_<SECTION>__<KEY>`` overrides, validated.

    Every error names the key (``ConfigError``)."""
    env = os.environ if env is None else env
    config = load_toml_config(BridgeConfig, path, env=env, env_pattern=_ENV_KEY, label="bridge configuration")
    try:  # the prefix and group follow the topic rules
        topics = Topics(config.bridge.prefix)
        if config.bridge.share_group:
            topics.shared(config.bridge.share_group, Kind.SUMMARY)
    except TopicError as exc:
        raise ConfigError(f"invalid bridge configuration: {exc}") from exc
    return config
