"""vagus: self-hosted stress and sleep monitoring from BLE wearables.

A wellness self-monitoring tool, not a medical device: its scores are not a diagnosis.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
