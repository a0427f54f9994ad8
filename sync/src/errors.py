"""The errors of the sync path. They derive from ``VagusError`` so the CLI reports them like every other."""

from __future__ import annotations

from enum import StrEnum

from vagus.errors import VagusError

__all__ = ["Problem", "SchemaError", "SyncError", "TopicError"]


class SyncError(VagusError):
    """Root of the sync path's errors."""


class Problem(StrEnum):
    """Why a message was refused; stored as the reason of a dead letter."""

    TOO_LARGE = "too_large"  # longer than MAX_PAYLOAD_BYTES
    NOT_JSON = "not_json"  # not UTF-8 JSON at all
    UNKNOWN_VERSION = "unknown_version"  # a `v` this bridge does not know (a newer agent?)
    INVALID = "invalid"  # JSON, but not the schema of its topic's kind
    UNKNOWN_TOPIC = "unknown_topic"  # not <prefix>/<person>/<kind>
    PERSON_MISMATCH = "person_mismatch"  # the payload's person is not the topic's person
    DATABASE_REJECTED = "database_rejected"  # valid, but the database refused the point (HTTP 400/422)


class SchemaError(SyncError):
    """A message that does not match its schema; ``problem`` says why, ``detail`` where."""

    def __init__(self, problem: Problem, detail: str) -> None:
        super().__init__(f"{problem.value}: {detail}")
        self.problem = problem
        self.detail = detail


class TopicError(SyncError):
    """A topic prefix, person id or topic that vagus cannot use."""
