"""Robustness: seeded random and mutated payloads through every edge decoder (benchmarks/fuzz_decoders.py
with ~20k payloads each; the benchmark runs the million). Only PayloadError may leave a decoder, and
every payload is either accepted or a counted reject."""

from __future__ import annotations

import pytest

from vagus.errors import PayloadError, PayloadProblem

from .benchmark_module import load_benchmark
from .conftest import SHARED_DATA

fuzz_decoders = load_benchmark("fuzz_decoders")

N = 20_000
NAMES = list(fuzz_decoders.decoders())


@pytest.fixture(scope="module")
def pools():
    if not (SHARED_DATA / "ble-vectors.json").exists():
        pytest.skip("the real vectors in ../shared/data are absent: nothing to mutate")
    pools = fuzz_decoders.seeds()
    pools["pmd_stream"] = pools["pmd_data"]
    return pools


@pytest.mark.parametrize("name", NAMES)
def test_only_payload_errors_escape_and_every_reject_is_counted(pools, name):
    assert pools[name], f"no seed payloads for {name}"
    r = fuzz_decoders.fuzz(name, fuzz_decoders.decoders()[name], pools[name], N, seed=6)
    assert r.escaped == [], f"{name}: exceptions escaped: {r.escaped[:3]}"
    assert r.n == N == r.accepted + sum(r.rejected.values())
    assert set(r.rejected) <= {p.value for p in PayloadProblem}
    if name != "info_string":  # strings are never rejected, by policy
        assert r.accepted and r.rejected, f"{name}: the fuzz should both pass and fail payloads"


def test_fuzz_catches_an_escaping_exception():
    """The harness itself: a decoder that raises IndexError is reported, not hidden."""

    def fragile(data: bytes) -> int:
        if len(data) > 3:
            raise PayloadError(PayloadProblem.MALFORMED, "long")
        return data[2]

    r = fuzz_decoders.fuzz("fragile", fragile, [b"\x01\x02\x03"], 500, seed=1)
    assert r.escaped and "IndexError" in r.escaped[0][1]
    assert r.escaped_count == r.n - r.accepted - sum(r.rejected.values()) > 0


def test_fuzz_is_seeded():
    pool = [bytes.fromhex("16400304")]
    decode = fuzz_decoders.decoders()["hrs"]
    a = fuzz_decoders.fuzz("hrs", decode, pool, 2000, seed=3)
    b = fuzz_decoders.fuzz("hrs", decode, pool, 2000, seed=3)
    assert (a.accepted, a.rejected) == (b.accepted, b.rejected)
