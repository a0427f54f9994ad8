"""The injected clocks."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from vagus.clock import Clock, RealClock, SimClock


async def test_sim_clock_wakes_waiters_in_order_at_exact_times():
    clock = SimClock(100.0)
    seen: list[tuple[str, float]] = []

    async def sleeper(name: str, delay_s: float) -> None:
        await clock.sleep(delay_s)
        seen.append((name, clock.now_utc_s()))

    await asyncio.gather(sleeper("c", 30.0), sleeper("a", 0.5), sleeper("b", 7.25))
    assert seen == [("a", 100.5), ("b", 107.25), ("c", 130.0)]


async def test_sim_clock_runs_a_simulated_day_in_no_time():
    clock = SimClock(0.0)
    ticks = 0
    start = time.monotonic()
    while clock.now_utc_s() < 86_400:
        await clock.sleep(60.0)
        ticks += 1
    assert ticks == 1440 and clock.now_utc_s() == 86_400.0
    assert time.monotonic() - start < 30  # sanity bound, not a benchmark


async def test_sim_clock_paces_by_speed():
    clock = SimClock(0.0, speed=20.0)
    start = time.monotonic()
    await clock.sleep(4.0)  # 4 simulated seconds at 20x = 0.2 wall seconds
    elapsed = time.monotonic() - start
    assert clock.now_utc_s() == 4.0
    assert 0.15 < elapsed < 2.0


async def test_a_new_earlier_waiter_is_not_held_up_by_a_later_one():
    clock = SimClock(0.0, speed=10.0)
    long_wait = asyncio.ensure_future(clock.sleep(100.0))
    await asyncio.sleep(0.01)
    start = time.monotonic()
    await clock.sleep(1.0)
    assert time.monotonic() - start < 1.0
    assert clock.now_utc_s() == 1.0
    long_wait.cancel()


async def test_cancelled_waiter_does_not_block_time():
    clock = SimClock(0.0)
    task = asyncio.ensure_future(clock.sleep(50.0))
    await asyncio.sleep(0)
    task.cancel()
    await clock.sleep(100.0)
    assert clock.now_utc_s() == 100.0


def test_rejects_bad_speed():
    with pytest.raises(ValueError):
        SimClock(0.0, speed=0.0)
    assert SimClock(0.0, speed=math.inf).now_utc_s() == 0.0


async def test_both_clocks_satisfy_the_protocol():
    assert isinstance(RealClock(), Clock) and isinstance(SimClock(0.0), Clock)
    before = time.time()
    assert before - 1 <= RealClock().now_utc_s() <= time.time() + 1
    await RealClock().sleep(0.0)
