"""Standard GATT characteristics every simulated wearable exposes besides its data stream.

- Battery Level 0x2A19 (Battery Service 0x180F): one uint8, percent 0–100, Read + Notify.
- Device Information 0x180A: Manufacturer Name 0x2A29, Model Number 0x2A24, Serial Number 0x2A25,
  Firmware Revision 0x2A26, Hardware Revision 0x2A27, Software Revision 0x2A28, each a UTF-8
  string without terminator.
- Body Sensor Location 0x2A38 (Heart Rate Service): one uint8 enum, 1 = chest.

Layouts from the Bluetooth SIG GATT specification supplement as bumble 0.0.236 implements it
(``bumble/profiles/{battery_service,device_information_service,heart_rate_service}.py``), summarised
in ``../shared/research/ble.md`` §1.2, §1.4, §1.5. Also a deterministic battery drain model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "ATT_MAX_VALUE_LEN",
    "BATTERY_LEVEL_UUID",
    "BATTERY_SERVICE_UUID",
    "BODY_SENSOR_LOCATION_UUID",
    "CHEST_STRAP_BATTERY",
    "COLMI_R02_INFO",
    "DEVICE_INFORMATION_SERVICE_UUID",
    "FIRMWARE_REVISION_UUID",
    "HARDWARE_REVISION_UUID",
    "HEART_RATE_SERVICE_UUID",
    "MANUFACTURER_NAME_UUID",
    "MODEL_NUMBER_UUID",
    "POLAR_H7_INFO",
    "RING_BATTERY",
    "SERIAL_NUMBER_UUID",
    "SOFTWARE_REVISION_UUID",
    "WATCH_BROADCAST_BATTERY",
    "BatteryModel",
    "BodySensorLocation",
    "DeviceInformation",
    "encode_battery_level",
    "encode_body_sensor_location",
    "sig_uuid",
]

ATT_MAX_VALUE_LEN = 512  # Core spec Vol 3 Part F §3.2.9: an attribute value is at most 512 octets


def sig_uuid(short: int) -> str:
    """The full 128-bit form of a 16-bit SIG UUID, lower case: ``0000xxxx-0000-1000-8000-00805f9b34fb``."""
    if not 0 <= short <= 0xFFFF:
        raise ValueError(f"0x{short:x} is not a 16-bit UUID")
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


HEART_RATE_SERVICE_UUID = sig_uuid(0x180D)
BATTERY_SERVICE_UUID = sig_uuid(0x180F)
DEVICE_INFORMATION_SERVICE_UUID = sig_uuid(0x180A)
BATTERY_LEVEL_UUID = sig_uuid(0x2A19)
BODY_SENSOR_LOCATION_UUID = sig_uuid(0x2A38)
MANUFACTURER_NAME_UUID = sig_uuid(0x2A29)
MODEL_NUMBER_UUID = sig_uuid(0x2A24)
SERIAL_NUMBER_UUID = sig_uuid(0x2A25)
FIRMWARE_REVISION_UUID = sig_uuid(0x2A26)
HARDWARE_REVISION_UUID = sig_uuid(0x2A27)
SOFTWARE_REVISION_UUID = sig_uuid(0x2A28)


def encode_battery_level(percent: int) -> bytes:
    """Battery Level value: one unsigned byte, 0–100 %."""
    if isinstance(percent, bool) or not isinstance(percent, int):
        raise ValueError(f"battery level must be an int percent, got {percent!r}")
    if not 0 <= percent <= 100:
        raise ValueError(f"battery level {percent} % is outside 0–100")
    return bytes([percent])


class BodySensorLocation(IntEnum):
    """Body Sensor Location values (0x2A38)."""

    OTHER = 0
    CHEST = 1
    WRIST = 2
    FINGER = 3
    HAND = 4
    EAR_LOBE = 5
    FOOT = 6


def encode_body_sensor_location(location: BodySensorLocation | int) -> bytes:
    """Body Sensor Location value: one unsigned byte (values 7–255 are reserved, so refused)."""
    try:
        return bytes([BodySensorLocation(location)])
    except ValueError:
        raise ValueError(f"body sensor location {location!r} is not 0–6") from None


@dataclass(frozen=True, slots=True)
class DeviceInformation:
    """Device Information strings; ``None`` leaves that (optional) characteristic out of the service."""

    manufacturer: str | None
    model: str | None
    serial: str | None
    firmware: str | None
    hardware: str | None
    software: str | None

    def __post_init__(self) -> None:
        for name in ("manufacturer", "model", "serial", "firmware", "hardware", "software"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise ValueError(f"{name} must be a str or None, got {value!r}")
            if len(value.encode("utf-8")) > ATT_MAX_VALUE_LEN:
                raise ValueError(f"{name} is longer than the {ATT_MAX_VALUE_LEN} bytes an attribute holds")

    def characteristics(self) -> dict[str, bytes]:
        """Characteristic UUID → value bytes (UTF-8), for the strings that are present."""
        pairs = (
            (MANUFACTURER_NAME_UUID, self.manufacturer),
            (MODEL_NUMBER_UUID, self.model),
            (SERIAL_NUMBER_UUID, self.serial),
            (FIRMWARE_REVISION_UUID, self.firmware),
            (HARDWARE_REVISION_UUID, self.hardware),
            (SOFTWARE_REVISION_UUID, self.software),
        )
        return {uuid: value.encode("utf-8") for uuid, value in pairs if value is not None}


# Strings read from real devices (ble.md §1.5). A real Polar H7 (openbikesensor docs); the serial
# is invented. A Colmi R02 exposes HW/FW strings (colmi_r02_client issue #50); the others unknown.
POLAR_H7_INFO = DeviceInformation(
    manufacturer="Polar Electro Oy",
    model="H7",
    serial="0000000000",
    firmware="1.4.0",
    hardware="39044024.10",
    software="H7 3.1.0",
)
COLMI_R02_INFO = DeviceInformation(
    manufacturer=None, model=None, serial=None, firmware="R02_3.00.06_240523", hardware="R02_V3.0", software=None
)


@dataclass(frozen=True, slots=True)
class BatteryModel:
    """Battery percent as a pure function of hours of use at a constant average drain.

    The charge used grows linearly with time (constant current), but the percent a device reports
    does not: a voltage-based gauge reads the flat plateau of the discharge curve as "nearly full"
    and then falls faster towards the knee at end of life. The simplest curve with that shape is

        percent = 100 · (1 − x^k),  x = hours used / lifetime_h,

    with ``curve_exponent`` k ≥ 1 (k = 1 is linear; larger k is a flatter plateau and steeper
    knee). A device that starts below 100 % is placed on the same curve. Reported levels are
    rounded to whole percent; the curve is monotonically non-increasing and reaches 0 at lifetime.
    """

    lifetime_h: float
    curve_exponent: float = 1.0
    start_percent: float = 100.0
    source: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lifetime_h) and self.lifetime_h > 0):
            raise ValueError(f"lifetime_h must be a positive number of hours, got {self.lifetime_h}")
        if not (math.isfinite(self.curve_exponent) and self.curve_exponent >= 1):
            raise ValueError(f"curve_exponent must be ≥ 1, got {self.curve_exponent}")
        if not 0 <= self.start_percent <= 100:
            raise ValueError(f"start_percent {self.start_percent} is outside 0–100")

    def remaining_h(self) -> float:
        """Hours from the start until the level reaches 0 %."""
        return self.lifetime_h * (1 - self._start_fraction())

    def _start_fraction(self) -> float:
        return (1 - self.start_percent / 100) ** (1 / self.curve_exponent)

    def percent_at(self, hours: float) -> float:
        """The unrounded level (%) after ``hours`` of use."""
        if not (math.isfinite(hours) and hours >= 0):
            raise ValueError(f"hours must be a finite number ≥ 0, got {hours}")
        used = min(1.0, self._start_fraction() + hours / self.lifetime_h)
        return 100 * (1 - used**self.curve_exponent)

    def level_at(self, hours: float) -> int:
        """The Battery Level (0–100, whole %) after ``hours`` of use."""
        return min(100, max(0, round(self.percent_at(hours))))


# Profiles. Lifetimes are figures published or reported for the device class; the exponents are
# assumptions chosen for the chemistry (a coin cell's plateau is flatter than a Li-ion gauge's).
CHEST_STRAP_BATTERY = BatteryModel(
    lifetime_h=400,
    curve_exponent=3,
    source="Polar H10 specifications: CR 2025 coin cell, battery lifetime 400 h (quoted, not re-verified here; "
    "exponent 3 is an assumption for a Li/MnO2 coin cell's flat plateau)",
)
RING_BATTERY = BatteryModel(
    lifetime_h=96,
    curve_exponent=1.5,
    source="Colmi R02: about four days with frequent measurements, as users of colmi_r02_client report "
    "(Hacker News thread 41833200); vendor pages say 3–7 days. Exponent 1.5 is an assumption for a Li-ion gauge.",
)
WATCH_BROADCAST_BATTERY = BatteryModel(
    lifetime_h=240,
    curve_exponent=1.5,
    source="Assumption: ~10 days for a watch in HR-broadcast mode (vendors quote 1–2 weeks of smartwatch use; "
    "no source found for broadcast mode itself).",
)
