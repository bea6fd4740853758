"""Serial bench devices below the devices node: line protocols (pure), the link (a reader thread per
device) and emulated devices on pseudo-terminals. See docs/devices.md."""

from cell.devices.link import DeviceLink
from cell.devices.protocols import DeviceProtocolParser, DeviceReading

__all__ = ["DeviceLink", "DeviceProtocolParser", "DeviceReading"]
