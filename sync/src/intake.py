"""What the bridge makes of one received message: a point to write, an ack to take in, or a refusal.

Pure: topic and bytes in, decision out. The order of checks is the order of trust: the topic (which
the broker's ACL vouches for), the size, the JSON, the version, the schema, and finally that the
person inside the payload is the person whose topic it came on.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Problem, SchemaError, TopicError
from .points import Point, points_of
from .schema import Message, Status, decode
from .topics import Topics

__all__ = ["Accepted", "Refused", "classify"]


@dataclass(frozen=True, slots=True)
class Accepted:
    message: Message
    points: tuple[Point, ...]  # empty: nothing to write (an ack, or a replayed timeless status)


@dataclass(frozen=True, slots=True)
class Refused:
    problem: Problem
    detail: str


def classify(topics: Topics, topic: str, payload: bytes, *, retained: bool, received_utc_ms: int) -> Accepted | Refused:
    try:
        person, kind = topics.parse(topic)
    except TopicError as exc:
        return Refused(Problem.UNKNOWN_TOPIC, str(exc))
    try:
        message = decode(kind, payload)
    except SchemaError as exc:
        return Refused(exc.problem, exc.detail)
    if message.person != person:
        # A publisher writing into another person's subtree: the broker's ACL should have stopped it.
        return Refused(Problem.PERSON_MISMATCH, f"payload person differs from the topic's ({kind.value})")
    if isinstance(message, Status) and message.t_utc_ms is None and retained:
        # A last will has no time of its own; replayed as a retained message on a new subscription it
        # would be stamped again with a new time. Live, it is stamped once, when it arrives.
        return Accepted(message, ())
    return Accepted(message, points_of(message, received_utc_ms=received_utc_ms))
