"""vagus.sim: the firmware simulator. Encodes wearable bytes from the Bluetooth specifications and
vendor protocols on its own (it never imports vagus.edge), so it is an independent oracle for the
decoders; simulates people following scenarios; paces devices on an injected clock; records and
replays captures. See docs/simulator.md."""

from .capture import CaptureWriter, CapturingTransport, ReplayDevice, read_capture
from .device import DeviceUnavailableError, Notification, SimulatedDevice
from .firmware import PROFILES
from .hrs_encoder import HRM_UUID, encode_hrm, max_rr_per_notification
from .physiology import State, simulate
from .population import Person, draw_population
from .scenario import Scenario, ScenarioError, builtin_names, load_builtin, load_scenario
from .world import World, build_world, render

__all__ = [
    "HRM_UUID",
    "PROFILES",
    "CaptureWriter",
    "CapturingTransport",
    "DeviceUnavailableError",
    "Notification",
    "Person",
    "ReplayDevice",
    "Scenario",
    "ScenarioError",
    "SimulatedDevice",
    "State",
    "World",
    "build_world",
    "builtin_names",
    "draw_population",
    "encode_hrm",
    "load_builtin",
    "load_scenario",
    "max_rr_per_notification",
    "read_capture",
    "render",
    "simulate",
]
