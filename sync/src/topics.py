"""The topic table: every MQTT topic vagus uses, under one configurable prefix, one subtree per person.

``<prefix>/<person>/<kind>`` with kind one of status, summary, nudge, checkin, ack, beats, device. The QoS and retain
flag of each kind live here too, so publisher and bridge cannot disagree. docs/topics.md is the table
for people (publishers, subscribers and the Mosquitto ACL line of each topic).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .errors import TopicError

__all__ = [
    "PERSON_PATTERN",
    "QOS",
    "RETAIN",
    "Kind",
    "Topics",
    "check_person",
]

# A person id is one topic level, a Mosquitto username (the ACL's %u) and an InfluxDB tag value:
# letters, digits, '-' and '_' only, so it needs no escaping anywhere and can never be a wildcard.
PERSON_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_PERSON = re.compile(PERSON_PATTERN)
# A prefix is one or more plain topic levels ("vagus", "home/vagus"); never '$' (broker-reserved).
_PREFIX = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
_SHARE_GROUP = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Kind(StrEnum):
    """The last topic level: what a message is."""

    STATUS = "status"  # agent online/offline, retained, also the agent's last will
    SUMMARY = "summary"  # one indicators record
    NUDGE = "nudge"  # a suggestion sent to the person (e.g. slow breathing)
    CHECKIN = "checkin"  # the person's answer, from a companion app or Home Assistant
    ACK = "ack"  # the bridge's write confirmation (highest contiguous seq written)
    BEATS = "beats"  # raw beats of one device, only if the person opted in ([sync] raw_beats)
    DEVICE = "device"  # a wearable's link state and battery (dashboards, Home Assistant)
    NIGHT = "night"  # one sleep period the agent found, summarised (the Nights dashboard)


QOS: Final[dict[Kind, int]] = {kind: 1 for kind in Kind}
# status: a subscriber joining later must see whether the agent is up (last will included).
# ack: an agent restarting, or a second bridge worker, learns the latest confirmation at once.
RETAIN: Final[dict[Kind, bool]] = {
    Kind.STATUS: True,
    Kind.SUMMARY: False,
    Kind.NUDGE: False,
    Kind.CHECKIN: False,
    Kind.ACK: True,
    Kind.BEATS: False,
    Kind.DEVICE: False,  # a stale state would mislead: the agent's retained status says whether it is up
    Kind.NIGHT: False,
}


def check_person(person: str) -> str:
    """Return ``person`` if it is a usable person id, else raise ``TopicError`` saying why."""
    if not isinstance(person, str) or not _PERSON.match(person):
        raise TopicError(
            f"person id {person!r} is not usable: 1–64 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return person


@dataclass(frozen=True, slots=True)
class Topics:
    """Builds and parses topics under ``prefix``."""

    prefix: str = "vagus"

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise TopicError(
                f"topic prefix {self.prefix!r} is not usable: one or more levels of letters, digits, '-' or '_' "
                "separated by '/', no wildcards, no leading '$' or '/'"
            )

    def topic(self, person: str, kind: Kind) -> str:
        return f"{self.prefix}/{check_person(person)}/{Kind(kind).value}"

    def every_person(self, kind: Kind) -> str:
        """The subscription filter for one kind of every person: ``<prefix>/+/<kind>``."""
        return f"{self.prefix}/+/{Kind(kind).value}"

    def shared(self, group: str, kind: Kind) -> str:
        """``$share/<group>/<prefix>/+/<kind>``: each message goes to one member of the group."""
        if not _SHARE_GROUP.match(group):
            raise TopicError(f"shared subscription group {group!r} is not usable: 1–64 letters, digits, '-' or '_'")
        return f"$share/{group}/{self.every_person(kind)}"

    def parse(self, topic: str) -> tuple[str, Kind]:
        """``(person, kind)`` of a topic under this prefix; ``TopicError`` for anything else."""
        return _parse(self.prefix, topic)


# The bridge parses a topic per message, and topics repeat (people × kinds): remember the answers.
# A refusal raises and is not cached, so junk topics cannot fill the cache.
@functools.lru_cache(maxsize=4096)
def _parse(prefix: str, topic: str) -> tuple[str, Kind]:
    head = prefix + "/"
    if not topic.startswith(head):
        raise TopicError(f"topic {topic!r} is not under the prefix {prefix!r}")
    parts = topic[len(head) :].split("/")
    if len(parts) != 2:
        raise TopicError(f"topic {topic!r} is not {prefix}/<person>/<kind>")
    person, kind = parts
    try:
        return check_person(person), Kind(kind)
    except ValueError as exc:
        raise TopicError(f"topic {topic!r}: unknown kind {kind!r}") from exc
