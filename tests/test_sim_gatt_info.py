"""Battery, Device Information and Body Sensor Location values against bumble's GATT profiles.

bumble (0.0.236) implements these services from the SIG specification independently of vagus:
its adapters' encode/decode are the reference for the byte layout. The battery model is checked
by its documented properties (monotonic, bounded, consistent when starting part-charged).
"""

from __future__ import annotations

import asyncio
import math
from itertools import pairwise

import pytest
from bumble import core, gatt, gatt_adapters
from bumble.profiles.battery_service import BatteryService
from bumble.profiles.device_information_service import DeviceInformationService
from bumble.profiles.heart_rate_service import HeartRateService
from hypothesis import given, settings
from hypothesis import strategies as st

from vagus.sim import gatt_info
from vagus.sim.gatt_info import (
    CHEST_STRAP_BATTERY,
    COLMI_R02_INFO,
    POLAR_H7_INFO,
    RING_BATTERY,
    WATCH_BROADCAST_BATTERY,
    BatteryModel,
    BodySensorLocation,
    DeviceInformation,
    encode_battery_level,
    encode_body_sensor_location,
)

UUIDS = {
    "HEART_RATE_SERVICE_UUID": gatt.GATT_HEART_RATE_SERVICE,
    "BATTERY_SERVICE_UUID": gatt.GATT_BATTERY_SERVICE,
    "DEVICE_INFORMATION_SERVICE_UUID": gatt.GATT_DEVICE_INFORMATION_SERVICE,
    "BATTERY_LEVEL_UUID": gatt.GATT_BATTERY_LEVEL_CHARACTERISTIC,
    "BODY_SENSOR_LOCATION_UUID": gatt.GATT_BODY_SENSOR_LOCATION_CHARACTERISTIC,
    "MANUFACTURER_NAME_UUID": gatt.GATT_MANUFACTURER_NAME_STRING_CHARACTERISTIC,
    "MODEL_NUMBER_UUID": gatt.GATT_MODEL_NUMBER_STRING_CHARACTERISTIC,
    "SERIAL_NUMBER_UUID": gatt.GATT_SERIAL_NUMBER_STRING_CHARACTERISTIC,
    "FIRMWARE_REVISION_UUID": gatt.GATT_FIRMWARE_REVISION_STRING_CHARACTERISTIC,
    "HARDWARE_REVISION_UUID": gatt.GATT_HARDWARE_REVISION_STRING_CHARACTERISTIC,
    "SOFTWARE_REVISION_UUID": gatt.GATT_SOFTWARE_REVISION_STRING_CHARACTERISTIC,
}


@pytest.mark.parametrize("name", sorted(UUIDS))
def test_uuid_constants_are_bumbles(name):
    ours = getattr(gatt_info, name)
    assert ours == ours.lower() and len(ours) == 36
    assert core.UUID(ours) == UUIDS[name]
    # bumble's 128-bit little-endian bytes, reversed, are the canonical string's hex digits.
    assert UUIDS[name].to_bytes(force_128=True)[::-1].hex() == ours.replace("-", "")


def test_sig_uuid_rejects_wide_values():
    with pytest.raises(ValueError, match="16-bit"):
        gatt_info.sig_uuid(0x10000)


# ---------------------------------------------------------------------------------- battery level


def _bumble_battery_adapter() -> gatt_adapters.PackedCharacteristicAdapter:
    return BatteryService(read_battery_level=lambda _connection: 0).battery_level_characteristic


def test_battery_level_bytes_match_bumble_for_every_percent():
    adapter = _bumble_battery_adapter()
    for percent in range(101):
        ours = encode_battery_level(percent)
        assert ours == adapter.encode_value(percent)
        assert adapter.decode_value(ours) == percent


@pytest.mark.parametrize("bad", [-1, 101, 255, 1.5, True, "50"])
def test_battery_level_out_of_range(bad):
    with pytest.raises(ValueError, match="battery level"):
        encode_battery_level(bad)


# -------------------------------------------------------------------------- body sensor location


def test_body_sensor_location_matches_bumble_enum():
    assert {m.name: m.value for m in BodySensorLocation} == {
        m.name: m.value for m in HeartRateService.BodySensorLocation
    }
    adapter = gatt_adapters.EnumCharacteristicAdapter(
        gatt.Characteristic(
            gatt.GATT_BODY_SENSOR_LOCATION_CHARACTERISTIC,
            gatt.Characteristic.Properties.READ,
            gatt.Characteristic.READABLE,
        ),
        cls=HeartRateService.BodySensorLocation,
        length=1,
    )
    for location in BodySensorLocation:
        ours = encode_body_sensor_location(location)
        assert ours == adapter.encode_value(HeartRateService.BodySensorLocation(location.value))
        assert adapter.decode_value(ours).name == location.name
    assert encode_body_sensor_location(BodySensorLocation.CHEST) == adapter.encode_value(
        HeartRateService.BodySensorLocation.CHEST
    )


@pytest.mark.parametrize("bad", [7, -1, 256])
def test_body_sensor_location_reserved_values(bad):
    with pytest.raises(ValueError, match="body sensor location"):
        encode_body_sensor_location(bad)


# ---------------------------------------------------------------------------- device information


def _bumble_dis(info: DeviceInformation) -> dict[core.UUID, bytes]:
    service = DeviceInformationService(
        manufacturer_name=info.manufacturer,
        model_number=info.model,
        serial_number=info.serial,
        hardware_revision=info.hardware,
        firmware_revision=info.firmware,
        software_revision=info.software,
    )
    return {c.uuid: bytes(c.value) for c in service.characteristics}


@pytest.mark.parametrize("info", [POLAR_H7_INFO, COLMI_R02_INFO], ids=["polar-h7", "colmi-r02"])
def test_device_information_matches_bumble_service(info):
    ours = {core.UUID(uuid): value for uuid, value in info.characteristics().items()}
    assert ours == _bumble_dis(info)


_text = st.one_of(st.none(), st.text(max_size=40))


@settings(max_examples=150, deadline=None)
@given(_text, _text, _text, _text, _text, _text)
def test_device_information_roundtrips_through_bumble_utf8(manufacturer, model, serial, firmware, hardware, software):
    info = DeviceInformation(manufacturer, model, serial, firmware, hardware, software)
    chars = info.characteristics()
    assert {core.UUID(u): v for u, v in chars.items()} == _bumble_dis(info)
    by_field = {
        gatt_info.MANUFACTURER_NAME_UUID: manufacturer,
        gatt_info.MODEL_NUMBER_UUID: model,
        gatt_info.SERIAL_NUMBER_UUID: serial,
        gatt_info.FIRMWARE_REVISION_UUID: firmware,
        gatt_info.HARDWARE_REVISION_UUID: hardware,
        gatt_info.SOFTWARE_REVISION_UUID: software,
    }
    for uuid, value in chars.items():
        decoder = gatt_adapters.UTF8CharacteristicAdapter(
            gatt.Characteristic(uuid, gatt.Characteristic.Properties.READ, gatt.Characteristic.READABLE)
        )
        assert decoder.decode_value(value) == by_field[uuid]
    assert set(chars) == {u for u, v in by_field.items() if v is not None}


def test_device_information_is_frozen_and_validated():
    with pytest.raises(AttributeError):
        POLAR_H7_INFO.model = "H10"  # type: ignore[misc]
    with pytest.raises(ValueError, match="512"):
        DeviceInformation("x" * 513, None, None, None, None, None)
    with pytest.raises(ValueError, match="str or None"):
        DeviceInformation(b"Polar", None, None, None, None, None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------- battery model


PROFILES = {"strap": CHEST_STRAP_BATTERY, "ring": RING_BATTERY, "watch": WATCH_BROADCAST_BATTERY}


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_battery_profile_is_monotonic_and_bounded(name):
    model = PROFILES[name]
    hours = [model.lifetime_h * i / 500 for i in range(601)]  # runs 20 % past the end of life
    levels = [model.level_at(h) for h in hours]
    assert levels[0] == 100
    assert all(0 <= lv <= 100 for lv in levels)
    assert all(a >= b for a, b in pairwise(levels))
    assert model.level_at(model.lifetime_h) == 0
    assert levels[-1] == 0
    assert len(set(levels)) == 101, "every percent step should be reported on the way down"
    assert model.source, "each profile cites where its figures come from"


def test_battery_profiles_are_ordered_by_lifetime():
    # Ring days < watch broadcast ~weeks < a coin-cell strap's hundreds of hours.
    assert RING_BATTERY.lifetime_h < WATCH_BROADCAST_BATTERY.lifetime_h < CHEST_STRAP_BATTERY.lifetime_h


def test_curve_shape_plateau_then_knee():
    linear = BatteryModel(lifetime_h=100, curve_exponent=1)
    coin = BatteryModel(lifetime_h=100, curve_exponent=3)
    assert linear.percent_at(50) == pytest.approx(50)
    # A flat plateau: the coin cell reads higher mid-life and then falls faster near the end.
    assert coin.level_at(50) > linear.level_at(50)
    early_drop = coin.percent_at(0) - coin.percent_at(10)
    late_drop = coin.percent_at(90) - coin.percent_at(100)
    assert late_drop > 5 * early_drop


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=1, max_value=2000),
    st.floats(min_value=1, max_value=5),
    st.floats(min_value=0, max_value=100),
    st.floats(min_value=0, max_value=3000),
)
def test_part_charged_start_is_the_same_curve_shifted(lifetime_h, exponent, start, hours):
    full = BatteryModel(lifetime_h=lifetime_h, curve_exponent=exponent)
    part = BatteryModel(lifetime_h=lifetime_h, curve_exponent=exponent, start_percent=start)
    offset = lifetime_h - part.remaining_h()
    assert part.percent_at(0) == pytest.approx(start, abs=1e-6)
    assert full.percent_at(offset) == pytest.approx(start, abs=1e-6)
    assert part.percent_at(hours) == pytest.approx(full.percent_at(offset + hours), abs=1e-6)
    assert 0 <= part.level_at(hours) <= 100


@pytest.mark.parametrize("hours", [-1.0, math.nan, math.inf])
def test_battery_model_rejects_bad_hours(hours):
    with pytest.raises(ValueError, match="hours"):
        RING_BATTERY.level_at(hours)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lifetime_h": 0},
        {"lifetime_h": -5},
        {"lifetime_h": 10, "curve_exponent": 0.5},
        {"lifetime_h": 10, "start_percent": 101},
    ],
)
def test_battery_model_rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        BatteryModel(**kwargs)


# ----------------------------------------------------------------- end to end over a bumble link


async def test_bumble_central_reads_the_values_over_a_local_link():
    """A bumble central reads our bytes through its Battery and Device Information service proxies."""
    from bumble.device import Peer
    from bumble.profiles.battery_service import BatteryServiceProxy
    from bumble.profiles.device_information_service import DeviceInformationServiceProxy
    from bumble.testing.test_utils import TwoDevices

    info = DeviceInformation("Acmé Straps", "S1", "SN-42", "2.0.1", "rev B", "sim 0.1")
    devices = TwoDevices()
    read = gatt.Characteristic.Properties.READ
    devices[1].add_services(
        [
            gatt.Service(
                gatt_info.BATTERY_SERVICE_UUID,
                [
                    gatt.Characteristic(
                        gatt_info.BATTERY_LEVEL_UUID, read, gatt.Characteristic.READABLE, encode_battery_level(57)
                    )
                ],
            ),
            gatt.Service(
                gatt_info.DEVICE_INFORMATION_SERVICE_UUID,
                [
                    gatt.Characteristic(u, read, gatt.Characteristic.READABLE, v)
                    for u, v in info.characteristics().items()
                ],
            ),
        ]
    )
    async with asyncio.timeout(30):
        await devices.setup_connection()
        peer = Peer(devices.connections[0])
        await peer.discover_services()
        await peer.discover_characteristics()
        battery = peer.create_service_proxy(BatteryServiceProxy)
        dis = peer.create_service_proxy(DeviceInformationServiceProxy)
        assert battery is not None and dis is not None
        assert await battery.battery_level.read_value() == 57
        read_back = DeviceInformation(
            manufacturer=await dis.manufacturer_name.read_value(),
            model=await dis.model_number.read_value(),
            serial=await dis.serial_number.read_value(),
            firmware=await dis.firmware_revision.read_value(),
            hardware=await dis.hardware_revision.read_value(),
            software=await dis.software_revision.read_value(),
        )
    assert read_back == info
