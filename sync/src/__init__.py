"""vagus.sync: the message schema and topic table shared by the edge and the bridge, the edge's
durable MQTT publisher (``vagus.sync.publisher``) and the bridge into InfluxDB (``vagus.sync.bridge``).

Only the schema and topics are imported here: they are light (msgspec only). The publisher and the
bridge import paho and influxdb-client, so they load only where they run. docs/sync.md has the design.
"""

from .errors import Problem, SchemaError, SyncError, TopicError
from .schema import (
    MAX_PAYLOAD_BYTES,
    SCHEMA_VERSION,
    Ack,
    Beats,
    Checkin,
    Message,
    Nudge,
    Status,
    Summary,
    decode,
    encode,
    pseudonymous_device_id,
    summary_from_mapping,
)
from .topics import Kind, Topics

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "SCHEMA_VERSION",
    "Ack",
    "Beats",
    "Checkin",
    "Kind",
    "Message",
    "Nudge",
    "Problem",
    "SchemaError",
    "Status",
    "Summary",
    "SyncError",
    "TopicError",
    "Topics",
    "decode",
    "encode",
    "pseudonymous_device_id",
    "summary_from_mapping",
]
