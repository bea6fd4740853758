"""From the cell's state to what the bench shows: a pure function building a BenchView.

Inputs are the config, the operator's profile and the latest messages
(step state, allocation, robot status, a recent wrong pick, a fault); the
output is the immutable view the renderer draws. The operator's language
and reading support choose the text: pictogram-first profiles get the
step's short title, others the full instruction.
"""

from __future__ import annotations

from cell.config import CellConfig, OperatorProfile
from cell.messages import Allocation, Fault, RobotStatus, StepState, TaskEvent
from projection.view import Banner, BenchView, CobotView, Highlight, ZoneView

# zone kinds the view knows; a tray is drawn like a fixture (a place to put things)
_VIEW_KIND = {"bin": "bin", "fixture": "fixture", "tray": "fixture", "button": "button",
              "cobot_area": "cobot_area", "keep_out": "keep_out"}

MESSAGES = {
    "paused": {"nl": "Even pauze", "en": "Paused"},
    "help": {"nl": "De begeleider komt eraan", "en": "Your job coach is coming"},
    "done": {"nl": "Klaar! Goed gedaan", "en": "Done! Well done"},
    "cobot": {"nl": "De robot doet deze stap", "en": "The cobot does this step"},
    "wrong": {"nl": "Neem uit bak {label}", "en": "Take from bin {label}"},
    "fault": {"nl": "Even wachten: {text}", "en": "Please wait: {text}"},
    "robot_fault": {"nl": "De robot staat stil ({text}). Even wachten: je begeleider zet hem weer aan.",
                    "en": "The cobot has stopped ({text}). Please wait: your job coach will restart it."},
    "took_over": {"nl": "De robot is gestopt. Wil jij deze stap doen?",
                  "en": "The cobot has stopped. Please do this step yourself."},
    "waiting": {"nl": "Wachten op opdracht", "en": "Waiting for a work order"},
}


def _say(key: str, language: str, **kw: str) -> str:
    texts = MESSAGES[key]
    return (texts.get(language) or texts["en"]).format(**kw)


def zone_views(config: CellConfig) -> tuple[ZoneView, ...]:
    return tuple(ZoneView(z.id, _VIEW_KIND[z.kind], tuple(z.points()), z.label, z.part) for z in config.zones)


def bench_view(config: CellConfig, profile: OperatorProfile, step: StepState | None, *,
               robot: RobotStatus | None = None, wrong_pick: TaskEvent | None = None,
               fault: Fault | None = None, allocation: Allocation | None = None) -> BenchView:
    lang = profile.language
    zones = zone_views(config)
    base = dict(bench_w_mm=config.bench.width_mm, bench_d_mm=config.bench.depth_mm, zones=zones,
                language=lang, large_text=profile.reading_support == "pictograms")
    cobot = CobotView(step_title=None, busy=bool(robot and robot.mode == "running"),
                      simulated=bool(robot and robot.simulated), area_zone_id=_cobot_area(config))
    if step is None:
        return BenchView(**base, instruction=_say("waiting", lang), pictogram="paused", cobot=cobot)
    task = config.task(step.task_id)
    s = task.step(step.step_id)
    units_done = step.unit - 1 + (1 if step.order_done else 0)
    highlights: list[Highlight] = []
    text = s.text(s.title if profile.reading_support == "pictograms" else s.instruction, lang, config.cell.language)
    banner = None
    if step.assignee == "cobot":
        title = s.text(s.title, lang, config.cell.language)
        cobot = CobotView(step_title=title, busy=True, simulated=cobot.simulated, area_zone_id=cobot.area_zone_id)
        text = f"{_say('cobot', lang)}: {title}"
        banner = Banner("info", text, "wait_cobot")
    else:
        if s.pick and step.phase == "active":
            highlights.append(Highlight(s.pick.zone, "pick", s.pick.quantity))
        if s.place:
            highlights.append(Highlight(s.place.zone, "place", None))
        if s.press:
            highlights.append(Highlight(s.press, "press", None))
        elif s.verify.by == "button" and s.verify.zone and step.phase == "verifying":
            highlights.append(Highlight(s.verify.zone, "press", None))
        for zid in s.highlight:
            if all(h.zone_id != zid for h in highlights):
                highlights.append(Highlight(zid, "place", None))
        if wrong_pick is not None and wrong_pick.step_id == step.step_id and wrong_pick.zone and s.pick:
            label = config.zone(s.pick.zone).label
            highlights = [h for h in highlights if h.zone_id != s.pick.zone]
            highlights += [Highlight(wrong_pick.zone, "wrong", None), Highlight(s.pick.zone, "correct", s.pick.quantity)]
            banner = Banner("error", _say("wrong", lang, label=label), "pick")
    if (allocation is not None and allocation.reassigned and allocation.assignee == "operator"
            and allocation.step_id == step.step_id and allocation.unit == step.unit and step.assignee == "operator"
            and step.phase == "active" and "cobot" in allocation.reason and banner is None):
        banner = Banner("info", _say("took_over", lang), s.pictogram)  # the cobot's step came back
    if step.order_done:
        banner = Banner("confirm", _say("done", lang), "confirm")
    if step.help_requested:
        banner = Banner("help", _say("help", lang), "help")
    if step.paused:
        reason = step.pause_reason or ""
        if reason.startswith("robot"):
            banner = Banner("fault", _say("robot_fault", lang, text=reason.rsplit(":", 1)[-1].strip()), "fault")
        elif fault is not None and not fault.cleared or reason.startswith("camera"):
            banner = Banner("fault", _say("fault", lang, text=reason), "fault")
        else:
            banner = Banner("paused", _say("paused", lang), "paused")
    return BenchView(**base, highlights=tuple(highlights), instruction=text, pictogram=s.pictogram,
                     step_index=step.step_index, step_count=step.step_count, units_done=units_done,
                     units_total=step.units_total, assignee=step.assignee, cobot=cobot, banner=banner)


def _cobot_area(config: CellConfig) -> str | None:
    for z in config.zones:
        if z.kind == "cobot_area":
            return z.id
    return None


