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
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_type_hints

import msgspec

from vagus.errors import ConfigError
from vagus.sync.settings import AgentSyncSection  # msgspec only; paho loads with the publisher

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
    """The simulated strap used by ``vagus run --sim``."""

    seed: Annotated[int, msgspec.Meta(ge=0)] = 1
    mean_hr_bpm: Annotated[float, msgspec.Meta(ge=30, le=200)] = 62.0
    breathing_rate_brpm: Annotated[float, msgspec.Meta(ge=3, le=40)] = 15.0
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


_ENV_KEY = re.compile(r"^VAGUS_([A-Z0-9_]+?)__([A-Z0-9_]+)$")


def _env_overrides(env: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The overrides as nested tables, and which variable set each dotted key."""
    out: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    for name, raw in env.items():
        match = _ENV_KEY.match(name)
        if not match:
            continue
        section, key = match.group(1).lower(), match.group(2).lower()
        try:
            value: Any = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        out.setdefault(section, {})[key] = value
        origin[f"{section}.{key}"] = name
    return out, origin


def _merge(base: dict[str, Any], over: Mapping[str, Any], where: str) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        current = merged.get(key)
        if isinstance(value, Mapping):
            if current is not None and not isinstance(current, Mapping):
                raise ConfigError(f"{where}{key}: expected a table")
            merged[key] = _merge(dict(current or {}), value, f"{where}{key}.")
        else:
            merged[key] = value
    return merged


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, merge and validate the configuration; raise ``ConfigError`` naming the bad key."""
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get("VAGUS_CONFIG"))
    path = path or Path(env.get("VAGUS_CONFIG") or default_config_path(env))
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from exc
    elif explicit:
        raise ConfigError(f"config file {path} does not exist")
    overrides, origin = _env_overrides(env)
    data = _merge(data, overrides, "")
    try:
        config = msgspec.convert(data, Config)
    except msgspec.ValidationError as exc:
        key, problem = _explain(exc)
        base_key = key.split("[", 1)[0]
        env_name = origin.get(base_key) or next((v for k, v in origin.items() if k.startswith(f"{base_key}.")), None)
        where = f"from {env_name}" if env_name else f"in {path}" if path.exists() else "built-in default"
        raise ConfigError(f"invalid configuration: {key or '(top level)'} ({where}): {problem}") from exc
    store_path = Path(config.store.path).expanduser() if config.store.path else default_store_path(env)
    return msgspec.structs.replace(config, store=msgspec.structs.replace(config.store, path=str(store_path)))


def _explain(exc: msgspec.ValidationError) -> tuple[str, str]:
    """(dotted key, problem) from msgspec's "Expected `float` >= 30.0 - at `$.sim.mean_hr_bpm`"."""
    message = str(exc)
    unknown = re.fullmatch(r"Object contains unknown field `([^`]+)`(?: - at `\$\.?([^`]*)`)?", message)
    if unknown:
        key = ".".join(filter(None, [unknown.group(2), unknown.group(1)]))
        return key, "unknown key; valid sections and keys are listed in docs/configuration.md"
    match = re.search(r" - at `\$\.([^`]+)`$", message)
    if match:
        key, problem = match.group(1), message[: match.start()].replace("Expected", "expected")
        if problem.startswith("Invalid enum value"):
            problem = f"expected one of {', '.join(map(repr, _choices(key)))}, got {problem.split(' ', 3)[3]}"
        return key, problem
    return "", message


def _choices(dotted_key: str) -> tuple[object, ...]:
    """The allowed values of a Literal-typed key, e.g. signal.correction."""
    hint: Any = Config
    for part in dotted_key.split("."):
        hint = get_type_hints(hint)[part]
    return get_args(hint)
