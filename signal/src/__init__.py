"""vagus.signal: pure HRV computations. Numbers in, numbers out; no I/O, no clock, no logging.

Importable only as ``vagus.signal`` (the folder holds no top-level package), so it never
shadows the standard library's ``signal`` module.
"""

from .records import Beat, BeatSource, Indicators, NullReason
from .time_domain import TimeDomain, time_domain
from .window import RollingWindow, WindowConfig

__all__ = [
    "Beat",
    "BeatSource",
    "Indicators",
    "NullReason",
    "RollingWindow",
    "TimeDomain",
    "WindowConfig",
    "time_domain",
]
