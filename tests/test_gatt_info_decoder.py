"""Battery Level, Device Information and Body Sensor Location: the strictness policy and round trips
with the simulator's independent encoders (vagus.sim.gatt_info)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vagus.edge import gatt_info as gi
from vagus.errors import PayloadError, PayloadProblem
from vagus.sim import gatt_info as sim


@given(st.integers(0, 100))
def test_battery_round_trip(level):
    assert gi.decode_battery_level(sim.encode_battery_level(level)) == gi.BatteryLevel(level)


@pytest.mark.parametrize(("hex_payload", "problem"), [("", PayloadProblem.EMPTY), ("65", PayloadProblem.MALFORMED)])
def test_battery_rejects(hex_payload, problem):
    with pytest.raises(PayloadError) as info:
        gi.decode_battery_level(bytes.fromhex(hex_payload))
    assert info.value.problem is problem


def test_battery_extra_bytes_warn():
    b = gi.decode_battery_level(b"\x32\x00")
    assert b.level_percent == 50 and b.warnings


@given(st.sampled_from(list(sim.BodySensorLocation)))
def test_body_sensor_location_round_trip(location):
    got = gi.decode_body_sensor_location(sim.encode_body_sensor_location(location))
    assert (got.code, got.name, got.warnings) == (int(location), location.name, ())


def test_body_sensor_location_reserved_and_empty():
    got = gi.decode_body_sensor_location(b"\x07\x00")
    assert got.code == 7 and got.name is None and len(got.warnings) == 2
    with pytest.raises(PayloadError):
        gi.decode_body_sensor_location(b"")


@pytest.mark.parametrize("info", [sim.POLAR_H7_INFO, sim.COLMI_R02_INFO])
def test_device_information_of_real_devices(info):
    got = gi.decode_device_information(info.characteristics())
    for name in ("manufacturer", "model", "serial", "firmware", "hardware", "software"):
        assert getattr(got, name) == getattr(info, name)
    assert got.warnings == ()


@given(st.builds(sim.DeviceInformation, *[st.none() | st.text(max_size=40)] * 6))
def test_device_information_round_trip(info):
    got = gi.decode_device_information({k.upper(): v for k, v in info.characteristics().items()})
    for name in ("manufacturer", "model", "serial", "firmware", "hardware", "software"):
        value = getattr(info, name)
        # Trailing NULs are stripped by policy (C-terminated firmware strings).
        assert getattr(got, name) == (value.rstrip("\x00") if value is not None else None)


def test_info_string_policy():
    assert gi.decode_info_string(b"H10\x00\x00") == gi.DeviceInformationString(
        "H10", ("2 trailing NUL byte(s) stripped",)
    )
    bad = gi.decode_info_string(b"R0\xff2")
    assert bad.text == "R0\ufffd2" and bad.warnings
    assert gi.decode_info_string(b"") == gi.DeviceInformationString("")
    assert gi.decode_device_information({"00002a19-0000-1000-8000-00805f9b34fb": b"\x10"}) == gi.DeviceInformation()
