"""The SVG chart frame of ``vagus report``: time across, a value up, grid and hour ticks in local time,
polylines that never cross a gap, shaded bands. Plain strings, no library: the page must stay one
self-contained file."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "BOTTOM",
    "LEFT",
    "RIGHT",
    "TOP",
    "WIDTH",
    "Frame",
    "bands",
    "hm",
    "polylines",
    "svg_chart",
    "ticks",
    "value_range",
]

_e = html.escape


def hm(t_utc_s: float, utc_offset_min: int) -> str:
    """``HH:MM`` of ``t_utc_s`` at a fixed UTC offset (minutes)."""
    return datetime.fromtimestamp(t_utc_s + utc_offset_min * 60.0, UTC).strftime("%H:%M")


WIDTH, LEFT, RIGHT, TOP, BOTTOM = 760.0, 48.0, 12.0, 14.0, 24.0


@dataclass(frozen=True, slots=True)
class Frame:
    """A plot area: time (s UTC) across, a value range up."""

    t0: float
    t1: float
    lo: float
    hi: float
    height: float

    def x(self, t: float) -> float:
        return LEFT + (t - self.t0) / (self.t1 - self.t0) * (WIDTH - LEFT - RIGHT)

    def y(self, v: float) -> float:
        v = min(max(v, self.lo), self.hi)
        return self.height - BOTTOM - (v - self.lo) / (self.hi - self.lo) * (self.height - TOP - BOTTOM)


def svg_chart(
    name: str, frame: Frame, body: str, *, title: str, desc: str, off: int, unit: str, ticks: Sequence[float]
) -> str:
    grid = []
    for v in ticks:
        y = frame.y(v)
        grid.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        grid.append(f'<text class="tick" x="{LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">{v:g}</text>')
    step = 3 * 3600 if frame.t1 - frame.t0 > 12 * 3600 else 3600
    first = math.ceil((frame.t0 + off * 60) / step) * step - off * 60
    for t in range(int(first), int(frame.t1) + 1, step):
        x = frame.x(t)
        grid.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{frame.height - BOTTOM}"/>')
        grid.append(f'<text class="tick" x="{x:.1f}" y="{frame.height - 8}" text-anchor="middle">{hm(t, off)}</text>')
    axis = f'<text class="axis" x="{LEFT + 2}" y="{TOP - 3}">{_e(unit)}</text>'
    return (
        f'<svg class="chart" id="chart-{name}" viewBox="0 0 {WIDTH:g} {frame.height:g}" role="img"'
        f' aria-labelledby="chart-{name}-title chart-{name}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-{name}-title">{_e(title)}</title><desc id="chart-{name}-desc">{_e(desc)}</desc>'
        f"{''.join(grid)}{axis}{body}</svg>"
    )


def polylines(frame: Frame, points: Sequence[tuple[float, float]], css: str, *, max_gap_s: float = 60.0) -> str:
    """Polylines through per-minute points, broken wherever minutes are missing (never drawn across a gap)."""
    runs: list[list[tuple[float, float]]] = []
    for t, v in points:
        if runs and t - runs[-1][-1][0] <= max_gap_s + 1e-6:
            runs[-1].append((t, v))
        else:
            runs.append([(t, v)])
    out = []
    for run in runs:
        if len(run) == 1:
            t, v = run[0]
            out.append(f'<circle class="{css}" cx="{frame.x(t + 30):.1f}" cy="{frame.y(v):.1f}" r="1.2"/>')
        else:
            coords = " ".join(f"{frame.x(t + 30):.1f},{frame.y(v):.1f}" for t, v in run)
            out.append(f'<polyline class="{css}" points="{coords}"/>')
    return "".join(out)


def bands(frame: Frame, spans: Iterable[tuple[float, float]], css: str) -> str:
    return "".join(
        f'<rect class="{css}" x="{frame.x(a):.1f}" y="{TOP}" width="{frame.x(b) - frame.x(a):.1f}"'
        f' height="{frame.height - TOP - BOTTOM:.1f}"/>'
        for a, b in spans
    )


def ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    """Round values (multiples of 1, 2, 2.5 or 5 × 10^k) in [lo, hi], about ``n`` steps apart."""
    raw = (hi - lo) / n
    step = min((s * 10.0**k for k in range(-1, 4) for s in (1, 2, 2.5, 5) if s * 10.0**k >= raw), default=raw)
    return [k * step for k in range(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1)]


def value_range(values: Sequence[float], step: float, floor_at: float | None = None) -> tuple[float, float]:
    lo, hi = math.floor(min(values) / step) * step, math.ceil(max(values) / step) * step
    if floor_at is not None:
        lo = floor_at
    return lo, hi if hi > lo else lo + step
