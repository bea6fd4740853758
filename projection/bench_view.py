"""From the cell's state to what the bench shows: a pure function building a BenchView.

Inputs are the config, the operator's profile and the latest messages
(step state, allocation, robot status, a recent wrong pick, a fault, the
cobot's parallel step, a step just done); the output is the immutable view
the renderer draws. No pygame here.

The profile decides how much the bench says and how:

* language: every fixed bench text (``MESSAGES``) exists in Dutch, French and
  English; step texts come from the task YAML, falling back to the cell's
  language when the operator's is missing.
* guidance, per step (``cell.adaptation.guidance_for``: the step's own level in the
  profile's ``steps``, full for a practice step, else the profile's): ``full``
  (pictogram, highlights, quantities with a count of dots, the full text),
  ``standard`` (pictogram, highlights, quantities, text),
  ``minimal`` (highlights and the step's short title only). After a wrong pick
  the quantity comes back at every level: support returns when it is needed.
* reading_support: ``pictograms`` gets a big pictogram and the short title (one
  or two words); ``short_text`` and ``full_text`` get the instruction.
* step adaptations: the step is shown as this person does it (``cell.adaptation.task_for``):
  their title, instruction and pictogram, a split step's sub-step with its own text.
* handedness: ``left`` uses each zone's ``left_rect`` where the config gives one.
* display: font scale and high contrast are passed on for the renderer.

Texts are kind and short: a wrong pick says what to do, never what went wrong
with the person; the cobot taking a step over to spare the body says so gently.
"""

from __future__ import annotations

from cell.adaptation import guidance_for, task_for
from cell.config import CellConfig, OperatorProfile, Step, Zone
from cell.messages import Allocation, Fault, RobotStatus, StepState, TaskEvent
from projection.view import Banner, BenchView, CobotView, Highlight, ZoneView

__all__ = ["LANGUAGES", "MESSAGES", "bench_view", "calibration_view", "ergonomic_body_part", "say",
           "zone_views"]

# zone kinds the view knows; a tray is drawn like a fixture (a place to put things)
_VIEW_KIND = {"bin": "bin", "fixture": "fixture", "tray": "fixture", "button": "button",
              "cobot_area": "cobot_area", "keep_out": "keep_out"}

#: languages every fixed bench text exists in
LANGUAGES = ("nl", "fr", "en")

_NB = "\u00a0"  # French puts a no-break space before : ! ? (the renderer wraps at plain spaces only)

MESSAGES: dict[str, dict[str, str]] = {
    "paused": {"nl": "Even pauze", "fr": "En pause", "en": "Paused"},
    "help": {"nl": "Hulp is gevraagd", "fr": "Aide demandée", "en": "Help has been asked for"},
    "help_coming": {"nl": "{who} komt eraan", "fr": "{who} arrive", "en": "{who} is on the way"},
    "done": {"nl": "Klaar! Goed gedaan", "fr": f"Terminé{_NB}! Bien joué", "en": "Done! Well done"},
    "step_done": {"nl": "Goed zo!", "fr": f"Très bien{_NB}!", "en": "Well done!"},
    "cobot": {"nl": "De robot doet deze stap", "fr": "Le robot fait cette étape",
              "en": "The cobot does this step"},
    "wrong": {"nl": "Neem uit bak {label}", "fr": "Prenez dans le bac {label}", "en": "Take from bin {label}"},
    "wrong_unlabelled": {"nl": "Neem uit de bak die oplicht", "fr": "Prenez dans le bac qui s'allume",
                         "en": "Take from the bin that lights up"},
    "put_back": {"nl": "Iets uit bak {label} genomen? Leg het terug.",
                 "fr": f"Pris quelque chose dans le bac {{label}}{_NB}? Remettez-le.",
                 "en": "Took something from bin {label}? Put it back."},
    "fault": {"nl": "Even wachten: het werk staat even stil", "fr": f"Patientez{_NB}: le travail est à l'arrêt",
              "en": "Please wait: work has stopped for a moment"},
    "camera_fault": {"nl": "Even wachten: de camera werkt even niet",
                     "fr": f"Patientez{_NB}: la caméra ne marche pas",
                     "en": "Please wait: the camera is not working"},
    "robot_fault": {"nl": "De robot staat stil ({text}). Even wachten: je begeleider zet hem weer aan.",
                    "fr": f"Le robot s'est arrêté ({{text}}). Patientez{_NB}: l'accompagnateur va le redémarrer.",
                    "en": "The cobot has stopped ({text}). Please wait: your job coach will restart it."},
    "took_over": {"nl": "De robot is gestopt. Wil jij deze stap doen?",
                  "fr": f"Le robot s'est arrêté. Pouvez-vous faire cette étape{_NB}?",
                  "en": "The cobot has stopped. Please do this step yourself."},
    "manual": {"nl": "De camera werkt even niet. Klaar met deze stap? {how}",
               "fr": f"La caméra ne marche pas. Étape finie{_NB}? {{how}}",
               "en": "The camera is not working. Step done? {how}"},
    "how_pedal": {"nl": "Trap op het pedaal.", "fr": "Appuyez sur la pédale.", "en": "Press the pedal."},
    "how_button": {"nl": "Druk op de knop.", "fr": "Appuyez sur le bouton.", "en": "Press the button."},
    "how_key": {"nl": "Druk op de spatiebalk.", "fr": "Appuyez sur la barre d'espace.", "en": "Press the space bar."},
    "recording": {"nl": "De camera neemt beelden op", "fr": "La caméra enregistre des images",
                  "en": "The camera is recording pictures"},
    "waiting": {"nl": "Wachten op opdracht", "fr": "En attente d'une commande", "en": "Waiting for a work order"},
    "ergo_hint": {"nl": "De robot neemt deze stap over, zo spaar je {part}",
                  "fr": "Le robot prend cette étape, pour ménager {part}",
                  "en": "The cobot takes over this step, to spare {part}"},
    "body_shoulder": {"nl": "je schouder", "fr": "votre épaule", "en": "your shoulder"},
    "body_neck": {"nl": "je nek", "fr": "votre nuque", "en": "your neck"},
    "body_back": {"nl": "je rug", "fr": "votre dos", "en": "your back"},
    "body_hands": {"nl": "je handen", "fr": "vos mains", "en": "your hands"},
    "body_arms": {"nl": "je armen", "fr": "vos bras", "en": "your arms"},
    "body_body": {"nl": "je lichaam", "fr": "votre corps", "en": "your body"},
    "calibrating": {"nl": "Kalibreren: houd de werkbank leeg", "fr": f"Calibrage{_NB}: laissez l'établi libre",
                    "en": "Calibrating: keep the bench clear"},
    "button_done": {"nl": "klaar", "fr": "terminé", "en": "done"},
    "button_help": {"nl": "hulp", "fr": "aide", "en": "help"},
}

# a virtual button's label in the config, in any language -> the message that names it on the bench
_BUTTON_WORDS = {
    "done": "button_done", "ok": "button_done", "ready": "button_done", "klaar": "button_done",
    "gedaan": "button_done", "terminé": "button_done", "termine": "button_done", "fini": "button_done",
    "help": "button_help", "hulp": "button_help", "aide": "button_help",
}

# words in the allocator's reason that say the cobot took a step to spare the body, and
# which body part they name (first match wins); a move for other reasons gets no hint
_ERGONOMIC_REASONS = ("takes the strain", "rula", "upper arm", "fatigued", "load is raised", "weighs",
                      "reach", "load-weighted", "posture")
_BODY_WORDS = (
    (("shoulder", "upper arm", "high reach", "overhead"), "shoulder"),
    (("neck",), "neck"),
    (("trunk", "back", "low reach", " kg"), "back"),
    (("hand", "wrist", "grip"), "hands"),
    (("elbow", "forearm", "lower arm"), "arms"),
)
_WORKING = ("active", "verifying")


def say(key: str, language: str, fallback: str = "en", **kw: str) -> str:
    """A fixed bench text in ``language`` (else ``fallback``, else English), filled in."""
    texts = MESSAGES[key]
    return (texts.get(language) or texts.get(fallback) or texts["en"]).format(**kw)


def _zone_points(zone: Zone, left_handed: bool) -> list[tuple[float, float]]:
    r = zone.left_rect if left_handed else None
    if r is None:
        return zone.points()
    return [(r.x, r.y), (r.x + r.w, r.y), (r.x + r.w, r.y + r.h), (r.x, r.y + r.h)]


def _zone_label(zone: Zone, language: str, fallback: str) -> str:
    label = zone.label_in(language, fallback)
    if zone.kind == "button":
        key = _BUTTON_WORDS.get(label.strip().lower())
        if key:
            return say(key, language, fallback)
    return label


def zone_views(config: CellConfig, handedness: str = "right", language: str | None = None
               ) -> tuple[ZoneView, ...]:
    """The config's zones as the bench shows them to one operator: a left-handed operator's
    zones at their ``left_rect`` (where given), virtual buttons named in their language."""
    lang = language or config.cell.language
    left = handedness == "left"
    return tuple(ZoneView(z.id, _VIEW_KIND[z.kind], tuple(_zone_points(z, left)),
                          _zone_label(z, lang, config.cell.language), z.part)
                 for z in config.zones)


def ergonomic_body_part(allocation: Allocation | None) -> str | None:
    """The body part a move to the cobot spares (shoulder, neck, back, hands, arms, or body
    when the reason names none), or None when the move was not made for the body."""
    if allocation is None or allocation.assignee != "cobot" or not allocation.reassigned:
        return None
    reason = allocation.reason.lower()
    if "stress index" in reason or not any(w in reason for w in _ERGONOMIC_REASONS):
        return None
    for words, part in _BODY_WORDS:
        if any(w in reason for w in words):
            return part
    return "body"


def _finish_zone(s: Step) -> str | None:
    """Where a step ends: the place, the button pressed, else the first highlighted zone."""
    if s.place:
        return s.place.zone
    if s.press:
        return s.press
    if s.verify.zone:
        return s.verify.zone
    return s.highlight[0] if s.highlight else None


def _step_of(config: CellConfig, task_id: str, step_id: str | None, profile: OperatorProfile) -> Step | None:
    """A step as this operator does it (a sub-step of a split step too), or None."""
    if not step_id:
        return None
    try:
        task = config.task(task_id)
    except KeyError:
        return None
    for t in (task_for(config, task, profile), task):
        try:
            return t.step(step_id)
        except KeyError:
            pass
    return None


def bench_view(config: CellConfig, profile: OperatorProfile, step: StepState | None, *,
               robot: RobotStatus | None = None, wrong_pick: TaskEvent | None = None,
               fault: Fault | None = None, allocation: Allocation | None = None,
               cobot_step: StepState | None = None, done_step: StepState | None = None,
               recording: bool = False) -> BenchView:
    """What the bench shows for ``step`` (the operator's step, else the cobot's).

    ``cobot_step``: the cobot's step while the operator works on another one (its title goes
    in the cobot's area). ``done_step``: an operator step that has just finished (shown for a
    moment as a confirmation). ``wrong_pick``: a recent wrong pick of the current step.
    ``recording``: camera pictures are being saved (vision.debug_frames): the bench says so.
    """
    lang = profile.language
    fallback = config.cell.language
    pictogram_first = profile.reading_support == "pictograms"
    guidance = profile.guidance
    base = dict(bench_w_mm=config.bench.width_mm, bench_d_mm=config.bench.depth_mm,
                zones=zone_views(config, profile.handedness, lang), language=lang,
                large_text=pictogram_first, pictogram_first=pictogram_first, guidance=guidance,
                font_scale=profile.display.font_scale, high_contrast=profile.display.high_contrast,
                recording=say("recording", lang, fallback) if recording else "")
    area = _cobot_area(config)
    simulated = bool(robot and robot.simulated)
    running = bool(robot and robot.mode == "running")
    if step is None:
        return BenchView(**base, instruction=say("waiting", lang, fallback), pictogram="paused",
                         cobot=CobotView(None, busy=running, simulated=simulated, area_zone_id=area))
    task = task_for(config, config.task(step.task_id), profile)
    try:
        s = task.step(step.step_id)
    except KeyError:  # a step this profile splits, named whole (a preview of the task as written)
        s = config.task(step.task_id).step(step.step_id)
    guidance = guidance_for(profile, s.id)
    base["guidance"] = guidance

    def title(st: Step) -> str:
        return st.text(st.title, lang, fallback)

    # the cobot: which step it does (the front step, or one it does beside the operator's)
    cobot_state = step if step.assignee == "cobot" else None
    if (cobot_state is None and cobot_step is not None and cobot_step.assignee == "cobot"
            and cobot_step.phase in _WORKING and cobot_step.order_id == step.order_id):
        cobot_state = cobot_step
    cobot_def = _step_of(config, step.task_id, cobot_state.step_id if cobot_state else None, profile)
    if cobot_def is None and running and robot is not None:
        cobot_def = _step_of(config, step.task_id, robot.step_id, profile)
    stopped = bool(robot and robot.mode in ("fault", "stopped", "disconnected"))
    hint = ""
    part = ergonomic_body_part(allocation)
    if (part and cobot_state is not None and allocation is not None and allocation.step_id == cobot_state.step_id
            and allocation.unit == cobot_state.unit):
        hint = say("ergo_hint", lang, fallback, part=say(f"body_{part}", lang, fallback))
    busy = running or (cobot_state is not None and not stopped)
    work = tuple(dict.fromkeys(z for z in cobot_def.zones() if z != area)) if (cobot_def and busy) else ()
    cobot = CobotView(step_title=title(cobot_def) if cobot_def else None, busy=busy, simulated=simulated,
                      area_zone_id=area, hint=hint if step.assignee != "cobot" else "", work_zone_ids=work)

    short = pictogram_first or guidance == "minimal"
    text = title(s) if short else s.text(s.instruction, lang, fallback)
    pictogram = "" if guidance == "minimal" else s.pictogram
    show_quantity = guidance != "minimal"
    units_done = step.unit - 1 + (1 if step.order_done else 0)
    highlights: list[Highlight] = []
    banner = None
    if step.assignee == "cobot":
        text, pictogram = title(s), "wait_cobot"
        if hint:
            banner = Banner("hint", hint, "wait_cobot", detail=title(s))
        else:
            banner = Banner("info", say("cobot", lang, fallback), "wait_cobot", detail=title(s))
    elif step.phase == "done":
        # this step is finished (the last of the order, or nothing follows yet): where it ended
        zone = _finish_zone(s)
        if zone:
            highlights.append(Highlight(zone, "done", None))
    else:
        if s.pick and step.phase == "active":
            highlights.append(Highlight(s.pick.zone, "pick", s.pick.quantity if show_quantity else None))
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
            label = config.zone(s.pick.zone).label_in(lang, config.cell.language)
            highlights = [h for h in highlights if h.zone_id not in (s.pick.zone, wrong_pick.zone)]
            # the quantity comes back at every guidance level: support returns when it is needed
            highlights += [Highlight(wrong_pick.zone, "wrong", None), Highlight(s.pick.zone, "correct", s.pick.quantity)]
            wrong_label = _label_of(config, wrong_pick.zone, lang)
            banner = Banner("error", say("wrong", lang, fallback, label=label) if label
                            else say("wrong_unlabelled", lang, fallback), "pick",
                            detail=say("put_back", lang, fallback, label=wrong_label) if wrong_label else "")
    if (allocation is not None and allocation.reassigned and allocation.assignee == "operator"
            and allocation.step_id == step.step_id and allocation.unit == step.unit and step.assignee == "operator"
            and step.phase == "active" and "cobot" in allocation.reason and banner is None):
        banner = Banner("info", say("took_over", lang, fallback), s.pictogram)  # the cobot's step came back
    if (banner is None and done_step is not None and done_step.assignee == "operator"
            and done_step.phase == "done" and done_step.order_id == step.order_id):
        finished = _step_of(config, done_step.task_id, done_step.step_id, profile)
        zone = _finish_zone(finished) if finished else None
        if zone and all(h.zone_id != zone for h in highlights):
            highlights.append(Highlight(zone, "done", None))
        banner = Banner("confirm", say("step_done", lang, fallback), "confirm")
    if step.manual and step.assignee == "operator" and step.phase in _WORKING and banner is None:
        banner = Banner("info", say("manual", lang, fallback, how=say(_confirm_how(config), lang, fallback)),
                        "confirm", detail=step.manual)
    if step.order_done:
        banner = Banner("confirm", say("done", lang, fallback), "confirm")
    if step.help_requested:  # the job coach's "on my way" (their page) is shown as soon as it comes
        banner = (Banner("help", say("help_coming", lang, fallback, who=step.help_coming), "help")
                  if step.help_coming else Banner("help", say("help", lang, fallback), "help"))
    if step.paused:
        reason = step.pause_reason or ""
        if reason.startswith("robot"):
            banner = Banner("fault", say("robot_fault", lang, fallback, text=reason.rsplit(":", 1)[-1].strip()),
                            "fault")
        elif reason.startswith("camera") or (fault is not None and not fault.cleared and fault.component == "camera"):
            banner = Banner("fault", say("camera_fault", lang, fallback), "fault")
        elif fault is not None and not fault.cleared:
            banner = Banner("fault", say("fault", lang, fallback), "fault", detail=reason or fault.text)
        else:
            banner = Banner("paused", say("paused", lang, fallback), "paused")
    return BenchView(**base, highlights=tuple(highlights), instruction=text, pictogram=pictogram,
                     step_index=step.step_index, step_count=step.step_count, units_done=units_done,
                     units_total=step.units_total, assignee=step.assignee, cobot=cobot, banner=banner)


def _confirm_how(config: CellConfig) -> str:
    """How a step is confirmed by hand at this bench: the pedal, else the button box, else the space bar."""
    kinds = {d.kind for d in config.devices}
    return "how_pedal" if "pedal" in kinds else "how_button" if "button_box" in kinds else "how_key"


def calibration_view(config: CellConfig, language: str | None = None, *, detail: str = "") -> BenchView:
    """The screen ``cell calibrate`` shows before and between its pattern shots: "keep the bench
    clear", big and centred (the renderer does not trust the bench geometry for it)."""
    lang = language or config.cell.language
    text = say("calibrating", lang, config.cell.language)
    return BenchView(bench_w_mm=config.bench.width_mm, bench_d_mm=config.bench.depth_mm, instruction=text,
                     pictogram="calibrate", language=lang, banner=Banner("calibrate", text, "calibrate", detail))


def _label_of(config: CellConfig, zone_id: str, language: str | None = None) -> str:
    try:
        return config.zone(zone_id).label_in(language or config.cell.language, config.cell.language)
    except KeyError:
        return ""


def _cobot_area(config: CellConfig) -> str | None:
    for z in config.zones:
        if z.kind == "cobot_area":
            return z.id
    return None
