"""The simulator's PMD encoder against every PMD vector in ../shared/data/ble-vectors.json, bleakheart
and a small delta-frame decoder written here from the vendor description (ble-vectors.md caveat 5).

Each vector is re-encoded from its `expected` values and compared byte for byte. Where the source's
bytes hold bits no decoder reads (reserved flag bits, padding after a delta block, which the SDK tests
fill with arbitrary values), the comparison masks exactly those bits and says so.
"""

from __future__ import annotations

import asyncio
import math
import struct
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from bleakheart import PolarMeasurementData
from hypothesis import given, settings
from hypothesis import strategies as st

from vagus.sim.pmd_encoder import (
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    AccFrameType,
    ControlPointOpcode,
    ControlPointStatus,
    EcgType1Sample,
    EcgType2Sample,
    EcgType3Sample,
    MeasurementType,
    PmdRequest,
    PmdRequestError,
    PpiSample,
    RecordingType,
    SettingType,
    delta_blocks,
    encode_acc_delta_frame,
    encode_acc_frame,
    encode_cp_request,
    encode_cp_response,
    encode_data_frame,
    encode_delta_frames,
    encode_ecg_frame,
    encode_ecg_type1_frame,
    encode_ecg_type2_frame,
    encode_ecg_type3_frame,
    encode_features,
    encode_measurement_stopped,
    encode_ppg_delta_frame,
    encode_ppg_frame,
    encode_ppi_frame,
    encode_reference_sample,
    encode_settings,
    parse_cp_request,
    polar_ns,
)

HEADER = 10


# ---------------------------------------------------------------------------------------------------
# Independent reference decoding, written from ble.md §2 and ble-vectors.md caveats 5–8


def _header(frame: bytes) -> tuple[int, int, int]:
    """(measurement type, timestamp ns, frame byte) of a whole notification."""
    return frame[0], int.from_bytes(frame[1:9], "little"), frame[9]


def _decode_delta(
    payload: bytes, channels: int, ref_bytes: int
) -> tuple[list[list[int]], list[tuple[int, int]], bytes]:
    """Samples, [(width, count)] blocks, and a mask of the payload bits that carry data (padding = 0).

    Bit by bit on purpose: nothing here shares an algorithm with the encoder's numpy packing.
    """
    ref = [int.from_bytes(payload[i * ref_bytes : (i + 1) * ref_bytes], "little", signed=True) for i in range(channels)]
    samples, blocks = [ref], []
    mask = bytearray(b"\xff" * len(payload))
    pos = channels * ref_bytes
    while pos < len(payload):
        width, count = payload[pos], payload[pos + 1]
        pos += 2
        nbits = width * count * channels
        nbytes = math.ceil(nbits / 8)
        body = payload[pos : pos + nbytes]
        assert len(body) == nbytes, "truncated delta block"
        bits = [(body[k // 8] >> (k % 8)) & 1 for k in range(nbits)]
        for s in range(count):
            row = []
            for c in range(channels):
                field = bits[(s * channels + c) * width : (s * channels + c + 1) * width]
                delta = sum(bit << i for i, bit in enumerate(field)) - (field[-1] << width)
                row.append(samples[-1][c] + delta)
            samples.append(row)
        if nbits % 8:
            mask[pos + nbytes - 1] = (1 << (nbits % 8)) - 1
        pos += nbytes
        blocks.append((width, count))
    return samples, blocks, bytes(mask)


def _masked(data: bytes, mask: bytes) -> bytes:
    return bytes(d & m for d, m in zip(data, mask, strict=True))


def _assert_equal_under_mask(ours: bytes, theirs: bytes, mask: bytes) -> None:
    assert len(ours) == len(theirs) == len(mask)
    # Our encoder writes every bit outside the mask as 0.
    assert _masked(ours, mask) == ours
    assert ours == _masked(theirs, mask)


def _value(expr: int | str) -> int:
    """Expected values written as expressions ('(0xFF & 0x06) >> 1 = 3') were computed by the collector."""
    return expr if isinstance(expr, int) else int(str(expr).rsplit("=", 1)[1])


# ---------------------------------------------------------------------------------------------------
# Vectors

# Every PMD vector, each re-encoded by a test below (test_every_pmd_vector_is_covered keeps this honest).
COVERED = {
    "pmd-polar-ios-legacy-delta-res14",
    "pmd-polar-ios-ppg-raw-type0",
    "pmd-polar-ios-ppi-type0-timestamps",
    "pmd-polar-kt-acc-delta-type0-16bit",
    "pmd-polar-kt-acc-delta-type1-minimal",
    "pmd-polar-kt-cp-error-invalid-resolution",
    "pmd-polar-kt-cp-success-acc-settings",
    "pmd-polar-kt-delta-s16-multiblock",
    "pmd-polar-kt-ecg-type0",
    "pmd-polar-kt-ecg-type1",
    "pmd-polar-kt-ecg-type2",
    "pmd-polar-kt-frame-header-ecg-type3",
    "pmd-polar-kt-frame-header-ppg-compressed",
    "pmd-polar-kt-frame-unsupported-type-7f",
    "pmd-polar-kt-refsample-s16-4ch",
    "pmd-polar-kt-settings-range-milliunit",
    "pmd-real-h10-acc-start-request",
    "pmd-real-maintainer-ppi-settings-ok",
    "pmd-real-maintainer-ppi-start-ok",
    "pmd-real-verity-ppg-settings-response",
}


def _vector(vectors: list[dict], vid: str) -> tuple[bytes, dict]:
    assert vid in COVERED
    (v,) = [v for v in vectors if v["id"] == vid]
    return bytes.fromhex(v["hex"]), v["expected"]


def _status(exp: dict) -> ControlPointStatus:
    if "status_code" in exp:
        return ControlPointStatus(exp["status_code"])
    if "error_code" in exp:
        return ControlPointStatus(exp["error_code"])
    return ControlPointStatus[exp["status"].removeprefix("ERROR_")]


@pytest.mark.parametrize(
    "vid",
    [
        "pmd-real-maintainer-ppi-start-ok",
        "pmd-real-maintainer-ppi-settings-ok",
        "pmd-polar-kt-cp-success-acc-settings",
        "pmd-polar-kt-cp-error-invalid-resolution",
        "pmd-real-verity-ppg-settings-response",
    ],
)
def test_cp_response_vectors(ble_vectors, vid):
    raw, exp = _vector(ble_vectors, vid)
    assert exp["response_code"] == "0xF0"
    if "parameters_hex" in exp:
        params = bytes.fromhex(exp["parameters_hex"])
    else:
        params = encode_settings(
            {SettingType[k]: exp[k] for k in ("SAMPLE_RATE", "RESOLUTION", "CHANNELS") if k in exp}
        )
    ours = encode_cp_response(exp["op_code"], exp["measurement_type"], _status(exp), more=exp["more"], params=params)
    assert ours == raw


def test_cp_request_real_capture(ble_vectors):
    raw, exp = _vector(ble_vectors, "pmd-real-h10-acc-start-request")
    req = parse_cp_request(raw)
    assert req.opcode == exp["op_code"] == ControlPointOpcode.REQUEST_MEASUREMENT_START
    assert req.measurement_type == exp["measurement_type"] == MeasurementType[exp["measurement"]]
    assert req.recording_type is RecordingType.ONLINE
    # The reporter's meaning (the _derived keys); RANGE is in g, RESOLUTION in bits.
    assert req.settings == {
        SettingType.SAMPLE_RATE: (exp["sample_rate_hz_derived"],),
        SettingType.RESOLUTION: (exp["resolution_bits_derived"],),
        SettingType.RANGE: (exp["range_g_derived"],),
    }
    assert encode_cp_request(req.opcode, req.measurement_type, settings=req.settings) == raw


def test_settings_tlv_vector(ble_vectors):
    raw, exp = _vector(ble_vectors, "pmd-polar-kt-settings-range-milliunit")
    settings = {SettingType[k]: exp[k] for k in ("RANGE_MILLIUNIT", "RESOLUTION")}
    assert len(settings) == exp["setting_count"]
    assert encode_settings(settings) == raw


def test_ecg_type0_vector(ble_vectors):
    raw, exp = _vector(ble_vectors, "pmd-polar-kt-ecg-type0")
    assert exp["last_sample_timestamp_ns"] == exp["timestamp_ns"]
    assert (exp["measurement_type"], exp["frame_type"], exp["compressed"]) == (0, 0, False)
    assert encode_ecg_frame(exp["timestamp_ns"], exp["microvolts"]) == raw


def test_ecg_type1_vector(ble_vectors):
    raw, exp = _vector(ble_vectors, "pmd-polar-kt-ecg-type1")
    assert exp["frame_type"] == 1
    samples = [
        EcgType1Sample(
            s["microvolts"], s["over_sampling"], _value(s["skin_contact_bit"]), _value(s["contact_impedance"])
        )
        for s in exp["samples"]
    ]
    # The vector states no timestamp: take it from its header (same bytes as the type-0 vector).
    ours = encode_ecg_type1_frame(_header(raw)[1], samples)
    # EcgData.dataFromRawType1 reads byte 1 & 0x3F and byte 2 & 0x1F; the SDK test sets the other bits
    # (0x80, 0xE0) to values no decoder reads, which `expected` therefore cannot carry.
    mask = b"\xff" * HEADER + b"\xff\x3f\x1f" * len(samples)
    _assert_equal_under_mask(ours, raw, mask)


def test_ecg_type2_vector(ble_vectors):
    raw, exp = _vector(ble_vectors, "pmd-polar-kt-ecg-type2")
    assert exp["frame_type"] == 2
    samples = [
        EcgType2Sample(s["microvolts"], _value(s["ecg_data_tag"]), _value(s["pace_data_tag"])) for s in exp["samples"]
    ]
    assert encode_ecg_type2_frame(exp["timestamp_ns"], samples) == raw


def test_ecg_type3_header_vector(ble_vectors):
    raw, exp = _vector(ble_vectors, "pmd-polar-kt-frame-header-ecg-type3")
    assert not exp["compressed"]
    data = bytes.fromhex(exp["data_content_hex"])
    assert encode_data_frame(exp["measurement_type"], exp["timestamp_ns"], exp["frame_type"], data) == raw
    # The source mocks sample decoding, so `expected` has no sample values: decode the 7-byte sample
    # here as caveat 6 lays it out (s24, s24, u8) and re-encode it through the typed encoder.
    d0, d1 = (int.from_bytes(data[i : i + 3], "little", signed=True) for i in (0, 3))
    ours = encode_ecg_type3_frame(exp["timestamp_ns"], [EcgType3Sample(d0, d1, data[6])])
    assert ours == raw


def test_ppg_raw_vector(ble_vectors):
    raw, exp = _vector(ble_vectors, "pmd-polar-ios-ppg-raw-type0")
    assert (exp["measurement_type"], exp["frame_type"]) == (1, 0)
    samples = [[*s["ppg"], s["ambient"]] for s in exp["samples"]]
    assert encode_ppg_frame(exp["timestamp_ns"], samples) == raw


def test_ppg_compressed_header_vector(ble_vectors):
    raw, exp = _vector(ble_vectors, "pmd-polar-kt-frame-header-ppg-compressed")
    data = bytes.fromhex(exp["data_content_hex"])
    ours = encode_data_frame(
        exp["measurement_type"], exp["timestamp_ns"], exp["frame_type"], data, compressed=exp["compressed"]
    )
    assert ours == raw


def test_unsupported_frame_type_vector(ble_vectors):
    """A negative vector for decoders; for the encoder, only its header layout is meaningful."""
    raw, exp = _vector(ble_vectors, "pmd-polar-kt-frame-unsupported-type-7f")
    _, ts, frame_byte = _header(raw)
    assert frame_byte == int(exp["frame_type_byte"], 16)
    assert encode_data_frame(exp["measurement_type"], ts, 0x7F, b"") == raw
    with pytest.raises(ValueError, match="frame_type"):
        encode_data_frame(MeasurementType.PPG, ts, 0x80, b"")


def test_ppi_vector(ble_vectors):
    raw, exp = _vector(ble_vectors, "pmd-polar-ios-ppi-type0-timestamps")
    # Caveat 7: the source parses this PPI frame directly although its type byte says PPG.
    assert raw[0] == MeasurementType.PPG
    raw = bytes([MeasurementType.PPI]) + raw[1:]
    # Caveat 8: the frame timestamp is the last sample's time.
    assert exp["samples"][-1]["timestamp_ns"] == exp["timestamp_ns"]
    samples = [
        PpiSample(
            s["hr"],
            s["pp_ms"],
            s["pp_error_estimate_ms"],
            blocker=bool(s["blocker_bit"]),
            skin_contact=bool(s["skin_contact_status"]),
            skin_contact_supported=bool(s["skin_contact_supported"]),
        )
        for s in exp["samples"]
    ]
    ours = encode_ppi_frame(exp["samples"][-1]["timestamp_ns"], samples)
    # Flag bits 3–7 are reserved; the source sets them (0xFF) in sample 0, which `expected` cannot carry.
    mask = b"\xff" * HEADER + b"\xff\xff\xff\xff\xff\x07" * len(samples)
    _assert_equal_under_mask(ours, raw, mask)


def test_refsample_vector(ble_vectors):
    raw, exp = _vector(ble_vectors, "pmd-polar-kt-refsample-s16-4ch")
    assert len(exp["ref_samples"]) == exp["channels"]
    assert encode_reference_sample(exp["ref_samples"], exp["resolution"]) == raw


def test_delta_multiblock_real_capture_auto_layout(ble_vectors):
    """The firmware's own layout: re-encoding the capture with the default block choice gives its bytes."""
    raw, exp = _vector(ble_vectors, "pmd-polar-kt-delta-s16-multiblock")
    samples, blocks, mask = _decode_delta(raw, exp["channels"], 2)
    # The decoded values are ours; what the source asserts about them must hold.
    assert len(samples) == exp["sample_count"]
    assert samples[:2] == [exp["sample0"], exp["sample1"]]
    assert blocks == [tuple(b) for b in exp["blocks"]]
    assert _masked(raw, mask) == raw, "the device wrote its padding bits as 0, as we do"
    assert delta_blocks(np.diff(np.array(samples), axis=0)) == blocks
    assert encode_delta_frames(samples, exp["resolution"]) == raw


def test_delta_legacy_res14(ble_vectors):
    raw, exp = _vector(ble_vectors, "pmd-polar-ios-legacy-delta-res14")
    decoded, blocks, mask = _decode_delta(raw, exp["channels"], 2)
    assert decoded == exp["samples"]
    # A hand-made frame: its split into 3 + 2 samples comes from the bytes (expected has no layout),
    # and the source filled the padding bits after each block with arbitrary values.
    ours = encode_delta_frames(exp["samples"], exp["resolution"], blocks=blocks)
    _assert_equal_under_mask(ours, raw, mask)


def test_acc_delta_type0_vector(ble_vectors):
    raw, exp = _vector(ble_vectors, "pmd-polar-kt-acc-delta-type0-16bit")
    mtype, ts, frame_byte = _header(raw)
    assert (mtype, frame_byte) == (MeasurementType.ACC, 0x80)
    samples, blocks, mask = _decode_delta(raw[HEADER:], 3, 2)
    assert samples[0] == exp["reference_raw"] and samples[1] == exp["sample1_raw"]
    assert len(samples) == exp["sample_count"]
    assert blocks == [(exp["delta_bits"], exp["delta_count"])]
    assert set(mask) == {0xFF}
    # Source rule: |mG| = |int(float32(factor) · raw · 1000)| within the 8 g range.
    mg = (np.float32(exp["factor"]) * np.array(samples, dtype=np.float32) * np.float32(1000)).astype(np.int32)
    assert np.abs(mg).max() <= 8000
    # All samples past the second are decoded here, not asserted by the source. This device sent one
    # 10-bit block where the H10 layout (groups of ten) would choose 9 bits, so pass its layout.
    ours = encode_acc_delta_frame(exp["last_sample_timestamp_ns"], samples, frame_type=0, blocks=blocks)
    assert ts == exp["last_sample_timestamp_ns"]
    assert ours == raw


def test_acc_delta_type1_vector(ble_vectors):
    raw, exp = _vector(ble_vectors, "pmd-polar-kt-acc-delta-type1-minimal")
    assert exp["factor"] == 1.0  # raw units are mG
    _, _, frame_byte = _header(raw)
    assert frame_byte == int(exp["frame_type_byte"], 16)
    _, blocks, mask = _decode_delta(raw[HEADER:], 3, 2)
    # Caveat 8: the frame carries the last sample's timestamp.
    ours = encode_acc_delta_frame(exp["timestamps_ns"][-1], exp["samples"], frame_type=frame_byte & 0x7F, blocks=blocks)
    # Hand-made: a 6-bit block (the firmware would use 4) with non-zero padding bits.
    _assert_equal_under_mask(ours, raw, b"\xff" * HEADER + mask)
    auto = encode_acc_delta_frame(exp["timestamps_ns"][-1], exp["samples"], frame_type=1)
    assert _decode_delta(auto[HEADER:], 3, 2)[0] == exp["samples"]


def test_every_pmd_vector_is_covered(ble_vectors):
    """A PMD vector added to the collection must get an encoder test here."""
    pmd = {v["id"] for v in ble_vectors if v["protocol"] == "pmd"}
    assert len(pmd) >= 20
    assert pmd == COVERED, f"PMD vectors without an encoder test: {sorted(pmd - COVERED)}"


# ---------------------------------------------------------------------------------------------------
# Control point: behaviour beyond the vectors


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", ControlPointStatus.INVALID_LENGTH),
        (b"\x00\x00", ControlPointStatus.INVALID_OP_CODE),
        (b"\x0a\x00", ControlPointStatus.INVALID_OP_CODE),
        (b"\x02\x04", ControlPointStatus.INVALID_MEASUREMENT_TYPE),
        (b"\x02", ControlPointStatus.INVALID_LENGTH),
        (b"\x03\x00\x00", ControlPointStatus.INVALID_LENGTH),
        (b"\x05\x00", ControlPointStatus.INVALID_LENGTH),
        (b"\x02\x00\x00\x01\x82", ControlPointStatus.INVALID_LENGTH),
        (b"\x02\x00\x00", ControlPointStatus.INVALID_LENGTH),
        (b"\x02\x00\x00\x00", ControlPointStatus.INVALID_LENGTH),
        (b"\x02\x00\x09\x01\x00", ControlPointStatus.INVALID_PARAMETER),
        (b"\x02\x00\x00\x01\x82\x00\x00\x01\x82\x00", ControlPointStatus.INVALID_PARAMETER),
    ],
)
def test_parse_cp_request_rejects(data, status):
    with pytest.raises(PmdRequestError) as info:
        parse_cp_request(data)
    assert isinstance(info.value, ValueError)
    assert info.value.status is status


def test_parse_cp_request_forms():
    # ble.md §2: the H10 ECG start command seen in the wild, and the PPI start without settings.
    ecg = parse_cp_request(bytes.fromhex("02000001820001010e00"))
    assert ecg == PmdRequest(
        ControlPointOpcode.REQUEST_MEASUREMENT_START,
        MeasurementType.ECG,
        RecordingType.ONLINE,
        {SettingType.SAMPLE_RATE: (130,), SettingType.RESOLUTION: (14,)},
    )
    assert parse_cp_request(b"\x02\x03") == PmdRequest(
        ControlPointOpcode.REQUEST_MEASUREMENT_START, MeasurementType.PPI
    )
    assert parse_cp_request(b"\x03\x82").recording_type is RecordingType.OFFLINE
    assert parse_cp_request(b"\x05") == PmdRequest(ControlPointOpcode.GET_MEASUREMENT_STATUS)
    assert parse_cp_request(b"\x08\x01").params == b"\x01"
    factor = parse_cp_request(b"\x02\x02" + encode_settings({SettingType.FACTOR: [0.000244]}))
    assert factor.settings[SettingType.FACTOR][0] == pytest.approx(0.000244)


def test_encoders_reject_bad_values():
    with pytest.raises(ValueError):
        encode_settings({SettingType.SAMPLE_RATE: [70000]})
    with pytest.raises(ValueError):
        encode_settings({SettingType.RESOLUTION: []})
    with pytest.raises(ValueError):
        encode_ecg_frame(0, [1 << 23])
    with pytest.raises(ValueError):
        encode_ecg_frame(0, [])
    with pytest.raises(ValueError):
        encode_ecg_frame(0, [1.5])
    with pytest.raises(ValueError):
        encode_acc_frame(0, [[128, 0, 0]], frame_type=AccFrameType.INT8)
    with pytest.raises(ValueError):
        encode_ppi_frame(0, [PpiSample(60, 70000, 10)])
    with pytest.raises(ValueError):
        encode_delta_frames([[0], [5]], 16, blocks=[(3, 1)])  # 5 needs 4 signed bits
    with pytest.raises(ValueError):
        encode_delta_frames([[0], [5], [6]], 16, blocks=[(4, 1)])  # counts do not cover the deltas
    with pytest.raises(ValueError):
        encode_delta_frames([[40000]], 16)
    with pytest.raises(ValueError):
        encode_data_frame(MeasurementType.ECG, -1, 0, b"")


def test_features_and_stop_indication():
    # ble.md §2 feature bits: byte 1 ECG 0x01, ACC 0x04; byte 2 SDK_MODE 0x02.
    assert encode_features([MeasurementType.ECG, MeasurementType.ACC]) == bytes([0x0F, 0x05, 0x00])
    assert encode_features([MeasurementType.PPI, MeasurementType.SDK_MODE]) == bytes([0x0F, 0x08, 0x02])
    assert encode_measurement_stopped([MeasurementType.ECG, MeasurementType.ACC]) == b"\x01\x00\x02"


def test_polar_ns_against_datetime():
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    when = datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)
    expected = (when - epoch) // timedelta(microseconds=1) * 1000
    assert polar_ns(when.timestamp()) == pytest.approx(expected, abs=500)
    assert polar_ns(int(epoch.timestamp()) + 1) == 1_000_000_000
    with pytest.raises(ValueError):
        polar_ns(epoch.timestamp() - 1)
    with pytest.raises(ValueError):
        polar_ns(float("nan"))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-(1 << 23), (1 << 23) - 1), min_size=1, max_size=73))
def test_acc_and_ecg_raw_layouts(values):
    ecg = encode_ecg_frame(123, values)
    assert [int.from_bytes(ecg[i : i + 3], "little", signed=True) for i in range(HEADER, len(ecg), 3)] == values
    xyz = np.resize(np.array(values), (len(values), 3)) >> 16  # int8 range
    for ftype in AccFrameType:
        frame = encode_acc_frame(0, xyz, frame_type=ftype)
        n = ftype + 1
        assert frame[9] == ftype
        decoded = [int.from_bytes(frame[i : i + n], "little", signed=True) for i in range(HEADER, len(frame), n)]
        assert decoded == xyz.reshape(-1).tolist()


# ---------------------------------------------------------------------------------------------------
# Delta compression round trip (hypothesis) through the decoder above


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda ch: st.lists(
            st.lists(st.integers(-(1 << 15), (1 << 15) - 1), min_size=ch, max_size=ch), min_size=1, max_size=300
        )
    )
)
def test_delta_round_trip_int16(samples):
    payload = encode_delta_frames(samples, 16)
    decoded, blocks, mask = _decode_delta(payload, len(samples[0]), 2)
    assert decoded == samples
    assert sum(c for _, c in blocks) == len(samples) - 1
    assert all(1 <= c <= 255 for _, c in blocks)
    assert _masked(payload, mask) == payload  # padding bits are zero


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 24), st.integers(1, 4), st.data())
def test_delta_round_trip_any_resolution(resolution, channels, data):
    lim = 1 << (resolution - 1)
    row = st.lists(st.integers(-lim, lim - 1), min_size=channels, max_size=channels)
    samples = data.draw(st.lists(row, min_size=1, max_size=60))
    payload = encode_delta_frames(samples, resolution)
    assert _decode_delta(payload, channels, math.ceil(resolution / 8))[0] == samples


def test_delta_width_choice_is_never_wasteful_by_more_than_a_bit():
    rng = np.random.default_rng(3)
    samples = np.cumsum(rng.integers(-40, 41, size=(120, 3)), axis=0)
    blocks = delta_blocks(np.diff(samples, axis=0))
    start = 0
    for width, count in blocks:
        chunk = np.diff(samples, axis=0)[start : start + count]
        start += count
        two_complement_min = max(int(chunk.min()).bit_length(), int(chunk.max()).bit_length()) + 1
        assert two_complement_min <= width <= two_complement_min + 1


def test_ppg_delta_frame_header():
    samples = [[-517445, -484490, -476780, -646945], [-517400, -484500, -476700, -646900]]
    frame = encode_ppg_delta_frame(5, samples)
    assert _header(frame) == (MeasurementType.PPG, 5, 0x80)
    assert _decode_delta(frame[HEADER:], 4, 3)[0] == samples


# ---------------------------------------------------------------------------------------------------
# bleakheart (third-party parser) on our bytes


class _FakePolar:
    """Just enough of a BleakClient for bleakheart's PMD code, answering with our device-side bytes."""

    def __init__(self, features: list[MeasurementType], settings_by_type: dict[int, dict]) -> None:
        self.features = features
        self.settings_by_type = settings_by_type
        self.requests: list[PmdRequest] = []
        self.handlers: dict[str, object] = {}

    async def start_notify(self, uuid, handler):
        self.handlers[uuid.lower()] = handler

    async def read_gatt_char(self, uuid):
        assert uuid.lower() == PMD_CONTROL_POINT_UUID
        return bytearray(encode_features(self.features))

    async def write_gatt_char(self, uuid, data):
        assert uuid.lower() == PMD_CONTROL_POINT_UUID
        req = parse_cp_request(bytes(data))
        self.requests.append(req)
        params = b""
        if req.opcode is ControlPointOpcode.GET_MEASUREMENT_SETTINGS:
            params = encode_settings(self.settings_by_type[req.measurement_type])
        response = encode_cp_response(req.opcode, data[1], ControlPointStatus.SUCCESS, params=params)
        await self.handlers[PMD_CONTROL_POINT_UUID](None, bytearray(response))


async def test_bleakheart_control_point_exchange():
    h10_settings = {MeasurementType.ECG: {SettingType.SAMPLE_RATE: [130], SettingType.RESOLUTION: [14]}}
    client = _FakePolar([MeasurementType.ECG, MeasurementType.ACC], h10_settings)
    pmd = PolarMeasurementData(client, callback=lambda frame: None)
    assert await pmd.available_measurements() == ["ECG", "ACC"]
    params = await pmd.available_settings("ECG")
    assert params["error_code"] == 0
    assert (params["SAMPLE_RATE"], params["RESOLUTION"]) == ([130], [14])
    assert (await pmd.start_streaming("ACC", RANGE=8))[0] == 0
    assert (await pmd.stop_streaming("ACC"))[0] == 0
    start, stop = client.requests[-2:]
    assert start.measurement_type is MeasurementType.ACC
    assert start.settings == {
        SettingType.SAMPLE_RATE: (200,),
        SettingType.RESOLUTION: (16,),
        SettingType.RANGE: (8,),
    }
    assert (stop.opcode, stop.measurement_type) == (ControlPointOpcode.STOP_MEASUREMENT, MeasurementType.ACC)


async def test_bleakheart_decodes_ecg_and_acc_frames():
    rng = np.random.default_rng(7)
    ecg_q: asyncio.Queue = asyncio.Queue()
    acc_q: asyncio.Queue = asyncio.Queue()
    pmd = PolarMeasurementData(_FakePolar([], {}), ecg_queue=ecg_q, acc_queue=acc_q)
    t0 = polar_ns(1_773_500_000.25)
    fs_ecg, fs_acc = 130, 200
    ecg = rng.integers(-(1 << 23), 1 << 23, size=73 * 3)
    acc = rng.integers(-8000, 8001, size=(36 * 3, 3))
    sent = []
    for k in range(3):
        # Timestamps: each frame's is its last sample's time.
        ecg_chunk = ecg[73 * k : 73 * (k + 1)]
        ecg_ts = t0 + round((73 * (k + 1) - 1) * 1e9 / fs_ecg)
        frame = encode_ecg_frame(ecg_ts, ecg_chunk)
        assert pmd._decode_ecg_data(bytearray(frame)) == ecg_chunk.tolist()
        await pmd._pmd_data_handler(None, bytearray(frame))
        acc_chunk = acc[36 * k : 36 * (k + 1)]
        acc_ts = t0 + round((36 * (k + 1) - 1) * 1e9 / fs_acc)
        frame = encode_acc_frame(acc_ts, acc_chunk)
        assert pmd._decode_acc_data(bytearray(frame)) == [tuple(r) for r in acc_chunk.tolist()]
        await pmd._pmd_data_handler(None, bytearray(frame))
        sent.append((ecg_ts, acc_ts))
    got_ecg = [ecg_q.get_nowait() for _ in range(3)]
    got_acc = [acc_q.get_nowait() for _ in range(3)]
    # bleakheart re-bases every timestamp by one offset fixed at its first frame: differences survive.
    offset = got_ecg[0][1] - sent[0][0]
    assert [g[1] - offset for g in got_ecg] == [s[0] for s in sent]
    assert [g[1] - offset for g in got_acc] == [s[1] for s in sent]
    assert [g[2] for g in got_ecg] == [ecg[73 * k : 73 * (k + 1)].tolist() for k in range(3)]
    assert got_acc[2][2] == [tuple(r) for r in acc[72:].tolist()]
    # bleakheart only knows ACC frame type 1 (the H10's); it refuses the others rather than misread them.
    with pytest.raises(ValueError, match="frame type"):
        pmd._decode_acc_data(bytearray(encode_acc_frame(0, acc[:2], frame_type=AccFrameType.INT24)))


def test_data_uuid_is_the_pmd_data_characteristic():
    assert PolarMeasurementData.PMDDATAMTU.lower() == PMD_DATA_UUID
    assert PolarMeasurementData.PMDCTRLPOINT.lower() == PMD_CONTROL_POINT_UUID
    assert struct.calcsize("<BQB") == HEADER
