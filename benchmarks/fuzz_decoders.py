"""Robustness fuzzing of the edge decoders (issue 6): random and mutated payloads, seeded.

For each decoder, N payloads: a fifth purely random (0–64 bytes), the rest mutations of real payloads
(the vectors of ``../shared/data/ble-vectors.json`` for HRS, PMD and Colmi; the simulator's encodings
for the GATT characteristics, which have no vectors): bit flips, truncation, extension with random
bytes, byte substitutions, or a mix. Colmi mutations get their checksum repaired half the time, so the
fuzz reaches past the checksum. The only exception allowed out of a decoder is ``PayloadError``;
every reject is counted by its problem. Run:

    .venv/bin/python benchmarks/fuzz_decoders.py --n 1000000 [--seed 6] [--only pmd_data]

``tests/test_decoder_fuzz.py`` runs the same loop with a smaller N in CI.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vagus.edge import colmi, gatt_info, hrs, pmd
from vagus.errors import PayloadError

__all__ = ["FuzzResult", "decoders", "fuzz", "seeds"]

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT.parent / "shared" / "data" / "ble-vectors.json"


def _vector_payloads() -> list[dict[str, Any]]:
    return json.loads(VECTORS.read_text(encoding="utf-8")) if VECTORS.exists() else []


def seeds() -> dict[str, list[bytes]]:
    """Real payloads per decoder (vectors, split and framed as each decoder takes them)."""
    vectors = _vector_payloads()
    by = {"hrs": [], "pmd_data": [], "pmd_cp": [], "pmd_delta": [], "colmi": [], "colmi_request": []}
    for v in vectors:
        data = bytes.fromhex(v["hex"])
        kind = v["kind"]
        if v["protocol"] == "hrs":
            by["hrs"].append(data)
        elif v["protocol"] == "pmd":
            if "cp_response" in kind or "cp_request" in kind or kind == "pmd_settings_tlv":
                by["pmd_cp"].append(data)
            elif kind in ("pmd_delta_frames_payload", "pmd_delta_reference_sample"):
                by["pmd_delta"].append(data)
                # Framed as a compressed ACC notification too (3 × 16 bit, as ACC compressed frames are).
                by["pmd_data"].append(b"\x02" + bytes(8) + b"\x80" + data)
            else:
                by["pmd_data"].append(data)
                if data[9] & 0x80:
                    by["pmd_delta"].append(data[10:])
        else:
            packets = [data[i : i + 16] for i in range(0, len(data), 16)]
            by["colmi_request" if "request" in kind else "colmi"].extend(packets)
    # No vectors exist for these: the simulator's encodings stand in (vagus.sim is a test-side oracle).
    from vagus.sim import gatt_info as sim_gatt

    by["battery"] = [sim_gatt.encode_battery_level(p) for p in (0, 1, 57, 100)]
    by["location"] = [sim_gatt.encode_body_sensor_location(loc) for loc in sim_gatt.BodySensorLocation]
    by["info_string"] = [*sim_gatt.POLAR_H7_INFO.characteristics().values(), b"R02_3.00.06_240523"]
    by["pmd_cp"] += [b"\x0f\xcf\x02", b"\x01\x00\x02"]  # a feature read and a stopped indication
    return by


def _colmi_stream() -> Callable[[bytes], Any]:
    reassembler = colmi.ColmiReassembler()

    def decode(data: bytes) -> Any:
        return reassembler.feed(colmi.decode_colmi(data))

    return decode


def _pmd_cp(data: bytes) -> Any:
    if data[:1] == b"\x0f":
        return pmd.decode_features(data)
    if data[:1] in (b"\xf0", b"\x01"):
        return pmd.decode_cp_indication(data)
    if data[:1] == b"\x02":
        return pmd.decode_cp_request(data)
    return pmd.decode_settings(data)


def decoders() -> dict[str, Callable[[bytes], Any]]:
    """Decoder name → a one-argument decode function (stateful ones keep their state across calls)."""
    stream = pmd.PmdDataDecoder()
    stream.configure(pmd.MeasurementType.ACC, sample_rate_hz=200, factor=0.000244)
    return {
        "hrs": hrs.decode_hrm,
        "pmd_data": pmd.decode_pmd_data,
        "pmd_stream": stream.decode,
        "pmd_cp": _pmd_cp,
        "pmd_delta": lambda d: pmd.decode_delta_frames(d, 3, 16),
        "colmi": _colmi_stream(),
        "colmi_request": colmi.decode_colmi_request,
        "battery": gatt_info.decode_battery_level,
        "location": gatt_info.decode_body_sensor_location,
        "info_string": gatt_info.decode_info_string,
    }


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.randrange(4)
        if op == 0 and b:  # bit flips
            for _ in range(rng.randint(1, 3)):
                i = rng.randrange(len(b))
                b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:  # truncation
            del b[rng.randrange(len(b)) :]
        elif op == 2:  # extension
            b += rng.randbytes(rng.randint(1, 24))
        elif b:  # byte substitutions, with boundary values favoured
            for _ in range(rng.randint(1, 3)):
                b[rng.randrange(len(b))] = rng.choice((0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF, rng.randrange(256)))
    return bytes(b)


def _fix_checksum(data: bytes) -> bytes:
    return data[:15] + bytes((sum(data[:15]) & 0xFF,)) if len(data) == 16 else data


@dataclass(slots=True)
class FuzzResult:
    name: str
    n: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    escaped: list[tuple[str, str]] = field(default_factory=list)  # (hex, repr of the exception)
    seconds: float = 0.0

    @property
    def escaped_count(self) -> int:
        return self.n - self.accepted - sum(self.rejected.values())


def fuzz(name: str, decode: Callable[[bytes], Any], seed_payloads: list[bytes], n: int, seed: int) -> FuzzResult:
    """Run ``n`` payloads through ``decode``; exceptions other than PayloadError are recorded, not raised."""
    rng = random.Random(f"{seed}:{name}")  # noqa: S311 — jitter or reproducible simulation, not a secret
    result = FuzzResult(name)
    pool = seed_payloads or [b""]
    start = time.perf_counter()
    for _ in range(n):
        data = rng.randbytes(rng.randint(0, 64)) if rng.random() < 0.2 else _mutate(rng, rng.choice(pool))
        if name.startswith("colmi") and rng.random() < 0.5:
            data = _fix_checksum(data)
        result.n += 1
        try:
            decode(data)
        except PayloadError as exc:
            result.rejected[exc.problem.value] += 1
        except Exception as exc:
            if len(result.escaped) < 20:
                result.escaped.append((data.hex(), repr(exc)))
        else:
            result.accepted += 1
    result.seconds = time.perf_counter() - start
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="payloads per decoder (default 100000)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--only", action="append", help="run only this decoder (repeatable)")
    args = parser.parse_args(argv)
    pools = seeds()
    pools["pmd_stream"] = pools["pmd_data"]
    failed = False
    header = f"{'decoder':<14}{'payloads':>10}{'accepted':>10}{'rejected':>10}{'escaped':>9}{'seconds':>9}"
    print(header + "  rejects by problem")
    for name, decode in decoders().items():
        if args.only and name not in args.only:
            continue
        r = fuzz(name, decode, pools[name], args.n, args.seed)
        rejects = ", ".join(f"{k} {v}" for k, v in r.rejected.most_common())
        print(
            f"{name:<14}{r.n:>10}{r.accepted:>10}{sum(r.rejected.values()):>10}{r.escaped_count:>9}"
            f"{r.seconds:>9.1f}  {rejects}",
            flush=True,
        )
        for hex_payload, exc in r.escaped:
            print(f"    ESCAPED {exc} on {hex_payload}")
        failed |= r.escaped_count > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
