"""The devices node: the bench's serial devices on the bus (docs/devices.md).

Every device in the config's ``devices`` section gets a ``DeviceLink`` (its own
reader thread, reconnect with back-off, garbage counted). What they send goes
out as ``DeviceEvent``s: key presses for the engine, RR intervals for the stress
node, torque results, pick-to-light acknowledgements. What they show follows the
engine's step states: the stack light (``stack_light_signal``) and the lit bins
(``pick_lights``), both pure and decided here, sent only when they change (the
link itself shows them again after a device is plugged back in).

A device that is lost or sends only garbage is logged once, said in the
heartbeat's status, and published as a ``Fault`` of component ``device`` with
severity ``warning``: the work goes on (a lost stack light must not stop the
bench), the job coach sees it.
"""

from __future__ import annotations

from cell.bus import BusEndpoints
from cell.adaptation import step_for
from cell.config import CellConfig, Device, OperatorProfile
from cell.messages import Fault, Message, OperatorChanged, StepState
from cell.runtime import Node
from cell.step_tracker import StepTracker

Signal = tuple[str, str]  # (command, colour): ("set", "GREEN"), ("blink", "YELLOW"), ("off", "")


def stack_light_signal(state: StepState | None) -> Signal:
    """The andon for the cell's state: help called blinks yellow, a fault pause blinks red, any other
    pause (or steps confirmed by hand with the camera lost) is steady yellow, work going on is green."""
    if state is None:
        return ("off", "")
    if state.help_requested:
        return ("blink", "YELLOW")
    if state.paused:
        reasons = state.pause_reason.split("; ")
        faulted = any(r.split(":", 1)[0] in ("robot", "camera", "engine") for r in reasons if ":" in r)
        return ("blink", "RED") if faulted else ("set", "YELLOW")
    if state.manual:
        return ("set", "YELLOW")
    return ("set", "GREEN")


def pick_lights(config: CellConfig, device: Device, state: StepState | None,
                profile: OperatorProfile | None = None) -> dict[int, int]:
    """Light number -> count for the operator's step that is waiting for a pick; nothing otherwise."""
    if state is None or state.assignee != "operator" or state.phase != "active" or state.paused:
        return {}
    step = step_for(config, profile or config.operator(), state.task_id, state.step_id)  # a sub-step too
    if step.pick is None or step.pick.zone not in device.bins:
        return {}
    return {device.bins[step.pick.zone]: step.pick.quantity}


class DevicesNode(Node):
    def __init__(self, config: CellConfig, endpoints: BusEndpoints, options, *, links=None):
        super().__init__("devices", endpoints, topics=["step.state", "operator.profile"],
                         heartbeat_s=config.bus.heartbeat_s, tick_s=0.02)
        from cell.devices import DeviceLink

        self.config = config
        self.profile = config.operator(options.operator_id)
        self.links = links if links is not None else {d.id: DeviceLink(d) for d in config.devices}
        self.steps = StepTracker()
        self.shown: dict[str, object] = {}       # device id -> what it was last told to show
        self._link_state: dict[str, str] = {}   # device id -> the link state last reported

    def on_start(self, now: float) -> None:
        for link in self.links.values():
            link.start()
        self._sync(now)
        self._drive()

    def _sync(self, now: float) -> None:
        snap = self.snapshot_until_answered(now)
        if snap is not None:
            for st in (snap.cobot_step, snap.step):
                if st is not None:
                    self.steps.update(st)
            self._drive()

    def on_message(self, msg: Message, now: float) -> None:
        if isinstance(msg, StepState) and self.steps.update(msg):
            self._drive()
        elif isinstance(msg, OperatorChanged):
            self.reload_operator(msg)

    def on_tick(self, now: float) -> None:
        self._sync(now)
        for device_id, link in self.links.items():
            for reading in link.readings():
                self.publish(reading.to_message(self.name))
            self._report(device_id, link, now)
        self.counters["garbage"] = sum(link.garbage for link in self.links.values())
        self.status = "; ".join(f"{i}: {link.status}" for i, link in self.links.items()) or "no devices"

    def _report(self, device_id: str, link, now: float) -> None:
        state = link.state
        before = self._link_state.get(device_id)
        if state == before or state == "connecting":
            return
        self._link_state[device_id] = state
        if state == "open":
            if before in ("lost", "unreadable"):
                self.log("info", f"device {device_id}: {link.status}")
                self.publish(Fault(src=self.name, t=now, component="device", severity="warning",
                                   text=f"{device_id}: back", cleared=True))
            return
        self.log("warning", f"device {device_id}: {link.status}")
        self.publish(Fault(src=self.name, t=now, component="device", severity="warning",
                           text=f"{device_id}: {link.status}"))

    def _drive(self) -> None:
        """Tell the output devices what the cell's state asks for, when it changed."""
        front = self.steps.front
        for device_id, link in self.links.items():
            device: Device = link.device
            if device.kind == "stack_light":
                want: object = stack_light_signal(front)
                if want != self.shown.get(device_id):
                    command, colour = want  # type: ignore[misc]
                    link.write(command, **({"colour": colour} if colour else {}))
            elif device.kind == "pick_to_light":
                want = pick_lights(self.config, device, self.steps.operator, self.profile)
                before = self.shown.get(device_id, {})
                for light in set(before) - set(want):  # type: ignore[arg-type]
                    link.write("off", bin=light)
                for light, count in want.items():  # type: ignore[union-attr]
                    if before.get(light) != count:  # type: ignore[union-attr]
                        link.write("light", bin=light, count=count)
            else:
                continue
            self.shown[device_id] = want

    def on_stop(self, now: float) -> None:
        for link in self.links.values():
            link.close()
