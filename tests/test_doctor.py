"""`vagus doctor` as a person runs it: a real process against python-dbusmock's bluez5 template on a private bus.

The mock plays bluetoothd (adapters, their Powered property, and a GetManagedObjects that can be
made to answer AccessDenied as a D-Bus policy would); a private dbus-daemon plays the system bus.
Where dbus-daemon or dbusmock is missing these tests skip with a reason, and with ``CI=true`` they
fail (``_require_dbusmock`` of test_ble_dbusmock).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .test_ble_dbusmock import MockBlueZ, _require_dbusmock
from .test_cli import vagus

ADAPTER_IFACE = "org.bluez.Adapter1"
ADDRESS = "CE:5F:FD:D3:C6:D1"


@pytest.fixture
def system_bus(monkeypatch) -> Iterator[Any]:
    dbusmock = _require_dbusmock()
    monkeypatch.delenv("DBUS_SYSTEM_BUS_ADDRESS", raising=False)
    bus = dbusmock.PrivateDBus(dbusmock.BusType.SYSTEM)
    bus.start()
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address)  # the subprocess inherits it
    try:
        yield dbusmock
    finally:
        bus.stop()


@pytest.fixture
def bluez(system_bus, tmp_path) -> Iterator[MockBlueZ]:
    mock = MockBlueZ(system_bus, tmp_path / "bluez-mock.log")
    try:
        yield mock
    finally:
        mock.close()


def tools(tmp_path: Path, bluez_version: str | None) -> str:
    """A PATH holding only a fake ``bluetoothctl --version`` printing ``bluez_version`` (or nothing at all)."""
    bin_dir = tmp_path / f"bin-{bluez_version}"
    bin_dir.mkdir(exist_ok=True)
    if bluez_version is not None:
        script = bin_dir / "bluetoothctl"
        script.write_text(f"#!/bin/sh\necho 'bluetoothctl: {bluez_version}'\n")
        script.chmod(0o755)
    return str(bin_dir)


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vagus.toml"
    path.write_text(text)
    return path


def doctor(tmp_path: Path, *args: str, bluez_version: str | None = "5.66", **env: str) -> tuple[int, dict, str]:
    """Run ``vagus doctor --json`` and its text form; (exit code, checks by name, text output)."""
    path = tools(tmp_path, bluez_version)
    as_json = vagus(tmp_path, "doctor", *args, "--json", PATH=path, **env)
    text = vagus(tmp_path, "doctor", *args, PATH=path, **env)
    assert "Traceback" not in as_json.stderr + text.stderr, as_json.stderr + text.stderr
    assert as_json.returncode == text.returncode
    report = json.loads(as_json.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert len(checks) == len(report["checks"])  # one line per check
    assert report["ok"] == (as_json.returncode == 0) == all(c["status"] != "problem" for c in checks.values())
    for c in checks.values():  # the text form carries every check with its status and, when not ok, its advice
        pattern = re.compile(rf"^{c['status']} +{re.escape(c['name'])}  +{re.escape(c['detail'])}$")
        assert sum(bool(pattern.match(line)) for line in text.stdout.splitlines()) == 1, text.stdout
        if c["status"] != "ok":
            assert c["advice"] and c["advice"] in text.stdout
    return as_json.returncode, checks, text.stdout


def statuses(checks: dict) -> dict[str, str]:
    return {name: c["status"] for name, c in checks.items()}


def test_all_ok_with_a_powered_adapter_and_a_valid_config(bluez, tmp_path):
    bluez.add_adapter("hci0")
    bluez.add_adapter("hci1")
    store = tmp_path / "store" / "vagus.db"
    config = write_config(
        tmp_path,
        f'[store]\npath = "{store}"\n\n[[devices]]\naddress = "{ADDRESS}"\n\n'
        '[[devices]]\nname = "Polar H10"\nprofile = "polar_pmd"\nadapter = "hci1"\n',
    )
    for path in ("/", "/org/bluez/hci0", "/org/bluez/hci1"):
        bluez.obj(path).ClearCalls(dbus_interface="org.freedesktop.DBus.Mock")  # the set-up's own calls
    code, checks, text = doctor(tmp_path, "--config", str(config))
    assert code == 0, text
    assert list(checks) == [
        "D-Bus system bus",
        "BlueZ",
        "BlueZ access",
        "adapter",
        "adapter powered",
        "bleak",
        "devices",
        "store",
    ]
    assert set(statuses(checks).values()) == {"ok"}
    assert "5.66" in checks["BlueZ"]["detail"]  # what bluetoothctl --version said
    assert "hci0, hci1" in checks["adapter"]["detail"]
    assert checks["bleak"]["detail"] == f"bleak {importlib.metadata.version('bleak')}"
    assert checks["devices"]["detail"].startswith("2 valid") and "adapter hci1" in checks["devices"]["detail"]
    assert ADDRESS not in text  # a wearable's address is not printed
    assert str(store) in checks["store"]["detail"]
    # Read-only: the store was not created, and nothing but GetManagedObjects was asked of BlueZ.
    assert not store.parent.exists()
    for adapter in ("/org/bluez/hci0", "/org/bluez/hci1"):
        assert bluez.obj(adapter).GetCalls(dbus_interface="org.freedesktop.DBus.Mock") == []
    root_calls = {str(c[1]) for c in bluez.root.GetCalls(dbus_interface="org.freedesktop.DBus.Mock")}
    assert root_calls <= {"GetManagedObjects"} and "GetManagedObjects" in root_calls


def test_a_powered_off_adapter_is_a_problem_with_advice(bluez, tmp_path):
    bluez.add_adapter("hci0")
    bluez.obj("/org/bluez/hci0").UpdateProperties(
        ADAPTER_IFACE, {"Powered": bluez._dbus.Boolean(False)}, dbus_interface="org.freedesktop.DBus.Mock"
    )
    code, checks, _ = doctor(tmp_path)
    assert code == 1
    assert statuses(checks)["adapter"] == "ok" and statuses(checks)["adapter powered"] == "problem"
    assert "rfkill unblock bluetooth" in checks["adapter powered"]["advice"]
    assert "bluetoothctl power on" in checks["adapter powered"]["advice"]
    # doctor reports; it does not switch the adapter on
    props = "org.freedesktop.DBus.Properties"
    assert not bluez.obj("/org/bluez/hci0").Get(ADAPTER_IFACE, "Powered", dbus_interface=props)
    # the explicitly chosen adapter is the one judged: hci1 on, hci0 off
    bluez.add_adapter("hci1")
    code, checks, _ = doctor(tmp_path)
    assert code == 0 and checks["adapter powered"]["detail"] == "powered: hci1"  # bleak's default: a powered one
    code, checks, _ = doctor(tmp_path, "--adapter", "hci0")
    assert code == 1 and checks["adapter powered"]["detail"] == "hci0 is off"


def test_no_adapter_and_an_unknown_adapter(bluez, tmp_path):
    code, checks, _ = doctor(tmp_path)
    assert code == 1 and statuses(checks)["adapter"] == "problem"
    assert "adapter powered" not in checks  # nothing to judge
    assert "USB Bluetooth" in checks["adapter"]["advice"]
    bluez.add_adapter("hci0")
    code, checks, _ = doctor(tmp_path, "--adapter", "hci3")
    assert code == 1 and checks["adapter"]["detail"] == "hci3 not found (BlueZ has hci0)"
    # the same from the config: a device on an adapter BlueZ does not have
    config = write_config(tmp_path, f'[[devices]]\naddress = "{ADDRESS}"\nadapter = "hci2"\n')
    code, checks, _ = doctor(tmp_path, "--config", str(config))
    assert code == 1 and checks["adapter"]["detail"] == "hci2 not found (BlueZ has hci0)"


def test_access_denied_points_to_the_bluetooth_group(bluez, tmp_path):
    bluez.add_adapter("hci0")
    # What bluetoothd's D-Bus policy answers a user it does not let in.
    bluez.control.AddMethod(
        "org.freedesktop.DBus.ObjectManager",
        "GetManagedObjects",
        "",
        "a{oa{sa{sv}}}",
        "raise dbus.exceptions.DBusException('Rejected send message', name='org.freedesktop.DBus.Error.AccessDenied')",
    )
    code, checks, _ = doctor(tmp_path)
    assert code == 1
    assert statuses(checks)["BlueZ"] == "ok" and statuses(checks)["BlueZ access"] == "problem"
    assert "`bluetooth` group" in checks["BlueZ access"]["advice"]
    assert "adapter" not in checks  # cannot be seen without access


def test_no_bluez_on_the_bus(system_bus, tmp_path):
    code, checks, _ = doctor(tmp_path)
    assert code == 1
    assert statuses(checks)["D-Bus system bus"] == "ok" and statuses(checks)["BlueZ"] == "problem"
    assert "systemctl enable --now bluetooth" in checks["BlueZ"]["advice"]
    assert "BlueZ access" not in checks and "adapter" not in checks
    # checks that do not need Bluetooth still run
    assert statuses(checks)["bleak"] == "ok" and "store" in checks


def test_no_system_bus_at_all(tmp_path):
    code, checks, _ = doctor(tmp_path, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={tmp_path / 'absent.socket'}")
    assert code == 1
    assert statuses(checks)["D-Bus system bus"] == "problem" and "/run/dbus" in checks["D-Bus system bus"]["advice"]
    assert "BlueZ" not in checks
    assert statuses(checks)["bleak"] == "ok" and statuses(checks)["store"] == "ok"


def test_bluez_version_old_unknown(bluez, tmp_path):
    bluez.add_adapter("hci0")
    code, checks, _ = doctor(tmp_path, bluez_version="5.50")  # older than bleak ≥ 1.0 supports (5.55)
    assert code == 0 and statuses(checks)["BlueZ"] == "warning" and "5.50" in checks["BlueZ"]["detail"]
    code, checks, _ = doctor(tmp_path, bluez_version="5.55")
    assert statuses(checks)["BlueZ"] == "ok"
    code, checks, _ = doctor(tmp_path, bluez_version=None)
    assert statuses(checks)["BlueZ"] == "ok" and "version unknown" in checks["BlueZ"]["detail"]


def test_config_and_store_problems(bluez, tmp_path):
    bluez.add_adapter("hci0")
    # no devices: a warning (exit 0), pointing to vagus scan
    code, checks, _ = doctor(tmp_path)
    assert code == 0 and statuses(checks)["devices"] == "warning" and "vagus scan" in checks["devices"]["advice"]
    # an invalid device: a problem naming the key, the store left unchecked
    bad = write_config(tmp_path, '[[devices]]\naddress = "not-an-address"\n')
    code, checks, _ = doctor(tmp_path, "--config", str(bad))
    assert code == 1 and statuses(checks)["devices"] == "problem"
    assert "devices" in checks["devices"]["detail"] and "address" in checks["devices"]["detail"]
    assert statuses(checks)["store"] == "warning"
    # VAGUS_CONFIG is honoured like `vagus run` does
    code, checks, _ = doctor(tmp_path, VAGUS_CONFIG=str(bad))
    assert statuses(checks)["devices"] == "problem"
    # a store under a regular file cannot be created (root can write anywhere else)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, checks, _ = doctor(tmp_path, VAGUS_STORE__PATH=str(blocker / "vagus.db"))
    assert code == 1 and statuses(checks)["store"] == "problem" and "store.path" in checks["store"]["advice"]
    # an existing, writable store is fine and untouched
    existing = tmp_path / "kept.db"
    existing.write_bytes(b"")
    before = existing.stat().st_mtime_ns
    code, checks, _ = doctor(tmp_path, VAGUS_STORE__PATH=str(existing))
    assert statuses(checks)["store"] == "ok" and existing.stat().st_mtime_ns == before
    assert not any(p.name.startswith("kept.db-") for p in tmp_path.iterdir())  # no WAL files: never opened
    if os.geteuid() != 0:  # permissions mean nothing to root
        existing.chmod(0o444)
        code, checks, _ = doctor(tmp_path, VAGUS_STORE__PATH=str(existing))
        assert statuses(checks)["store"] == "problem"


def test_usage_errors_and_help(tmp_path):
    bad = vagus(tmp_path, "doctor", "--adapter", "bt0")
    assert bad.returncode == 2 and "hci0" in bad.stderr
    assert "doctor" in vagus(tmp_path, "--help").stdout
    assert "Read-only" in vagus(tmp_path, "doctor", "--help").stdout
