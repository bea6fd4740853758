"""The devices node on a bus with the engine: emulated devices on pseudo-terminals at the other end.

No camera runs, so the engine confirms by hand: the button box's keys finish
steps and call help, the pick-to-light follows the operator's step, the stack
light shows the cell's state, and a stack light pulled out and plugged back in
is reported and shows the right colour again.
"""

from __future__ import annotations

import time

import pytest

from cell.bus import Subscriber
from cell.config import Device, StoreSettings
from cell.config_loader import load_config
from cell.messages import DeviceEvent, Fault, StepState
from cell.nodes import RunOptions
from cell.nodes.devices_node import pick_lights, stack_light_signal
from tests.helpers_nodes import running_bus, wait_until
from tests.test_cell_processes import EXAMPLE, make_node_at
from tests.test_vision_node import wait_for


def state(**kw) -> StepState:
    base = dict(src="engine", t=0.0, seq=1, order_id="o", task_id="desk-lamp", step_id="base_to_fixture",
                step_index=0, step_count=11, phase="active", assignee="operator", unit=1, units_total=5)
    return StepState(**{**base, **kw})


def test_the_stack_light_shows_help_faults_pauses_and_work():
    assert stack_light_signal(None) == ("off", "")
    assert stack_light_signal(state()) == ("set", "GREEN")
    assert stack_light_signal(state(help_requested=True, paused=True, pause_reason="robot: stopped")) == \
        ("blink", "YELLOW")  # a person asking for help comes first
    assert stack_light_signal(state(paused=True, pause_reason="robot: the cobot is disconnected")) == ("blink", "RED")
    assert stack_light_signal(state(paused=True, pause_reason="paused by the job coach")) == ("set", "YELLOW")
    assert stack_light_signal(state(manual="camera: lost")) == ("set", "YELLOW")


def test_pick_to_light_lights_the_bin_of_a_step_waiting_for_its_pick():
    cfg = load_config(EXAMPLE)
    ptl = Device(id="ptl", kind="pick_to_light", url="loop://", bins={"bin_base": 1, "bin_screws": 3})
    assert pick_lights(cfg, ptl, state()) == {1: 1}
    assert pick_lights(cfg, ptl, state(step_id="screw_stem", step_index=2)) == {3: 2}  # two screws
    assert pick_lights(cfg, ptl, state(phase="verifying")) == {}
    assert pick_lights(cfg, ptl, state(assignee="cobot")) == {}
    assert pick_lights(cfg, ptl, state(step_id="connect_wires", step_index=6)) == {}  # no pick


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_devices_drive_the_cell_and_follow_it(tmp_path):
    from cell.devices.emulator import PtyDeviceEmulator

    with PtyDeviceEmulator("buttons") as box, PtyDeviceEmulator("stacklight") as light, \
            PtyDeviceEmulator("pick-to-light") as ptl:
        devices = [Device(id="box", kind="button_box", url=box.port, keys={"1": "confirm", "2": "help"},
                          reconnect_max_s=0.5),
                   Device(id="andon", kind="stack_light", url=light.port, reconnect_max_s=0.5),
                   Device(id="ptl", kind="pick_to_light", url=ptl.port, bins={"bin_base": 1, "bin_stem": 2})]
        cfg = load_config(EXAMPLE)
        cfg = cfg.model_copy(update={"devices": devices, "robot": None,
                                     "store": StoreSettings(path=tmp_path / "events.sqlite"),
                                     "thresholds": cfg.thresholds.model_copy(update={"camera_lost_s": 1.0})})
        options = RunOptions(state_dir=str(tmp_path / "state"))
        with running_bus() as (ctx, ep, _proxy):
            sub = Subscriber(ctx, ep.sub, ["step.state", "device.event", "fault."])
            nodes = {name: make_node_at(name, cfg, ep, options) for name in ("store", "engine", "devices")}
            threads = {name: node.start_thread() for name, node in nodes.items()}
            seen: list = []
            try:
                # no camera: the engine asks for confirmation by hand; the andon is steady yellow, bin A lit
                wait_for(sub, lambda m: isinstance(m, StepState) and m.manual and m.step_id == "base_to_fixture",
                         20, seen)
                assert wait_until(lambda: "SET YELLOW" in light.device.received, 5)
                assert wait_until(lambda: "LIGHT 1 1" in ptl.device.received, 5)
                # key 1 on the button box: the step is done; bin A goes dark, bin B lights for the stem
                box.send("DOWN 1")
                box.send("UP 1")
                press = wait_for(sub, lambda m: isinstance(m, DeviceEvent) and m.kind == "press", 5, seen)
                assert (press.device, press.text) == ("box", "1")
                wait_for(sub, lambda m: isinstance(m, StepState) and (m.step_id, m.phase) == ("base_to_fixture", "done"),
                         5, seen)
                assert wait_until(lambda: "OFF 1" in ptl.device.received and "LIGHT 2 1" in ptl.device.received, 5)
                # key 2 calls the job coach: the andon blinks yellow
                box.send("DOWN 2")
                box.send("UP 2")
                wait_for(sub, lambda m: isinstance(m, StepState) and m.help_requested, 5, seen)
                assert wait_until(lambda: light.device.received[-1:] == ["SET YELLOW BLINK"], 5)
                # the stack light pulled out: said once as a warning; plugged back in, it shows the call again
                sent = len(light.device.received)
                light.unplug()
                lost = wait_for(sub, lambda m: isinstance(m, Fault) and m.component == "device" and not m.cleared,
                                10, seen)
                assert lost.severity == "warning" and lost.text.startswith("andon:")
                light.replug()
                wait_for(sub, lambda m: isinstance(m, Fault) and m.component == "device" and m.cleared, 10, seen)
                assert wait_until(lambda: "SET YELLOW BLINK" in light.device.received[sent:], 5)
                assert not any(isinstance(m, StepState) and m.paused for m in seen)  # nothing stopped the work
            finally:
                sub.close()
                for _thread, stop in threads.values():
                    stop.set()
                for thread, _ in threads.values():
                    thread.join(10)
