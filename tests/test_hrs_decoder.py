"""Heart Rate Measurement decoding: the strictness policy and a lossless round trip with the
simulator's independent encoder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vagus.edge.hrs import decode_hrm, rr_1024_to_ms, rr_ms_rounded
from vagus.errors import PayloadError, PayloadProblem
from vagus.sim import encode_hrm, max_rr_per_notification


@pytest.mark.parametrize(
    ("hex_payload", "problem"),
    [
        ("", PayloadProblem.EMPTY),
        ("00", PayloadProblem.TRUNCATED),  # flags only
        ("0101", PayloadProblem.TRUNCATED),  # uint16 HR cut to one byte (L0rek's parser accepts it)
        ("083c01", PayloadProblem.TRUNCATED),  # energy expended cut short
        ("103c", PayloadProblem.TRUNCATED),  # RR flag with no RR bytes
        ("103c01", PayloadProblem.TRUNCATED),  # RR flag with a single byte
    ],
)
def test_rejects_payloads_whose_announced_fields_are_cut_short(hex_payload, problem):
    with pytest.raises(PayloadError) as info:
        decode_hrm(bytes.fromhex(hex_payload))
    assert info.value.problem is problem
    assert info.value.detail  # says where


def test_odd_trailing_byte_keeps_whole_intervals_and_warns():
    # A real capture shape (WebBluetooth issue #493): RR bytes of odd length.
    m = decode_hrm(bytes.fromhex("16480403e80307"))
    assert m.rr_1024 == (0x0304, 0x03E8)
    assert len(m.warnings) == 1 and "0x07" in m.warnings[0]


def test_over_long_payload_is_accepted():
    # 12 RR values: 26 bytes, more than the 20 of the default ATT MTU; valid with a larger MTU.
    rr = list(range(700, 712))
    m = decode_hrm(encode_hrm(hr_bpm=80, rr_1024=rr, contact=True))
    assert list(m.rr_1024) == rr and m.warnings == ()


def test_extra_bytes_without_rr_flag_are_reported():
    m = decode_hrm(bytes.fromhex("003c0102"))
    assert m.hr_bpm == 60 and m.rr_1024 == () and m.warnings


def test_reserved_flag_bits_are_ignored():
    assert decode_hrm(bytes.fromhex("f03c0004")).rr_1024 == (1024,)


def test_rr_conversions():
    assert rr_1024_to_ms(1024) == 1000.0
    assert rr_1024_to_ms(1) == 0.9765625
    # Half-up rounding at an exact half: raw * 1000 / 1024 = x.5 when raw * 125 % 128 == 64.
    half = next(r for r in range(1, 2000) if (r * 125) % 128 == 64)
    assert rr_1024_to_ms(half) % 1 == 0.5
    assert rr_ms_rounded(half) == int(rr_1024_to_ms(half)) + 1


measurements = st.fixed_dictionaries(
    {
        "hr_uint16": st.booleans(),
        "contact": st.none() | st.booleans(),
        "energy_kj": st.none() | st.integers(0, 0xFFFF),
    }
).flatmap(
    lambda d: st.fixed_dictionaries(
        {
            **{k: st.just(v) for k, v in d.items()},
            "hr_bpm": st.integers(0, 0xFFFF if d["hr_uint16"] else 0xFF),
            "rr_1024": st.lists(
                st.integers(0, 0xFFFF),
                max_size=max_rr_per_notification(hr_uint16=d["hr_uint16"], energy=d["energy_kj"] is not None),
            ),
        }
    )
)


@given(measurements)
def test_sim_encode_edge_decode_round_trip_is_lossless(fields):
    payload = encode_hrm(**fields)
    assert len(payload) <= 20  # what fits the default ATT MTU
    m = decode_hrm(payload)
    assert m.hr_bpm == fields["hr_bpm"]
    assert m.sensor_contact is fields["contact"]
    assert m.energy_expended_kj == fields["energy_kj"]
    assert list(m.rr_1024) == fields["rr_1024"]
    assert m.rr_present is bool(fields["rr_1024"])
    assert m.warnings == ()


@given(st.binary(max_size=40))
def test_arbitrary_bytes_decode_or_raise_payload_error(data):
    try:
        m = decode_hrm(data)
    except PayloadError:
        return
    assert 0 <= m.hr_bpm <= 0xFFFF
    assert all(0 <= r <= 0xFFFF for r in m.rr_1024)
