"""`vagus decode PROTOCOL HEX…` as a person runs it: real processes, JSON out, exit codes 0/1/2."""

from __future__ import annotations

import json
from datetime import date

import pytest

from vagus.edge.hrs import decode_hrm
from vagus.sim import colmi_encoder as ce
from vagus.sim import pmd_encoder as enc

from .test_cli import vagus


def _lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_decode_hrs(tmp_path):
    out = vagus(tmp_path, "decode", "hrs", "16400304")
    assert out.returncode == 0, out.stderr
    (got,) = _lines(out.stdout)
    m = decode_hrm(bytes.fromhex("16400304"))
    assert got["hr_bpm"] == m.hr_bpm and got["sensor_contact"] is m.sensor_contact
    assert got["energy_expended_kj"] is None and got["rr_1024"] == list(m.rr_1024) and got["rr_ms"] == list(m.rr_ms)


def test_decode_pmd_vector(tmp_path, ble_vectors):
    v = next(v for v in ble_vectors if v["id"] == "pmd-polar-kt-ecg-type0")
    out = vagus(tmp_path, "decode", "pmd", v["hex"])
    assert out.returncode == 0, out.stderr
    (got,) = _lines(out.stdout)
    exp = v["expected"]
    for key in ("measurement_type", "timestamp_ns", "frame_type", "compressed"):
        assert got[key] == exp[key]
    assert got["samples"] == exp["microvolts"]
    assert got["time_utc"] == "2000-01-01T00:00:02+00:00"


def test_decode_pmd_other_kinds(tmp_path):
    response = enc.encode_cp_response(
        1, 1, enc.ControlPointStatus.SUCCESS, params=bytes.fromhex("0001870001011600040104")
    )
    frame = enc.encode_acc_delta_frame(100, [[1, 2, 3], [4, 5, 6]], frame_type=1)
    out = vagus(tmp_path, "decode", "pmd", response.hex(), frame.hex(), "--previous-timestamp-ns", "98")
    assert out.returncode == 0, out.stderr
    resp, data = _lines(out.stdout)
    assert resp["message"] == "pmd_cp_response" and resp["settings"]["SAMPLE_RATE"] == [135]
    assert data["samples"] == [[1, 2, 3], [4, 5, 6]] and data["sample_timestamps_ns"] == [99, 100]
    req = vagus(tmp_path, "decode", "pmd", "--kind", "cp-request", "02020001c8000101100002010800")
    assert _lines(req.stdout)[0]["settings"] == {"SAMPLE_RATE": [200], "RESOLUTION": [16], "RANGE": [8]}


def test_decode_colmi_packet_and_multi_packet_reply(tmp_path):
    packet = ce.encode_real_time_reading(ce.RealTimeReading(ce.RealTimeKind.HEART_RATE, 78))
    out = vagus(tmp_path, "decode", "colmi", packet.hex())
    assert out.returncode == 0, out.stderr
    (got,) = _lines(out.stdout)
    assert got["message"] == "colmi_real_time_reading" and got["value"] == 78 and got["kind_name"] == "HEART_RATE"
    log = b"".join(ce.encode_hr_log(date(2024, 8, 10), 60, [70, 71]))
    out = vagus(tmp_path, "decode", "colmi", log.hex())
    lines = _lines(out.stdout)
    assert len(lines) == len(log) // 16 + 1
    assert lines[-1]["message"] == "colmi_hr_log" and lines[-1]["heart_rates_bpm"][:3] == [70, 71, 0]
    assert [line["message"] for line in lines[:-1]] == ["colmi_hr_log_packet"] * (len(log) // 16)


@pytest.mark.parametrize(
    ("protocol", "hex_payload", "problem"),
    [
        ("hrs", "0101", "truncated"),
        ("colmi", "6901004e0000000000000000000000b9", "bad_checksum"),
        ("pmd", "01386c3172a4d3230d7f", "unsupported"),
        ("battery", "65", "malformed"),
    ],
)
def test_rejects_exit_1_with_a_reason(tmp_path, protocol, hex_payload, problem):
    out = vagus(tmp_path, "decode", protocol, hex_payload)
    assert out.returncode == 1
    (got,) = _lines(out.stdout)
    assert got["rejected"] == problem and got["reason"]
    assert "rejected" in out.stderr and "Traceback" not in out.stderr


def test_one_reject_among_good_payloads_still_prints_all(tmp_path):
    out = vagus(tmp_path, "decode", "hrs", "16400304", "0101", "00:3c")
    assert out.returncode == 1
    assert [("rejected" in line) for line in _lines(out.stdout)] == [False, True, False]


@pytest.mark.parametrize(
    "args",
    [
        ("decode", "hrs", "zz"),
        ("decode", "hrs", "123"),
        ("decode", "nope", "00"),
        ("decode", "hrs"),
        ("decode", "hrs", "00", "--factor", "2"),
        ("decode", "pmd", "00", "--factor", "0"),
        ("decode", "hrs", "00", "--to-ring"),
    ],
)
def test_usage_errors_exit_2(tmp_path, args):
    out = vagus(tmp_path, *args)
    assert out.returncode == 2, out.stdout
    assert "Traceback" not in out.stderr and out.stderr


def test_gatt_protocols(tmp_path):
    out = vagus(tmp_path, "decode", "battery", "57")
    assert _lines(out.stdout)[0]["level_percent"] == 0x57
    out = vagus(tmp_path, "decode", "location", "01")
    assert _lines(out.stdout)[0]["name"] == "CHEST"
    out = vagus(tmp_path, "decode", "info", b"Polar H10".hex())
    assert _lines(out.stdout)[0]["text"] == "Polar H10"
