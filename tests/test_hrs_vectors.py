"""The Heart Rate Measurement decoder against every HRS vector in ../shared/data/ble-vectors.json.

Each vector's `expected` is what its source asserts. Where sources disagree with each other or
with our documented policy (edge/src/hrs.py), the test states the policy and checks it instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vagus.edge.hrs import decode_hrm, rr_ms_rounded
from vagus.errors import PayloadError

from .conftest import SHARED_DATA

# Sources whose rr_ms truncates (blevalueparser, L0rek); Polar's SDK rounds, as vagus does.
TRUNCATING_SOURCES = ("blevalueparser", "l0rek")
# Spec-valid payloads a source rejects only for its own strictness policy; vagus accepts them.
ACCEPTED_DESPITE_SOURCE = {"hrs-bvp-too-long-21B"}


def _hrs_vectors() -> list[dict]:
    path = SHARED_DATA / "ble-vectors.json"
    if not path.exists():
        return []
    return [v for v in json.loads(path.read_text()) if v["protocol"] == "hrs"]


VECTORS = _hrs_vectors()


def test_vectors_present(ble_vectors):
    hrs = [v for v in ble_vectors if v["protocol"] == "hrs"]
    assert len(hrs) >= 27, "fewer HRS vectors than the 27 this suite was written against"


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector(vector):
    payload = bytes.fromhex(vector["hex"])
    exp = vector["expected"]
    if exp.get("valid") is False and vector["id"] not in ACCEPTED_DESPITE_SOURCE:
        with pytest.raises(PayloadError):
            decode_hrm(payload)
        return
    m = decode_hrm(payload)
    checked = 0
    for key in ("hr_bpm", "heart_rate", "hr_bpm_derived"):
        if key in exp:
            assert m.hr_bpm == exp[key]
            checked += 1
    if "energy_expended_kj" in exp:
        assert m.energy_expended_kj == exp["energy_expended_kj"]
        checked += 1
    if exp.get("energy_expended_present") is False or exp.get("energy_expended") == "not available (-1)":
        assert m.energy_expended_kj is None
        checked += 1
    for key in ("rr_1024", "rr_1024_derived"):
        if key in exp:
            # null (Nordic) and [] (blevalueparser) both mean "no RR in this notification".
            assert list(m.rr_1024) == (exp[key] or [])
            checked += 1
    if "rr_s" in exp:
        assert [r / 1024 for r in m.rr_1024] == exp["rr_s"]  # exact binary fractions
        checked += 1
    if "rr_count" in exp:
        assert len(m.rr_1024) == exp["rr_count"]
        checked += 1
    if "rr_present" in exp:
        assert m.rr_present is exp["rr_present"]
        checked += 1
    for key in ("rr_ms", "rr_ms_derived_rounded", "rr_interval_ms"):
        if key in exp:
            ours = [rr_ms_rounded(r) for r in m.rr_1024]
            if any(s in vector["source"].lower() for s in TRUNCATING_SOURCES):
                # Truncating source: our exact ms floor to theirs; our rounding is within 1 ms.
                assert [int(ms) for ms in m.rr_ms] == exp[key]
                assert all(abs(a - b) <= 1 for a, b in zip(ours, exp[key], strict=True))
            else:
                assert ours == exp[key]
            checked += 1
    if "sensor_contact_supported" in exp:
        assert (m.sensor_contact is not None) is exp["sensor_contact_supported"]
        checked += 1
    if "sensor_contact" in exp:
        if exp.get("sensor_contact_supported") is False:
            # Polar reports False when contact is unsupported; vagus reports None (Nordic's
            # convention): "unknown" must not read as "strap off". Both say "not in contact".
            assert m.sensor_contact is None
        else:
            assert m.sensor_contact is exp["sensor_contact"]
        checked += 1
    if "sensor_worn" in exp:
        assert m.sensor_contact is (exp["sensor_worn"] == "WORN")
        checked += 1
    if vector["id"] in ACCEPTED_DESPITE_SOURCE:
        assert m.rr_1024 and not m.warnings
        checked += 1
    assert checked, f"no expectation of {vector['id']} was checked: {sorted(exp)}"


def test_truncation_sources_are_really_truncating():
    """Guards the TRUNCATING_SOURCES rule: their rr_ms must differ from rounding somewhere."""
    differs = False
    for v in VECTORS:
        if any(s in v["source"].lower() for s in TRUNCATING_SOURCES):
            for key in ("rr_ms", "rr_interval_ms"):
                if key in v["expected"]:
                    rr = decode_hrm(bytes.fromhex(v["hex"])).rr_1024
                    differs |= [rr_ms_rounded(r) for r in rr] != v["expected"][key]
    if VECTORS:
        assert differs


def test_vector_file_is_the_one_described():
    """The ids this suite special-cases exist, so a renamed vector cannot silently drop a check."""
    ids = {v["id"] for v in VECTORS}
    if ids:
        assert ids >= ACCEPTED_DESPITE_SOURCE
        assert {"hrs-polar-ios-contact-unsupported-bit1set", "hrs-bvp-hr8-rr9-edge-values"} <= ids


def test_shared_data_path():
    assert Path(SHARED_DATA).name == "data"
