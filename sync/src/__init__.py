"""vagus.sync: the message schema and topic table shared by the edge and the bridge, the edge's
durable MQTT publisher and the bridge into InfluxDB (being built; see docs/architecture.md)."""

__all__: list[str] = []
