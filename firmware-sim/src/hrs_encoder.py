"""Encoder for Heart Rate Measurement (0x2A37) notifications, written from the Bluetooth SIG
specification independently of the edge decoder, so each checks the other.

Flags: bit0 uint16 HR, bit1 contact detected, bit2 contact supported, bit3 energy expended
present, bit4 RR intervals present. Fields little-endian; RR in 1/1024 s, oldest first.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

__all__ = ["ATT_DEFAULT_MTU", "HRM_UUID", "encode_hrm", "max_rr_per_notification"]

HRM_UUID = "00002a37-0000-1000-8000-00805f9b34fb"
ATT_DEFAULT_MTU = 23


def max_rr_per_notification(*, hr_uint16: bool, energy: bool, att_mtu: int = ATT_DEFAULT_MTU) -> int:
    """How many RR values fit in one notification: ATT_MTU − 3 bytes of payload (Nordic ble_hrs.c)."""
    header = 1 + (2 if hr_uint16 else 1) + (2 if energy else 0)
    return (att_mtu - 3 - header) // 2


def encode_hrm(
    *,
    hr_bpm: int,
    rr_1024: Sequence[int] = (),
    contact: bool | None = None,
    energy_kj: int | None = None,
    hr_uint16: bool | None = None,
    rr_flag: bool | None = None,
) -> bytes:
    """Bytes of one Heart Rate Measurement notification.

    ``hr_uint16`` defaults to the smallest format that holds ``hr_bpm`` (uint16 only above 255,
    as Nordic's firmware does); ``rr_flag`` defaults to "RR values present". ``contact`` None
    means the sensor does not support contact detection.
    """
    if hr_uint16 is None:
        hr_uint16 = hr_bpm > 0xFF
    if not 0 <= hr_bpm <= (0xFFFF if hr_uint16 else 0xFF):
        raise ValueError(f"hr_bpm {hr_bpm} does not fit the {'uint16' if hr_uint16 else 'uint8'} format")
    if rr_flag is None:
        rr_flag = bool(rr_1024)
    if rr_1024 and not rr_flag:
        raise ValueError("RR values given with rr_flag=False")
    flags = 0
    out = bytearray()
    if hr_uint16:
        flags |= 0x01
        out += struct.pack("<H", hr_bpm)
    else:
        out += struct.pack("<B", hr_bpm)
    if contact is not None:
        flags |= 0x04 | (0x02 if contact else 0)
    if energy_kj is not None:
        flags |= 0x08
        out += struct.pack("<H", energy_kj)
    if rr_flag:
        flags |= 0x10
        out += struct.pack(f"<{len(rr_1024)}H", *rr_1024)
    return bytes([flags]) + bytes(out)
