"""``vagus decode PROTOCOL HEX…``: decode captured BLE payloads and print them as JSON, one line each.

For people debugging a capture. Field names follow ``../shared/data/ble-vectors.json`` where it is
consistent (``hr_bpm``, ``sensor_contact``, ``rr_1024``, ``rr_ms``; ``measurement_type``,
``timestamp_ns``, ``frame_type``, ``compressed``, ``samples``). A rejected payload prints
``{"rejected": PROBLEM, "reason": …}`` (and the reason on stderr); the exit status is 0 when every
payload decoded, 1 when one was rejected, 2 on a usage error (bad hex, bad option).
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import re
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, TextIO

from vagus.errors import ConfigError, PayloadError

__all__ = ["add_decode_parser", "decode_payloads", "parse_hex", "to_jsonable"]

PROTOCOLS = ("hrs", "pmd", "colmi", "battery", "location", "info")
PMD_KINDS = ("auto", "data", "header", "cp-response", "cp-request", "features", "settings", "delta")


def add_decode_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "decode",
        help="decode captured BLE payloads (hex) and print them as JSON",
        description="Decode BLE payloads given in hex and print each as one JSON line, or the reason it is "
        "rejected. Protocols: hrs (Heart Rate Measurement 0x2A37), pmd (Polar Measurement Data: data frames, "
        "control-point responses and requests), colmi (16-byte ring packets; several concatenated packets are "
        "split and multi-packet replies joined), battery (0x2A19), location (Body Sensor Location 0x2A38), "
        "info (a Device Information string). Exit status: 0 all decoded, 1 a payload rejected, 2 usage error. "
        "See docs/ble-decoding.md.",
    )
    p.add_argument("protocol", choices=PROTOCOLS, metavar="PROTOCOL", help="one of: " + ", ".join(PROTOCOLS))
    p.add_argument("hex", nargs="+", metavar="HEX", help="a payload in hex (spaces, ':' and '-' allowed inside)")
    pmd = p.add_argument_group("pmd")
    pmd.add_argument(
        "--kind",
        choices=PMD_KINDS,
        default="auto",
        help="what the bytes are (default auto: 0xF0 → control-point response, 0x0F → feature read, else a data frame)",
    )
    pmd.add_argument("--previous-timestamp-ns", type=int, default=0, help="previous frame's timestamp (sample times)")
    pmd.add_argument("--sample-rate", type=float, default=0.0, metavar="HZ", help="stream sample rate (sample times)")
    pmd.add_argument("--factor", type=float, default=1.0, help="the stream's FACTOR setting (ACC compressed frames)")
    pmd.add_argument("--channels", type=int, default=3, help="with --kind delta: channels (default 3)")
    pmd.add_argument("--resolution", type=int, default=16, help="with --kind delta: bits per sample (default 16)")
    colmi = p.add_argument_group("colmi")
    colmi.add_argument("--to-ring", action="store_true", help="the packets were written by the host, not the ring")
    p.set_defaults(func=_cmd_decode)


def parse_hex(text: str) -> bytes:
    """Bytes from hex text, allowing a 0x prefix and spaces, ':' or '-' between digits; ConfigError if bad."""
    cleaned = re.sub(r"[\s:\-_]", "", text)
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    if not cleaned or len(cleaned) % 2 or not re.fullmatch(r"[0-9a-fA-F]*", cleaned):
        raise ConfigError(f"not a hex payload: {text!r} (expected pairs of hex digits, e.g. 16400304)")
    return bytes.fromhex(cleaned)


def to_jsonable(obj: Any) -> Any:  # noqa: PLR0911 (one return per type)
    """Decoded values as JSON types: dataclasses → objects, bytes → hex, times → ISO 8601."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.name
    if isinstance(obj, bool | int | float | str) or obj is None:
        return obj
    if isinstance(obj, bytes | bytearray):
        return bytes(obj).hex()
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, Mapping):
        return {(k.name if isinstance(k, enum.Enum) else str(k)): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    return str(obj)


def _utc(ns: int) -> str:
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).replace(microsecond=ns % 1_000_000_000 // 1000).isoformat()


def _message(obj: object) -> str:
    """``ColmiRealTimeReading`` → ``colmi_real_time_reading``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(obj).__name__).lower()


def _hrs(data: bytes, args: argparse.Namespace) -> list[dict[str, Any]]:
    from vagus.edge.hrs import decode_hrm

    m = decode_hrm(data)
    out = {"message": "heart_rate_measurement", **to_jsonable(m), "rr_ms": list(m.rr_ms)}
    return [out]


def _pmd(data: bytes, args: argparse.Namespace) -> list[dict[str, Any]]:  # noqa: PLR0911 (one per --kind)
    from vagus.edge import pmd

    kind = args.kind
    if kind == "auto":
        kind = {pmd.CP_RESPONSE_CODE: "cp-response", pmd.FEATURES_CODE: "features"}.get(data[0] if data else -1, "data")
    if kind == "data":
        f = pmd.decode_pmd_data(
            data,
            previous_timestamp_ns=args.previous_timestamp_ns,
            sample_rate_hz=args.sample_rate,
            factor=args.factor,
        )
        out = {"message": "pmd_data_frame", "measurement": f.measurement_name, **to_jsonable(f)}
        out["unix_timestamp_ns"] = f.unix_timestamp_ns
        out["time_utc"] = _utc(f.unix_timestamp_ns)
        return [out]
    if kind == "header":
        h = pmd.decode_pmd_header(data)
        return [{"message": "pmd_frame_header", **to_jsonable(h), "time_utc": _utc(h.unix_timestamp_ns)}]
    if kind == "cp-response":
        r = pmd.decode_cp_indication(data)
        if isinstance(r, pmd.PmdMeasurementStopped):
            return [{"message": "pmd_measurement_stopped", **to_jsonable(r)}]
        return [
            {
                "message": "pmd_cp_response",
                "op_code_name": r.op_code_name,
                "status_name": r.status_name,
                "ok": r.ok,
                **to_jsonable(r),
            }
        ]
    if kind == "cp-request":
        q = pmd.decode_cp_request(data)
        return [{"message": "pmd_cp_request", "op_code_name": q.op_code_name, **to_jsonable(q)}]
    if kind == "features":
        feats = pmd.decode_features(data)
        names = [pmd.MeasurementType(t).name if t in set(pmd.MeasurementType) else t for t in feats.measurement_types]
        return [{"message": "pmd_features", "measurement_types": sorted(feats.measurement_types), "names": names}]
    if kind == "settings":
        return [{"message": "pmd_settings", **to_jsonable(pmd.decode_settings(data))}]
    try:
        samples = pmd.decode_delta_frames(data, args.channels, args.resolution)
        blocks = pmd.delta_block_layout(data, args.channels, args.resolution)
    except ValueError as exc:
        if isinstance(exc, PayloadError):
            raise
        raise ConfigError(str(exc)) from exc
    return [{"message": "pmd_delta_frames", "blocks": to_jsonable(blocks), "samples": to_jsonable(samples)}]


def _colmi(data: bytes, args: argparse.Namespace, state: dict[str, Any]) -> list[dict[str, Any]]:
    from vagus.edge import colmi

    if args.to_ring:
        r = colmi.decode_colmi_request(data)
        return [{"message": _message(r), **to_jsonable(r)}]
    m = colmi.decode_colmi(data)
    out: dict[str, Any] = {"message": _message(m), **to_jsonable(m)}
    if isinstance(m, colmi.ColmiRealTimeReading):
        out.update(kind_name=m.kind_name, ok=m.ok)
    elif isinstance(m, colmi.ColmiSetTimeResponse):
        out["supports"] = m.supports
    elif isinstance(m, colmi.ColmiError):
        out["command"] = m.command
    results = [out]
    done = state.setdefault("reassembler", colmi.ColmiReassembler()).feed(m)
    if isinstance(done, colmi.ColmiHrLog | colmi.ColmiSportDetails):
        results.append({"message": _message(done), **to_jsonable(done)})
    return results


def _gatt(data: bytes, args: argparse.Namespace) -> list[dict[str, Any]]:
    from vagus.edge import gatt_info

    if args.protocol == "battery":
        return [{"message": "battery_level", **to_jsonable(gatt_info.decode_battery_level(data))}]
    if args.protocol == "location":
        return [{"message": "body_sensor_location", **to_jsonable(gatt_info.decode_body_sensor_location(data))}]
    return [{"message": "device_information_string", **to_jsonable(gatt_info.decode_info_string(data))}]


def decode_payloads(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Decode every HEX of ``args`` and print one JSON line per result; the exit status."""
    payloads = [parse_hex(h) for h in args.hex]
    if args.protocol == "colmi":
        from vagus.edge.colmi import PACKET_LEN

        # Multi-packet captures are stored concatenated: split every 16 bytes (a short tail stays whole).
        payloads = [p[i : i + PACKET_LEN] for p in payloads for i in range(0, max(len(p), 1), PACKET_LEN)]
    state: dict[str, Any] = {}
    decoders: dict[str, Callable[[bytes, argparse.Namespace], list[dict[str, Any]]]] = {
        "hrs": _hrs,
        "pmd": _pmd,
        "colmi": lambda d, a: _colmi(d, a, state),
    }
    decoder = decoders.get(args.protocol, _gatt)
    status = 0
    for data in payloads:
        try:
            results = decoder(data, args)
        except PayloadError as exc:
            status = 1
            results = [{"hex": data.hex(), "rejected": exc.problem.value, "reason": exc.detail}]
            err.write(f"vagus decode: {args.protocol} payload {data.hex() or '(empty)'} rejected: {exc}\n")
        for r in results:
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
    return status


def _cmd_decode(args: argparse.Namespace) -> int:
    if args.protocol != "pmd" and (args.kind != "auto" or args.factor != 1.0):
        raise ConfigError("--kind and --factor apply to the pmd protocol only")
    if args.protocol != "colmi" and args.to_ring:
        raise ConfigError("--to-ring applies to the colmi protocol only")
    if args.factor == 0 or args.factor != args.factor or abs(args.factor) == float("inf"):
        raise ConfigError(f"--factor: expected a finite non-zero number, got {args.factor}")
    return decode_payloads(args, sys.stdout, sys.stderr)
