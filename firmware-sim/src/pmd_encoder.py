"""Device side of Polar Measurement Data (PMD): control-point parsing and responses, and data frames.

Written from the PMD description in ``research/ble.md`` §2 (Polar BLE SDK @8fb5311, Android
``api/ble/model/gatt/client/pmd/``: ``PmdControlPointResponse.kt``, ``PmdSetting.kt``,
``PmdDataFrame.kt``, ``model/{Ecg,Acc,Ppi,Ppg}Data.kt``), independently of any decoder, so the edge's
decoders and this encoder check each other.

Data frame (one whole notification on the data characteristic):
``[measurement type u8][timestamp u64 LE, ns since 2000-01-01T00:00:00Z][frame byte][data]``, frame
byte bit 7 = delta-compressed, bits 0–6 = frame type. The timestamp is the time of the frame's LAST
sample (the SDK back-fills the earlier ones, ``PmdTimeStampUtils``).

Delta compression (vendor specific, ``BlePMDClient.parseDeltaFrame``): a reference sample (channels ×
ceil(resolution/8) bytes, signed LE), then blocks ``[bit width u8][sample count u8][deltas]`` whose
deltas (count × channels signed values, channel-interleaved) are bit-packed LSB first; each sample is
the previous one plus its delta. Polar's firmware groups samples by ten and sizes each group's deltas
to ``bit_length(max |delta|) + 1`` bits, merging neighbouring groups of equal width: this reproduces a
real ACC capture byte for byte (vector ``pmd-polar-kt-delta-s16-multiblock``).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "CP_RESPONSE_CODE",
    "FEATURE_READ_CODE",
    "ONLINE_MEASUREMENT_STOPPED",
    "PMD_CONTROL_POINT_UUID",
    "PMD_DATA_UUID",
    "PMD_SERVICE_UUID",
    "POLAR_EPOCH_UNIX_S",
    "SETTING_SIZE",
    "AccFrameType",
    "ControlPointOpcode",
    "ControlPointStatus",
    "EcgFrameType",
    "EcgType1Sample",
    "EcgType2Sample",
    "EcgType3Sample",
    "MeasurementType",
    "PmdRequest",
    "PmdRequestError",
    "PpiSample",
    "RecordingType",
    "SettingType",
    "delta_blocks",
    "encode_acc_delta_frame",
    "encode_acc_frame",
    "encode_cp_request",
    "encode_cp_response",
    "encode_data_frame",
    "encode_delta_frames",
    "encode_ecg_frame",
    "encode_ecg_type1_frame",
    "encode_ecg_type2_frame",
    "encode_ecg_type3_frame",
    "encode_features",
    "encode_measurement_stopped",
    "encode_ppg_delta_frame",
    "encode_ppg_frame",
    "encode_ppi_frame",
    "encode_reference_sample",
    "encode_settings",
    "parse_cp_request",
    "polar_ns",
]

# BlePMDClient.kt
PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"  # read (features), write, indicate
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"  # notify

FEATURE_READ_CODE = 0x0F  # first byte of the control-point read (PmdMeasurementType.fromByteArray)
CP_RESPONSE_CODE = 0xF0  # first byte of every control-point response (PmdControlPointResponse.kt)
POLAR_EPOCH_UNIX_S = 946_684_800  # 2000-01-01T00:00:00Z (documentation/TimeSystemExplained.md)

_HEADER = struct.Struct("<BQB")
_U64_MAX = (1 << 64) - 1


class MeasurementType(IntEnum):
    """PMD measurement type ids, the low 6 bits of the type byte (PmdMeasurementType.kt)."""

    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAG = 6
    SKIN_TEMP = 7
    SDK_MODE = 9
    LOCATION = 10
    PRESSURE = 11
    TEMPERATURE = 12
    OFFLINE_RECORDING = 13
    OFFLINE_HR = 14


class RecordingType(IntEnum):
    """Bit 7 of the type byte in control-point commands (PmdRecordingType.kt)."""

    ONLINE = 0
    OFFLINE = 1


class ControlPointOpcode(IntEnum):
    """Client → device control-point commands (PmdControlPointCommand.kt)."""

    GET_MEASUREMENT_SETTINGS = 0x01
    REQUEST_MEASUREMENT_START = 0x02
    STOP_MEASUREMENT = 0x03
    GET_SDK_MODE_MEASUREMENT_SETTINGS = 0x04
    GET_MEASUREMENT_STATUS = 0x05
    GET_SDK_MODE_STATUS = 0x06
    GET_OFFLINE_RECORDING_TRIGGER_STATUS = 0x07
    SET_OFFLINE_RECORDING_TRIGGER_MODE = 0x08
    SET_OFFLINE_RECORDING_TRIGGER_SETTINGS = 0x09


ONLINE_MEASUREMENT_STOPPED = 0x01  # device → client indication (PmdControlPointCommandServiceToClient)


class ControlPointStatus(IntEnum):
    """Status byte of a control-point response (PmdControlPointResponse.kt)."""

    SUCCESS = 0
    INVALID_OP_CODE = 1
    INVALID_MEASUREMENT_TYPE = 2
    NOT_SUPPORTED = 3
    INVALID_LENGTH = 4
    INVALID_PARAMETER = 5
    ALREADY_IN_STATE = 6
    INVALID_RESOLUTION = 7
    INVALID_SAMPLE_RATE = 8
    INVALID_RANGE = 9
    INVALID_MTU = 10
    INVALID_NUMBER_OF_CHANNELS = 11
    INVALID_STATE = 12
    DEVICE_IN_CHARGER = 13
    DISK_FULL = 14


class SettingType(IntEnum):
    """Setting ids of the settings TLV (PmdSetting.kt)."""

    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5
    SECURITY = 6


# Field size in bytes of each setting value (PmdSetting.mapTypeToFieldSize).
SETTING_SIZE: Mapping[SettingType, int] = {
    SettingType.SAMPLE_RATE: 2,
    SettingType.RESOLUTION: 2,
    SettingType.RANGE: 2,
    SettingType.RANGE_MILLIUNIT: 4,
    SettingType.CHANNELS: 1,
    SettingType.FACTOR: 4,
    SettingType.SECURITY: 16,
}


class EcgFrameType(IntEnum):
    """ECG raw frame types (EcgData.kt). H10 streams type 0."""

    S24_MICROVOLTS = 0
    U14_WITH_STATUS = 1
    U18_WITH_TAGS = 2
    S24_S24_U8 = 3


class AccFrameType(IntEnum):
    """ACC raw frame types: bytes per axis 1, 2, 3 (AccData.kt). H10 streams type 1 (int16 mG)."""

    INT8 = 0
    INT16 = 1
    INT24 = 2


# ---------------------------------------------------------------------------------------------------
# Time


def polar_ns(unix_s: float) -> int:
    """Nanoseconds since 2000-01-01T00:00:00Z (the PMD timestamp) for a Unix time in seconds.

    An ``int`` is converted exactly; a ``float`` is rounded to the nearest ns (a float64 Unix time
    carries ~0.2 µs of precision today).
    """
    if isinstance(unix_s, int):
        ns = (unix_s - POLAR_EPOCH_UNIX_S) * 1_000_000_000
    else:
        if not math.isfinite(unix_s):
            raise ValueError(f"unix_s must be finite, got {unix_s}")
        # Subtract the epoch first: it is exact in float64 and keeps the sub-second digits.
        ns = round((unix_s - POLAR_EPOCH_UNIX_S) * 1e9)
    if not 0 <= ns <= _U64_MAX:
        raise ValueError(f"unix time {unix_s} s lies outside the PMD timestamp range (2000-01-01 onwards)")
    return ns


# ---------------------------------------------------------------------------------------------------
# Control point, device side


class PmdRequestError(ValueError):
    """A malformed or unsupported control-point write; ``status`` is the code the device answers with."""

    def __init__(self, message: str, status: ControlPointStatus) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class PmdRequest:
    """One control-point write, as the device understands it.

    ``measurement_type`` is None for commands without a type byte (GET_MEASUREMENT_STATUS,
    GET_SDK_MODE_STATUS, the offline-trigger commands). ``settings`` holds the TLV of a start
    request (ints; FACTOR as float). ``params`` keeps the undecoded bytes of the offline-trigger
    commands, which the simulator does not implement.
    """

    opcode: ControlPointOpcode
    measurement_type: MeasurementType | None = None
    recording_type: RecordingType = RecordingType.ONLINE
    settings: Mapping[SettingType, tuple[int | float, ...]] = field(default_factory=dict)
    params: bytes = b""


_NO_TYPE_OPCODES = frozenset(
    {
        ControlPointOpcode.GET_MEASUREMENT_STATUS,
        ControlPointOpcode.GET_SDK_MODE_STATUS,
    }
)
_OFFLINE_TRIGGER_OPCODES = frozenset(
    {
        ControlPointOpcode.GET_OFFLINE_RECORDING_TRIGGER_STATUS,
        ControlPointOpcode.SET_OFFLINE_RECORDING_TRIGGER_MODE,
        ControlPointOpcode.SET_OFFLINE_RECORDING_TRIGGER_SETTINGS,
    }
)


def _type_byte(measurement_type: int, recording_type: int) -> int:
    return MeasurementType(measurement_type) | (RecordingType(recording_type) << 7)


def _parse_type_byte(byte: int) -> tuple[MeasurementType, RecordingType]:
    # The SDK masks the id with 0x3F (bit 6 is unused) and reads bit 7 as the recording type.
    try:
        mtype = MeasurementType(byte & 0x3F)
    except ValueError:
        raise PmdRequestError(
            f"unknown measurement type {byte & 0x3F}", ControlPointStatus.INVALID_MEASUREMENT_TYPE
        ) from None
    return mtype, RecordingType(byte >> 7)


def _parse_settings(data: bytes) -> dict[SettingType, tuple[int | float, ...]]:
    settings: dict[SettingType, tuple[int | float, ...]] = {}
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise PmdRequestError("settings TLV truncated in its header", ControlPointStatus.INVALID_LENGTH)
        try:
            stype = SettingType(data[offset])
        except ValueError:
            raise PmdRequestError(
                f"unknown setting type {data[offset]}", ControlPointStatus.INVALID_PARAMETER
            ) from None
        count = data[offset + 1]
        size = SETTING_SIZE[stype]
        offset += 2
        if count == 0 or offset + count * size > len(data):
            raise PmdRequestError(
                f"setting {stype.name} has a bad count or is truncated", ControlPointStatus.INVALID_LENGTH
            )
        if stype in settings:
            raise PmdRequestError(f"setting {stype.name} given twice", ControlPointStatus.INVALID_PARAMETER)
        values: list[int | float] = []
        for _ in range(count):
            chunk = data[offset : offset + size]
            values.append(
                struct.unpack("<f", chunk)[0] if stype is SettingType.FACTOR else int.from_bytes(chunk, "little")
            )
            offset += size
        settings[stype] = tuple(values)
    return settings


def parse_cp_request(data: bytes) -> PmdRequest:
    """Parse a control-point write (``BlePMDClient`` command layout).

    ``[opcode]`` for GET_MEASUREMENT_STATUS / GET_SDK_MODE_STATUS; ``[opcode][type byte]`` for get
    settings, stop and SDK-mode settings; ``[0x02][type byte]{[setting][count][values LE]}`` for start.
    Setting values are read unsigned (FACTOR as float32). Raises :class:`PmdRequestError` (a
    ValueError) with the status the device should answer, on malformed or unknown input.
    """
    data = bytes(data)
    if not data:
        raise PmdRequestError("empty control-point write", ControlPointStatus.INVALID_LENGTH)
    try:
        opcode = ControlPointOpcode(data[0])
    except ValueError:
        raise PmdRequestError(f"unknown opcode 0x{data[0]:02x}", ControlPointStatus.INVALID_OP_CODE) from None
    if opcode in _OFFLINE_TRIGGER_OPCODES:
        return PmdRequest(opcode, params=data[1:])
    if opcode in _NO_TYPE_OPCODES:
        if len(data) != 1:
            raise PmdRequestError(f"{opcode.name} takes no parameters", ControlPointStatus.INVALID_LENGTH)
        return PmdRequest(opcode)
    if len(data) < 2:
        raise PmdRequestError(f"{opcode.name} needs a measurement type", ControlPointStatus.INVALID_LENGTH)
    mtype, rec = _parse_type_byte(data[1])
    if opcode is not ControlPointOpcode.REQUEST_MEASUREMENT_START:
        if len(data) != 2:
            raise PmdRequestError(f"{opcode.name} takes only a measurement type", ControlPointStatus.INVALID_LENGTH)
        return PmdRequest(opcode, mtype, rec)
    return PmdRequest(opcode, mtype, rec, _parse_settings(data[2:]))


def encode_settings(settings: Mapping[SettingType, Sequence[int | float]]) -> bytes:
    """The settings TLV: for each entry ``[setting type][count][count × value LE]``, in mapping order.

    Integer values are written in the setting's field size (``SETTING_SIZE``), accepting both the
    unsigned and the two's-complement signed range (RANGE_MILLIUNIT -1 → ``ff ff ff ff``, as the SDK
    test vector has it); FACTOR values are float32.
    """
    out = bytearray()
    for key, values in settings.items():
        stype = SettingType(key)
        size = SETTING_SIZE[stype]
        if not 1 <= len(values) <= 0xFF:
            raise ValueError(f"setting {stype.name} needs 1–255 values, got {len(values)}")
        out += bytes((stype, len(values)))
        for value in values:
            if stype is SettingType.FACTOR:
                out += struct.pack("<f", float(value))
                continue
            if isinstance(value, float) or not -(1 << (8 * size - 1)) <= value < (1 << (8 * size)):
                raise ValueError(f"setting {stype.name} value {value!r} does not fit {size} byte(s)")
            out += (value % (1 << (8 * size))).to_bytes(size, "little")
    return bytes(out)


def encode_cp_request(
    opcode: ControlPointOpcode,
    measurement_type: MeasurementType | None = None,
    *,
    recording_type: RecordingType = RecordingType.ONLINE,
    settings: Mapping[SettingType, Sequence[int | float]] | None = None,
) -> bytes:
    """A client's control-point write (for driving the simulated device in tests and feeds)."""
    out = bytes((ControlPointOpcode(opcode),))
    if measurement_type is not None:
        out += bytes((_type_byte(measurement_type, recording_type),))
    if settings:
        if opcode != ControlPointOpcode.REQUEST_MEASUREMENT_START or measurement_type is None:
            raise ValueError("settings belong to a REQUEST_MEASUREMENT_START with a measurement type")
        out += encode_settings(settings)
    return out


def encode_cp_response(
    opcode: int,
    measurement_type: int,
    status: ControlPointStatus,
    *,
    more: bool = False,
    params: bytes = b"",
) -> bytes:
    """A control-point response indication: ``[0xF0][opcode][type byte][status][more][params…]``.

    ``measurement_type`` is the type byte echoed from the request (it may carry the recording bit).
    ``params`` is e.g. an :func:`encode_settings` TLV for GET_MEASUREMENT_SETTINGS.
    """
    if not 0 <= opcode <= 0xFF or not 0 <= measurement_type <= 0xFF:
        raise ValueError(f"opcode {opcode} and type byte {measurement_type} must be bytes")
    return bytes((CP_RESPONSE_CODE, opcode, measurement_type, ControlPointStatus(status), int(more))) + bytes(params)


def encode_measurement_stopped(types: Iterable[MeasurementType]) -> bytes:
    """The device-initiated indication ``[0x01][type ids…]`` (ONLINE_MEASUREMENT_STOPPED)."""
    return bytes((ONLINE_MEASUREMENT_STOPPED, *(MeasurementType(t) for t in types)))


def encode_features(types: Iterable[MeasurementType]) -> bytes:
    """The control-point read: ``0x0F`` then a 16-bit LE bitmap with bit ``id`` set per supported type.

    Byte 1 holds ECG 0x01 … SKIN_TEMP 0x80, byte 2 SDK_MODE 0x02 … OFFLINE_HR 0x40 (ble.md §2).
    """
    bitmap = 0
    for t in types:
        bitmap |= 1 << MeasurementType(t)
    return bytes((FEATURE_READ_CODE,)) + bitmap.to_bytes(2, "little")


# ---------------------------------------------------------------------------------------------------
# Data frames


def encode_data_frame(
    measurement_type: MeasurementType,
    timestamp_ns: int,
    frame_type: int,
    data: bytes,
    *,
    compressed: bool = False,
) -> bytes:
    """One data notification: the 10-byte header (PmdDataFrame.kt) followed by ``data``.

    ``timestamp_ns`` (ns since 2000-01-01, :func:`polar_ns`) is the time of the frame's last sample.
    """
    if not 0 <= timestamp_ns <= _U64_MAX:
        raise ValueError(f"timestamp_ns {timestamp_ns} is not a u64")
    if not 0 <= frame_type <= 0x7F:
        raise ValueError(f"frame_type {frame_type} must lie in 0–127 (bit 7 is the compression flag)")
    return _HEADER.pack(
        MeasurementType(measurement_type), timestamp_ns, frame_type | (0x80 if compressed else 0)
    ) + bytes(data)


def _int_array(values: ArrayLike, *, ndim: int, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        raise ValueError(f"{name} must be integers, got {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: a frame holds at least one sample")
    return arr


def _pack_signed(arr: np.ndarray, nbytes: int, *, name: str) -> bytes:
    """Row-major values as ``nbytes``-byte signed little-endian integers."""
    lo, hi = -(1 << (8 * nbytes - 1)), (1 << (8 * nbytes - 1)) - 1
    if arr.min() < lo or arr.max() > hi:
        raise ValueError(f"{name} outside the signed {8 * nbytes}-bit range [{lo}, {hi}]")
    return arr.astype("<i8").reshape(-1, 1).view(np.uint8)[:, :nbytes].tobytes()


def encode_ecg_frame(timestamp_ns: int, microvolts: ArrayLike) -> bytes:
    """ECG frame type 0 (H10): one signed 24-bit LE µV value per sample (EcgData.kt, raw type 0)."""
    arr = _int_array(microvolts, ndim=1, name="microvolts")
    return encode_data_frame(
        MeasurementType.ECG, timestamp_ns, EcgFrameType.S24_MICROVOLTS, _pack_signed(arr, 3, name="µV")
    )


@dataclass(frozen=True, slots=True)
class EcgType1Sample:
    """ECG frame type 1 sample: 14-bit unsigned µV and a status byte (EcgData.dataFromRawType1)."""

    microvolts: int  # 0..16383, not sign-extended by the SDK
    over_sampling: bool = False  # status bit 0
    skin_contact: int = 0  # status bits 1–2
    contact_impedance: int = 0  # status bits 3–4


@dataclass(frozen=True, slots=True)
class EcgType2Sample:
    """ECG frame type 2 sample: 18-bit unsigned µV plus tags (EcgData.dataFromRawType2)."""

    microvolts: int  # 0..262143
    ecg_data_tag: int = 0  # byte 2 bits 2–4
    pace_data_tag: int = 0  # byte 2 bits 5–7


@dataclass(frozen=True, slots=True)
class EcgType3Sample:
    """ECG frame type 3 sample: two signed 24-bit values and a status byte (EcgData.dataFromRawType3)."""

    data0: int
    data1: int
    status: int = 0


def _check_field(name: str, value: int, bits: int) -> int:
    if not 0 <= value < (1 << bits):
        raise ValueError(f"{name} {value} does not fit {bits} unsigned bits")
    return value


def encode_ecg_type1_frame(timestamp_ns: int, samples: Sequence[EcgType1Sample]) -> bytes:
    """ECG frame type 1: per sample ``µV[7:0], µV[13:8], status`` (reserved bits written as 0)."""
    out = bytearray()
    for s in samples:
        uv = _check_field("microvolts", s.microvolts, 14)
        status = (
            int(s.over_sampling)
            | _check_field("skin_contact", s.skin_contact, 2) << 1
            | _check_field("contact_impedance", s.contact_impedance, 2) << 3
        )
        out += bytes((uv & 0xFF, uv >> 8, status))
    return _nonempty_frame(MeasurementType.ECG, timestamp_ns, EcgFrameType.U14_WITH_STATUS, out)


def encode_ecg_type2_frame(timestamp_ns: int, samples: Sequence[EcgType2Sample]) -> bytes:
    """ECG frame type 2: per sample 3 bytes, µV in bits 0–17, ECG tag bits 18–20, pace tag bits 21–23."""
    out = bytearray()
    for s in samples:
        word = (
            _check_field("microvolts", s.microvolts, 18)
            | _check_field("ecg_data_tag", s.ecg_data_tag, 3) << 18
            | _check_field("pace_data_tag", s.pace_data_tag, 3) << 21
        )
        out += word.to_bytes(3, "little")
    return _nonempty_frame(MeasurementType.ECG, timestamp_ns, EcgFrameType.U18_WITH_TAGS, out)


def encode_ecg_type3_frame(timestamp_ns: int, samples: Sequence[EcgType3Sample]) -> bytes:
    """ECG frame type 3: per sample s24 LE, s24 LE, u8 status (ble-vectors.md caveat 6)."""
    out = bytearray()
    for s in samples:
        out += _pack_signed(np.array([s.data0, s.data1]), 3, name="ECG type-3 data")
        out += bytes((_check_field("status", s.status, 8),))
    return _nonempty_frame(MeasurementType.ECG, timestamp_ns, EcgFrameType.S24_S24_U8, out)


def _nonempty_frame(mtype: MeasurementType, timestamp_ns: int, frame_type: int, data: bytes) -> bytes:
    if not data:
        raise ValueError("a frame holds at least one sample")
    return encode_data_frame(mtype, timestamp_ns, frame_type, data)


@dataclass(frozen=True, slots=True)
class PpiSample:
    """One PP interval (PpiData.kt raw type 0). Polar: discard samples with blocker or without contact."""

    hr_bpm: int  # u8
    ppi_ms: int  # u16
    error_estimate_ms: int  # u16
    blocker: bool = False  # flags bit 0: movement made the interval unreliable
    skin_contact: bool = True  # flags bit 1
    skin_contact_supported: bool = True  # flags bit 2


def encode_ppi_frame(timestamp_ns: int, samples: Sequence[PpiSample]) -> bytes:
    """PPI frame type 0: per sample ``hr u8, ppi ms u16, error ms u16, flags u8`` (6 bytes, LE).

    ``timestamp_ns`` is the last interval's end; the SDK back-computes earlier ones by subtracting PP.
    Flag bits 3–7 are reserved and written as 0.
    """
    out = bytearray()
    for s in samples:
        flags = int(s.blocker) | int(s.skin_contact) << 1 | int(s.skin_contact_supported) << 2
        out += struct.pack(
            "<BHHB",
            _check_field("hr_bpm", s.hr_bpm, 8),
            _check_field("ppi_ms", s.ppi_ms, 16),
            _check_field("error_estimate_ms", s.error_estimate_ms, 16),
            flags,
        )
    return _nonempty_frame(MeasurementType.PPI, timestamp_ns, 0, out)


def encode_acc_frame(timestamp_ns: int, xyz_mg: ArrayLike, *, frame_type: AccFrameType = AccFrameType.INT16) -> bytes:
    """ACC raw frame: ``xyz_mg`` shape (n, 3) in mG, as int8/int16/int24 LE per axis for frame type 0/1/2."""
    arr = _int_array(xyz_mg, ndim=2, name="xyz_mg")
    if arr.shape[1] != 3:
        raise ValueError(f"xyz_mg must have shape (n, 3), got {arr.shape}")
    ftype = AccFrameType(frame_type)
    return encode_data_frame(MeasurementType.ACC, timestamp_ns, ftype, _pack_signed(arr, ftype + 1, name="ACC mG"))


def encode_ppg_frame(timestamp_ns: int, samples: ArrayLike) -> bytes:
    """PPG raw frame type 0: ``samples`` shape (n, 4) = 3 PPG channels + ambient, each s24 LE (PpgData.kt)."""
    arr = _int_array(samples, ndim=2, name="PPG samples")
    if arr.shape[1] != 4:
        raise ValueError(f"PPG frame type 0 needs shape (n, 4), got {arr.shape}")
    return encode_data_frame(MeasurementType.PPG, timestamp_ns, 0, _pack_signed(arr, 3, name="PPG"))


# ---------------------------------------------------------------------------------------------------
# Delta compression

_GROUP = 10  # samples per width decision, counted from the reference sample (see module docstring)
_MAX_COUNT = 0xFF


def encode_reference_sample(values: ArrayLike, resolution: int) -> bytes:
    """The reference sample of a delta frame: each channel signed LE in ceil(resolution/8) bytes."""
    _check_resolution(resolution)
    arr = _int_array(values, ndim=1, name="reference sample")
    return _pack_signed(arr, math.ceil(resolution / 8), name="reference sample")


def _check_resolution(resolution: int) -> None:
    # 32-bit streams (float channels) add deltas on IEEE-754 bit patterns; the simulator emits none.
    if not 1 <= resolution <= 24:
        raise ValueError(f"resolution must lie in 1–24 bits, got {resolution}")


def _width(max_abs: int) -> int:
    return int(max_abs).bit_length() + 1


def delta_blocks(deltas: ArrayLike, *, group: int = _GROUP) -> list[tuple[int, int]]:
    """``[(bit width, sample count), …]`` the way Polar's firmware lays out a frame's deltas.

    ``deltas`` has shape (n, channels): row i is sample i+1 minus sample i. Samples are taken in
    groups of ``group`` counted from the reference (so the first group holds ``group − 1`` deltas);
    each group gets ``bit_length(max |delta|) + 1`` bits; neighbouring groups of equal width merge,
    and a block never exceeds 255 samples (the count is a u8).
    """
    arr = np.abs(np.asarray(deltas, dtype=np.int64))
    if arr.ndim != 2:
        raise ValueError(f"deltas must have shape (n, channels), got {arr.shape}")
    blocks: list[tuple[int, int]] = []
    starts = [0, *range(group - 1, arr.shape[0], group)]
    for start, stop in zip(starts, [*starts[1:], arr.shape[0]], strict=True):
        if stop <= start:
            continue
        width, count = _width(arr[start:stop].max()), stop - start
        if blocks and blocks[-1][0] == width and blocks[-1][1] + count <= _MAX_COUNT:
            blocks[-1] = (width, blocks[-1][1] + count)
        elif blocks and blocks[-1][0] == width:
            room = _MAX_COUNT - blocks[-1][1]
            blocks[-1] = (width, _MAX_COUNT)
            blocks.append((width, count - room))
        else:
            blocks.append((width, count))
    return blocks


def _pack_block(deltas: np.ndarray, width: int) -> bytes:
    """Signed values (row-major, channel-interleaved) as ``width``-bit two's complement, LSB first."""
    values = deltas.reshape(-1).astype(np.int64) & ((1 << width) - 1)
    bits = (values[:, None] >> np.arange(width, dtype=np.int64)) & 1
    return np.packbits(bits.astype(np.uint8).reshape(-1), bitorder="little").tobytes()


def encode_delta_frames(
    samples: ArrayLike, resolution: int, *, blocks: Sequence[tuple[int, int]] | None = None
) -> bytes:
    """Delta-compressed frame data (what follows the 10-byte header of a compressed frame).

    ``samples`` shape (n, channels), signed integers within ``resolution`` bits; sample 0 becomes the
    reference sample. ``blocks`` (``[(bit width, count), …]``) overrides the firmware's layout
    (:func:`delta_blocks`), e.g. to reproduce a frame laid out by another encoder; every delta must fit
    its block's width and the counts must add up to n − 1. Padding bits at a block's end are 0.
    """
    _check_resolution(resolution)
    arr = _int_array(samples, ndim=2, name="samples")
    lo, hi = -(1 << (resolution - 1)), (1 << (resolution - 1)) - 1
    if arr.min() < lo or arr.max() > hi:
        raise ValueError(f"samples outside the signed {resolution}-bit range [{lo}, {hi}]")
    deltas = np.diff(arr, axis=0)
    plan = delta_blocks(deltas) if blocks is None else [(int(w), int(c)) for w, c in blocks]
    if sum(c for _, c in plan) != deltas.shape[0]:
        raise ValueError(f"blocks cover {sum(c for _, c in plan)} deltas, the samples need {deltas.shape[0]}")
    out = bytearray(encode_reference_sample(arr[0], resolution))
    start = 0
    for width, count in plan:
        if not 1 <= width <= 32 or not 1 <= count <= _MAX_COUNT:
            raise ValueError(f"block ({width}, {count}) needs a width in 1–32 and a count in 1–255")
        chunk = deltas[start : start + count]
        if chunk.min() < -(1 << (width - 1)) or chunk.max() >= 1 << (width - 1):
            raise ValueError(f"a delta in samples {start + 1}–{start + count} does not fit {width} bits")
        out += bytes((width, count)) + _pack_block(chunk, width)
        start += count
    return bytes(out)


def encode_acc_delta_frame(
    timestamp_ns: int,
    raw: ArrayLike,
    *,
    resolution: int = 16,
    frame_type: int = 0,
    blocks: Sequence[tuple[int, int]] | None = None,
) -> bytes:
    """Compressed ACC frame (frame byte 0x80 | frame_type), ``raw`` shape (n, 3) in sensor units.

    The client turns raw units into mG with the FACTOR setting: ``int(float32(factor) · raw · 1000)``
    (AccData.kt, ble-vectors.md caveat 5); with factor 1.0 raw is mG.
    """
    return encode_data_frame(
        MeasurementType.ACC,
        timestamp_ns,
        frame_type,
        encode_delta_frames(raw, resolution, blocks=blocks),
        compressed=True,
    )


def encode_ppg_delta_frame(
    timestamp_ns: int,
    samples: ArrayLike,
    *,
    resolution: int = 22,
    frame_type: int = 0,
    blocks: Sequence[tuple[int, int]] | None = None,
) -> bytes:
    """Compressed PPG frame (Verity Sense: frame byte 0x80, 22-bit, 3 PPG channels + ambient)."""
    return encode_data_frame(
        MeasurementType.PPG,
        timestamp_ns,
        frame_type,
        encode_delta_frames(samples, resolution, blocks=blocks),
        compressed=True,
    )
