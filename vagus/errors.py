"""The errors vagus raises on purpose. Each says what was wrong and what to do."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ConfigError", "DataError", "PayloadError", "PayloadProblem", "StoreError", "VagusError"]


class VagusError(Exception):
    """Root of every error vagus raises on purpose."""


class ConfigError(VagusError):
    """A bad configuration value or a bad command-line argument."""


class DataError(VagusError):
    """A recorded file that cannot be read; the message names the file and line."""


class StoreError(VagusError):
    """The local store cannot be opened or migrated."""


class PayloadProblem(StrEnum):
    """Why a BLE payload was rejected."""

    EMPTY = "empty"
    TRUNCATED = "truncated"  # a field the flags announce is cut short
    MALFORMED = "malformed"  # bytes that break the layout (a bad length, code, BCD digit or bit width)
    UNSUPPORTED = "unsupported"  # a well-formed message of a kind vagus does not decode (say which)
    BAD_CHECKSUM = "bad_checksum"  # the packet's checksum does not match its bytes
    OUT_OF_SEQUENCE = "out_of_sequence"  # a multi-packet reply arrived out of order or incomplete


class PayloadError(VagusError):
    """A BLE payload that cannot be decoded; ``problem`` says why, ``detail`` where."""

    def __init__(self, problem: PayloadProblem, detail: str) -> None:
        super().__init__(f"{problem.value}: {detail}")
        self.problem = problem
        self.detail = detail
