"""Host side of Polar Measurement Data (PMD): control-point requests, responses and data frames.

Sources: ``../shared/research/ble.md`` §2 and ``../shared/data/ble-vectors.md`` (the Polar BLE SDK
@8fb5311, Android ``api/ble/model/gatt/client/pmd/``: ``PmdControlPointResponse.kt``,
``PmdSetting.kt``, ``PmdDataFrame.kt``, ``PmdTimeStampUtils.kt``, ``model/{Ecg,Acc,Ppi,Ppg}Data.kt``).
Written independently of the simulator's encoder (``vagus.sim.pmd_encoder``), which the tests use as
a second opinion.

Control point (``FB005C81-…``): the host writes ``[opcode][type byte][settings TLV]``; the device
answers by indication ``[0xF0][opcode][type byte][status][more][parameters]``; a read returns the
feature bitmap ``[0x0F][bitmap u16 LE]``. Data (``FB005C82-…``), one notification per frame::

    [measurement type u8][timestamp u64 LE, ns since 2000-01-01T00:00:00Z][frame byte][samples]

frame byte bit 7 = delta-compressed, bits 0–6 = frame type. The timestamp is the LAST sample's time.

Decoded frames (``decode_pmd_data``), units in the sample docs:

=========== ====== ========================================================================
measurement frame  samples
=========== ====== ========================================================================
ECG         raw 0  int µV (s24 LE)
ECG         raw 1  :class:`EcgType1Sample` (14-bit unsigned µV + status bits)
ECG         raw 2  :class:`EcgType2Sample` (18-bit unsigned µV + tags)
ECG         raw 3  :class:`EcgType3Sample` (s24, s24, u8)
PPG         raw 0  :class:`PpgSample` (3 PPG channels + ambient, s24 LE)
PPG         comp 0 :class:`PpgSample` (delta frames, 4 channels × 22 bit)
ACC         raw 0–2 ``(x, y, z)`` mG, int8 / int16 / int24 per axis
ACC         comp 0 ``(x, y, z)`` mG = ``int(raw · float32(factor · 1000))`` (delta frames, 3 × 16 bit)
ACC         comp 1 ``(x, y, z)`` mG = raw, or ``int(raw · factor)`` when factor ≠ 1
PPI         raw 0  :class:`PpiSample`
=========== ====== ========================================================================

Strictness policy (each case has a test in ``tests/test_pmd_decoder.py``):

* Fewer than the 10 header bytes, or no whole sample after the header: rejected (``truncated``).
* A measurement type or frame type this module does not decode (frame type 0x7F, GYRO, …):
  rejected (``unsupported``), never guessed at — the Polar SDK raises too.
* Bytes after the last whole sample of a raw frame: the whole samples are kept, the rest ignored and
  reported in ``warnings`` (as the HRS decoder does with an odd RR byte).
* Delta frames: a block header or block cut short is rejected (``truncated``); a bit width outside
  1–32 is rejected (``malformed``: 32-bit samples are the widest the SDK defines); a block of zero
  samples adds nothing and is accepted. Deltas add with int32 wraparound, as the SDK's ``Int`` does.
* Control-point responses: fewer than 4 bytes or a first byte other than 0xF0 are rejected; an
  unknown opcode or status is kept as its number; a missing ``more`` byte reads as ``False``.
  Parameters of a settings response that are not a valid settings TLV are kept as bytes with
  ``settings=None`` and a warning (the SDK's own test sends ``ff ff ff``).
* Settings TLV: an unknown setting type, a zero count, a repeated setting or a value cut short is
  rejected (``malformed``/``truncated``): without the type its field size is unknown.
* Timestamps: the frame timestamp is returned as sent. Per-sample times follow
  ``PmdTimeStampUtils`` and need state (the previous frame's timestamp) or the sample rate; without
  either they are ``None``. PPI samples are back-timed by their own intervals (stateless).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np

from vagus.errors import PayloadError, PayloadProblem

__all__ = [
    "CP_RESPONSE_CODE",
    "FEATURES_CODE",
    "PMD_CONTROL_POINT_UUID",
    "PMD_DATA_UUID",
    "PMD_EPOCH_UNIX_NS",
    "PMD_SERVICE_UUID",
    "ControlPointOpcode",
    "ControlPointStatus",
    "EcgType1Sample",
    "EcgType2Sample",
    "EcgType3Sample",
    "MeasurementType",
    "PmdControlPointRequest",
    "PmdControlPointResponse",
    "PmdDataDecoder",
    "PmdDataFrame",
    "PmdFeatures",
    "PmdFrameHeader",
    "PmdMeasurementStopped",
    "PpgSample",
    "PpiSample",
    "SettingType",
    "decode_cp_indication",
    "decode_cp_request",
    "decode_cp_response",
    "decode_delta_frames",
    "decode_features",
    "decode_pmd_data",
    "decode_pmd_header",
    "decode_settings",
    "delta_block_layout",
    "encode_get_settings_request",
    "encode_settings",
    "encode_start_request",
    "encode_stop_request",
    "pmd_to_unix_ns",
    "sample_timestamps_ns",
]

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

CP_RESPONSE_CODE = 0xF0
FEATURES_CODE = 0x0F
MEASUREMENT_STOPPED_CODE = 0x01  # device → host indication, ONLINE_MEASUREMENT_STOPPED
# 2000-01-01T00:00:00Z in Unix ns (Polar documentation/TimeSystemExplained.md).
PMD_EPOCH_UNIX_NS = 946_684_800 * 1_000_000_000
_HEADER_LEN = 10


class MeasurementType(IntEnum):
    """Measurement type ids (``PmdMeasurementType.kt``; low 6 bits of a control-point type byte)."""

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


class ControlPointOpcode(IntEnum):
    """Host → device control-point commands (``PmdControlPointCommand.kt``)."""

    GET_MEASUREMENT_SETTINGS = 0x01
    REQUEST_MEASUREMENT_START = 0x02
    STOP_MEASUREMENT = 0x03
    GET_SDK_MODE_MEASUREMENT_SETTINGS = 0x04
    GET_MEASUREMENT_STATUS = 0x05
    GET_SDK_MODE_STATUS = 0x06
    GET_OFFLINE_RECORDING_TRIGGER_STATUS = 0x07
    SET_OFFLINE_RECORDING_TRIGGER_MODE = 0x08
    SET_OFFLINE_RECORDING_TRIGGER_SETTINGS = 0x09


class ControlPointStatus(IntEnum):
    """Status byte of a control-point response (``PmdControlPointResponse.kt``)."""

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
    """Setting ids of the settings TLV (``PmdSetting.kt``)."""

    SAMPLE_RATE = 0  # Hz
    RESOLUTION = 1  # bits
    RANGE = 2  # ±g (ACC), deg/s (GYRO), …
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5  # float32 scale from raw units
    SECURITY = 6


# Field size (bytes) of one value of each setting (PmdSetting.mapTypeToFieldSize).
_SETTING_SIZE = {
    SettingType.SAMPLE_RATE: 2,
    SettingType.RESOLUTION: 2,
    SettingType.RANGE: 2,
    SettingType.RANGE_MILLIUNIT: 4,
    SettingType.CHANNELS: 1,
    SettingType.FACTOR: 4,
    SettingType.SECURITY: 16,
}


def _name(enum: type[IntEnum], value: int) -> str | None:
    try:
        return enum(value).name
    except ValueError:
        return None


def pmd_to_unix_ns(timestamp_ns: int) -> int:
    """A PMD timestamp (ns since 2000-01-01T00:00:00Z) as Unix ns."""
    return timestamp_ns + PMD_EPOCH_UNIX_NS


# ----------------------------------------------------------------------------------- settings TLV


def encode_settings(settings: Mapping[SettingType, int | float | Sequence[int | float]]) -> bytes:
    """Settings TLV, in mapping order: per setting ``[type][count][count × value LE]``.

    A bare number means one value. Integers are written in the setting's field size, accepting the
    unsigned and the two's-complement signed range; FACTOR is float32. Raises ValueError.
    """
    out = bytearray()
    for key, raw in settings.items():
        stype = SettingType(key)
        values = (raw,) if isinstance(raw, int | float) else tuple(raw)
        if not 1 <= len(values) <= 0xFF:
            raise ValueError(f"setting {stype.name} takes 1–255 values, got {len(values)}")
        size = _SETTING_SIZE[stype]
        out += bytes((stype, len(values)))
        for value in values:
            if stype is SettingType.FACTOR:
                out += struct.pack("<f", value)
            elif isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"setting {stype.name} needs integers, got {value!r}")
            elif not -(1 << (8 * size - 1)) <= value < 1 << (8 * size):
                raise ValueError(f"setting {stype.name} value {value} does not fit {size} byte(s)")
            else:
                out += (value % (1 << (8 * size))).to_bytes(size, "little")
    return bytes(out)


def decode_settings(data: bytes) -> dict[SettingType, tuple[int | float, ...]]:
    """Parse a settings TLV (the parameters of a settings response, or a start request's tail).

    RANGE_MILLIUNIT is read signed (the SDK's test reads ``ff ff ff ff`` as -1), FACTOR as float32,
    the others unsigned. Raises ``PayloadError`` on an unknown type, a zero count, a repeat or a cut.
    """
    out: dict[SettingType, tuple[int | float, ...]] = {}
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise PayloadError(PayloadProblem.TRUNCATED, f"settings TLV: a type/count header cut at byte {pos}")
        code, count = data[pos], data[pos + 1]
        try:
            stype = SettingType(code)
        except ValueError:
            raise PayloadError(PayloadProblem.MALFORMED, f"settings TLV: unknown setting type {code}") from None
        if count == 0:
            raise PayloadError(PayloadProblem.MALFORMED, f"settings TLV: {stype.name} with a count of 0")
        if stype in out:
            raise PayloadError(PayloadProblem.MALFORMED, f"settings TLV: {stype.name} given twice")
        size = _SETTING_SIZE[stype]
        pos += 2
        end = pos + count * size
        if end > len(data):
            raise PayloadError(
                PayloadProblem.TRUNCATED, f"settings TLV: {stype.name} needs {count}×{size} bytes at byte {pos}"
            )
        values: list[int | float] = []
        for start in range(pos, end, size):
            chunk = data[start : start + size]
            if stype is SettingType.FACTOR:
                values.append(struct.unpack("<f", chunk)[0])
            else:
                values.append(int.from_bytes(chunk, "little", signed=stype is SettingType.RANGE_MILLIUNIT))
        out[stype] = tuple(values)
        pos = end
    return out


# ---------------------------------------------------------------------------- control point: host → device


def _type_byte(measurement_type: int, offline: bool) -> int:
    return MeasurementType(measurement_type) | (0x80 if offline else 0)


def encode_start_request(
    measurement_type: MeasurementType | int,
    settings: Mapping[SettingType, int | float | Sequence[int | float]] | None = None,
    *,
    offline: bool = False,
) -> bytes:
    """REQUEST_MEASUREMENT_START: ``02 <type> <settings TLV>`` (PPI takes no settings: ``02 03``).

    Example: H10 ECG at 130 Hz, 14 bit → ``02 00 00 01 82 00 01 01 0e 00`` (ble.md §2).
    """
    tail = encode_settings(settings) if settings else b""
    return bytes((ControlPointOpcode.REQUEST_MEASUREMENT_START, _type_byte(measurement_type, offline))) + tail


def encode_stop_request(measurement_type: MeasurementType | int, *, offline: bool = False) -> bytes:
    """STOP_MEASUREMENT: ``03 <type>``."""
    return bytes((ControlPointOpcode.STOP_MEASUREMENT, _type_byte(measurement_type, offline)))


def encode_get_settings_request(measurement_type: MeasurementType | int, *, offline: bool = False) -> bytes:
    """GET_MEASUREMENT_SETTINGS: ``01 <type>``; the device answers with the settings it offers."""
    return bytes((ControlPointOpcode.GET_MEASUREMENT_SETTINGS, _type_byte(measurement_type, offline)))


@dataclass(frozen=True, slots=True)
class PmdControlPointRequest:
    """A control-point write, decoded (for reading captures of what a host sent).

    ``measurement_type`` is the low 6 bits of the type byte (None for opcodes without one);
    ``settings`` the start request's TLV; ``parameters`` the bytes after the type byte.
    """

    op_code: int
    measurement_type: int | None
    offline: bool = False
    settings: Mapping[SettingType, tuple[int | float, ...]] = field(default_factory=dict)
    parameters: bytes = b""

    @property
    def op_code_name(self) -> str | None:
        return _name(ControlPointOpcode, self.op_code)


_NO_TYPE_OPCODES = frozenset({ControlPointOpcode.GET_MEASUREMENT_STATUS, ControlPointOpcode.GET_SDK_MODE_STATUS})


def decode_cp_request(data: bytes) -> PmdControlPointRequest:
    """Decode a control-point write ``[opcode][type byte][parameters]``; ``PayloadError`` if malformed."""
    data = bytes(data)
    if not data:
        raise PayloadError(PayloadProblem.EMPTY, "no bytes")
    op = data[0]
    if _name(ControlPointOpcode, op) is None:
        raise PayloadError(PayloadProblem.UNSUPPORTED, f"unknown control-point opcode 0x{op:02x}")
    if op in _NO_TYPE_OPCODES or op >= ControlPointOpcode.GET_OFFLINE_RECORDING_TRIGGER_STATUS:
        return PmdControlPointRequest(op, None, parameters=data[1:])
    if len(data) < 2:
        raise PayloadError(PayloadProblem.TRUNCATED, f"opcode 0x{op:02x} needs a measurement type byte")
    params = data[2:]
    settings = decode_settings(params) if op == ControlPointOpcode.REQUEST_MEASUREMENT_START else {}
    return PmdControlPointRequest(op, data[1] & 0x3F, bool(data[1] & 0x80), settings, params)


# ---------------------------------------------------------------------------- control point: device → host


@dataclass(frozen=True, slots=True)
class PmdControlPointResponse:
    """A control-point response ``[0xF0][opcode][type byte][status][more][parameters]``.

    ``settings`` is the parsed TLV of a successful settings response (None otherwise, or when the
    parameters are not a valid TLV — then ``warnings`` says so and ``parameters`` keeps the bytes).
    """

    op_code: int
    measurement_type: int
    offline: bool
    status: int
    more: bool
    parameters: bytes
    settings: Mapping[SettingType, tuple[int | float, ...]] | None = None
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == ControlPointStatus.SUCCESS

    @property
    def op_code_name(self) -> str | None:
        return _name(ControlPointOpcode, self.op_code)

    @property
    def status_name(self) -> str | None:
        return _name(ControlPointStatus, self.status)


_SETTINGS_OPCODES = frozenset(
    {ControlPointOpcode.GET_MEASUREMENT_SETTINGS, ControlPointOpcode.GET_SDK_MODE_MEASUREMENT_SETTINGS}
)


def decode_cp_response(data: bytes) -> PmdControlPointResponse:
    """Decode a control-point response indication; ``PayloadError`` if it is not one."""
    data = bytes(data)
    if not data:
        raise PayloadError(PayloadProblem.EMPTY, "no bytes")
    if data[0] != CP_RESPONSE_CODE:
        raise PayloadError(PayloadProblem.MALFORMED, f"a response starts with 0xf0, not 0x{data[0]:02x}")
    if len(data) < 4:
        raise PayloadError(PayloadProblem.TRUNCATED, f"a response has at least 4 bytes, got {len(data)}")
    op, type_byte, status = data[1], data[2], data[3]
    more = len(data) > 4 and data[4] != 0
    params = data[5:]
    warnings: list[str] = []
    if len(data) == 4:
        warnings.append("no 'more' byte; read as False")
    settings = None
    if op in _SETTINGS_OPCODES and status == ControlPointStatus.SUCCESS and params:
        try:
            settings = decode_settings(params)
        except PayloadError as exc:
            warnings.append(f"parameters are not a settings TLV ({exc}); kept as bytes")
    return PmdControlPointResponse(
        op, type_byte & 0x3F, bool(type_byte & 0x80), status, more, params, settings, tuple(warnings)
    )


@dataclass(frozen=True, slots=True)
class PmdMeasurementStopped:
    """The device stopped streaming on its own (``01 <types…>``, e.g. the strap was taken off)."""

    measurement_types: tuple[int, ...]


def decode_cp_indication(data: bytes) -> PmdControlPointResponse | PmdMeasurementStopped:
    """Any control-point indication: a response (0xF0) or ONLINE_MEASUREMENT_STOPPED (0x01)."""
    data = bytes(data)
    if data[:1] == bytes((MEASUREMENT_STOPPED_CODE,)):
        return PmdMeasurementStopped(tuple(b & 0x3F for b in data[1:]))
    return decode_cp_response(data)


@dataclass(frozen=True, slots=True)
class PmdFeatures:
    """The control-point read: which measurement types the device can stream."""

    measurement_types: frozenset[int]
    warnings: tuple[str, ...] = ()

    def supports(self, measurement_type: MeasurementType | int) -> bool:
        return int(measurement_type) in self.measurement_types


def decode_features(data: bytes) -> PmdFeatures:
    """``[0x0F][bitmap u16 LE]``: bit n set = measurement type n supported (ble.md §2)."""
    data = bytes(data)
    if not data:
        raise PayloadError(PayloadProblem.EMPTY, "no bytes")
    if data[0] != FEATURES_CODE:
        raise PayloadError(PayloadProblem.MALFORMED, f"a feature read starts with 0x0f, not 0x{data[0]:02x}")
    if len(data) < 2:
        raise PayloadError(PayloadProblem.TRUNCATED, "a feature read needs at least one bitmap byte")
    bitmap = int.from_bytes(data[1:3], "little")
    warnings = (f"{len(data) - 3} byte(s) after the bitmap ignored",) if len(data) > 3 else ()
    return PmdFeatures(frozenset(i for i in range(16) if bitmap >> i & 1), warnings)


# ------------------------------------------------------------------------------------------ data frames


@dataclass(frozen=True, slots=True)
class PmdFrameHeader:
    """The 10-byte header of a data notification, and the bytes after it."""

    measurement_type: int
    timestamp_ns: int  # ns since 2000-01-01T00:00:00Z, the frame's last sample
    frame_type: int  # bits 0–6 of the frame byte
    compressed: bool  # bit 7 of the frame byte
    data: bytes

    @property
    def unix_timestamp_ns(self) -> int:
        return pmd_to_unix_ns(self.timestamp_ns)


def decode_pmd_header(data: bytes) -> PmdFrameHeader:
    """Split a data notification into header fields and sample bytes (no sample decoding)."""
    data = bytes(data)
    if not data:
        raise PayloadError(PayloadProblem.EMPTY, "no bytes")
    if len(data) < _HEADER_LEN:
        raise PayloadError(PayloadProblem.TRUNCATED, f"a PMD data frame has a 10-byte header; got {len(data)} bytes")
    frame_byte = data[9]
    return PmdFrameHeader(
        measurement_type=data[0],
        timestamp_ns=int.from_bytes(data[1:9], "little"),
        frame_type=frame_byte & 0x7F,
        compressed=bool(frame_byte & 0x80),
        data=data[_HEADER_LEN:],
    )


@dataclass(frozen=True, slots=True)
class EcgType1Sample:
    """ECG frame type 1: 14-bit unsigned µV (not sign-extended, as ``EcgData.kt``) and status bits."""

    microvolts: int
    over_sampling: bool  # status bit 0
    skin_contact: int  # status bits 1–2
    contact_impedance: int  # status bits 3–4


@dataclass(frozen=True, slots=True)
class EcgType2Sample:
    """ECG frame type 2: 18-bit unsigned µV and two 3-bit tags."""

    microvolts: int
    ecg_data_tag: int  # bits 18–20
    pace_data_tag: int  # bits 21–23


@dataclass(frozen=True, slots=True)
class EcgType3Sample:
    """ECG frame type 3: two signed 24-bit values and a status byte (ble-vectors.md caveat 6)."""

    data0: int
    data1: int
    status: int


@dataclass(frozen=True, slots=True)
class PpgSample:
    """A PPG sample: three photodiode channels and the ambient-light channel, raw sensor counts."""

    ppg: tuple[int, int, int]
    ambient: int


@dataclass(frozen=True, slots=True)
class PpiSample:
    """One pulse-to-pulse interval (``PpiData.kt`` type 0).

    Polar's guidance: discard samples with ``blocker`` set or without skin contact.
    """

    hr_bpm: int
    pp_ms: int
    pp_error_estimate_ms: int
    blocker: bool  # flags bit 0: movement made the interval unreliable
    skin_contact: bool  # flags bit 1
    skin_contact_supported: bool  # flags bit 2

    @property
    def contact(self) -> bool | None:
        """Skin contact, or None when the sensor does not report it."""
        return self.skin_contact if self.skin_contact_supported else None


@dataclass(frozen=True, slots=True)
class PmdDataFrame:
    """One decoded data notification.

    ``samples`` depend on the measurement (see the module table). ``sample_timestamps_ns`` are ns
    since 2000-01-01 (None when they cannot be known without state, see :func:`sample_timestamps_ns`).
    """

    measurement_type: int
    timestamp_ns: int
    frame_type: int
    compressed: bool
    samples: tuple[Any, ...]
    sample_timestamps_ns: tuple[int, ...] | None = None
    warnings: tuple[str, ...] = ()

    @property
    def unix_timestamp_ns(self) -> int:
        """The last sample's time in Unix ns."""
        return pmd_to_unix_ns(self.timestamp_ns)

    @property
    def measurement_name(self) -> str | None:
        return _name(MeasurementType, self.measurement_type)


def sample_timestamps_ns(
    frame_timestamp_ns: int, n: int, *, previous_timestamp_ns: int = 0, sample_rate_hz: float = 0.0
) -> tuple[int, ...] | None:
    """Per-sample times of a frame whose last sample is at ``frame_timestamp_ns`` (``PmdTimeStampUtils``).

    With a usable previous frame timestamp (non-zero and earlier) the ``n`` samples are spread
    evenly after it; otherwise, with a sample rate, they are spaced at 1/rate before the frame
    timestamp; otherwise None. Intermediate values are rounded half to even from float64, as the SDK.
    """
    if n <= 0:
        return None
    if 0 < previous_timestamp_ns < frame_timestamp_ns:
        delta = (frame_timestamp_ns - previous_timestamp_ns) / n
        start = previous_timestamp_ns + delta
    elif sample_rate_hz > 0 and math.isfinite(sample_rate_hz):
        delta = 1e9 / sample_rate_hz
        start = frame_timestamp_ns - delta * (n - 1)
        if start <= 0:
            return None
    else:
        return None
    return (*(round(start + delta * i) for i in range(n - 1)), frame_timestamp_ns)


def _ppi_timestamps(frame_timestamp_ns: int, samples: Sequence[PpiSample]) -> tuple[int, ...] | None:
    # PpiData: the frame time is the last interval's end; each earlier one ends one following PP before.
    if frame_timestamp_ns == 0:  # PPI frames may carry 0 (TimeSystemExplained.md): time unknown
        return None
    stamps = [frame_timestamp_ns]
    for s in reversed(samples[1:]):
        stamps.append(stamps[-1] - s.pp_ms * 1_000_000)
    if stamps[-1] < 0:
        return None
    return tuple(reversed(stamps))


# Sample bytes per frame type for raw frames.
_RAW_SIZE = {
    (MeasurementType.ECG, 0): 3,
    (MeasurementType.ECG, 1): 3,
    (MeasurementType.ECG, 2): 3,
    (MeasurementType.ECG, 3): 7,
    (MeasurementType.PPG, 0): 12,
    (MeasurementType.ACC, 0): 3,
    (MeasurementType.ACC, 1): 6,
    (MeasurementType.ACC, 2): 9,
    (MeasurementType.PPI, 0): 6,
}
# (channels, resolution bits) of compressed frames (AccData.kt, PpgData.kt).
_DELTA_LAYOUT = {
    (MeasurementType.PPG, 0): (4, 22),
    (MeasurementType.ACC, 0): (3, 16),
    (MeasurementType.ACC, 1): (3, 16),
}


def _s24(b: bytes, i: int) -> int:
    v = b[i] | b[i + 1] << 8 | b[i + 2] << 16
    return v - (1 << 24) if v & 0x800000 else v


def _raw_samples(mtype: int, ftype: int, chunk: bytes, size: int) -> list[Any]:  # noqa: PLR0911 (one per layout)
    offsets = range(0, len(chunk), size)
    if mtype == MeasurementType.ECG:
        if ftype == 0:
            return [_s24(chunk, i) for i in offsets]
        if ftype == 1:
            return [
                EcgType1Sample(
                    chunk[i] | (chunk[i + 1] & 0x3F) << 8,
                    bool(chunk[i + 2] & 0x01),
                    (chunk[i + 2] & 0x06) >> 1,
                    (chunk[i + 2] & 0x18) >> 3,
                )
                for i in offsets
            ]
        if ftype == 2:
            return [
                EcgType2Sample(
                    chunk[i] | chunk[i + 1] << 8 | (chunk[i + 2] & 0x03) << 16,
                    (chunk[i + 2] & 0x1C) >> 2,
                    (chunk[i + 2] & 0xE0) >> 5,
                )
                for i in offsets
            ]
        return [EcgType3Sample(_s24(chunk, i), _s24(chunk, i + 3), chunk[i + 6]) for i in offsets]
    if mtype == MeasurementType.PPG:
        return [
            PpgSample((_s24(chunk, i), _s24(chunk, i + 3), _s24(chunk, i + 6)), _s24(chunk, i + 9)) for i in offsets
        ]
    if mtype == MeasurementType.ACC:
        w = ftype + 1
        return [
            tuple(int.from_bytes(chunk[j : j + w], "little", signed=True) for j in (i, i + w, i + 2 * w))
            for i in offsets
        ]
    return [
        PpiSample(
            chunk[i],
            chunk[i + 1] | chunk[i + 2] << 8,
            chunk[i + 3] | chunk[i + 4] << 8,
            bool(chunk[i + 5] & 0x01),
            bool(chunk[i + 5] & 0x02),
            bool(chunk[i + 5] & 0x04),
        )
        for i in offsets
    ]


def decode_delta_frames(data: bytes, channels: int, resolution: int) -> tuple[tuple[int, ...], ...]:
    """Decompress PMD delta frames: the samples (reference first), each a tuple of ``channels`` ints.

    Layout (ble-vectors.md caveat 5): a reference sample of ``channels`` signed LE values of
    ceil(resolution/8) bytes each, then blocks ``[bit width u8][count u8][deltas]``: count ×
    channels signed ``width``-bit deltas, channel-interleaved, packed LSB first and padded to a
    whole byte; each sample is the previous plus its delta (int32 wraparound, as the SDK's ``Int``;
    for 32-bit float streams these are IEEE-754 bit patterns). Raises ``PayloadError``.
    """
    if channels < 1 or not 1 <= resolution <= 32:
        raise ValueError(f"channels must be ≥ 1 and resolution 1–32 bits, got {channels}, {resolution}")
    data = bytes(data)
    ref_size = (resolution + 7) // 8
    pos = channels * ref_size
    if len(data) < pos:
        raise PayloadError(
            PayloadProblem.TRUNCATED, f"the reference sample needs {pos} bytes ({channels}×{ref_size}); got {len(data)}"
        )
    prev = [int.from_bytes(data[i : i + ref_size], "little", signed=True) for i in range(0, pos, ref_size)]
    samples: list[tuple[int, ...]] = [tuple(prev)]
    while pos < len(data):
        if pos + 2 > len(data):
            raise PayloadError(PayloadProblem.TRUNCATED, f"a delta block header is cut at byte {pos}")
        width, count = data[pos], data[pos + 1]
        if not 1 <= width <= 32:
            raise PayloadError(PayloadProblem.MALFORMED, f"delta block at byte {pos}: bit width {width} (1–32 allowed)")
        pos += 2
        nbytes = (width * count * channels + 7) // 8
        if pos + nbytes > len(data):
            raise PayloadError(
                PayloadProblem.TRUNCATED,
                f"delta block at byte {pos - 2} needs {nbytes} bytes ({count}×{channels} × {width} bit); "
                f"{len(data) - pos} left",
            )
        bits = int.from_bytes(data[pos : pos + nbytes], "little")
        mask, sign, span = (1 << width) - 1, 1 << (width - 1), 1 << width
        shift = 0
        for _ in range(count):
            for c in range(channels):
                delta = (bits >> shift) & mask
                shift += width
                if delta & sign:
                    delta -= span
                value = prev[c] + delta
                prev[c] = ((value + 0x8000_0000) & 0xFFFF_FFFF) - 0x8000_0000
            samples.append(tuple(prev))
        pos += nbytes
    return tuple(samples)


def delta_block_layout(data: bytes, channels: int, resolution: int) -> tuple[tuple[int, int], ...]:
    """``((bit width, sample count), …)`` of the blocks of delta-frame data, for inspecting captures.

    Walks the block headers only; raises ``PayloadError`` where :func:`decode_delta_frames` would.
    """
    decode_delta_frames(data, channels, resolution)  # validates the whole layout
    blocks = []
    pos = channels * ((resolution + 7) // 8)
    while pos < len(data):
        width, count = data[pos], data[pos + 1]
        blocks.append((width, count))
        pos += 2 + (width * count * channels + 7) // 8
    return tuple(blocks)


def _f32(x: float) -> np.float32:
    return np.float32(x)


def _scale_acc(samples: tuple[tuple[int, ...], ...], frame_type: int, factor: float) -> tuple[tuple[int, ...], ...]:
    # AccData.kt: type 0 arrives in g: mG = int(raw * (factor * 1000f)) in float32; type 1 is mG
    # already unless the factor says otherwise.
    if frame_type == 1 and _f32(factor) == _f32(1.0):
        return samples
    arr = np.asarray(samples, dtype=np.float32)
    scale = _f32(factor) * _f32(1000.0) if frame_type == 0 else _f32(factor)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = arr * scale
    if not np.all(np.isfinite(scaled)) or np.any(np.abs(scaled) >= 2.0**63):
        raise ValueError(f"factor {factor} scales ACC samples beyond an integer")
    return tuple(tuple(int(v) for v in row) for row in scaled.astype(np.int64).tolist())


def decode_pmd_data(
    data: bytes, *, previous_timestamp_ns: int = 0, sample_rate_hz: float = 0.0, factor: float = 1.0
) -> PmdDataFrame:
    """Decode a PMD data notification; raise ``PayloadError`` if it is malformed or unsupported.

    ``previous_timestamp_ns`` (the previous frame's timestamp of the same stream) or
    ``sample_rate_hz`` let per-sample times be computed; ``factor`` is the stream's FACTOR setting
    (ACC compressed frames). :class:`PmdDataDecoder` keeps that state per stream.
    """
    if not (math.isfinite(factor) and factor != 0):
        raise ValueError(f"factor must be a finite non-zero number, got {factor}")
    h = decode_pmd_header(data)
    key = (h.measurement_type, h.frame_type)
    mname = _name(MeasurementType, h.measurement_type) or f"type {h.measurement_type}"
    kind = "compressed" if h.compressed else "raw"
    layouts = _DELTA_LAYOUT if h.compressed else _RAW_SIZE
    if key not in layouts:
        raise PayloadError(PayloadProblem.UNSUPPORTED, f"{mname} {kind} frame type {h.frame_type} is not decoded")
    warnings: list[str] = []
    samples: tuple[Any, ...]
    if h.compressed:
        channels, resolution = _DELTA_LAYOUT[key]
        raw = decode_delta_frames(h.data, channels, resolution)
        if h.measurement_type == MeasurementType.ACC:
            samples = _scale_acc(raw, h.frame_type, factor)
        else:
            samples = tuple(PpgSample((s[0], s[1], s[2]), s[3]) for s in raw)
    else:
        size = _RAW_SIZE[key]
        whole = len(h.data) - len(h.data) % size
        if whole == 0:
            raise PayloadError(
                PayloadProblem.TRUNCATED,
                f"{mname} {kind} frame type {h.frame_type}: {len(h.data)} data bytes, a sample needs {size}",
            )
        if whole < len(h.data):
            warnings.append(f"{len(h.data) - whole} byte(s) after the last whole {size}-byte sample ignored")
        samples = tuple(_raw_samples(h.measurement_type, h.frame_type, h.data[:whole], size))
    if h.measurement_type == MeasurementType.PPI:
        stamps = _ppi_timestamps(h.timestamp_ns, samples)
    else:
        stamps = sample_timestamps_ns(
            h.timestamp_ns, len(samples), previous_timestamp_ns=previous_timestamp_ns, sample_rate_hz=sample_rate_hz
        )
    return PmdDataFrame(
        measurement_type=h.measurement_type,
        timestamp_ns=h.timestamp_ns,
        frame_type=h.frame_type,
        compressed=h.compressed,
        samples=samples,
        sample_timestamps_ns=stamps,
        warnings=tuple(warnings),
    )


class PmdDataDecoder:
    """Decodes a device's data notifications, keeping per-stream state for sample timestamps.

    Call :meth:`configure` with a stream's sample rate and FACTOR (from its start request / settings
    response) before it starts; :meth:`reset` on disconnect, so timestamps do not bridge the gap.
    """

    def __init__(self) -> None:
        self._previous: dict[int, int] = {}
        self._rate: dict[int, float] = {}
        self._factor: dict[int, float] = {}

    def configure(
        self, measurement_type: MeasurementType | int, *, sample_rate_hz: float = 0.0, factor: float = 1.0
    ) -> None:
        """Set a stream's nominal sample rate (Hz, 0 = unknown) and FACTOR setting."""
        mtype = int(measurement_type)
        self._rate[mtype] = float(sample_rate_hz)
        self._factor[mtype] = float(factor)
        self._previous.pop(mtype, None)

    def reset(self) -> None:
        """Forget previous frame timestamps (after a disconnect or a stream restart)."""
        self._previous.clear()

    def decode(self, data: bytes) -> PmdDataFrame:
        """Decode one data notification; a rejected frame leaves the stream state unchanged."""
        mtype = data[0] if data else -1
        frame = decode_pmd_data(
            data,
            previous_timestamp_ns=self._previous.get(mtype, 0),
            sample_rate_hz=self._rate.get(mtype, 0.0),
            factor=self._factor.get(mtype, 1.0),
        )
        if frame.timestamp_ns:
            self._previous[mtype] = frame.timestamp_ns
        return frame
