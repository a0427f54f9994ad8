"""vagus.sim: the firmware simulator. Encodes wearable bytes from the Bluetooth specifications
on its own (it never imports vagus.edge), so it is an independent oracle for the decoders."""

from .hrs_encoder import HRM_UUID, encode_hrm, max_rr_per_notification
from .physiology import HeartModel, RestingHeart
from .strap import SimulatedStrap

__all__ = [
    "HRM_UUID",
    "HeartModel",
    "RestingHeart",
    "SimulatedStrap",
    "encode_hrm",
    "max_rr_per_notification",
]
