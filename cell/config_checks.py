"""Checks across sections of a validated cell config: ids, references, geometry.

Each check returns (location, message) pairs; the loader turns a location
into file and line. A message says what is wrong and what is allowed.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterator

from cell.config import CellConfig

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]

# which zone kinds each kind of reference may point at
PICK_KINDS = {"bin", "tray", "fixture"}
PLACE_KINDS = {"fixture", "tray", "bin"}
BUTTON_KINDS = {"button"}


def _duplicates(ids: list[str], section: Loc, what: str) -> Iterator[Problem]:
    counts = Counter(ids)
    seen: set[str] = set()
    for i, ident in enumerate(ids):
        if counts[ident] > 1 and ident in seen:
            yield section + (i, "id"), f"duplicate {what} id '{ident}'; every {what} needs its own id"
        seen.add(ident)


def _allowed(ids: list[str]) -> str:
    return ", ".join(ids) if ids else "(none defined)"


def cross_check(config: CellConfig) -> list[Problem]:
    return list(_checks(config))


def _checks(c: CellConfig) -> Iterator[Problem]:
    zone_ids = [z.id for z in c.zones]
    zones = {z.id: z for z in c.zones}
    yield from _duplicates(zone_ids, ("zones",), "zone")
    yield from _duplicates([t.id for t in c.tasks], ("tasks",), "task")
    yield from _duplicates([o.id for o in c.operators], ("operators",), "operator")
    yield from _duplicates([d.id for d in c.devices], ("devices",), "device")

    for i, z in enumerate(c.zones):
        if z.left_rect is not None:
            r = z.left_rect
            if not (0 <= r.x and r.x + r.w <= c.bench.width_mm and 0 <= r.y and r.y + r.h <= c.bench.depth_mm):
                yield (("zones", i, "left_rect"), f"zone '{z.id}' left-handed place reaches outside the bench; "
                       f"allowed: x 0..{c.bench.width_mm:g}, y 0..{c.bench.depth_mm:g}")
        for (x, y) in z.points():
            if not (0 <= x <= c.bench.width_mm and 0 <= y <= c.bench.depth_mm):
                field = "rect" if z.rect is not None else "polygon"
                yield (("zones", i, field),
                       f"zone '{z.id}' reaches ({x:g}, {y:g}) mm, outside the bench; allowed: "
                       f"x 0..{c.bench.width_mm:g}, y 0..{c.bench.depth_mm:g} (bench.width_mm, bench.depth_mm)")
                break

    device_ids = [d.id for d in c.devices]
    bins = [z.id for z in c.zones if z.kind == "bin"]
    for di, d in enumerate(c.devices):
        for zid in d.bins:
            if zid not in bins:
                yield ("devices", di, "bins", zid), f"'{zid}' is not a bin zone; allowed: {_allowed(bins)}"
        if d.bins and d.kind != "pick_to_light":
            yield ("devices", di, "bins"), f"'bins' is for a pick_to_light device (this one is a {d.kind})"
        if d.keys and d.kind not in ("button_box", "pedal"):
            yield ("devices", di, "keys"), f"'keys' is for a button_box or pedal (this one is a {d.kind})"
        if d.protocol.patterns or d.protocol.commands or d.protocol.encoding != "ascii":
            from cell.devices.protocols import DeviceProtocolParser

            try:
                DeviceProtocolParser(d)
            except ValueError as exc:
                yield ("devices", di, "protocol"), str(exc)
    all_steps: set[str] = set()
    # robot programs and operator limits name steps by id across tasks, so ids are unique cell-wide
    first_task: dict[str, str] = {}
    for ti, task in enumerate(c.tasks):
        for si, step in enumerate(task.steps):
            if step.id in first_task and first_task[step.id] != task.id:
                yield (("tasks", ti, "steps", si, "id"), f"step id '{step.id}' is also used in task "
                       f"'{first_task[step.id]}'; step ids must be unique in the cell (robot programs and "
                       "operator limits name steps by id)")
            first_task.setdefault(step.id, task.id)
    for ti, task in enumerate(c.tasks):
        step_ids = [s.id for s in task.steps]
        yield from _duplicates(step_ids, ("tasks", ti, "steps"), "step")
        all_steps.update(step_ids)
        for si, step in enumerate(task.steps):
            here: Loc = ("tasks", ti, "steps", si)

            def ref(field: Loc, zone_id: str, kinds: set[str] | None, role: str) -> Iterator[Problem]:
                if zone_id not in zones:
                    yield here + field, f"'{zone_id}' is not a zone; allowed: {_allowed(zone_ids)}"
                elif kinds and zones[zone_id].kind not in kinds:
                    fitting = [z.id for z in c.zones if z.kind in kinds]
                    yield (here + field, f"zone '{zone_id}' is a {zones[zone_id].kind}, a step cannot {role} it; "
                           f"allowed: {_allowed(fitting)}")

            if step.pick:
                yield from ref(("pick", "zone"), step.pick.zone, PICK_KINDS, "pick from")
            if step.place:
                yield from ref(("place", "zone"), step.place.zone, PLACE_KINDS, "place into")
            if step.press:
                yield from ref(("press",), step.press, BUTTON_KINDS, "press")
            for hi, zid in enumerate(step.highlight):
                yield from ref(("highlight", hi), zid, None, "highlight")
            if step.verify.zone:
                kinds = BUTTON_KINDS if step.verify.by == "button" else None
                yield from ref(("verify", "zone"), step.verify.zone, kinds, "be verified by")
            if step.verify.device and step.verify.device not in device_ids:
                yield here + ("verify", "device"), f"'{step.verify.device}' is not a device; allowed: {_allowed(device_ids)}"
            if step.who in ("cobot", "both"):
                if c.robot is None:
                    yield here + ("who",), f"step '{step.id}' may be done by the cobot but the cell has no 'robot' section"
                elif step.id not in c.robot.programs:
                    yield (here + ("who",), f"step '{step.id}' may be done by the cobot but robot.programs has no "
                           f"program for it; allowed: operator, or add robot.programs.{step.id}")
            if step.plan is not None and step.who != "both":
                yield here + ("plan",), f"'plan' is only for steps with who: both (this step has who: {step.who})"
            if step.verify.by == "robot" and step.who != "cobot":
                yield (here + ("verify", "by"), "verify by 'robot' only fits cobot-only steps (who: cobot); "
                       "a step an operator may do needs a way to see the operator finish it")
            for ai, dep in enumerate(step.after or []):
                if dep not in step_ids[:si]:
                    yield (here + ("after", ai), f"'{dep}' is not a step listed before '{step.id}' in task "
                           f"'{task.id}' (list steps in an order they can be done); allowed: "
                           f"{_allowed(step_ids[:si])}")
            if c.cell.language not in step.instruction:
                yield (here + ("instruction",), f"no instruction in the cell language '{c.cell.language}'; "
                       f"given: {_allowed(sorted(step.instruction))}")

    if c.robot is not None:
        if c.robot.driver == "serial" and not c.robot.serial_url:
            yield (("robot", "driver"), "driver 'serial' needs robot.serial_url (a pyserial URL such as "
                   "/dev/ttyUSB0 or socket://host:port)")
        if "{program}" not in c.robot.serial.run and c.robot.driver == "serial":
            yield ("robot", "serial", "run"), "the run command must contain {program}, e.g. 'RUN {program}'"
        for step_id in c.robot.programs:
            if step_id not in all_steps:
                yield ("robot", "programs", step_id), f"'{step_id}' is not a step; allowed: {_allowed(sorted(all_steps))}"

    for pi, check in enumerate(c.vision.part_checks):
        if check.zone not in zones:
            yield ("vision", "part_checks", pi, "zone"), f"'{check.zone}' is not a zone; allowed: {_allowed(zone_ids)}"
        elif zones[check.zone].kind not in ("fixture", "tray"):
            fitting = [z.id for z in c.zones if z.kind in ("fixture", "tray")]
            yield (("vision", "part_checks", pi, "zone"), f"zone '{check.zone}' is a {zones[check.zone].kind}; a part "
                   f"check looks into a fixture or tray; allowed: {_allowed(fitting)}")
    checked = {p.zone for p in c.vision.part_checks}
    for ti, task in enumerate(c.tasks):
        for si, step in enumerate(task.steps):
            if step.verify.by == "part_present" and (step.verify.zone or (step.place and step.place.zone)) not in checked:
                yield (("tasks", ti, "steps", si, "verify", "by"), f"step '{step.id}' is verified by 'part_present' "
                       "but vision.part_checks has no check for its zone; add one (zone, empty_image, filled_image)")

    task_ids = [t.id for t in c.tasks]
    for oi, order in enumerate(c.orders):
        if order.task not in task_ids:
            yield ("orders", oi, "task"), f"'{order.task}' is not a task; allowed: {_allowed(task_ids)}"

    for oi, op in enumerate(c.operators):
        for field in ("forbidden_steps", "practice_steps"):
            for k, sid in enumerate(getattr(op.limits, field)):
                if sid not in all_steps:
                    yield (("operators", oi, "limits", field, k),
                           f"'{sid}' is not a step; allowed: {_allowed(sorted(all_steps))}")
        lim = op.limits
        for task in c.tasks:
            for step in task.steps:
                if step.who != "operator":
                    continue
                clash = None
                if step.id in lim.forbidden_steps:
                    clash = ("forbidden_steps", "is forbidden for")
                elif lim.max_load_kg is not None and step.load_kg > lim.max_load_kg:
                    clash = ("max_load_kg", f"weighs {step.load_kg:g} kg, above the limit of")
                elif lim.no_overhead and step.posture.reach in ("high", "overhead"):
                    clash = ("no_overhead", "needs a high reach, ruled out for")
                elif lim.no_low_reach and step.posture.reach == "low":
                    clash = ("no_low_reach", "needs a low reach, ruled out for")
                if clash:
                    yield (("operators", oi, "limits", clash[0]),
                           f"step '{step.id}' {clash[1]} '{op.id}' but only a person may do it (who: operator); "
                           "make the step who: both (the cobot takes it) or change this profile")

    yield from _operator_steps(c)


def _operator_steps(c: CellConfig) -> Iterator[Problem]:
    """Per-operator step adaptations (``operators[].steps``) and practice steps: steps that exist, sub-steps
    that point at fitting zones, splits only of steps this person may do (cell.adaptation)."""
    from cell.adaptation import sub_step_id

    zones = {z.id: z for z in c.zones}
    zone_ids = list(zones)
    device_ids = [d.id for d in c.devices]
    checked = {p.zone for p in c.vision.part_checks}
    steps = {s.id: s for t in c.tasks for s in t.steps}
    all_steps = sorted(steps)

    def ref(loc: Loc, zone_id: str, kinds: set[str] | None, role: str) -> Iterator[Problem]:
        if zone_id not in zones:
            yield loc, f"'{zone_id}' is not a zone; allowed: {_allowed(zone_ids)}"
        elif kinds and zones[zone_id].kind not in kinds:
            fitting = [z.id for z in c.zones if z.kind in kinds]
            yield (loc, f"zone '{zone_id}' is a {zones[zone_id].kind}, a sub-step cannot {role} it; "
                   f"allowed: {_allowed(fitting)}")

    def texts(loc: Loc, text: dict | None, op_language: str) -> Iterator[Problem]:
        if text is not None and op_language not in text and c.cell.language not in text:
            yield (loc, f"no text in this operator's language '{op_language}' or the cell language "
                   f"'{c.cell.language}'; given: {_allowed(sorted(text))}")

    for oi, op in enumerate(c.operators):
        lim = op.limits
        for k, sid in enumerate(lim.practice_steps):
            step = steps.get(sid)
            if step is not None and step.who == "cobot":
                yield (("operators", oi, "limits", "practice_steps", k),
                       f"step '{sid}' is done by the cobot only (who: cobot); practice is for steps a person may do")
            if sid in lim.forbidden_steps:
                yield (("operators", oi, "limits", "practice_steps", k),
                       f"step '{sid}' is also in forbidden_steps; a step is either practised by this person "
                       "or kept from them, not both")
        for sid, adaptation in op.steps.items():
            here: Loc = ("operators", oi, "steps", sid)
            step = steps.get(sid)
            if step is None:
                yield here, f"'{sid}' is not a step; allowed: {_allowed(all_steps)}"
                continue
            for name in ("title", "instruction"):
                yield from texts(here + (name,), getattr(adaptation, name), op.language)
            if adaptation.split is None:
                continue
            if step.who == "cobot":
                yield (here + ("split",), f"step '{sid}' is done by the cobot only (who: cobot); only a step a "
                       "person does can be split")
                continue
            clash = None
            if sid in lim.forbidden_steps:
                clash = "is in this profile's forbidden_steps"
            elif lim.max_load_kg is not None and step.load_kg > lim.max_load_kg:
                clash = f"weighs {step.load_kg:g} kg, above this profile's max_load_kg of {lim.max_load_kg:g}"
            elif lim.no_overhead and step.posture.reach in ("high", "overhead"):
                clash = "needs a high reach, which this profile rules out (no_overhead)"
            elif lim.no_low_reach and step.posture.reach == "low":
                clash = "needs a low reach, which this profile rules out (no_low_reach)"
            if clash:
                yield (here + ("split",), f"a split step is done by this person only (the cobot's program is "
                       f"for the whole step), but step '{sid}' {clash}; remove the split or the limit")
            for k, sub in enumerate(adaptation.split):
                at: Loc = here + ("split", k)
                new_id = sub_step_id(sid, k + 1)
                if new_id in steps:
                    yield (at, f"this sub-step's id '{new_id}' (step id, a dot, its number) is also a step of the "
                           "cell; rename that step")
                elif len(new_id) > 64:
                    yield at, f"this sub-step's id '{new_id}' is longer than 64 characters; shorten the step id"
                for name in ("title", "instruction"):
                    yield from texts(at + (name,), getattr(sub, name), op.language)
                if sub.pick:
                    yield from ref(at + ("pick", "zone"), sub.pick.zone, PICK_KINDS, "pick from")
                if sub.place:
                    yield from ref(at + ("place", "zone"), sub.place.zone, PLACE_KINDS, "place into")
                if sub.press:
                    yield from ref(at + ("press",), sub.press, BUTTON_KINDS, "press")
                for hi, zid in enumerate(sub.highlight):
                    yield from ref(at + ("highlight", hi), zid, None, "highlight")
                v = sub.verify
                if v.zone:
                    yield from ref(at + ("verify", "zone"), v.zone, BUTTON_KINDS if v.by == "button" else None,
                                   "be verified by")
                if v.device and v.device not in device_ids:
                    yield at + ("verify", "device"), f"'{v.device}' is not a device; allowed: {_allowed(device_ids)}"
                if v.by == "robot":
                    yield (at + ("verify", "by"), "verify by 'robot' is for cobot-only steps; a sub-step is done "
                           "by the operator: hand_in_zone, button, device, part_present or timer")
                if v.by == "part_present" and (v.zone or (sub.place and sub.place.zone)) not in checked:
                    yield (at + ("verify", "by"), "this sub-step is verified by 'part_present' but "
                           "vision.part_checks has no check for its zone; add one (zone, empty_image, filled_image)")
