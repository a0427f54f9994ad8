"""Configuration: a TOML file plus environment overrides, validated at start.

Lookup: ``--config PATH``, else ``$VAGUS_CONFIG``, else ``$XDG_CONFIG_HOME/vagus/config.toml``
(``~/.config/vagus/config.toml``); a missing default file means built-in defaults. Any key can
be overridden by ``VAGUS_<SECTION>__<KEY>`` (e.g. ``VAGUS_STORE__PATH=/tmp/v.db``); the value is
read as a TOML value where it parses as one (numbers, booleans), else as a string.
Every error names the bad key and what was expected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from vagus.edge.nudge_policy import NudgeSettings
from vagus.edge.safety import SafetySettings
from vagus.sync.settings import AgentSyncSection  # msgspec only; paho loads with the publisher
from vagus.tomlconfig import load_toml_config

__all__ = [
    "Config",
    "DeviceSection",
    "SignalSection",
    "SimSection",
    "StoreSection",
    "default_config_path",
    "default_store_path",
    "load_config",
]

PositiveSeconds = Annotated[float, msgspec.Meta(gt=0)]


class StoreSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The local SQLite store."""

    path: str = ""  # empty: $XDG_DATA_HOME/vagus/vagus.db, filled in by load_config
    beats_retention_days: Annotated[float, msgspec.Meta(gt=0)] = 30.0


class SignalSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Rolling windows, in seconds of beat time, and the signal-core methods."""

    windows_s: Annotated[list[PositiveSeconds], msgspec.Meta(min_length=1, max_length=4)] = msgspec.field(
        default_factory=lambda: [60.0, 300.0]
    )
    step_s: PositiveSeconds = 5.0
    warmup_s: PositiveSeconds = 7.0
    correction: Literal["lipponen2019", "malik", "none"] = "lipponen2019"
    spectral: bool = True
    nonlinear: bool = True

    def __post_init__(self) -> None:
        if self.step_s > min(self.windows_s) or self.warmup_s > min(self.windows_s):
            raise ValueError("step_s and warmup_s must not exceed the shortest window")


class SimSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The simulated wearables used by ``vagus run --sim`` (docs/simulator.md)."""

    scenario: str = "day"  # a built-in scenario (vagus sim scenarios) or a scenario TOML file
    seed: Annotated[int, msgspec.Meta(ge=0)] | None = None  # None: the scenario's seed
    people: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    # Override the first simulated person's resting heart rate and breathing rate.
    mean_hr_bpm: Annotated[float, msgspec.Meta(ge=30, le=200)] | None = None
    breathing_rate_brpm: Annotated[float, msgspec.Meta(ge=3, le=40)] | None = None
    clock_drift_ppm: Annotated[float, msgspec.Meta(ge=-1000, le=1000)] = 20.0


# A BlueZ address as `vagus scan` and `bluetoothctl` print it; a BlueZ adapter name.
_ADDRESS = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")
_ADAPTER = re.compile(r"hci[0-9]{1,3}")
# Profiles `vagus run` reads (vagus.edge.profiles, docs/edge-ble.md): the Heart Rate Service; Polar's
# PMD (ECG, PPI, accelerometer) beside it; a Colmi ring's UART (heart rate only).
READ_PROFILES = ("heart_rate", "polar_pmd", "colmi_ring")


class DeviceSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One real wearable for ``vagus run`` (a ``[[devices]]`` table): by address, or by advertised name."""

    address: str | None = None  # "CE:5F:FD:D3:C6:D1", as `vagus scan` lists it
    name: str | None = None  # else the start of its advertised name ("Polar H10"), found by scanning
    profile: str = "heart_rate"  # what to read: heart_rate | polar_pmd | colmi_ring
    adapter: str | None = None  # "hci1"; None: BlueZ's default adapter
    # polar_pmd only: beats from ECG R-peaks (H10; needs the `analysis` extra) instead of the strap's
    # own RR; the accelerometer for the stress gate's motion test. None: the profile's default.
    ecg: bool | None = None  # default false
    acc: bool | None = None  # default true

    def __post_init__(self) -> None:
        if self.address is None and not self.name:
            raise ValueError("a device needs an address or a name (`vagus scan` lists both)")
        if self.address is not None and not _ADDRESS.fullmatch(self.address):
            raise ValueError(f"address must look like CE:5F:FD:D3:C6:D1 (see `vagus scan`), got {self.address!r}")
        if self.adapter is not None and not _ADAPTER.fullmatch(self.adapter):
            raise ValueError(
                f"adapter must be a BlueZ adapter name like hci0 (`bluetoothctl list`), got {self.adapter!r}"
            )
        if self.profile not in READ_PROFILES:
            raise ValueError(f"profile must be one of {READ_PROFILES}, got {self.profile!r}")
        if self.profile != "polar_pmd" and (self.ecg is not None or self.acc is not None):
            raise ValueError(f"ecg and acc are options of the polar_pmd profile, not of {self.profile!r}")


class Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    store: StoreSection = msgspec.field(default_factory=StoreSection)
    signal: SignalSection = msgspec.field(default_factory=SignalSection)
    sim: SimSection = msgspec.field(default_factory=SimSection)
    sync: AgentSyncSection = msgspec.field(default_factory=AgentSyncSection)
    nudges: NudgeSettings = msgspec.field(default_factory=NudgeSettings)  # docs/nudges.md
    safety: SafetySettings = msgspec.field(default_factory=SafetySettings)  # docs/safety.md
    devices: list[DeviceSection] = msgspec.field(default_factory=list)  # [[devices]]: real wearables

    def __post_init__(self) -> None:
        keys = [d.address.upper() if d.address else f"name:{d.name}" for d in self.devices]
        if len(set(keys)) != len(keys):
            raise ValueError("devices: the same wearable is listed twice")


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "vagus" / "config.toml"


def default_store_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "vagus" / "vagus.db"


# VAGUS_BRIDGE_* belongs to the bridge (vagus.sync.settings), which may share an environment.
_ENV_KEY = re.compile(r"^VAGUS_(?!BRIDGE_)([A-Z0-9_]+?)__([A-Z0-9_]+)$")


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, merge and validate the configuration; raise ``ConfigError`` naming the bad key."""
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get("VAGUS_CONFIG"))
    path = path or Path(env.get("VAGUS_CONFIG") or default_config_path(env))
    config = load_toml_config(
        Config, path if path.exists() or explicit else None, env=env, env_pattern=_ENV_KEY, label="configuration"
    )
    store_path = Path(config.store.path).expanduser() if config.store.path else default_store_path(env)
    return msgspec.structs.replace(config, store=msgspec.structs.replace(config.store, path=str(store_path)))
