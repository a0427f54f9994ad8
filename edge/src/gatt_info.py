"""Decoders for the standard GATT characteristics read beside a wearable's data stream.

- Battery Level 0x2A19 (Battery Service 0x180F): one uint8, percent 0–100 (Read, often Notify;
  Polar straps must be polled).
- Device Information 0x180A: Manufacturer Name 0x2A29, Model Number 0x2A24, Serial Number 0x2A25,
  Firmware 0x2A26, Hardware 0x2A27, Software Revision 0x2A28: UTF-8 strings without terminator.
- Body Sensor Location 0x2A38 (Heart Rate Service): uint8, 0 Other, 1 Chest, 2 Wrist, 3 Finger,
  4 Hand, 5 Ear Lobe, 6 Foot; 7–255 reserved.

Layouts from the Bluetooth SIG GATT specification supplement, as summarised in
``../shared/research/ble.md`` §1.2, §1.4, §1.5. Written independently of ``vagus.sim.gatt_info``.

Strictness policy (each case has a test in ``tests/test_gatt_info_decoder.py``):

* Battery Level: no byte is rejected (``empty``); a value above 100 is rejected (``malformed``:
  the spec defines percent 0–100 only); bytes after the first are ignored with a warning.
* Device Information strings are informative, never rejected: trailing NUL bytes (some firmware
  C-terminates them) are stripped with a warning; invalid UTF-8 is decoded with U+FFFD
  replacement characters and a warning; surrounding whitespace is kept.
* Body Sensor Location: no byte is rejected; a reserved value is kept with ``name=None`` and a
  warning; bytes after the first are ignored with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from vagus.errors import PayloadError, PayloadProblem

__all__ = [
    "BATTERY_LEVEL_UUID",
    "BODY_SENSOR_LOCATION_UUID",
    "DEVICE_INFORMATION_UUIDS",
    "BatteryLevel",
    "BodySensorLocation",
    "DeviceInformation",
    "DeviceInformationString",
    "SensorLocation",
    "decode_battery_level",
    "decode_body_sensor_location",
    "decode_device_information",
    "decode_info_string",
]


def _sig(short: int) -> str:
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


BATTERY_LEVEL_UUID = _sig(0x2A19)
BODY_SENSOR_LOCATION_UUID = _sig(0x2A38)
# Characteristic UUID → DeviceInformation field name.
DEVICE_INFORMATION_UUIDS: Mapping[str, str] = {
    _sig(0x2A29): "manufacturer",
    _sig(0x2A24): "model",
    _sig(0x2A25): "serial",
    _sig(0x2A26): "firmware",
    _sig(0x2A27): "hardware",
    _sig(0x2A28): "software",
}


@dataclass(frozen=True, slots=True)
class BatteryLevel:
    level_percent: int
    warnings: tuple[str, ...] = ()


def decode_battery_level(data: bytes) -> BatteryLevel:
    """Battery Level (0x2A19): percent 0–100; ``PayloadError`` if absent or above 100."""
    data = bytes(data)
    if not data:
        raise PayloadError(PayloadProblem.EMPTY, "no bytes")
    if data[0] > 100:
        raise PayloadError(PayloadProblem.MALFORMED, f"battery level {data[0]} % is above 100")
    warnings = (f"{len(data) - 1} byte(s) after the level ignored",) if len(data) > 1 else ()
    return BatteryLevel(data[0], warnings)


class BodySensorLocation(IntEnum):
    OTHER = 0
    CHEST = 1
    WRIST = 2
    FINGER = 3
    HAND = 4
    EAR_LOBE = 5
    FOOT = 6


@dataclass(frozen=True, slots=True)
class SensorLocation:
    """Body Sensor Location: the code as sent and its name (None for reserved values)."""

    code: int
    name: str | None
    warnings: tuple[str, ...] = ()


def decode_body_sensor_location(data: bytes) -> SensorLocation:
    """Body Sensor Location (0x2A38); ``PayloadError`` if there is no byte."""
    data = bytes(data)
    if not data:
        raise PayloadError(PayloadProblem.EMPTY, "no bytes")
    warnings: list[str] = []
    try:
        name: str | None = BodySensorLocation(data[0]).name
    except ValueError:
        name = None
        warnings.append(f"reserved location value {data[0]}")
    if len(data) > 1:
        warnings.append(f"{len(data) - 1} byte(s) after the location ignored")
    return SensorLocation(data[0], name, tuple(warnings))


@dataclass(frozen=True, slots=True)
class DeviceInformationString:
    text: str
    warnings: tuple[str, ...] = ()


def decode_info_string(data: bytes) -> DeviceInformationString:
    """A Device Information string (UTF-8, no terminator); never rejects, see the module policy."""
    data = bytes(data)
    warnings: list[str] = []
    stripped = data.rstrip(b"\x00")
    if len(stripped) < len(data):
        warnings.append(f"{len(data) - len(stripped)} trailing NUL byte(s) stripped")
    try:
        text = stripped.decode("utf-8")
    except UnicodeDecodeError:
        text = stripped.decode("utf-8", errors="replace")
        warnings.append("not valid UTF-8; undecodable bytes replaced by U+FFFD")
    return DeviceInformationString(text, tuple(warnings))


@dataclass(frozen=True, slots=True)
class DeviceInformation:
    """Device Information service strings; None where the device has no such characteristic."""

    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    hardware: str | None = None
    software: str | None = None
    warnings: tuple[str, ...] = ()


def decode_device_information(reads: Mapping[str, bytes]) -> DeviceInformation:
    """Build :class:`DeviceInformation` from characteristic UUID → value bytes (other UUIDs ignored)."""
    fields: dict[str, str] = {}
    warnings: list[str] = []
    for uuid, value in reads.items():
        name = DEVICE_INFORMATION_UUIDS.get(uuid.lower())
        if name is None:
            continue
        decoded = decode_info_string(value)
        fields[name] = decoded.text
        warnings.extend(f"{name}: {w}" for w in decoded.warnings)
    return DeviceInformation(**fields, warnings=tuple(warnings))
