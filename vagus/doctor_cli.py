"""``vagus doctor``: check what ``vagus run`` needs on this machine, and say what to fix.

Checks, in order: the D-Bus system bus; BlueZ (``org.bluez``) on it and its version; that this
user may talk to BlueZ (D-Bus policy); the adapters, and that the one(s) vagus will use are
present and powered; bleak; the configured ``[[devices]]``; the local store being writable. Each
check is ``ok``, ``warning`` or ``problem`` with one line of advice; the exit code is 1 when any
check is a problem, else 0.

Read-only by design: it reads D-Bus properties (``NameHasOwner``, BlueZ's ``GetManagedObjects``),
runs ``bluetoothctl --version`` (as bleak itself does to learn the BlueZ version) and looks at
file permissions. It never powers an adapter, scans, connects, creates the store or changes a
file. It talks to D-Bus through dbus-fast (bleak's own D-Bus library) rather than through bleak, so
a broken bleak install is reported instead of preventing the other checks.

Device addresses are not printed: doctor output tends to be pasted into bug reports, and an
address identifies the person's wearable.
"""

from __future__ import annotations

import argparse
import asyncio
import grp
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

__all__ = ["Check", "add_doctor_parser", "bluetooth_checks", "format_report", "run_doctor", "store_check"]

Status = Literal["ok", "warning", "problem"]

_ADAPTER = re.compile(r"hci[0-9]{1,3}")
_BLUEZ = "org.bluez"
_ADAPTER_IFACE = "org.bluez.Adapter1"
_ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
# bleak 1.0.0 dropped BlueZ < 5.55 (bleak CHANGELOG; research/ble.md §4.1); bleak's own check
# (backends/bluezdbus/version.py) compares bluetoothctl's version against 5.55 the same way.
_MIN_BLUEZ = (5, 55)
_TIMEOUT_S = 5.0  # a D-Bus call that takes longer than this is itself a finding
_GROUP_ADVICE = (
    "add the user to the `bluetooth` group (`sudo usermod -aG bluetooth USER`, then log in again); "
    "on Debian and Raspberry Pi OS BlueZ's D-Bus policy lets that group talk to it (docs/raspberry-pi.md)"
)


@dataclass(frozen=True, slots=True)
class Check:
    """One finding: ``name`` of the check, ``status``, what was seen (``detail``) and what to do (``advice``)."""

    name: str
    status: Status
    detail: str
    advice: str = ""


def _adapter_arg(text: str) -> str:
    if not _ADAPTER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected a BlueZ adapter name like hci0 (`bluetoothctl list`), got {text!r}")
    return text


def add_doctor_parser(commands: argparse._SubParsersAction) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="check D-Bus, BlueZ, the Bluetooth adapter, permissions, config and store; say what to fix",
        description="Check what `vagus run` needs: the D-Bus system bus, BlueZ, access to it, the adapter "
        "(present and powered), bleak, the configured [[devices]] and a writable store. Read-only: changes "
        "nothing. Exit 0 when nothing is a problem, 1 otherwise. See docs/raspberry-pi.md.",
    )
    doctor.add_argument(
        "--adapter", type=_adapter_arg, metavar="HCI", help="the adapter to check, e.g. hci0 (default: those in use)"
    )
    doctor.add_argument(
        "--config", type=Path, metavar="PATH", help="config file (default: $VAGUS_CONFIG, else the XDG one)"
    )
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.set_defaults(func=_cmd_doctor)


# -- Bluetooth: D-Bus, BlueZ, access, adapters -------------------------------------------------------------


def bluez_version(timeout_s: float = _TIMEOUT_S) -> tuple[int, int] | None:
    """BlueZ's (major, minor) from ``bluetoothctl --version`` (shipped with bluetoothd), or None if unknown."""
    exe = shutil.which("bluetoothctl")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=timeout_s, check=False)  # noqa: S603 — a fixed argv of our own, no shell
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)\.(\d+)", out.stdout)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _bluez_check(version: tuple[int, int] | None) -> Check:
    if version is None:
        return Check("BlueZ", "ok", "org.bluez is on the system bus (version unknown: bluetoothctl not found)")
    text = f"{version[0]}.{version[1]}"
    if version < _MIN_BLUEZ:
        return Check(
            "BlueZ",
            "warning",
            f"BlueZ {text} is older than 5.55, the oldest bleak supports since 1.0",
            "upgrade bluez (`sudo apt install bluez` from a current release)",
        )
    return Check("BlueZ", "ok", f"BlueZ {text} on the system bus")


def _unwrap(props: dict[str, Any]) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in props.items()}


def _in_bluetooth_group() -> bool | None:
    """Whether this process has the ``bluetooth`` group; None where the group does not exist."""
    try:
        gid = grp.getgrnam("bluetooth").gr_gid
    except KeyError:
        return None
    return gid in os.getgroups() or os.getegid() == gid


async def _connect_system_bus() -> tuple[Any, Check]:
    """A dbus-fast connection to the system bus (None when there is none) and the check saying so."""
    from dbus_fast import BusType
    from dbus_fast.aio import MessageBus

    name = "D-Bus system bus"
    try:
        async with asyncio.timeout(_TIMEOUT_S):
            bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        advice = "start dbus (`sudo systemctl start dbus`); in a container, mount the host's /run/dbus"
        return None, Check(name, "problem", f"not reachable ({type(exc).__name__})", advice)
    except PermissionError:
        advice = "check the permissions of /run/dbus/system_bus_socket"
        return None, Check(name, "problem", "its socket refused this user", advice)
    except Exception as exc:  # a bad DBUS_SYSTEM_BUS_ADDRESS, an auth failure, a timeout: report, don't crash
        advice = "check DBUS_SYSTEM_BUS_ADDRESS and that dbus is running"
        return None, Check(name, "problem", f"cannot connect ({type(exc).__name__}: {exc})", advice)
    return bus, Check(name, "ok", "reachable")


async def bluetooth_checks(adapter: str | None, configured: Sequence[str] = ()) -> list[Check]:
    """The D-Bus, BlueZ, access and adapter checks; a failed step ends the chain (the rest cannot be seen).

    ``adapter`` is the one asked for on the command line; otherwise the adapters ``configured`` in
    ``[[devices]]`` must exist and be powered, and so must BlueZ's default one when a device names
    none (bleak takes the first powered adapter with the central role: bluezdbus/manager.py).
    """
    from dbus_fast import Message, MessageType

    bus, connected = await _connect_system_bus()
    checks = [connected]
    if bus is None:
        return checks
    try:
        async with asyncio.timeout(_TIMEOUT_S):
            owner = await bus.call(
                Message(
                    destination="org.freedesktop.DBus",
                    path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus",
                    member="NameHasOwner",
                    signature="s",
                    body=[_BLUEZ],
                )
            )
            if owner is None or owner.message_type == MessageType.ERROR or not owner.body[0]:
                checks.append(
                    Check(
                        "BlueZ",
                        "problem",
                        "org.bluez is not on the system bus: bluetoothd is not running",
                        "`sudo apt install bluez` and `sudo systemctl enable --now bluetooth`",
                    )
                )
                return checks
            reply = await bus.call(
                Message(
                    destination=_BLUEZ,
                    path="/",
                    interface="org.freedesktop.DBus.ObjectManager",
                    member="GetManagedObjects",
                )
            )
    except TimeoutError:
        checks.append(Check("BlueZ", "problem", f"no answer within {_TIMEOUT_S:g} s", "`systemctl status bluetooth`"))
        return checks
    finally:
        bus.disconnect()
    checks.append(_bluez_check(await asyncio.to_thread(bluez_version)))
    if reply is None or reply.message_type == MessageType.ERROR:
        name = reply.error_name if reply is not None else "no reply"
        if name == _ACCESS_DENIED:
            member = _in_bluetooth_group()
            group = "no bluetooth group here" if member is None else f"in the bluetooth group: {member}"
            checks.append(Check("BlueZ access", "problem", f"D-Bus denied access to BlueZ ({group})", _GROUP_ADVICE))
        else:
            detail = f"BlueZ answered {name}: {' '.join(map(str, reply.body)) if reply else ''}".strip()
            checks.append(Check("BlueZ access", "problem", detail, "`systemctl status bluetooth` and its journal"))
        return checks
    checks.append(Check("BlueZ access", "ok", "this user may talk to BlueZ"))
    checks.extend(_adapter_checks(reply.body[0], adapter, configured))
    return checks


def _adapter_checks(objects: dict[str, dict[str, Any]], adapter: str | None, configured: Sequence[str]) -> list[Check]:
    adapters = {
        path.rsplit("/", 1)[-1]: _unwrap(ifaces[_ADAPTER_IFACE])
        for path, ifaces in objects.items()
        if _ADAPTER_IFACE in ifaces
    }
    names = sorted(adapters, key=lambda n: int(n[3:]))
    listing = ", ".join(names)
    if not adapters:
        return [
            Check(
                "adapter",
                "problem",
                "BlueZ has no adapter",
                "plug in a USB Bluetooth 4.0+ adapter, or check `rfkill list` and `dmesg | grep -i bluetooth`",
            )
        ]
    wanted = [adapter] if adapter else sorted({n for n in configured if n}, key=lambda n: int(n[3:]))
    missing = [n for n in wanted if n not in adapters]
    checks = []
    if missing:
        checks.append(
            Check(
                "adapter",
                "problem",
                f"{', '.join(missing)} not found (BlueZ has {listing})",
                "use one of those (`bluetoothctl list`); hciN names can change when adapters are plugged in",
            )
        )
    else:
        checks.append(Check("adapter", "ok", f"BlueZ has {listing}"))
    present = [n for n in wanted if n in adapters]
    if adapter is None and (not configured or "" in configured):  # a device on BlueZ's default adapter
        present.append("default")
    off = []
    for name in dict.fromkeys(present):
        if name == "default":
            central = [n for n in names if "central" in adapters[n].get("Roles", ["central"])]
            if not any(adapters[n].get("Powered") for n in central):
                off.append(f"no adapter is powered ({listing})" if central else "no adapter has the BLE central role")
        elif not adapters[name].get("Powered"):
            off.append(f"{name} is off")
    if off:
        checks.append(
            Check(
                "adapter powered",
                "problem",
                "; ".join(off),
                "`rfkill unblock bluetooth` and `bluetoothctl power on` (or `bluetoothctl select hciN` first)",
            )
        )
    elif present:
        on = [n for n in names if adapters[n].get("Powered")]
        checks.append(Check("adapter powered", "ok", f"powered: {', '.join(on)}"))
    return checks


# -- bleak, config, store ----------------------------------------------------------------------------------


def bleak_check() -> Check:
    try:
        # The import is the check: vagus's BLE transport (the one module that imports bleak) loads.
        import vagus.edge.ble_transport  # noqa: F401
    except Exception as exc:
        return Check("bleak", "problem", f"cannot import bleak ({type(exc).__name__}: {exc})", "pip install 'bleak>=3'")
    version = importlib.metadata.version("bleak")
    major = int(version.split(".", 1)[0]) if version.split(".", 1)[0].isdigit() else 0
    if major < 3:
        return Check("bleak", "warning", f"bleak {version}; vagus uses bleak 3's API", "pip install 'bleak>=3'")
    return Check("bleak", "ok", f"bleak {version}")


def devices_check(config: Any) -> Check:
    devices = config.devices
    if not devices:
        return Check(
            "devices",
            "warning",
            "no [[devices]] configured: `vagus run` without --sim has nothing to read",
            "find your wearable with `vagus scan` and add it (docs/edge-ble.md)",
        )
    parts = [
        f"{i}: {'by address' if d.address else f'name {d.name!r}'}, {d.profile}, adapter {d.adapter or 'default'}"
        for i, d in enumerate(devices, 1)
    ]
    return Check("devices", "ok", f"{len(devices)} valid ({'; '.join(parts)})")


def store_check(path: Path) -> Check:
    """Whether ``vagus run`` can open (or create) the SQLite store at ``path``, without touching it.

    The store runs in WAL mode, so SQLite also creates ``-wal`` and ``-shm`` files beside it: the
    directory must be writable, not only the file.
    """
    if path.exists():
        if not path.is_file():
            return Check("store", "problem", f"{path} is not a file", "set store.path to a file path")
        if not (os.access(path, os.R_OK | os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)):
            return Check("store", "problem", f"{path} or its directory is not writable", _store_advice(path))
        return Check("store", "ok", f"{path} is writable")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return Check("store", "problem", f"{ancestor} is not a directory: cannot create {path}", _store_advice(path))
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return Check("store", "problem", f"{ancestor} is not writable: cannot create {path}", _store_advice(path))
    return Check("store", "ok", f"{path} does not exist yet; `vagus run` will create it")


def _store_advice(path: Path) -> str:
    return f"set store.path (or VAGUS_STORE__PATH) to a writable place, or give this user write access to {path.parent}"


# -- the command ---------------------------------------------------------------------------------------------


def run_doctor(adapter: str | None, config_path: Path | None, *, as_json: bool, out: TextIO) -> int:
    """Run every check, print them, and return 1 if any is a problem, else 0."""
    from vagus.config import load_config
    from vagus.errors import ConfigError

    try:
        config = load_config(config_path)
        config_error = None
    except ConfigError as exc:
        config, config_error = None, str(exc)
    # Adapters the agent will use: each device's, or BlueZ's default ("") for a device naming none.
    configured = [d.adapter or "" for d in config.devices] if config is not None else []
    checks = asyncio.run(bluetooth_checks(adapter, configured))
    checks.append(bleak_check())
    if config is None:
        checks.append(Check("devices", "problem", f"the configuration does not load: {config_error}", "fix that key"))
        checks.append(Check("store", "warning", "not checked: the configuration does not load", "fix it first"))
    else:
        checks.append(devices_check(config))
        checks.append(store_check(Path(config.store.path)))
    if as_json:
        ok = not any(c.status == "problem" for c in checks)
        out.write(json.dumps({"ok": ok, "checks": [asdict(c) for c in checks]}, indent=2) + "\n")
    else:
        out.write(format_report(checks))
    return 1 if any(c.status == "problem" for c in checks) else 0


def format_report(checks: Sequence[Check]) -> str:
    """One line per check (status, name, what was seen) and an indented line of advice where there is one."""
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{c.status:<8} {c.name:<{width}}  {c.detail}")
        if c.advice and c.status != "ok":
            lines.append(f"{'':<8} {'':<{width}}  → {c.advice}")
    problems = sum(c.status == "problem" for c in checks)
    warnings = sum(c.status == "warning" for c in checks)
    lines += ["", f"{problems} problem(s), {warnings} warning(s)" if problems or warnings else "all ok"]
    return "\n".join(lines) + "\n"


def _cmd_doctor(args: argparse.Namespace) -> int:
    return run_doctor(args.adapter, args.config, as_json=args.json, out=sys.stdout)
