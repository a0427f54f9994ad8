"""One loader for every vagus config file: TOML, then environment overrides, then validation.

The agent (``vagus.config``, variables ``VAGUS_<SECTION>__<KEY>``) and the bridge
(``vagus.sync.settings``, variables ``VAGUS_BRIDGE_<SECTION>__<KEY>``) read their files the same
way, so they report errors the same way: the dotted key, where the bad value came from (the
variable, the file, or the built-in default) and what was expected. msgspec and the standard
library only, so both can import it cheaply.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, get_args, get_type_hints

import msgspec

from vagus.errors import ConfigError

__all__ = ["env_overrides", "load_toml_config"]

T = TypeVar("T")


def env_overrides(env: Mapping[str, str], pattern: re.Pattern[str]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Overrides as nested tables, and which variable set each dotted key.

    ``pattern`` has two groups, section and key. A value is read as a TOML value where it parses
    as one (numbers, booleans, arrays), else as a string.
    """
    out: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    for name, raw in env.items():
        match = pattern.match(name)
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


def _read_toml(path: Path, label: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{label} file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def load_toml_config(
    schema: type[T],
    path: Path | None,
    *,
    env: Mapping[str, str],
    env_pattern: re.Pattern[str],
    label: str = "config",
) -> T:
    """Read ``path`` (None or a missing optional file: defaults), apply overrides, validate.

    Raises :class:`ConfigError` with the dotted key, the origin of the bad value and the problem.
    """
    data = _read_toml(path, label) if path is not None else {}
    overrides, origin = env_overrides(env, env_pattern)
    data = _merge(data, overrides, "")
    try:
        return msgspec.convert(data, schema)
    except msgspec.ValidationError as exc:
        key, problem = _explain(exc, schema)
        base_key = key.split("[", 1)[0]
        env_name = origin.get(base_key) or next((v for k, v in origin.items() if k.startswith(f"{base_key}.")), None)
        where = f"from {env_name}" if env_name else f"in {path}" if path is not None else "built-in default"
        raise ConfigError(f"invalid {label}: {key or '(top level)'} ({where}): {problem}") from exc


def _explain(exc: msgspec.ValidationError, schema: type) -> tuple[str, str]:
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
            problem = f"expected one of {', '.join(map(repr, _choices(schema, key)))}, got {problem.split(' ', 3)[3]}"
        return key, problem
    return "", message


def _choices(schema: type, dotted_key: str) -> tuple[object, ...]:
    """The allowed values of a Literal-typed key, e.g. signal.correction."""
    hint: Any = schema
    try:
        for part in dotted_key.split("."):
            hint = get_type_hints(hint)[part]
    except (KeyError, TypeError):
        return ()
    return get_args(hint)
