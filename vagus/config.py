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

from vagus.sync.settings import AgentSyncSection  # msgspec only; paho loads with the publisher
from vagus.tomlconfig import load_toml_config

__all__ = [
    "Config",
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


class Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    store: StoreSection = msgspec.field(default_factory=StoreSection)
    signal: SignalSection = msgspec.field(default_factory=SignalSection)
    sim: SimSection = msgspec.field(default_factory=SimSection)
    sync: AgentSyncSection = msgspec.field(default_factory=AgentSyncSection)


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
