"""Polar PMD decoding: every PMD vector of ble-vectors.json, the strictness policy, and round trips
with the simulator's independently written encoder (vagus.sim.pmd_encoder)."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vagus.edge import pmd
from vagus.errors import PayloadError, PayloadProblem
from vagus.sim import pmd_encoder as enc

# --------------------------------------------------------------------------------------- vectors


def _vec(vectors: list[dict], vid: str) -> tuple[bytes, dict]:
    v = next(v for v in vectors if v["id"] == vid)
    return bytes.fromhex(v["hex"]), v["expected"]


def _evaluated(value: int | str) -> int:
    """A number the collector wrote as an expression, e.g. "(0xFF & 0x06) >> 1 = 3" (derived, see caveats)."""
    return value if isinstance(value, int) else int(re.search(r"=\s*(-?\d+)\s*$", value).group(1))


CP_RESPONSES = [
    "pmd-real-maintainer-ppi-start-ok",
    "pmd-real-maintainer-ppi-settings-ok",
    "pmd-polar-kt-cp-success-acc-settings",
    "pmd-polar-kt-cp-error-invalid-resolution",
    "pmd-real-verity-ppg-settings-response",
]


@pytest.mark.parametrize("vid", CP_RESPONSES)
def test_cp_response_vectors(ble_vectors, vid):
    data, exp = _vec(ble_vectors, vid)
    r = pmd.decode_cp_response(data)
    assert f"0x{data[0]:02X}" == exp["response_code"]
    assert r.op_code == exp["op_code"] and r.measurement_type == exp["measurement_type"] and r.more is exp["more"]
    status = exp.get("error_code", exp.get("status_code"))
    if status is not None:
        assert r.status == status
    if isinstance(exp.get("status"), str):
        assert exp["status"].removeprefix("ERROR_") == r.status_name
    if isinstance(exp.get("op_code_name"), str) and "_" in exp["op_code_name"]:
        assert r.op_code_name == exp["op_code_name"]
    if "parameters_hex" in exp:
        assert r.parameters.hex() == exp["parameters_hex"]
    for name in ("SAMPLE_RATE", "RESOLUTION", "CHANNELS"):
        if name in exp:
            assert list(r.settings[pmd.SettingType[name]]) == exp[name]


def test_settings_response_that_is_no_tlv_is_kept_with_a_warning(ble_vectors):
    data, _ = _vec(ble_vectors, "pmd-polar-kt-cp-success-acc-settings")
    r = pmd.decode_cp_response(data)
    assert r.ok and r.settings is None and r.parameters == b"\xff\xff\xff" and r.warnings


def test_cp_request_real_capture(ble_vectors):
    data, exp = _vec(ble_vectors, "pmd-real-h10-acc-start-request")
    q = pmd.decode_cp_request(data)
    assert q.op_code == exp["op_code"] and q.measurement_type == exp["measurement_type"]
    assert pmd.MeasurementType(q.measurement_type).name == exp["measurement"]
    # _derived values: the collector's reading of the TLV.
    assert q.settings[pmd.SettingType.SAMPLE_RATE] == (exp["sample_rate_hz_derived"],)
    assert q.settings[pmd.SettingType.RESOLUTION] == (exp["resolution_bits_derived"],)
    assert q.settings[pmd.SettingType.RANGE] == (exp["range_g_derived"],)
    # Our host-side encoder writes the same bytes.
    settings = {pmd.SettingType.SAMPLE_RATE: 200, pmd.SettingType.RESOLUTION: 16, pmd.SettingType.RANGE: 8}
    assert pmd.encode_start_request(pmd.MeasurementType.ACC, settings) == data


def test_settings_tlv_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "pmd-polar-kt-settings-range-milliunit")
    s = pmd.decode_settings(data)
    assert len(s) == exp["setting_count"]
    assert list(s[pmd.SettingType.RANGE_MILLIUNIT]) == exp["RANGE_MILLIUNIT"]
    assert list(s[pmd.SettingType.RESOLUTION]) == exp["RESOLUTION"]


@pytest.mark.parametrize("vid", ["pmd-polar-kt-frame-header-ppg-compressed", "pmd-polar-kt-frame-header-ecg-type3"])
def test_frame_header_vectors(ble_vectors, vid):
    data, exp = _vec(ble_vectors, vid)
    h = pmd.decode_pmd_header(data)
    assert h.measurement_type == exp["measurement_type"] and h.timestamp_ns == exp["timestamp_ns"]
    assert h.compressed is exp["compressed"] and h.frame_type == exp["frame_type"]
    assert h.data.hex() == exp["data_content_hex"]


def test_ppg_compressed_header_vector_has_too_little_data_for_a_frame(ble_vectors):
    data, _ = _vec(ble_vectors, "pmd-polar-kt-frame-header-ppg-compressed")
    with pytest.raises(PayloadError) as info:
        pmd.decode_pmd_data(data)
    assert info.value.problem is PayloadProblem.TRUNCATED


def test_ecg_type3_vector_decodes(ble_vectors):
    data, exp = _vec(ble_vectors, "pmd-polar-kt-frame-header-ecg-type3")
    f = pmd.decode_pmd_data(data)
    content = bytes.fromhex(exp["data_content_hex"])
    (s,) = f.samples
    assert s.data0 == int.from_bytes(content[0:3], "little", signed=True)
    assert s.data1 == int.from_bytes(content[3:6], "little", signed=True) and s.status == content[6]


def test_unsupported_frame_type_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "pmd-polar-kt-frame-unsupported-type-7f")
    assert f"0x{data[9]:02X}" == exp["frame_type_byte"]
    with pytest.raises(PayloadError) as info:
        pmd.decode_pmd_data(data)
    assert info.value.problem is PayloadProblem.UNSUPPORTED and "127" in info.value.detail


def test_ecg_type0_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "pmd-polar-kt-ecg-type0")
    f = pmd.decode_pmd_data(data)
    assert (f.measurement_type, f.timestamp_ns, f.frame_type, f.compressed) == (
        exp["measurement_type"],
        exp["timestamp_ns"],
        exp["frame_type"],
        exp["compressed"],
    )
    assert list(f.samples) == exp["microvolts"]
    assert f.timestamp_ns == exp["last_sample_timestamp_ns"]


def test_ecg_type1_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "pmd-polar-kt-ecg-type1")
    f = pmd.decode_pmd_data(data)
    assert f.frame_type == exp["frame_type"]
    for ours, theirs in zip(f.samples, exp["samples"], strict=True):
        assert ours.microvolts == theirs["microvolts"] and ours.over_sampling is theirs["over_sampling"]
        assert ours.skin_contact == _evaluated(theirs["skin_contact_bit"])
        assert ours.contact_impedance == _evaluated(theirs["contact_impedance"])


def test_ecg_type2_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "pmd-polar-kt-ecg-type2")
    f = pmd.decode_pmd_data(data)
    assert f.frame_type == exp["frame_type"] and f.timestamp_ns == exp["timestamp_ns"]
    for ours, theirs in zip(f.samples, exp["samples"], strict=True):
        assert ours.microvolts == theirs["microvolts"]
        assert ours.ecg_data_tag == _evaluated(theirs["ecg_data_tag"])
        assert ours.pace_data_tag == _evaluated(theirs["pace_data_tag"])


def test_ppg_raw_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "pmd-polar-ios-ppg-raw-type0")
    f = pmd.decode_pmd_data(data)
    assert (f.measurement_type, f.timestamp_ns, f.frame_type) == (
        exp["measurement_type"],
        exp["timestamp_ns"],
        exp["frame_type"],
    )
    assert [{"ppg": list(s.ppg), "ambient": s.ambient} for s in f.samples] == exp["samples"]


def test_ppi_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "pmd-polar-ios-ppi-type0-timestamps")
    # Caveat 7: byte 0 is 0x01 (PPG) though the source parses it as PPI; as PPG it is one 12-byte sample.
    assert pmd.decode_pmd_data(data).measurement_type == pmd.MeasurementType.PPG
    f = pmd.decode_pmd_data(b"\x03" + data[1:])
    assert f.timestamp_ns == exp["timestamp_ns"]
    assert list(f.sample_timestamps_ns) == [s["timestamp_ns"] for s in exp["samples"]]
    for ours, theirs in zip(f.samples, exp["samples"], strict=True):
        assert (ours.hr_bpm, ours.pp_ms, ours.pp_error_estimate_ms) == (
            theirs["hr"],
            theirs["pp_ms"],
            theirs["pp_error_estimate_ms"],
        )
        assert (ours.blocker, ours.skin_contact, ours.skin_contact_supported) == (
            bool(theirs["blocker_bit"]),
            bool(theirs["skin_contact_status"]),
            bool(theirs["skin_contact_supported"]),
        )


def test_ppi_contact_is_none_when_unsupported():
    s = pmd.PpiSample(60, 1000, 10, blocker=False, skin_contact=True, skin_contact_supported=False)
    assert s.contact is None


def test_reference_sample_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "pmd-polar-kt-refsample-s16-4ch")
    assert pmd.decode_delta_frames(data, exp["channels"], exp["resolution"]) == (tuple(exp["ref_samples"]),)


def test_delta_legacy_res14_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "pmd-polar-ios-legacy-delta-res14")
    samples = pmd.decode_delta_frames(data, exp["channels"], exp["resolution"])
    assert [list(s) for s in samples] == exp["samples"]


def test_delta_multiblock_real_capture(ble_vectors):
    data, exp = _vec(ble_vectors, "pmd-polar-kt-delta-s16-multiblock")
    samples = pmd.decode_delta_frames(data, exp["channels"], exp["resolution"])
    assert len(samples) == exp["sample_count"]
    assert list(samples[0]) == exp["sample0"] and list(samples[1]) == exp["sample1"]
    assert [list(b) for b in pmd.delta_block_layout(data, exp["channels"], exp["resolution"])] == exp["blocks"]


def test_acc_delta_type0_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "pmd-polar-kt-acc-delta-type0-16bit")
    assert f"0x{data[9]:02X}" == exp["frame_type_byte"][:4]
    raw = pmd.decode_delta_frames(data[10:], 3, 16)
    assert list(raw[0]) == exp["reference_raw"] and list(raw[1]) == exp["sample1_raw"]
    assert len(raw) == exp["sample_count"]
    assert pmd.delta_block_layout(data[10:], 3, 16) == ((exp["delta_bits"], exp["delta_count"]),)
    f = pmd.decode_pmd_data(data, previous_timestamp_ns=100, factor=exp["factor"])
    # The output rule the vector states, computed here with numpy float32 as an independent check.
    scale = np.float32(exp["factor"]) * np.float32(1000)
    assert [list(s) for s in f.samples] == [[int(np.float32(v) * scale) for v in row] for row in raw]
    assert all(abs(v) <= 8000 for row in f.samples for v in row)  # range 8 g
    assert f.sample_timestamps_ns[-1] == exp["last_sample_timestamp_ns"] == f.timestamp_ns
    delta = (f.timestamp_ns - 100) / len(raw)
    assert f.sample_timestamps_ns[0] == round(100 + delta)


def test_acc_delta_type1_vector(ble_vectors):
    data, exp = _vec(ble_vectors, "pmd-polar-kt-acc-delta-type1-minimal")
    assert f"0x{data[9]:02X}" == exp["frame_type_byte"]
    f = pmd.decode_pmd_data(data, previous_timestamp_ns=exp["previous_timestamp_ns"], factor=exp["factor"])
    assert [list(s) for s in f.samples] == exp["samples"]
    assert list(f.sample_timestamps_ns) == exp["timestamps_ns"]


def test_every_pmd_vector_is_checked(ble_vectors):
    checked = {
        *CP_RESPONSES,
        "pmd-real-h10-acc-start-request",
        "pmd-polar-kt-settings-range-milliunit",
        "pmd-polar-kt-frame-header-ppg-compressed",
        "pmd-polar-kt-frame-header-ecg-type3",
        "pmd-polar-kt-frame-unsupported-type-7f",
        "pmd-polar-kt-ecg-type0",
        "pmd-polar-kt-ecg-type1",
        "pmd-polar-kt-ecg-type2",
        "pmd-polar-ios-ppg-raw-type0",
        "pmd-polar-ios-ppi-type0-timestamps",
        "pmd-polar-kt-refsample-s16-4ch",
        "pmd-polar-ios-legacy-delta-res14",
        "pmd-polar-kt-delta-s16-multiblock",
        "pmd-polar-kt-acc-delta-type0-16bit",
        "pmd-polar-kt-acc-delta-type1-minimal",
    }
    ids = {v["id"] for v in ble_vectors if v["protocol"] == "pmd"}
    assert ids <= checked, f"PMD vectors without a check: {sorted(ids - checked)}"


# ----------------------------------------------------------------------------------- strictness policy


@pytest.mark.parametrize(
    ("hex_payload", "problem"),
    [
        ("", PayloadProblem.EMPTY),
        ("000094357700000000", PayloadProblem.TRUNCATED),  # 9 bytes: header cut
        ("00009435770000000000", PayloadProblem.TRUNCATED),  # header, no sample
        ("000094357700000000000280", PayloadProblem.TRUNCATED),  # 2 of 3 bytes of an ECG sample
        ("0500943577000000000001020304050607", PayloadProblem.UNSUPPORTED),  # GYRO raw
        ("000094357700000000800102", PayloadProblem.UNSUPPORTED),  # ECG compressed
        ("0200943577000000000504", PayloadProblem.UNSUPPORTED),  # ACC raw type 5
        ("3f00943577000000000001020304050607", PayloadProblem.UNSUPPORTED),  # unknown measurement
        ("02000000000000000080f1ff1400f0", PayloadProblem.TRUNCATED),  # ref sample cut
        ("02000000000000000080f1ff1400f00306", PayloadProblem.TRUNCATED),  # block header cut
        ("02000000000000000080f1ff1400f0030601", PayloadProblem.TRUNCATED),  # block data missing
        ("02000000000000000080f1ff1400f00321017b0f08", PayloadProblem.MALFORMED),  # 33-bit deltas
        ("02000000000000000080f1ff1400f00300017b0f08", PayloadProblem.MALFORMED),  # 0-bit deltas
    ],
)
def test_data_frame_rejects(hex_payload, problem):
    with pytest.raises(PayloadError) as info:
        pmd.decode_pmd_data(bytes.fromhex(hex_payload))
    assert info.value.problem is problem and info.value.detail


def test_bytes_after_the_last_whole_sample_are_ignored_with_a_warning():
    frame = enc.encode_ecg_frame(5, [1, -2, 3]) + b"\x01\x02"
    f = pmd.decode_pmd_data(frame)
    assert f.samples == (1, -2, 3) and len(f.warnings) == 1 and "2 byte" in f.warnings[0]


def test_empty_delta_block_adds_nothing():
    # A block of zero samples (width 5, count 0, no data bytes) is harmless; the next block still applies.
    data = bytes.fromhex("010002000300") + bytes((5, 0)) + bytes((2, 1, 0b000001))
    assert pmd.decode_delta_frames(data, 3, 16) == ((1, 2, 3), (2, 2, 3))


def test_delta_addition_wraps_like_int32():
    ref = (0x7FFFFFFF).to_bytes(4, "little")
    data = ref + bytes((2, 1, 0b01))  # one 2-bit delta of +1
    assert pmd.decode_delta_frames(data, 1, 32) == ((0x7FFFFFFF,), (-0x80000000,))


@pytest.mark.parametrize(
    ("hex_payload", "problem"),
    [
        ("", PayloadProblem.EMPTY),
        ("f00103", PayloadProblem.TRUNCATED),
        ("0f010300", PayloadProblem.MALFORMED),
    ],
)
def test_cp_response_rejects(hex_payload, problem):
    with pytest.raises(PayloadError) as info:
        pmd.decode_cp_response(bytes.fromhex(hex_payload))
    assert info.value.problem is problem


def test_cp_response_lenient_cases():
    r = pmd.decode_cp_response(bytes.fromhex("f0ee8363"))  # unknown opcode and status, no 'more' byte
    assert r.op_code_name is None and r.status_name is None and not r.ok and r.more is False and r.warnings
    assert r.measurement_type == 3 and r.offline


@pytest.mark.parametrize(
    ("hex_tlv", "problem"),
    [
        ("00", PayloadProblem.TRUNCATED),
        ("000182", PayloadProblem.TRUNCATED),
        ("0700", PayloadProblem.MALFORMED),  # unknown type 7
        ("0000", PayloadProblem.MALFORMED),  # count 0
        ("000182000001c800", PayloadProblem.MALFORMED),  # SAMPLE_RATE twice
    ],
)
def test_settings_rejects(hex_tlv, problem):
    with pytest.raises(PayloadError) as info:
        pmd.decode_settings(bytes.fromhex(hex_tlv))
    assert info.value.problem is problem


def test_features_and_stopped_indication_against_the_simulator():
    types = [enc.MeasurementType.ECG, enc.MeasurementType.ACC, enc.MeasurementType.PPI, enc.MeasurementType.SDK_MODE]
    feats = pmd.decode_features(enc.encode_features(types))
    assert feats.measurement_types == {int(t) for t in types} and feats.supports(pmd.MeasurementType.ACC)
    stopped = pmd.decode_cp_indication(enc.encode_measurement_stopped([enc.MeasurementType.ECG]))
    assert stopped == pmd.PmdMeasurementStopped((0,))
    with pytest.raises(PayloadError):
        pmd.decode_features(b"\x0f")


def test_host_requests_parse_in_the_simulated_device():
    ecg = pmd.encode_start_request(
        pmd.MeasurementType.ECG, {pmd.SettingType.SAMPLE_RATE: 130, pmd.SettingType.RESOLUTION: 14}
    )
    assert ecg.hex() == "0200000182000101" + "0e00"  # the H10 ECG start in ble.md §2
    req = enc.parse_cp_request(ecg)
    assert req.opcode == enc.ControlPointOpcode.REQUEST_MEASUREMENT_START
    assert dict(req.settings) == {enc.SettingType.SAMPLE_RATE: (130,), enc.SettingType.RESOLUTION: (14,)}
    assert pmd.encode_start_request(pmd.MeasurementType.PPI) == bytes.fromhex("0203")
    assert (
        enc.parse_cp_request(pmd.encode_stop_request(pmd.MeasurementType.ACC)).opcode
        == enc.ControlPointOpcode.STOP_MEASUREMENT
    )
    got = enc.parse_cp_request(pmd.encode_get_settings_request(pmd.MeasurementType.PPG, offline=True))
    assert got.measurement_type == enc.MeasurementType.PPG and got.recording_type == enc.RecordingType.OFFLINE


def test_encode_settings_rejects_bad_values():
    with pytest.raises(ValueError, match="does not fit"):
        pmd.encode_settings({pmd.SettingType.CHANNELS: 256})
    with pytest.raises(ValueError, match="integers"):
        pmd.encode_settings({pmd.SettingType.SAMPLE_RATE: 1.5})


def test_sample_timestamps_rules():
    # From the sample rate when no previous frame: spaced 1/rate back from the frame's timestamp.
    assert pmd.sample_timestamps_ns(10_000_000_000, 3, sample_rate_hz=100) == (
        9_980_000_000,
        9_990_000_000,
        10_000_000_000,
    )
    # A previous frame later than this one is unusable (clock correction): fall back to the rate.
    assert (
        pmd.sample_timestamps_ns(10_000_000_000, 2, previous_timestamp_ns=20_000_000_000, sample_rate_hz=100)[0]
        == 9_990_000_000
    )
    assert pmd.sample_timestamps_ns(10_000_000_000, 2) is None
    assert pmd.sample_timestamps_ns(5, 3, sample_rate_hz=1) is None  # would start before 2000


def test_stream_decoder_keeps_the_previous_timestamp():
    d = pmd.PmdDataDecoder()
    d.configure(pmd.MeasurementType.ACC, sample_rate_hz=200)
    first = d.decode(enc.encode_acc_frame(1_000_000_000, [[1, 2, 3], [4, 5, 6]]))
    assert first.sample_timestamps_ns == (995_000_000, 1_000_000_000)
    second = d.decode(enc.encode_acc_frame(1_020_000_000, [[1, 2, 3], [4, 5, 6]]))
    assert second.sample_timestamps_ns == (1_010_000_000, 1_020_000_000)
    with pytest.raises(PayloadError):
        d.decode(b"\x02\x00")
    d.reset()
    assert d.decode(enc.encode_acc_frame(1_040_000_000, [[1, 2, 3]])).sample_timestamps_ns == (1_040_000_000,)


def test_unix_conversion_against_the_simulator_clock():
    stamp = enc.polar_ns(1_700_000_000)
    assert pmd.pmd_to_unix_ns(stamp) == 1_700_000_000 * 10**9
    f = pmd.decode_pmd_data(enc.encode_ecg_frame(stamp, [0]))
    assert f.unix_timestamp_ns == 1_700_000_000 * 10**9


# ------------------------------------------------------------------- round trips with the simulator

u64 = st.integers(0, 2**64 - 1)


@given(u64, st.lists(st.integers(-(2**23), 2**23 - 1), min_size=1, max_size=60))
def test_ecg_type0_round_trip(stamp, uv):
    f = pmd.decode_pmd_data(enc.encode_ecg_frame(stamp, uv))
    assert (f.measurement_type, f.timestamp_ns, f.frame_type, f.compressed) == (0, stamp, 0, False)
    assert list(f.samples) == uv and f.warnings == ()


@given(
    u64,
    st.lists(
        st.tuples(st.integers(0, 2**14 - 1), st.booleans(), st.integers(0, 3), st.integers(0, 3)),
        min_size=1,
        max_size=20,
    ),
)
def test_ecg_type1_round_trip(stamp, rows):
    samples = [enc.EcgType1Sample(*r) for r in rows]
    f = pmd.decode_pmd_data(enc.encode_ecg_type1_frame(stamp, samples))
    assert [(s.microvolts, s.over_sampling, s.skin_contact, s.contact_impedance) for s in f.samples] == rows


@given(
    u64, st.lists(st.tuples(st.integers(0, 2**18 - 1), st.integers(0, 7), st.integers(0, 7)), min_size=1, max_size=20)
)
def test_ecg_type2_round_trip(stamp, rows):
    f = pmd.decode_pmd_data(enc.encode_ecg_type2_frame(stamp, [enc.EcgType2Sample(*r) for r in rows]))
    assert [(s.microvolts, s.ecg_data_tag, s.pace_data_tag) for s in f.samples] == rows


s24 = st.integers(-(2**23), 2**23 - 1)


@given(u64, st.lists(st.tuples(s24, s24, st.integers(0, 255)), min_size=1, max_size=20))
def test_ecg_type3_round_trip(stamp, rows):
    f = pmd.decode_pmd_data(enc.encode_ecg_type3_frame(stamp, [enc.EcgType3Sample(*r) for r in rows]))
    assert [(s.data0, s.data1, s.status) for s in f.samples] == rows


@given(
    u64,
    st.lists(
        st.builds(
            enc.PpiSample,
            st.integers(0, 255),
            st.integers(0, 65535),
            st.integers(0, 65535),
            st.booleans(),
            st.booleans(),
            st.booleans(),
        ),
        min_size=1,
        max_size=20,
    ),
)
def test_ppi_round_trip(stamp, samples):
    f = pmd.decode_pmd_data(enc.encode_ppi_frame(stamp, samples))
    assert [
        (s.hr_bpm, s.pp_ms, s.pp_error_estimate_ms, s.blocker, s.skin_contact, s.skin_contact_supported)
        for s in f.samples
    ] == [
        (s.hr_bpm, s.ppi_ms, s.error_estimate_ms, s.blocker, s.skin_contact, s.skin_contact_supported) for s in samples
    ]
    if f.sample_timestamps_ns is not None:
        ends = np.array(f.sample_timestamps_ns)
        assert ends[-1] == stamp
        assert list(np.diff(ends)) == [s.ppi_ms * 1_000_000 for s in samples[1:]]


@given(u64, st.sampled_from(list(enc.AccFrameType)), st.data())
def test_acc_raw_round_trip(stamp, ftype, data):
    bits = 8 * (ftype + 1)
    axis = st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    xyz = data.draw(st.lists(st.tuples(axis, axis, axis), min_size=1, max_size=30))
    f = pmd.decode_pmd_data(enc.encode_acc_frame(stamp, xyz, frame_type=ftype))
    assert f.frame_type == ftype and list(f.samples) == xyz


@given(u64, st.lists(st.tuples(s24, s24, s24, s24), min_size=1, max_size=20))
def test_ppg_raw_round_trip(stamp, rows):
    f = pmd.decode_pmd_data(enc.encode_ppg_frame(stamp, rows))
    assert [(*s.ppg, s.ambient) for s in f.samples] == rows


s16 = st.integers(-(2**15), 2**15 - 1)


@given(u64, st.sampled_from([0, 1]), st.lists(st.tuples(s16, s16, s16), min_size=1, max_size=120))
def test_acc_delta_round_trip(stamp, ftype, rows):
    f = pmd.decode_pmd_data(
        enc.encode_acc_delta_frame(stamp, rows, frame_type=ftype), factor=0.001 if ftype == 0 else 1.0
    )
    assert f.compressed and f.frame_type == ftype
    if ftype == 1:
        assert list(f.samples) == rows
    else:  # factor 0.001 g per unit → ×1000 → mG = raw (up to float32 rounding, then truncation)
        scale = np.float32(0.001) * np.float32(1000)
        assert list(f.samples) == [tuple(int(np.float32(v) * scale) for v in r) for r in rows]


s22 = st.integers(-(2**21), 2**21 - 1)


@given(u64, st.lists(st.tuples(s22, s22, s22, s22), min_size=1, max_size=60))
def test_ppg_delta_round_trip(stamp, rows):
    f = pmd.decode_pmd_data(enc.encode_ppg_delta_frame(stamp, rows))
    assert [(*s.ppg, s.ambient) for s in f.samples] == rows


@given(st.integers(1, 24), st.integers(1, 6), st.data())
def test_delta_frames_round_trip_any_layout(resolution, channels, data):
    value = st.integers(-(2 ** (resolution - 1)), 2 ** (resolution - 1) - 1)
    rows = data.draw(st.lists(st.tuples(*[value] * channels), min_size=1, max_size=80))
    payload = enc.encode_delta_frames(rows, resolution)
    assert list(pmd.decode_delta_frames(payload, channels, resolution)) == rows
    if len(rows) > 1:
        expected_blocks = enc.delta_blocks(np.diff(np.array(rows), axis=0))
        assert list(pmd.delta_block_layout(payload, channels, resolution)) == expected_blocks


@given(
    st.dictionaries(
        st.sampled_from(
            [enc.SettingType.SAMPLE_RATE, enc.SettingType.RESOLUTION, enc.SettingType.RANGE, enc.SettingType.CHANNELS]
        ),
        st.lists(st.integers(0, 255), min_size=1, max_size=5).map(tuple),
        min_size=1,
    )
)
def test_settings_round_trip(settings):
    tlv = enc.encode_settings(settings)
    assert {int(k): v for k, v in pmd.decode_settings(tlv).items()} == {int(k): v for k, v in settings.items()}
    r = pmd.decode_cp_response(enc.encode_cp_response(1, 2, enc.ControlPointStatus.SUCCESS, params=tlv))
    assert r.ok and {int(k): v for k, v in r.settings.items()} == {int(k): v for k, v in settings.items()}
    assert pmd.encode_settings({pmd.SettingType(int(k)): v for k, v in settings.items()}) == tlv


def test_factor_setting_round_trip():
    tlv = enc.encode_settings({enc.SettingType.FACTOR: (0.000244,)})
    (factor,) = pmd.decode_settings(tlv)[pmd.SettingType.FACTOR]
    assert factor == struct.unpack("<f", struct.pack("<f", 0.000244))[0]
