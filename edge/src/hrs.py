"""Decoder for the Bluetooth Heart Rate Measurement characteristic (0x2A37).

Layout (Bluetooth SIG GATT specification supplement, "Heart Rate Measurement"; all fields
little-endian):

====== =============================================== =====================
byte   field                                           present when
====== =============================================== =====================
0      flags                                           always
1(-2)  heart rate, uint8 or uint16, bpm                bit0 = 0 / 1
+2     energy expended, uint16, kJ                     bit3 = 1
+2·n   RR intervals, uint16, 1/1024 s, oldest first    bit4 = 1
====== =============================================== =====================

Flags bit1 is "contact detected", bit2 "contact supported"; bits 5–7 are reserved.

Strictness policy (each case has a test):

* A payload longer than 20 bytes is accepted. 20 bytes is the limit only at the default
  ATT MTU of 23; BlueZ and phones negotiate larger MTUs, and the layout stays unambiguous.
* A field the flags announce but the payload cuts short (a one-byte uint16 heart rate, a
  missing energy value, an RR flag with no RR bytes) rejects the whole payload: the bytes that
  are there can no longer be trusted to mean what the flags say.
* An odd byte after the last whole RR interval is ignored and reported in ``warnings``; the
  whole intervals before it are kept, because dropping a real device's beats loses good data.
* Bytes after the heart rate or energy value when the RR flag is clear are ignored and
  reported in ``warnings``.
* When contact is not supported (bit2 clear), ``sensor_contact`` is ``None`` whatever bit1
  says (as Nordic's parser does; Polar's iOS SDK reports ``False`` instead).
* RR values are returned as sent, including 0 and 0xFFFF; judging plausibility is the signal
  core's job.
"""

from __future__ import annotations

from dataclasses import dataclass

from vagus.errors import PayloadError, PayloadProblem

__all__ = [
    "HEART_RATE_MEASUREMENT_UUID",
    "HeartRateMeasurement",
    "decode_hrm",
    "rr_1024_to_ms",
    "rr_ms_rounded",
]

HEART_RATE_MEASUREMENT_UUID = "00002a37-0000-1000-8000-00805f9b34fb"

_HR_UINT16 = 0x01
_CONTACT_DETECTED = 0x02
_CONTACT_SUPPORTED = 0x04
_ENERGY_PRESENT = 0x08
_RR_PRESENT = 0x10


def rr_1024_to_ms(rr_1024: int) -> float:
    """RR in ms from 1/1024-s ticks, exactly (one tick is 0.9765625 ms, a binary fraction)."""
    return rr_1024 * 1000.0 / 1024.0


def rr_ms_rounded(rr_1024: int) -> int:
    """RR in whole ms, rounding half up, as the Polar BLE SDK (``roundToInt``) does."""
    return (rr_1024 * 1000 + 512) // 1024


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    """One decoded 0x2A37 notification."""

    hr_bpm: int
    sensor_contact: bool | None
    energy_expended_kj: int | None
    rr_present: bool
    rr_1024: tuple[int, ...]
    warnings: tuple[str, ...] = ()

    @property
    def rr_ms(self) -> tuple[float, ...]:
        """RR intervals in ms, exact."""
        return tuple(rr_1024_to_ms(r) for r in self.rr_1024)


def _u16(data: bytes, offset: int) -> int:
    return data[offset] | (data[offset + 1] << 8)


def decode_hrm(data: bytes) -> HeartRateMeasurement:
    """Decode a Heart Rate Measurement payload; raise ``PayloadError`` if it is malformed."""
    if not data:
        raise PayloadError(PayloadProblem.EMPTY, "no bytes")
    flags = data[0]
    pos = 1
    hr_size = 2 if flags & _HR_UINT16 else 1
    if len(data) < pos + hr_size:
        raise PayloadError(
            PayloadProblem.TRUNCATED,
            f"flags 0x{flags:02x} announce a {8 * hr_size}-bit heart rate; got {len(data)} bytes",
        )
    hr = _u16(data, pos) if hr_size == 2 else data[pos]
    pos += hr_size
    energy = None
    if flags & _ENERGY_PRESENT:
        if len(data) < pos + 2:
            raise PayloadError(PayloadProblem.TRUNCATED, f"energy expended announced at byte {pos}; payload ends")
        energy = _u16(data, pos)
        pos += 2
    warnings: list[str] = []
    rr: tuple[int, ...] = ()
    rest = len(data) - pos
    if flags & _RR_PRESENT:
        if rest < 2:
            raise PayloadError(
                PayloadProblem.TRUNCATED, f"RR intervals announced at byte {pos}; fewer than 2 bytes left"
            )
        rr = tuple(_u16(data, i) for i in range(pos, pos + rest - rest % 2, 2))
        if rest % 2:
            warnings.append(f"odd trailing byte 0x{data[-1]:02x} ignored")
    elif rest:
        warnings.append(f"{rest} byte(s) after the announced fields ignored")
    contact = bool(flags & _CONTACT_DETECTED) if flags & _CONTACT_SUPPORTED else None
    return HeartRateMeasurement(
        hr_bpm=hr,
        sensor_contact=contact,
        energy_expended_kj=energy,
        rr_present=bool(flags & _RR_PRESENT),
        rr_1024=rr,
        warnings=tuple(warnings),
    )
