"""vagus.edge: the agent that runs beside the wearables — transports, decoders, local store."""

from .agent import Agent, AgentConfig
from .device_link import DeviceLink
from .hrs import HEART_RATE_MEASUREMENT_UUID, HeartRateMeasurement, decode_hrm
from .store import Store
from .transport import Transport

__all__ = [
    "HEART_RATE_MEASUREMENT_UUID",
    "Agent",
    "AgentConfig",
    "DeviceLink",
    "HeartRateMeasurement",
    "Store",
    "Transport",
    "decode_hrm",
]
