"""The simulator's Heart Rate Measurement encoder, decoded by a third party: bumble's Heart Rate profile.

bumble 0.0.236 (``bumble/profiles/heart_rate_service.py``) decodes with
``HeartRateService.HeartRateMeasurement.from_bytes``: ``heart_rate`` (bpm), ``sensor_contact_detected``
(None when the support bit is clear), ``energy_expended`` (the raw uint16, kJ per the spec) and
``rr_intervals`` as seconds (``tick / 1024``, an exact binary fraction, so ticks are recovered exactly),
or None when the RR flag is clear.

Each HRS vector of ../shared/data/ble-vectors.json that is valid per the specification is encoded from
its ``expected`` values and decoded by bumble. Where a source leaves a field unstated (e.g. the sensor
contact of a real capture), that field is taken from bumble's decoding of the vector's own bytes, and
bumble must then decode our bytes and the vector's bytes alike.
"""

from __future__ import annotations

import json

import pytest
from bumble.profiles.heart_rate_service import HeartRateService
from hypothesis import given, settings
from hypothesis import strategies as st

from vagus.sim.hrs_encoder import encode_hrm

from .conftest import SHARED_DATA

HRM = HeartRateService.HeartRateMeasurement

# Invalid per the specification (no HR byte; RR flag with no RR value): not encodable, skipped here.
SPEC_INVALID = {"hrs-bvp-too-short", "hrs-nordic-invalid-rr-missing"}
# Flags 0x02 (contact status bit without the support bit) means "not supported" per the SIG viewer;
# encode_hrm writes the canonical 0x00 for that, so only the decoded meaning can match, not the byte.
NON_CANONICAL_FLAGS = {
    "hrs-polar-ios-contact-unsupported-bit1set",
    "hrs-polar-kt-contact-unsupported-bit1set",
    "hrs-opentracks-uint8-contact-bit",
}
# Spec-valid (8 RR after uint16 HR + EE, 21 bytes) but rejected by its source for exceeding an
# MTU-23 notification (caveat 3): it states no values, so every field comes from the bytes.
STRICTNESS_POLICY = {"hrs-bvp-too-long-21B"}


def _load() -> list[dict]:
    path = SHARED_DATA / "ble-vectors.json"
    if not path.exists():
        return []
    return [v for v in json.loads(path.read_text(encoding="utf-8")) if v["protocol"] == "hrs"]


VECTORS = [v for v in _load() if v["id"] not in SPEC_INVALID]


def ticks(measurement: HRM) -> list[int] | None:
    """bumble's RR seconds back to 1/1024-s ticks, asserting the conversion was exact."""
    if measurement.rr_intervals is None:
        return None
    out = []
    for seconds in measurement.rr_intervals:
        tick = seconds * 1024
        assert tick == int(tick), f"bumble RR {seconds} s is not a whole number of 1/1024-s ticks"
        out.append(int(tick))
    return out


def _ticks_from_truncated_ms(values_ms: list[int]) -> list[int]:
    """The unique tick count whose truncated ms is the source's value (L0rek truncates, caveat 1)."""
    out = []
    for ms in values_ms:
        candidates = [t for t in range(65536) if t * 1000 // 1024 == ms]
        assert len(candidates) == 1, f"{ms} ms does not determine a unique tick count"
        out.append(candidates[0])
    return out


def _stated(vector: dict) -> dict:
    """What the source states, in encode_hrm's terms; absent keys are fields the source left unstated."""
    exp = vector["expected"]
    out: dict = {}
    for key in ("hr_bpm", "heart_rate", "hr_bpm_derived"):
        if key in exp:
            out["hr_bpm"] = exp[key]
    if "energy_expended_kj" in exp:
        out["energy_kj"] = exp["energy_expended_kj"]
    elif exp.get("energy_expended_present") is False or exp.get("energy_expended") == "not available (-1)":
        out["energy_kj"] = None
    if "rr_1024" in exp or "rr_1024_derived" in exp:
        out["rr_1024"] = exp.get("rr_1024", exp.get("rr_1024_derived")) or []
    elif "rr_s" in exp:
        out["rr_1024"] = [int(s * 1024) for s in exp["rr_s"]]  # exact binary fractions
    elif "rr_interval_ms" in exp:
        out["rr_1024"] = _ticks_from_truncated_ms(exp["rr_interval_ms"])
    if exp.get("sensor_contact_supported") is False:
        out["contact"] = None  # the spec's "not supported"; Polar's `false` is its reporting policy
    elif "sensor_contact" in exp:
        out["contact"] = exp["sensor_contact"]
    elif "sensor_worn" in exp:
        out["contact"] = exp["sensor_worn"] == "WORN"
    return out


def test_vectors_loaded(ble_vectors):
    assert len([v for v in ble_vectors if v["protocol"] == "hrs"]) >= 27
    ids = {v["id"] for v in ble_vectors}
    assert ids >= SPEC_INVALID | NON_CANONICAL_FLAGS | STRICTNESS_POLICY, (
        "a special-cased vector was renamed or removed"
    )


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_encoded_from_expected_decodes_in_bumble(vector):
    raw = bytes.fromhex(vector["hex"])
    theirs = HRM.from_bytes(raw)
    stated = _stated(vector)
    assert stated or vector["id"] in STRICTNESS_POLICY, f"{vector['id']} states nothing this test can encode"
    rr = stated.get("rr_1024", ticks(theirs) or [])
    ours_bytes = encode_hrm(
        hr_bpm=stated.get("hr_bpm", theirs.heart_rate),
        rr_1024=rr,
        contact=stated.get("contact", theirs.sensor_contact_detected),
        energy_kj=stated.get("energy_kj", theirs.energy_expended),
        # The HR width is an encoding choice, not a value: follow the vector so bytes can match.
        hr_uint16=bool(raw[0] & 0x01),
        rr_flag=bool(raw[0] & 0x10),
    )
    ours = HRM.from_bytes(ours_bytes)

    # bumble reads back exactly what the source states ...
    if "hr_bpm" in stated:
        assert ours.heart_rate == stated["hr_bpm"]
    if "energy_kj" in stated:
        assert ours.energy_expended == stated["energy_kj"]
    if "rr_1024" in stated:
        assert (ticks(ours) or []) == stated["rr_1024"]
    if "contact" in stated:
        assert ours.sensor_contact_detected is stated["contact"]
    # ... and decodes our bytes as it decodes the vector's.
    assert ours.heart_rate == theirs.heart_rate
    assert ours.sensor_contact_detected is theirs.sensor_contact_detected
    assert ours.energy_expended == theirs.energy_expended
    assert ticks(ours) == ticks(theirs)
    if vector["id"] in NON_CANONICAL_FLAGS:
        assert raw[0] & 0x06 == 0x02 and ours_bytes[0] & 0x06 == 0
        assert ours_bytes[1:] == raw[1:]
    else:
        assert ours_bytes == raw


# ------------------------------------------------------------------------------ property test

_contact = st.sampled_from([None, True, False])
_energy = st.one_of(st.none(), st.integers(0, 0xFFFF))
_rr = st.lists(st.integers(0, 0xFFFF), max_size=9)


@st.composite
def _hr(draw: st.DrawFn) -> tuple[int, bool]:
    uint16 = draw(st.booleans())
    return draw(st.integers(0, 0xFFFF if uint16 else 0xFF)), uint16


@settings(max_examples=400, deadline=None)
@given(_hr(), _contact, _energy, _rr)
def test_random_measurements_decode_in_bumble(hr, contact, energy, rr):
    hr_bpm, uint16 = hr
    data = encode_hrm(hr_bpm=hr_bpm, rr_1024=rr, contact=contact, energy_kj=energy, hr_uint16=uint16)
    m = HRM.from_bytes(data)
    assert m.heart_rate == hr_bpm
    assert m.sensor_contact_detected is contact
    assert m.energy_expended == energy
    assert ticks(m) == (rr if rr else None)
    assert len(data) == 1 + (2 if uint16 else 1) + (2 if energy is not None else 0) + 2 * len(rr)
    if uint16 == (hr_bpm > 0xFF):
        # Where both choose the same HR width, bumble's own encoder writes the very same bytes.
        reference = HRM(
            heart_rate=hr_bpm,
            sensor_contact_detected=contact,
            energy_expended=energy,
            rr_intervals=[t / 1024 for t in rr] if rr else None,
        )
        assert bytes(reference) == data


# ------------------------------------------------------------------ bumble's decoder, policy canary


def test_bumble_leniency_on_spec_invalid_payloads():
    """Not a vagus defect, recorded so a bumble upgrade that changes it is noticed.

    The specification says flag bit 4 means "one or more RR-Interval values are present";
    bumble accepts the flag with none (empty tuple), and a payload with no HR byte raises a bare
    struct.error rather than a decoding error. vagus's own decoder rejects both (tests/test_hrs_vectors.py).
    """
    import struct

    assert HRM.from_bytes(bytes.fromhex("170101")).rr_intervals == ()
    with pytest.raises(struct.error):
        HRM.from_bytes(bytes.fromhex("00"))
