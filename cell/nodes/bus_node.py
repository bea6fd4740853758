"""The bus node: the XSUB/XPUB proxy every other node connects to."""

from __future__ import annotations

import threading

import zmq

from cell.bus import BusEndpoints, BusProxy
from cell.config import CellConfig


class BusNode:
    """Runs the proxy until stopped (it has no heartbeat of its own: it *is* the bus)."""

    name = "bus"

    def __init__(self, config: CellConfig, endpoints: BusEndpoints, options: object):
        self.proxy = BusProxy(zmq.Context.instance(), endpoints)

    def run(self, stop: threading.Event | None = None) -> None:
        from cell.runtime import install_stop_signals

        stop = stop or threading.Event()
        restore = install_stop_signals(stop)
        try:
            self.proxy.run(stop)
        finally:
            self.proxy.close()
            restore()
