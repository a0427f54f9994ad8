"""The ring side of the Colmi R02-family (QRing app) protocol: fixed 16-byte packets over a UART-like service.

Layout of every packet: ``[command][14 payload bytes, zero-padded][checksum]`` with
``checksum = sum(bytes[0:15]) & 0xFF`` (tahnok/colmi_r02_client ``packet.py``; its docstring says
"modulus 255" but the code masks with 255, i.e. mod 256 — ble-vectors.md caveat 9). The host writes
requests to the RX characteristic without response; the ring answers on the TX characteristic with
packets that echo the command byte. A first byte ≥ 127 marks an error reply (the client asserts
``packet_type < 127``).

Sources, all in ``../shared/research/ble.md`` §3: tahnok/colmi_r02_client @9e08383 (``real_time.py``,
``battery.py``, ``hr.py``, ``hr_settings.py``, ``steps.py``, ``set_time.py``) and Gadgetbridge
``ColmiR0xConstants.java``. Written from those descriptions; the simulator never imports vagus.edge.

One module over the ~400-line guideline on purpose: requests and replies share the framing, the
BCD helpers and the command table, and a device profile needs both sides; most lines are docstrings.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import IntEnum

__all__ = [
    "BIG_DATA_NOTIFY_UUID",
    "BIG_DATA_SERVICE_UUID",
    "BIG_DATA_WRITE_UUID",
    "CAPABILITY_BITS",
    "ERROR_THRESHOLD",
    "HR_LOG_FIRST_VALUES",
    "HR_LOG_VALUES_PER_PACKET",
    "PACKET_LEN",
    "PAYLOAD_LEN",
    "R02_CAPABILITIES",
    "UART_RX_UUID",
    "UART_SERVICE_UUID",
    "UART_TX_UUID",
    "BatteryRequest",
    "ColmiRequest",
    "Command",
    "HrLogRequest",
    "HrLogSettings",
    "HrLogSettingsRead",
    "HrLogSettingsWrite",
    "RealTimeAction",
    "RealTimeKind",
    "RealTimeReading",
    "RealTimeStart",
    "RealTimeStop",
    "RequestMessage",
    "SetTimeRequest",
    "SportDetail",
    "SportDetailRequest",
    "capabilities_with",
    "checksum",
    "encode_battery",
    "encode_error",
    "encode_hr_log",
    "encode_hr_log_no_data",
    "encode_hr_log_settings",
    "encode_real_time_reading",
    "encode_set_time_response",
    "encode_sport_detail_no_data",
    "encode_sport_details",
    "packet",
    "parse_request",
    "split_packets",
]

# "V1 UART" service of ble.md §3: note the service is 6E40FFF0, not Nordic's 6E400001.
UART_SERVICE_UUID = "6e40fff0-b5a3-f393-e0a9-e50e24dcca9e"
UART_RX_UUID = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"  # host → ring, write without response
UART_TX_UUID = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"  # ring → host, notify
# "V2 big data" service (Gadgetbridge); its 0xBC packets are variable-length and not encoded here.
BIG_DATA_SERVICE_UUID = "de5bf728-d711-4e47-af26-65e3012a5dc7"
BIG_DATA_WRITE_UUID = "de5bf72a-d711-4e47-af26-65e3012a5dc7"
BIG_DATA_NOTIFY_UUID = "de5bf729-d711-4e47-af26-65e3012a5dc7"

PACKET_LEN = 16
PAYLOAD_LEN = 14
ERROR_THRESHOLD = 127  # a first byte at or above this is an error reply (colmi_r02_client _handle_tx)

HR_LOG_FIRST_VALUES = 9  # packet 1 holds a u32 timestamp, then 9 readings
HR_LOG_VALUES_PER_PACKET = 13  # packets 2… hold 13 readings each
_HR_LOG_NO_DATA = 0xFF
_SPORT_HEADER = 0xF0
_SPORT_NO_DATA = 0xFF
_MINUTES_PER_DAY = 1440


class Command(IntEnum):
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
    """Real-time reading types (colmi_r02_client ``real_time.py``, from colmi.puxtril.com)."""

    HEART_RATE = 1
    BLOOD_PRESSURE = 2
    SPO2 = 3
    FATIGUE = 4
    HEALTH_CHECK = 5
    ECG = 7
    PRESSURE = 8
    BLOOD_SUGAR = 9
    HRV = 10


class RealTimeAction(IntEnum):
    START = 1
    PAUSE = 2
    CONTINUE = 3
    STOP = 4


# --------------------------------------------------------------------------------------------- framing


def checksum(data: bytes) -> int:
    """Checksum of a packet: the sum of bytes 0–14, modulo 256."""
    return sum(data[: PACKET_LEN - 1]) & 0xFF


def packet(command: int, payload: bytes = b"") -> bytes:
    """One 16-byte packet: command, payload zero-padded to 14 bytes, checksum."""
    if not 0 <= command <= 0xFF:
        raise ValueError(f"command {command} is not a byte")
    if len(payload) > PAYLOAD_LEN:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the {PAYLOAD_LEN} a packet holds")
    body = bytes([command]) + bytes(payload).ljust(PAYLOAD_LEN, b"\x00")
    return body + bytes([checksum(body)])


def _check_packet(data: bytes) -> None:
    if len(data) != PACKET_LEN:
        raise ValueError(f"a Colmi packet is {PACKET_LEN} bytes, got {len(data)}")
    if data[-1] != checksum(data):
        raise ValueError(
            f"checksum mismatch: byte 15 is 0x{data[-1]:02x}, sum of bytes 0–14 & 0xFF is 0x{checksum(data):02x}"
        )


def split_packets(data: bytes) -> tuple[bytes, ...]:
    """Split concatenated packets (as the multi-packet vectors store them), checking each one."""
    if len(data) % PACKET_LEN:
        raise ValueError(f"{len(data)} bytes is not a whole number of {PACKET_LEN}-byte packets")
    packets = tuple(bytes(data[i : i + PACKET_LEN]) for i in range(0, len(data), PACKET_LEN))
    for p in packets:
        _check_packet(p)
    return packets


def encode_error(command: int) -> bytes:
    """An error reply: the command byte with bit 7 set (≥ 127, the client's error test), empty payload.

    The client only tests the threshold; the exact error payload of a real ring is not documented
    in the sources, so the payload is left zero.
    """
    if not 0 <= command < ERROR_THRESHOLD:
        raise ValueError(f"command 0x{command:02x} cannot carry the error flag")
    return packet(command | 0x80)


# ------------------------------------------------------------------------------------- BCD and time


def _to_bcd(value: int) -> int:
    if not 0 <= value <= 99:
        raise ValueError(f"{value} does not fit one BCD byte (0–99)")
    return (value // 10) << 4 | value % 10


def _from_bcd(byte: int) -> int:
    tens, ones = byte >> 4, byte & 0x0F
    if tens > 9 or ones > 9:
        raise ValueError(f"0x{byte:02x} is not a BCD byte")
    return tens * 10 + ones


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


# ---------------------------------------------------------------------------- requests (host → ring)


@dataclass(frozen=True, slots=True)
class SetTimeRequest:
    """Set the ring clock: BCD ``yy mm dd HH MM SS`` in UTC, then a language byte (1 English, 0 Chinese).

    ``when`` must be timezone-aware; it is converted to UTC (colmi_r02_client ``set_time.py``:
    "We always set the time in UTC"). Parsed requests carry a UTC ``when``.
    """

    when: datetime
    language: int = 1

    def __post_init__(self) -> None:
        if self.when.tzinfo is None or self.when.utcoffset() is None:
            raise ValueError("set-time needs a timezone-aware datetime: the ring clock runs in UTC")
        if not 2000 <= self.when.astimezone(UTC).year <= 2099:
            raise ValueError(f"year {self.when.astimezone(UTC).year} is outside the ring's 2000–2099 BCD range")
        if not 0 <= self.language <= 0xFF:
            raise ValueError(f"language {self.language} is not a byte")

    def to_packet(self) -> bytes:
        t = self.when.astimezone(UTC)
        fields = (t.year % 100, t.month, t.day, t.hour, t.minute, t.second)
        return packet(Command.SET_TIME, bytes(_to_bcd(f) for f in fields) + bytes([self.language]))


@dataclass(frozen=True, slots=True)
class BatteryRequest:
    """``03``: ask for the battery level."""

    def to_packet(self) -> bytes:
        return packet(Command.BATTERY)


@dataclass(frozen=True, slots=True)
class HrLogRequest:
    """``15`` + u32 LE Unix timestamp (s) of the start of the day wanted (colmi_r02_client ``hr.py``)."""

    start: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("the heart-rate log day start must be timezone-aware")

    def to_packet(self) -> bytes:
        return packet(Command.HR_LOG, struct.pack("<L", int(self.start.timestamp())))


@dataclass(frozen=True, slots=True)
class HrLogSettingsRead:
    """``16 01``: read the periodic heart-rate logging settings."""

    def to_packet(self) -> bytes:
        return packet(Command.HR_LOG_SETTINGS, b"\x01")


@dataclass(frozen=True, slots=True)
class HrLogSettingsWrite:
    """``16 02 <enabled 1|2> <interval min>`` (``hr_settings.py``).

    R09-class firmware wants a longer record (ble.md §3); its extra bytes are not modelled.
    """

    settings: HrLogSettings

    def to_packet(self) -> bytes:
        return packet(Command.HR_LOG_SETTINGS, b"\x02" + self.settings.payload())


@dataclass(frozen=True, slots=True)
class SportDetailRequest:
    """``43 <day offset> 0f 00 5f 01``: steps of the day ``day_offset`` days before the ring's today.

    The four trailing bytes are constants the client sends without knowing their meaning
    (``steps.py``); they are kept so a parsed request re-encodes byte for byte.
    """

    day_offset: int
    tail: bytes = b"\x0f\x00\x5f\x01"

    def __post_init__(self) -> None:
        if not 0 <= self.day_offset <= 0xFF:
            raise ValueError(f"day_offset {self.day_offset} is not a byte")
        if len(self.tail) > PAYLOAD_LEN - 1:
            raise ValueError("sport-detail request tail too long")

    def to_packet(self) -> bytes:
        return packet(Command.SPORT_DETAIL, bytes([self.day_offset]) + self.tail)


@dataclass(frozen=True, slots=True)
class RealTimeStart:
    """``69 <kind> <action>``: start (1) or keep alive (3) a real-time reading."""

    kind: RealTimeKind
    action: RealTimeAction = RealTimeAction.START

    def to_packet(self) -> bytes:
        return packet(Command.REAL_TIME, bytes([self.kind, self.action]))


@dataclass(frozen=True, slots=True)
class RealTimeStop:
    """``6A <kind> 00 00``: stop a real-time reading."""

    kind: RealTimeKind

    def to_packet(self) -> bytes:
        return packet(Command.REAL_TIME_STOP, bytes([self.kind, 0, 0]))


RequestMessage = (
    SetTimeRequest
    | BatteryRequest
    | HrLogRequest
    | HrLogSettingsRead
    | HrLogSettingsWrite
    | SportDetailRequest
    | RealTimeStart
    | RealTimeStop
)


@dataclass(frozen=True, slots=True)
class ColmiRequest:
    """A verified request: the raw command and 14-byte payload, and its meaning where the command is known."""

    command: int
    payload: bytes
    message: RequestMessage | None


def _real_time_kind(byte: int) -> RealTimeKind:
    try:
        return RealTimeKind(byte)
    except ValueError:
        raise ValueError(f"unknown real-time reading type {byte}") from None


def _parse_message(command: int, p: bytes) -> RequestMessage | None:
    message: RequestMessage | None = None
    if command == Command.SET_TIME:
        y, mo, d, h, mi, s = (_from_bcd(b) for b in p[:6])
        message = SetTimeRequest(datetime(2000 + y, mo, d, h, mi, s, tzinfo=UTC), language=p[6])
    elif command == Command.BATTERY:
        message = BatteryRequest()
    elif command == Command.HR_LOG:
        message = HrLogRequest(datetime.fromtimestamp(struct.unpack_from("<L", p)[0], UTC))
    elif command == Command.HR_LOG_SETTINGS:
        if p[0] == 1:
            message = HrLogSettingsRead()
        elif p[0] == 2:
            message = HrLogSettingsWrite(HrLogSettings.from_payload(p[1:3]))
        else:
            raise ValueError(f"heart-rate log settings sub-command {p[0]} is neither 1 (read) nor 2 (write)")
    elif command == Command.SPORT_DETAIL:
        message = SportDetailRequest(p[0], tail=p[1:5])
    elif command == Command.REAL_TIME:
        try:
            action = RealTimeAction(p[1])
        except ValueError:
            raise ValueError(f"unknown real-time action {p[1]}") from None
        message = RealTimeStart(_real_time_kind(p[0]), action)
    elif command == Command.REAL_TIME_STOP:
        message = RealTimeStop(_real_time_kind(p[0]))
    return message


def parse_request(data: bytes) -> ColmiRequest:
    """Verify and interpret a packet the host wrote to the RX characteristic.

    Raises ValueError for a wrong length, a bad checksum, the error flag (first byte ≥ 127) or
    malformed fields of a known command. Unknown commands parse with ``message=None``.
    """
    data = bytes(data)
    _check_packet(data)
    command = data[0]
    if command >= ERROR_THRESHOLD:
        raise ValueError(f"first byte 0x{command:02x} ≥ {ERROR_THRESHOLD}: error flag set, not a request")
    payload = data[1 : PACKET_LEN - 1]
    return ColmiRequest(command=command, payload=payload, message=_parse_message(command, payload))


# ---------------------------------------------------------------------------- replies (ring → host)


@dataclass(frozen=True, slots=True)
class RealTimeReading:
    """One real-time reply ``69 <kind> <error> <value>``.

    ``value`` is bpm for heart rate, % for SpO2; 0 means "still measuring" (the client discards it).
    ``error_code`` 0 is success; Gadgetbridge reads 1 as "worn incorrectly", 2 as a temporary error.
    """

    kind: RealTimeKind
    value: int = 0
    error_code: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.value <= 0xFF or not 0 <= self.error_code <= 0xFF:
            raise ValueError(f"value {self.value} and error_code {self.error_code} must be bytes")


def encode_real_time_reading(reading: RealTimeReading) -> bytes:
    return packet(Command.REAL_TIME, bytes([reading.kind, reading.error_code, reading.value]))


def encode_battery(level_percent: int, charging: bool) -> bytes:
    """Battery reply ``03 <level %> <charging 0|1>`` (``battery.py``)."""
    if not 0 <= level_percent <= 100:
        raise ValueError(f"battery level {level_percent} % is outside 0–100")
    return packet(Command.BATTERY, bytes([level_percent, int(charging)]))


@dataclass(frozen=True, slots=True)
class HrLogSettings:
    """Periodic heart-rate logging: on or off, and the interval in minutes (1–255)."""

    enabled: bool
    interval_min: int

    def __post_init__(self) -> None:
        if not 0 < self.interval_min <= 0xFF:
            raise ValueError(f"interval {self.interval_min} min is outside 1–255")

    def payload(self) -> bytes:
        return bytes([1 if self.enabled else 2, self.interval_min])

    @classmethod
    def from_payload(cls, two: bytes) -> HrLogSettings:
        if two[0] not in (1, 2):
            raise ValueError(f"enabled byte {two[0]} is neither 1 (on) nor 2 (off)")
        return cls(enabled=two[0] == 1, interval_min=two[1])


def encode_hr_log_settings(settings: HrLogSettings, *, sub_command: int = 1) -> bytes:
    """Settings reply ``16 <sub> <enabled 1|2> <interval min>``.

    The client does not know what byte 1 is ("I don't know what byte 1 in the response is"); the
    real reply to a read carries 1, so it is taken here to echo the request's sub-command (an
    assumption; the reply to a write is not documented and the client discards it).
    """
    return packet(Command.HR_LOG_SETTINGS, bytes([sub_command]) + settings.payload())


def encode_hr_log(day: date, minutes_interval: int, hr_values: Sequence[int]) -> tuple[bytes, ...]:
    """The reply to a heart-rate log request: a header packet, then the day's readings.

    - packet 0: ``15 00 <packet count incl. header> <interval min>``;
    - packet 1: ``15 01 <u32 LE Unix s of the day's UTC midnight> <9 readings>``;
    - packets 2…: ``15 <index> <13 readings>``.

    ``hr_values`` are bpm (0 = no reading), oldest first, one per ``minutes_interval`` from UTC
    midnight (the ring clock is set in UTC). They are zero-padded to the whole day
    (1440 / interval slots) and then to fill the last packet, as the real capture shows
    (``colmi-hr-log-24-packets``: 288 slots at 5 min → 24 packets, 295 reading bytes).
    """
    if minutes_interval <= 0 or _MINUTES_PER_DAY % minutes_interval:
        raise ValueError(f"interval {minutes_interval} min does not divide a day")
    if minutes_interval > 0xFF:
        raise ValueError(f"interval {minutes_interval} min does not fit a byte")
    slots = _MINUTES_PER_DAY // minutes_interval
    if len(hr_values) > slots:
        raise ValueError(f"{len(hr_values)} readings exceed the {slots} slots of a day at {minutes_interval} min")
    if any(not 0 <= v <= 0xFF for v in hr_values):
        raise ValueError("heart-rate log readings must be 0–255 bpm")
    data_packets = 1 + max(0, math.ceil((slots - HR_LOG_FIRST_VALUES) / HR_LOG_VALUES_PER_PACKET))
    count = 1 + data_packets
    if count >= _HR_LOG_NO_DATA:
        raise ValueError(f"{count} packets do not fit the log's one-byte index")
    capacity = HR_LOG_FIRST_VALUES + (data_packets - 1) * HR_LOG_VALUES_PER_PACKET
    values = bytes(hr_values).ljust(capacity, b"\x00")
    stamp = struct.pack("<L", int(_utc_midnight(day).timestamp()))
    out = [
        packet(Command.HR_LOG, bytes([0, count, minutes_interval])),
        packet(Command.HR_LOG, b"\x01" + stamp + values[:HR_LOG_FIRST_VALUES]),
    ]
    for index in range(2, count):
        start = HR_LOG_FIRST_VALUES + (index - 2) * HR_LOG_VALUES_PER_PACKET
        out.append(packet(Command.HR_LOG, bytes([index]) + values[start : start + HR_LOG_VALUES_PER_PACKET]))
    return tuple(out)


def encode_hr_log_no_data() -> bytes:
    """``15 ff``: the ring has no log for the requested day (the client returns NoData)."""
    return packet(Command.HR_LOG, bytes([_HR_LOG_NO_DATA]))


@dataclass(frozen=True, slots=True)
class SportDetail:
    """Activity of one 15-minute slot.

    ``time_index`` is the slot (0–95) from the ring's midnight; ``calories`` as the client reports
    them after its ×10 scaling (its unit is not stated in the sources); ``distance_m`` in metres.
    """

    day: date
    time_index: int
    calories: int
    steps: int
    distance_m: int

    def __post_init__(self) -> None:
        if not 0 <= self.time_index < 96:
            raise ValueError(f"time_index {self.time_index} is not a 15-min slot of a day (0–95)")
        if not 2000 <= self.day.year <= 2099:
            raise ValueError(f"year {self.day.year} is outside the ring's 2000–2099 BCD range")
        if not 0 <= self.steps <= 0xFFFF or not 0 <= self.distance_m <= 0xFFFF:
            raise ValueError("steps and distance_m must fit uint16")
        if self.calories < 0:
            raise ValueError("calories must not be negative")


def encode_sport_details(details: Sequence[SportDetail], *, calories_x10: bool = True) -> tuple[bytes, ...]:
    """The reply to a sport-detail (steps) request: a header, then one packet per 15-min slot.

    - header ``43 f0 <record count> <1 = calories ×10 protocol>``;
    - record ``43 <BCD yy mm dd> <time_index> <record index> <record count> <calories u16>
      <steps u16> <distance u16>``, all LE (``steps.py``).

    With ``calories_x10`` (the "new calorie protocol", the only one the vectors show) the packet
    carries calories / 10, so calories must be a multiple of 10. No details → the no-data packet.
    """
    if not details:
        return (encode_sport_detail_no_data(),)
    if len(details) > 0xFF:
        raise ValueError(f"{len(details)} records do not fit the one-byte record count")
    scale = 10 if calories_x10 else 1
    out = [packet(Command.SPORT_DETAIL, bytes([_SPORT_HEADER, len(details), int(calories_x10)]))]
    for index, d in enumerate(details):
        raw_calories, rest = divmod(d.calories, scale)
        if rest or raw_calories > 0xFFFF:
            raise ValueError(f"calories {d.calories} cannot be sent as a uint16 in units of {scale}")
        date_bcd = bytes(_to_bcd(v) for v in (d.day.year % 100, d.day.month, d.day.day))
        fields = struct.pack("<BBBHHH", d.time_index, index, len(details), raw_calories, d.steps, d.distance_m)
        out.append(packet(Command.SPORT_DETAIL, date_bcd + fields))
    return tuple(out)


def encode_sport_detail_no_data() -> bytes:
    """``43 ff``: no activity recorded for that day."""
    return packet(Command.SPORT_DETAIL, bytes([_SPORT_NO_DATA]))


# A real R02's capability block (payload of its set-time reply, vector colmi-set-time-response-capabilities).
R02_CAPABILITIES = bytes.fromhex("0001002200000000010030010010")

# (payload byte, mask) of the capability bits the QRing SDK names (SetTimeRsp.acceptData, as
# transcribed in colmi_r02_client set_time.parse_set_time_packet). Only the bits vagus cares about.
CAPABILITY_BITS: dict[str, tuple[int, int]] = {
    "blood_oxygen": (3, 0x02),
    "blood_pressure": (3, 0x04),
    "manual_heart": (11, 0x01),
    "blood_sugar": (11, 0x80),
    "pressure": (13, 0x10),
    "hrv": (13, 0x20),
}


def capabilities_with(base: bytes = R02_CAPABILITIES, **flags: bool) -> bytes:
    """A capability block with the named bits of ``CAPABILITY_BITS`` set or cleared."""
    if len(base) != PAYLOAD_LEN:
        raise ValueError(f"a capability block is {PAYLOAD_LEN} bytes, got {len(base)}")
    block = bytearray(base)
    for name, on in flags.items():
        if name not in CAPABILITY_BITS:
            raise ValueError(f"unknown capability {name!r}; known: {sorted(CAPABILITY_BITS)}")
        index, mask = CAPABILITY_BITS[name]
        block[index] = block[index] | mask if on else block[index] & ~mask
    return bytes(block)


def encode_set_time_response(capabilities: bytes = R02_CAPABILITIES) -> bytes:
    """The ring's reply to set-time: ``01`` + a 14-byte capability block.

    Most of the block's bytes have no documented meaning (the one real vector asserts only two
    flags), so it is carried as bytes: by default those a real R02 sent.
    """
    if len(capabilities) != PAYLOAD_LEN:
        raise ValueError(f"a capability block is {PAYLOAD_LEN} bytes, got {len(capabilities)}")
    return packet(Command.SET_TIME, capabilities)
