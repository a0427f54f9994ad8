"""Host side of the Colmi R02-family ring protocol (QRing app): 16-byte packets over a UART-like service.

Every packet is ``[command][14 payload bytes][checksum]`` with ``checksum = sum(bytes[0:15]) & 0xFF``
(tahnok/colmi_r02_client ``packet.py``: its docstring says "modulus 255", the code masks with 255;
ble-vectors.md caveat 9). Replies echo the command; a first byte ≥ 127 marks an error reply.
Sources: ``../shared/research/ble.md`` §3 (colmi_r02_client @9e08383 ``real_time.py``, ``battery.py``,
``hr.py``, ``hr_settings.py``, ``steps.py``, ``set_time.py``; Gadgetbridge ``ColmiR0xConstants``).
Written independently of the simulator's ``vagus.sim.colmi_encoder``, which the tests use as oracle.

Ring → host (:func:`decode_colmi`), per command:

====== ==================================================================================
0x01   set-time reply: a 14-byte capability block (:class:`ColmiSetTimeResponse`)
0x03   battery ``<level %> <charging>`` (:class:`ColmiBattery`)
0x15   heart-rate log, multi-packet (:class:`ColmiHrLogPacket`; :class:`ColmiReassembler` joins them)
0x16   heart-rate log settings ``<sub> <enabled 1|2> <interval min>`` (:class:`ColmiHrLogSettings`)
0x43   sport detail, multi-packet (:class:`ColmiSportPacket`)
0x69   real-time reading ``<kind> <error> <value>`` (:class:`ColmiRealTimeReading`)
≥ 0x7F error reply (:class:`ColmiError`)
====== ==================================================================================

Strictness policy (each case has a test in ``tests/test_colmi_decoder.py``):

* Not exactly 16 bytes: rejected (``truncated`` if shorter, ``malformed`` if longer; the variable
  length 0xBC "big data" packets travel on the other service and are not decoded here).
* A checksum mismatch: rejected (``bad_checksum``) — the ring's only integrity check.
* An error reply (first byte ≥ 127) with a good checksum is a valid message, not a reject.
* A command this module does not know decodes to :class:`ColmiUnknown` (payload kept).
* Fields that break the layout: a BCD digit above 9, an impossible date, a log interval of 0,
  an enabled byte other than 1/2, a battery level above 100: rejected (``malformed``).
* A real-time reading with a non-zero error code (ring not worn) or value 0 (still measuring)
  is decoded as sent; ``ok`` says whether it is a usable value.
* Multi-packet replies (:class:`ColmiReassembler`): a packet out of order, a data packet
  without its header or past the announced count: rejected (``out_of_sequence``) and the partial
  reply dropped. A new header restarts the reply (the dropped partial is counted in ``dropped``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import IntEnum
from typing import Any

from vagus.errors import PayloadError, PayloadProblem

__all__ = [
    "PACKET_LEN",
    "UART_RX_UUID",
    "UART_SERVICE_UUID",
    "UART_TX_UUID",
    "ColmiBattery",
    "ColmiCommand",
    "ColmiError",
    "ColmiHrLog",
    "ColmiHrLogPacket",
    "ColmiHrLogSettings",
    "ColmiMessage",
    "ColmiNoData",
    "ColmiNotification",
    "ColmiRealTimeReading",
    "ColmiReassembler",
    "ColmiRequest",
    "ColmiSetTimeRequest",
    "ColmiSetTimeResponse",
    "ColmiSportDetails",
    "ColmiSportPacket",
    "ColmiSportRecord",
    "ColmiUnknown",
    "RealTimeKind",
    "battery_request",
    "colmi_checksum",
    "decode_colmi",
    "decode_colmi_request",
    "hr_log_request",
    "make_packet",
    "real_time_start_request",
    "real_time_stop_request",
    "set_time_request",
    "split_packets",
    "verify_packet",
]

UART_SERVICE_UUID = "6e40fff0-b5a3-f393-e0a9-e50e24dcca9e"
UART_RX_UUID = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"  # host → ring, write without response
UART_TX_UUID = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"  # ring → host, notify

PACKET_LEN = 16
_PAYLOAD_LEN = 14
_ERROR_FROM = 127  # colmi_r02_client _handle_tx asserts packet_type < 127
_NO_DATA = 0xFF
_SPORT_HEADER = 0xF0
_MINUTES_PER_DAY = 1440
_HR_FIRST = 9  # readings in HR-log packet 1 (after its u32 timestamp)
_HR_NEXT = 13  # readings in HR-log packets 2…


class ColmiCommand(IntEnum):
    """Command bytes (Gadgetbridge ``ColmiR0xConstants``; 0x6A from colmi_r02_client)."""

    SET_TIME = 0x01
    BATTERY = 0x03
    HR_LOG = 0x15
    HR_LOG_SETTINGS = 0x16
    SPORT_DETAIL = 0x43
    REAL_TIME = 0x69
    REAL_TIME_STOP = 0x6A
    NOTIFICATION = 0x73


class RealTimeKind(IntEnum):
    """Real-time reading types (colmi_r02_client ``real_time.py``)."""

    HEART_RATE = 1
    BLOOD_PRESSURE = 2
    SPO2 = 3
    FATIGUE = 4
    HEALTH_CHECK = 5
    ECG = 7
    PRESSURE = 8
    BLOOD_SUGAR = 9
    HRV = 10


# ----------------------------------------------------------------------------------------- framing


def colmi_checksum(data: bytes) -> int:
    """The sum of bytes 0–14, modulo 256."""
    return sum(data[: PACKET_LEN - 1]) & 0xFF


def verify_packet(data: bytes) -> bytes:
    """The packet as bytes if it is 16 bytes with a matching checksum; ``PayloadError`` otherwise."""
    data = bytes(data)
    if not data:
        raise PayloadError(PayloadProblem.EMPTY, "no bytes")
    if len(data) != PACKET_LEN:
        problem = PayloadProblem.TRUNCATED if len(data) < PACKET_LEN else PayloadProblem.MALFORMED
        raise PayloadError(problem, f"a Colmi packet is {PACKET_LEN} bytes, got {len(data)}")
    if data[15] != colmi_checksum(data):
        raise PayloadError(
            PayloadProblem.BAD_CHECKSUM,
            f"byte 15 is 0x{data[15]:02x}; the sum of bytes 0–14 & 0xFF is 0x{colmi_checksum(data):02x}",
        )
    return data


def split_packets(data: bytes) -> tuple[bytes, ...]:
    """Concatenated packets (as multi-packet captures are stored) split into 16-byte packets, unchecked."""
    data = bytes(data)
    if not data or len(data) % PACKET_LEN:
        raise PayloadError(PayloadProblem.MALFORMED, f"{len(data)} bytes is not a whole number of 16-byte packets")
    return tuple(data[i : i + PACKET_LEN] for i in range(0, len(data), PACKET_LEN))


def make_packet(command: int, payload: bytes = b"") -> bytes:
    """A host → ring packet: command, payload zero-padded to 14 bytes, checksum. ValueError if too long."""
    if not 0 <= command <= 0xFF:
        raise ValueError(f"command {command} is not a byte")
    if len(payload) > _PAYLOAD_LEN:
        raise ValueError(f"a packet carries at most {_PAYLOAD_LEN} payload bytes, got {len(payload)}")
    body = bytes((command,)) + bytes(payload).ljust(_PAYLOAD_LEN, b"\x00")
    return body + bytes((colmi_checksum(body),))


def _to_bcd(value: int) -> int:
    return (value // 10) << 4 | value % 10


def _from_bcd(byte: int, what: str) -> int:
    tens, ones = byte >> 4, byte & 0x0F
    if tens > 9 or ones > 9:
        raise PayloadError(PayloadProblem.MALFORMED, f"{what} 0x{byte:02x} is not a BCD byte")
    return tens * 10 + ones


# -------------------------------------------------------------------------------- host → ring requests


def real_time_start_request(kind: RealTimeKind | int = RealTimeKind.HEART_RATE, *, keep_alive: bool = False) -> bytes:
    """``69 <kind> 01`` starts a real-time reading; ``69 <kind> 03`` keeps it going."""
    return make_packet(ColmiCommand.REAL_TIME, bytes((RealTimeKind(kind), 3 if keep_alive else 1)))


def real_time_stop_request(kind: RealTimeKind | int = RealTimeKind.HEART_RATE) -> bytes:
    """``6A <kind> 00 00`` stops a real-time reading."""
    return make_packet(ColmiCommand.REAL_TIME_STOP, bytes((RealTimeKind(kind), 0, 0)))


def battery_request() -> bytes:
    """``03``: ask for the battery level."""
    return make_packet(ColmiCommand.BATTERY)


def hr_log_request(day_start: datetime) -> bytes:
    """``15 <u32 LE Unix s>``: the heart-rate log of the day starting at ``day_start`` (aware)."""
    if day_start.tzinfo is None:
        raise ValueError("day_start must be timezone-aware (the ring clock runs in UTC)")
    return make_packet(ColmiCommand.HR_LOG, struct.pack("<L", int(day_start.timestamp())))


def set_time_request(when: datetime, *, language: int = 1) -> bytes:
    """``01 <BCD yy mm dd HH MM SS, UTC> <language>`` (1 English, 0 Chinese); ``when`` must be aware."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("set-time needs a timezone-aware datetime: the ring clock runs in UTC")
    t = when.astimezone(UTC)
    if not 2000 <= t.year <= 2099:
        raise ValueError(f"year {t.year} is outside the ring's 2000–2099")
    fields = (t.year - 2000, t.month, t.day, t.hour, t.minute, t.second)
    return make_packet(ColmiCommand.SET_TIME, bytes(_to_bcd(f) for f in fields) + bytes((language,)))


# -------------------------------------------------------------------------------- ring → host messages


@dataclass(frozen=True, slots=True)
class ColmiRealTimeReading:
    """A real-time reading: ``value`` in bpm (heart rate) or % (SpO2); 0 = still measuring.

    ``error_code`` 0 is success; Gadgetbridge reads 1 as "worn incorrectly", 2 as a temporary error.
    """

    kind: int
    value: int
    error_code: int

    @property
    def ok(self) -> bool:
        return self.error_code == 0 and self.value > 0

    @property
    def kind_name(self) -> str | None:
        try:
            return RealTimeKind(self.kind).name
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class ColmiBattery:
    level_percent: int
    charging: bool
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ColmiHrLogSettings:
    """Periodic heart-rate logging settings (``hr_settings.py``); ``sub_command`` echoes 1 read / 2 write."""

    sub_command: int
    enabled: bool
    interval_min: int


# (payload byte, mask) of capability bits, QRing ``SetTimeRsp`` as transcribed in set_time.py.
_CAPABILITIES = {
    "blood_oxygen": (3, 0x02),
    "blood_pressure": (3, 0x04),
    "weather": (3, 0x20),
    "manual_heart": (11, 0x01),
    "blood_sugar": (11, 0x80),
    "pressure": (13, 0x10),
    "hrv": (13, 0x20),
}


@dataclass(frozen=True, slots=True)
class ColmiSetTimeResponse:
    """The ring's reply to set-time: a capability block, most of whose bytes are undocumented."""

    capabilities: bytes

    @property
    def supports(self) -> dict[str, bool]:
        """The capability bits colmi_r02_client names (``mSupportManualHeart`` → ``manual_heart``, …)."""
        return {name: bool(self.capabilities[i] & mask) for name, (i, mask) in _CAPABILITIES.items()}


@dataclass(frozen=True, slots=True)
class ColmiHrLogPacket:
    """One packet of a heart-rate log reply.

    index 0 (header): ``packet_count`` (header included) and ``interval_min``; index 1: ``start``
    (the log's first slot, from a u32 Unix timestamp) and 9 readings; index ≥ 2: 13 readings (bpm,
    0 = none).
    """

    index: int
    packet_count: int | None = None
    interval_min: int | None = None
    start: datetime | None = None
    values: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ColmiSportRecord:
    """Activity of one 15-minute slot; ``calories`` as sent (see ``ColmiSportDetails`` for scaling)."""

    day: date
    time_index: int  # 15-minute slot from midnight
    record_index: int
    record_count: int
    calories: int
    steps: int
    distance_m: int


@dataclass(frozen=True, slots=True)
class ColmiSportPacket:
    """A sport-detail packet: the header (``record_count``, ``calories_x10``) or one record."""

    record_count: int | None = None
    calories_x10: bool | None = None
    record: ColmiSportRecord | None = None


@dataclass(frozen=True, slots=True)
class ColmiNoData:
    """``<command> ff``: the ring has no data for the requested day."""

    command: int


@dataclass(frozen=True, slots=True)
class ColmiNotification:
    """An unsolicited ``73`` packet; ``kind`` per Gadgetbridge (1 new HR data, 0x0C battery, …)."""

    kind: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class ColmiError:
    """An error reply: the first byte ≥ 127; ``command`` is that byte with bit 7 cleared."""

    first_byte: int
    payload: bytes

    @property
    def command(self) -> int:
        return self.first_byte & 0x7F


@dataclass(frozen=True, slots=True)
class ColmiUnknown:
    """A well-formed packet with a command this module does not decode."""

    command: int
    payload: bytes


ColmiMessage = (
    ColmiRealTimeReading
    | ColmiBattery
    | ColmiHrLogSettings
    | ColmiSetTimeResponse
    | ColmiHrLogPacket
    | ColmiSportPacket
    | ColmiNoData
    | ColmiNotification
    | ColmiError
    | ColmiUnknown
)


def _hr_log_packet(p: bytes) -> ColmiHrLogPacket | ColmiNoData:
    index = p[0]
    if index == _NO_DATA:
        return ColmiNoData(ColmiCommand.HR_LOG)
    if index == 0:
        count, interval = p[1], p[2]
        if count < 2:
            raise PayloadError(PayloadProblem.MALFORMED, f"heart-rate log of {count} packets (header + data ≥ 2)")
        if not 0 < interval <= _MINUTES_PER_DAY:
            raise PayloadError(PayloadProblem.MALFORMED, f"heart-rate log interval of {interval} min")
        return ColmiHrLogPacket(0, packet_count=count, interval_min=interval)
    if index == 1:
        (stamp,) = struct.unpack_from("<L", p, 1)
        return ColmiHrLogPacket(1, start=datetime.fromtimestamp(stamp, UTC), values=tuple(p[5 : 5 + _HR_FIRST]))
    return ColmiHrLogPacket(index, values=tuple(p[1 : 1 + _HR_NEXT]))


def _sport_packet(p: bytes) -> ColmiSportPacket | ColmiNoData:
    if p[0] == _NO_DATA:
        return ColmiNoData(ColmiCommand.SPORT_DETAIL)
    if p[0] == _SPORT_HEADER:
        return ColmiSportPacket(record_count=p[1], calories_x10=p[2] == 1)
    y, mo, d = (_from_bcd(b, what) for b, what in zip(p[:3], ("year", "month", "day"), strict=True))
    try:
        day = date(2000 + y, mo, d)
    except ValueError:
        raise PayloadError(PayloadProblem.MALFORMED, f"20{y:02d}-{mo:02d}-{d:02d} is not a date") from None
    if p[3] >= 96:
        raise PayloadError(PayloadProblem.MALFORMED, f"time index {p[3]} is not a 15-minute slot of a day")
    if p[4] >= p[5]:
        raise PayloadError(PayloadProblem.MALFORMED, f"record {p[4]} of {p[5]}")
    calories, steps, distance = struct.unpack_from("<HHH", p, 6)
    return ColmiSportPacket(record=ColmiSportRecord(day, p[3], p[4], p[5], calories, steps, distance))


def decode_colmi(data: bytes) -> ColmiMessage:  # noqa: PLR0911 (one return per command)
    """Decode one packet the ring sent (TX characteristic); ``PayloadError`` if it is malformed."""
    data = verify_packet(data)
    command, p = data[0], data[1:15]
    if command >= _ERROR_FROM:
        return ColmiError(command, p)
    if command == ColmiCommand.REAL_TIME:
        return ColmiRealTimeReading(kind=p[0], value=p[2], error_code=p[1])
    if command == ColmiCommand.BATTERY:
        if p[0] > 100:
            raise PayloadError(PayloadProblem.MALFORMED, f"battery level {p[0]} % is above 100")
        warnings = (f"charging byte {p[1]} read as charging",) if p[1] > 1 else ()
        return ColmiBattery(p[0], p[1] != 0, warnings)
    if command == ColmiCommand.HR_LOG_SETTINGS:
        if p[1] not in (1, 2):
            raise PayloadError(PayloadProblem.MALFORMED, f"enabled byte {p[1]} is neither 1 (on) nor 2 (off)")
        return ColmiHrLogSettings(sub_command=p[0], enabled=p[1] == 1, interval_min=p[2])
    if command == ColmiCommand.SET_TIME:
        return ColmiSetTimeResponse(p)
    if command == ColmiCommand.HR_LOG:
        return _hr_log_packet(p)
    if command == ColmiCommand.SPORT_DETAIL:
        return _sport_packet(p)
    if command == ColmiCommand.NOTIFICATION:
        return ColmiNotification(p[0], p[1:])
    return ColmiUnknown(command, p)


# ------------------------------------------------------------------------------ multi-packet replies


@dataclass(frozen=True, slots=True)
class ColmiHrLog:
    """A whole heart-rate log: one reading per ``interval_min`` from ``start``, bpm (0 = none).

    ``heart_rates_bpm`` has one entry per slot of a day (1440 / interval; 288 at 5 min): extra
    readings are cut, missing ones are 0, as colmi_r02_client does. ``readings_received`` counts the
    reading bytes the packets carried (its ``index``).
    """

    start: datetime
    interval_min: int
    heart_rates_bpm: tuple[int, ...]
    packet_count: int
    readings_received: int

    def readings(self) -> list[tuple[datetime, int]]:
        """``(time, bpm)`` of the slots that hold a reading."""
        step = timedelta(minutes=self.interval_min)
        return [(self.start + i * step, bpm) for i, bpm in enumerate(self.heart_rates_bpm) if bpm]


@dataclass(frozen=True, slots=True)
class ColmiSportDetails:
    """A whole sport-detail reply; calories scaled ×10 when the header says so ("new calorie protocol")."""

    records: tuple[ColmiSportRecord, ...]
    calories_x10: bool


@dataclass(slots=True)
class _Partial:
    command: int
    total: int
    next_index: int
    interval_min: int = 0
    calories_x10: bool = False
    start: datetime | None = None
    items: list[Any] = field(default_factory=list)


class ColmiReassembler:
    """Joins multi-packet replies (heart-rate log 0x15, sport detail 0x43) from decoded packets.

    :meth:`feed` returns the finished :class:`ColmiHrLog` / :class:`ColmiSportDetails`, a
    :class:`ColmiNoData`, or None while a reply is incomplete (or for single-packet messages, which
    it ignores). A packet out of order raises ``PayloadError(out_of_sequence)`` and drops the partial.
    """

    def __init__(self) -> None:
        self._partial: dict[int, _Partial] = {}
        self.dropped = 0  # partial replies abandoned (restarted or out of sequence)

    def reset(self) -> None:
        self.dropped += len(self._partial)
        self._partial.clear()

    def _fail(self, command: int, detail: str) -> PayloadError:
        if self._partial.pop(command, None) is not None:
            self.dropped += 1
        return PayloadError(PayloadProblem.OUT_OF_SEQUENCE, detail)

    def feed(self, message: ColmiMessage | bytes) -> ColmiHrLog | ColmiSportDetails | ColmiNoData | None:
        if isinstance(message, bytes | bytearray | memoryview):
            message = decode_colmi(bytes(message))
        if isinstance(message, ColmiNoData):
            if self._partial.pop(message.command, None) is not None:
                self.dropped += 1
            return message
        if isinstance(message, ColmiHrLogPacket):
            return self._hr(message)
        if isinstance(message, ColmiSportPacket):
            return self._sport(message)
        return None

    def _restart(self, partial: _Partial) -> None:
        if self._partial.get(partial.command) is not None:
            self.dropped += 1
        self._partial[partial.command] = partial

    def _hr(self, pkt: ColmiHrLogPacket) -> ColmiHrLog | None:
        cmd = ColmiCommand.HR_LOG
        if pkt.index == 0:
            assert pkt.packet_count is not None and pkt.interval_min is not None  # noqa: S101 — a type-narrowing invariant, not input validation
            self._restart(_Partial(cmd, pkt.packet_count, 1, interval_min=pkt.interval_min))
            return None
        part = self._partial.get(cmd)
        if part is None:
            raise self._fail(cmd, f"heart-rate log packet {pkt.index} without its header")
        if pkt.index != part.next_index:
            raise self._fail(cmd, f"heart-rate log packet {pkt.index} where {part.next_index} was due")
        if pkt.index == 1:
            part.start = pkt.start
        part.items.extend(pkt.values)
        part.next_index += 1
        if part.next_index < part.total:
            return None
        del self._partial[cmd]
        assert part.start is not None  # noqa: S101 — a type-narrowing invariant, not input validation
        slots = _MINUTES_PER_DAY // part.interval_min
        rates = tuple(part.items[:slots]) + (0,) * max(0, slots - len(part.items))
        return ColmiHrLog(part.start, part.interval_min, rates, part.total, len(part.items))

    def _sport(self, pkt: ColmiSportPacket) -> ColmiSportDetails | None:
        cmd = ColmiCommand.SPORT_DETAIL
        if pkt.record is None:
            assert pkt.record_count is not None and pkt.calories_x10 is not None  # noqa: S101 — a type-narrowing invariant, not input validation
            self._restart(_Partial(cmd, pkt.record_count, 0, calories_x10=pkt.calories_x10))
            return None
        rec = pkt.record
        part = self._partial.get(cmd)
        if part is None:
            raise self._fail(cmd, f"sport record {rec.record_index} without its header (calorie scale unknown)")
        if rec.record_index != part.next_index or rec.record_count != part.total:
            raise self._fail(
                cmd, f"sport record {rec.record_index}/{rec.record_count} where {part.next_index}/{part.total} was due"
            )
        if part.calories_x10:
            rec = ColmiSportRecord(
                rec.day,
                rec.time_index,
                rec.record_index,
                rec.record_count,
                rec.calories * 10,
                rec.steps,
                rec.distance_m,
            )
        part.items.append(rec)
        part.next_index += 1
        if part.next_index < part.total:
            return None
        del self._partial[cmd]
        return ColmiSportDetails(tuple(part.items), part.calories_x10)


# ------------------------------------------------------------------------- host → ring, decoded


@dataclass(frozen=True, slots=True)
class ColmiSetTimeRequest:
    """A set-time write: the UTC time it sets and the language byte."""

    when: datetime
    language: int


@dataclass(frozen=True, slots=True)
class ColmiRequest:
    """Another host → ring write: its command, name (None if unknown) and payload bytes."""

    command: int
    name: str | None
    payload: bytes


def decode_colmi_request(data: bytes) -> ColmiSetTimeRequest | ColmiRequest:
    """Decode a packet a host wrote to the ring (RX characteristic), for reading captures."""
    data = verify_packet(data)
    command, p = data[0], data[1:15]
    if command == ColmiCommand.SET_TIME:
        y, mo, d, h, mi, s = (_from_bcd(b, "set-time field") for b in p[:6])
        try:
            when = datetime(2000 + y, mo, d, h, mi, s, tzinfo=UTC)
        except ValueError:
            raise PayloadError(PayloadProblem.MALFORMED, f"set-time fields {p[:6].hex()} are not a time") from None
        return ColmiSetTimeRequest(when, p[6])
    try:
        name: str | None = ColmiCommand(command).name
    except ValueError:
        name = None
    return ColmiRequest(command, name, p)
