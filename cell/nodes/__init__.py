"""The nodes of a cell and which of them a config needs.

Each node is a thin shell (``cell.runtime.Node``) around one piece of core
logic. ``NODES`` maps a node name to its factory; ``nodes_for(config)`` lists
the nodes ``cell run`` starts, in start order (the bus proxy first).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Callable

from cell.bus import BusEndpoints
from cell.config import CellConfig


@dataclass(frozen=True)
class RunOptions:
    """What `cell run` / `cell demo` tell every node besides the config."""

    operator_id: str | None = None
    state_dir: str = "data/state"
    frames_dir: str | None = None     # projector frames as PNG (no display), None = window
    speed: float = 1.0                # demo only: the simulated operator and cobot work this much faster
    start_orders: bool = True


NODES: dict[str, str] = {
    "bus": "cell.nodes.bus_node:BusNode",
    "store": "cell.nodes.store_node:StoreNode",
    "engine": "cell.nodes.engine_node:EngineNode",
    "robot": "robot_bridge.node:RobotNode",
    "ergonomics": "cell.nodes.ergonomics_node:ErgonomicsNode",
    "stress": "cell.nodes.stress_node:StressNode",
    "projection": "projection.node:ProjectionNode",
    "sim-operator": "cell.nodes.sim_operator_node:SimOperatorNode",
    "vision": "cell.nodes.vision_node:VisionNode",
    "devices": "cell.nodes.devices_node:DevicesNode",
}


class NodeUnavailable(RuntimeError):
    """The config asks for a part this version cannot drive; the message says what to do."""


def endpoints(config: CellConfig) -> BusEndpoints:
    return BusEndpoints.local(config.bus.base_port, config.bus.host)


def nodes_for(config: CellConfig) -> list[str]:
    names = ["bus", "store", "engine", "ergonomics", "stress", "projection"]
    if config.robot is not None:
        names.append("robot")
    if config.devices:
        names.append("devices")
    if config.camera.source == "sim":
        names.append("sim-operator")
        return names
    from cell.nodes.vision_node import camera_to_bench_for

    try:
        camera_to_bench_for(config)  # an uncalibrated camera is said now, not by a node restarting in a loop
    except ValueError as exc:
        raise NodeUnavailable(f"vision: {exc}") from None
    names.append("vision")
    return names


def make_node(name: str, config: CellConfig, options: RunOptions):
    try:
        target = NODES[name]
    except KeyError:
        raise NodeUnavailable(f"no node called {name!r}; nodes: {', '.join(NODES)}") from None
    module, cls = target.split(":")
    factory: Callable = getattr(import_module(module), cls)
    try:
        return factory(config, endpoints(config), options)
    except ValueError as exc:  # what the config asks for cannot be set up (e.g. a missing calibration file)
        raise NodeUnavailable(f"{name}: {exc}") from None
