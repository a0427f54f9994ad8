"""Configuration: file, environment overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vagus.config import default_config_path, load_config
from vagus.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file(tmp_path):
    cfg = load_config(env={"XDG_CONFIG_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")})
    assert cfg.signal.windows_s == [60.0, 300.0] and cfg.signal.step_s == 5.0
    assert cfg.signal.correction == "lipponen2019"
    assert cfg.store.path == str(tmp_path / "data" / "vagus" / "vagus.db")


def test_default_location_follows_xdg(tmp_path):
    assert default_config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "vagus" / "config.toml"
    path = tmp_path / "vagus" / "config.toml"
    path.parent.mkdir()
    path.write_text("[sim]\nseed = 11\n")
    assert load_config(env={"XDG_CONFIG_HOME": str(tmp_path)}).sim.seed == 11


def test_store_path_expands_home(tmp_path):
    cfg = load_config(env={"VAGUS_STORE__PATH": "~/x.db", "XDG_CONFIG_HOME": str(tmp_path)})
    assert not cfg.store.path.startswith("~")


def test_file_values_and_env_overrides(tmp_path):
    path = write(tmp_path, '[signal]\nwindows_s = [120]\n[store]\npath = "/tmp/a.db"\n')
    cfg = load_config(path, env={"VAGUS_SIGNAL__STEP_S": "10", "VAGUS_STORE__PATH": "/tmp/b.db"})  # noqa: S108 — a path string under test, never a shared temp file we trust
    assert cfg.signal.windows_s == [120.0] and cfg.signal.step_s == 10.0
    assert cfg.store.path == "/tmp/b.db"  # noqa: S108 — a path string under test, never a shared temp file we trust


def test_vagus_config_variable_names_the_file(tmp_path):
    path = write(tmp_path, "[sim]\nseed = 7\n")
    assert load_config(env={"VAGUS_CONFIG": str(path)}).sim.seed == 7


@pytest.mark.parametrize(
    ("text", "env", "key", "expected"),
    [
        ("[sim]\nmean_hr_bpm = 10\n", {}, "sim.mean_hr_bpm", ">= 30"),
        ("[signal]\nwindows_s = 'long'\n", {}, "signal.windows_s", "expected `array`"),
        ("[signal]\nwindows_s = [60, -1]\n", {}, "signal.windows_s[1]", "> 0"),
        ("[signal]\ncorrection = 'kubios'\n", {}, "signal.correction", "expected one of"),
        ("[signal]\nwindow_s = 60\n", {}, "signal.window_s", "unknown key"),
        ("[nonsense]\nx = 1\n", {}, "nonsense", "unknown key"),
        ("", {"VAGUS_SIGNAL__STEP_S": "-5"}, "signal.step_s", "VAGUS_SIGNAL__STEP_S"),
        ("[signal]\nwindows_s = [30, 300]\nstep_s = 60\n", {}, "signal", "must not exceed the shortest window"),
        ("signal = 3\n", {}, "signal", "expected `object`"),
    ],
)
def test_errors_name_the_key_and_the_expectation(tmp_path, text, env, key, expected):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env=env)
    message = str(info.value)
    assert f" {key} " in message and expected in message


def test_broken_toml_and_missing_explicit_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[signal\n"), env={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml", env={})
