"""A task as one person does it, and what the event log says could help them.

Pure: config, profile and event-log rows in, tasks and proposals out. No files,
no clock (``cell.cli_adapt`` is the shell that reads the log and edits YAML).

**The adapted task** (``task_for``). An operator profile may adapt any step
(``OperatorProfile.steps``): another title, instruction or pictogram, its own
guidance level, or a split into sub-steps, each with its own text, picture,
action and verification. A sub-step's id is the step's id, a dot and its
number from 1 (``screw_stem.1``, ``screw_stem.2``). Precedence stays as the task
says: the first sub-step waits for what the step waited for, each later one
for the sub-step before it, and a step that waited for the split step waits
for its last sub-step. A split step is done by this person only: the cobot's
program is for the whole step, so its sub-steps are ``who: operator`` (a
split of a ``who: cobot`` step, or of a step the profile sends to the cobot,
does not validate). Robot programs stay keyed by the task's step ids.

**Guidance per step** (``guidance_for``): a sub-step's own level, else the
level the adaptation gives the step, else ``full`` for a practice step
(``limits.practice_steps``: the operator always does it, with full support),
else the profile's ``guidance``.

**Proposals** (``propose``): rules over what the log shows for this person,
each with a reason in plain words and the numbers behind it:

* wrong picks on a step (at least ``WRONG_PICKS_MIN``, and in at least
  ``WRONG_PICK_RATE`` of the times the step was done) -> full guidance for the
  step, and a word on the pick-to-light (the one that lights the bin, or one
  to add);
* the step keeps this person at RULA action level ``thresholds.cobot_at_rula_action_level``
  or more for ``POSTURE_SHARE`` of its scored frames -> ``limits.forbidden_steps``
  (the cobot takes it) when the cobot may do it (``who: both``), else a note for the
  integrator (a person must do it: change the workplace, or give the cobot a program);
* the step takes ``SLOW_FACTOR`` times its target time at this person's pace
  (median) -> full guidance, or, with full guidance already, a split into
  taking the parts and fitting them (a pick-and-place step), else a note;
* help calls concentrated on a step (at least ``HELP_MIN``, ``HELP_SHARE`` of this
  person's calls, and ``HELP_RATIO`` times as often as on their other steps)
  -> full guidance.

A proposal's ``change`` is a merge patch on the operator's profile (plain
data, as in the YAML): mappings merge, the id lists ``forbidden_steps`` and
``practice_steps`` are added to, anything else is replaced. ``apply_change``
gives the profile with it; an empty change is a note only.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import msgspec

from cell.config import CellConfig, OperatorProfile, Step, StepAdaptation, SubStep, Task

# ---- the adapted task ----------------------------------------------------------------------

ID_LISTS = ("forbidden_steps", "practice_steps")  # lists a change adds to instead of replacing


def sub_step_id(step_id: str, number: int) -> str:
    """The id of a split step's sub-step (numbered from 1): ``screw_stem.1``."""
    return f"{step_id}.{number}"


def split_parent(profile: OperatorProfile, step_id: str) -> tuple[str, int] | None:
    """(the split step's id, the sub-step's number from 1) when ``step_id`` is one of this profile's sub-steps."""
    for sid, adaptation in profile.steps.items():
        if adaptation.split and step_id.startswith(sid + "."):
            tail = step_id[len(sid) + 1:]
            if tail.isdigit() and 1 <= int(tail) <= len(adaptation.split):
                return sid, int(tail)
    return None


def _sub_step(step: Step, adaptation: StepAdaptation, sub: SubStep, number: int) -> Step:
    n = len(adaptation.split or ())
    return Step(id=sub_step_id(step.id, number), title=sub.title, instruction=sub.instruction,
                pictogram=sub.pictogram or adaptation.pictogram or step.pictogram,
                action=sub.effective_action(),  # type: ignore[arg-type]
                pick=sub.pick, place=sub.place, press=sub.press, highlight=list(sub.highlight), verify=sub.verify,
                who="operator", target_time_s=sub.target_time_s or round(step.target_time_s / n, 3),
                load_kg=step.load_kg, coupling=step.coupling, lift=step.lift, posture=step.posture)


_CACHE: dict[tuple[int, int, int], tuple[Any, Any, Any, Task]] = {}
_CACHE_SIZE = 64


def task_for(config: CellConfig, task: Task, profile: OperatorProfile) -> Task:
    """The task as this person does it: their step overrides and splits applied (the task itself if none)."""
    mine = {s.id: profile.steps[s.id] for s in task.steps if s.id in profile.steps}
    if not mine:
        return task
    key = (id(config), id(task), id(profile))
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is config and hit[1] is task and hit[2] is profile:
        return hit[3]
    last = {sid: sub_step_id(sid, len(a.split)) for sid, a in mine.items() if a.split}

    def mapped(after: list[str] | None) -> list[str] | None:
        return None if after is None else [last.get(a, a) for a in after]

    steps: list[Step] = []
    for step in task.steps:
        a = mine.get(step.id)
        if a is not None and a.split:
            for k, sub in enumerate(a.split, 1):
                s = _sub_step(step, a, sub, k)
                # the first sub-step waits for what the step waited for; the others for the one before
                steps.append(s.model_copy(update={"after": mapped(step.after) if k == 1 else None}))
            continue
        update: dict[str, Any] = {}
        if step.after is not None and mapped(step.after) != step.after:
            update["after"] = mapped(step.after)
        if a is not None:
            for name in ("title", "instruction", "pictogram"):
                if getattr(a, name) is not None:
                    update[name] = getattr(a, name)
        steps.append(step.model_copy(update=update) if update else step)
    out = Task(id=task.id, name=task.name, steps=steps)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = (config, task, profile, out)
    return out


def step_for(config: CellConfig, profile: OperatorProfile, task_id: str, step_id: str) -> Step:
    """A step of the task as this person does it, by id (a sub-step's id too); KeyError if there is none."""
    return task_for(config, config.task(task_id), profile).step(step_id)


def guidance_for(profile: OperatorProfile, step_id: str) -> str:
    """How much the bench shows this person at this step (or sub-step): full, standard or minimal."""
    parent = split_parent(profile, step_id)
    if parent is not None:
        sid, k = parent
        sub = (profile.steps[sid].split or [])[k - 1]
        if sub.guidance is not None:
            return sub.guidance
        step_id = sid
    a = profile.steps.get(step_id)
    if a is not None and a.guidance is not None:
        return a.guidance
    if step_id in profile.limits.practice_steps:
        return "full"
    return profile.guidance


# ---- what the log shows, per step --------------------------------------------------------------

WRONG_PICKS_MIN = 5       # wrong picks on a step before it counts as repeated ...
WRONG_PICK_RATE = 0.10    # ... and in at least this share of the times the step was done
POSTURE_SHARE = 1 / 3     # share of a step's scored frames at the cobot threshold action level or above ...
POSTURE_MIN_FRAMES = 100  # ... over at least this many frames
SLOW_FACTOR = 1.5         # median time at least this many times the target time at this person's pace ...
SLOW_MIN_DONE = 10        # ... over at least this many times done
HELP_MIN = 3              # help calls on one step ...
HELP_SHARE = 0.3          # ... at least this share of this person's calls ...
HELP_RATIO = 2.0          # ... and this many times as often per time done as on their other steps
MIN_DONE = 10             # rates need the step done at least this often (else counts alone decide)

# RULA body-part scores from which a region counts as strained, and what a job coach calls it
REGION_WORDS = {"upper_arm": (3, "shoulder"), "neck": (3, "neck"), "trunk": (3, "back"), "wrist": (3, "wrist"),
                "lower_arm": (3, "forearm"), "legs": (2, "legs")}


@dataclass
class StepEvidence:
    """What the log says about one step (or sub-step) for one person."""

    step_id: str
    done: int = 0                                   # times this person finished it
    durations: list[float] = field(default_factory=list)  # active -> done, seconds
    wrong_picks: int = 0
    wrong_zones: Counter = field(default_factory=Counter)  # zone taken from instead -> times
    help_calls: int = 0
    frames: int = 0                                 # scored frames while on this step
    frames_high: int = 0                            # ... at the threshold action level or above
    regions: Counter = field(default_factory=Counter)  # strained region -> frames (among the high ones)

    @property
    def median_s(self) -> float | None:
        return float(statistics.median(self.durations)) if self.durations else None

    @property
    def high_share(self) -> float:
        return self.frames_high / self.frames if self.frames else 0.0


def _as_dict(row: Any) -> dict:
    if isinstance(row, dict):
        return row
    return msgspec.to_builtins(row)


def step_evidence(config: CellConfig, profile: OperatorProfile, rows: Iterable[Any]) -> dict[str, StepEvidence]:
    """Per step id, what the log rows show for this person.

    ``rows``: messages, or their payloads as dicts with a ``type`` (``EventStore.events``), in
    the order they were logged. StepState (who did a step, how long it took, help calls: the
    moment ``help_requested`` turns on, on the step the person was doing), TaskEvent
    (``wrong_pick``), ErgonomicScore (action level per frame, tagged with the step). Rows of
    another operator (an ``operator_id`` that is not this profile's) are left out.
    """
    level = config.thresholds.cobot_at_rula_action_level
    ev: dict[str, StepEvidence] = {}

    def get(step_id: str) -> StepEvidence:
        if step_id not in ev:
            ev[step_id] = StepEvidence(step_id)
        return ev[step_id]

    active: dict[tuple, float] = {}
    helping = False
    current: str | None = None  # the step the person is working on
    for raw in rows:
        p = _as_dict(raw)
        if p.get("operator_id") not in (None, "", profile.id):
            continue
        kind = p.get("type")
        if kind == "StepState":
            key = (p["order_id"], p["unit"], p["step_id"])
            mine = p["assignee"] == "operator"
            if mine and p["phase"] in ("active", "verifying"):
                current = p["step_id"]
                if p["phase"] == "active" and (key not in active or p["t"] < active[key]):
                    active[key] = p["t"]  # a new shift starts its clock again: the older start is stale
            if p.get("help_requested") and not helping and current:
                get(current).help_calls += 1
            helping = bool(p.get("help_requested"))
            if mine and p["phase"] == "done" and not p.get("order_done"):
                e = get(p["step_id"])
                e.done += 1
                t0 = active.pop(key, None)
                if t0 is not None and p["t"] >= t0:
                    e.durations.append(p["t"] - t0)
                if current == p["step_id"]:
                    current = None
        elif kind == "TaskEvent":
            if p.get("kind") == "wrong_pick" and p.get("step_id"):
                e = get(p["step_id"])
                e.wrong_picks += 1
                if p.get("zone"):
                    e.wrong_zones[p["zone"]] += 1
        elif kind == "ErgonomicScore":
            if p.get("step_id"):
                e = get(p["step_id"])
                e.frames += 1
                if p["rula_action_level"] >= level:
                    e.frames_high += 1
                    for part, (at, _) in REGION_WORDS.items():
                        if (p.get("parts") or {}).get(part, 0) >= at:
                            e.regions[part] += 1
    return ev


# ---- proposals -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Proposal:
    """One adaptation the data supports (or, with an empty change, a note for the coach or integrator)."""

    step_id: str
    rule: str                      # wrong_picks, posture, slow, help
    reason: str                    # plain words, with the numbers
    numbers: dict[str, Any]
    change: dict[str, Any] = field(default_factory=dict)  # merge patch on the operator's profile
    note: str = ""                 # what else to do (not in the profile: a device, the workplace)

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step_id, "rule": self.rule, "reason": self.reason, "numbers": self.numbers,
                "change": self.change, "note": self.note}


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _zone_name(config: CellConfig, zone_id: str) -> str:
    try:
        z = config.zone(zone_id)
    except KeyError:
        return zone_id
    label = z.label_in(config.cell.language, "en")
    if z.kind == "bin" and label:
        return f"bin {label} ({zone_id})"
    return zone_id


def _pick_light_note(config: CellConfig, step: Step) -> str:
    if step.pick is None:
        return ""
    zone = step.pick.zone
    for d in config.devices:
        if d.kind == "pick_to_light" and zone in d.bins:
            return (f"the pick-to-light {d.id} already lights {_zone_name(config, zone)} (light {d.bins[zone]}) "
                    "for this step; check that the person can see it from where they work")
    try:
        kind = config.zone(zone).kind
    except KeyError:
        kind = ""
    if kind != "bin":
        return ""
    have = [d.id for d in config.devices if d.kind == "pick_to_light"]
    if have:
        return (f"a light for {_zone_name(config, zone)} on the pick-to-light {have[0]} (devices[].bins) would "
                "show the right bin at every pick")
    return (f"a pick-to-light on {_zone_name(config, zone)} (a pick_to_light device in the cell's devices) would "
            "show the right bin at every pick")


_SPLIT_WORDS = {
    "take_bin": {"nl": "Pak {q} uit bak {label}", "fr": "Prenez {q} dans le bac {label}",
                 "en": "Take {q} from bin {label}"},
    "take": {"nl": "Pak {q} uit: {label}", "fr": "Prenez {q} dans\u00a0: {label}", "en": "Take {q} from: {label}"},
    "take_title": {"nl": "Pakken", "fr": "Prendre", "en": "Take"},
}


def proposed_split(config: CellConfig, step: Step) -> list[dict[str, Any]] | None:
    """A first split of a pick-and-place step, as YAML data: take the parts, then fit them (and confirm).

    The texts are made from the step's (nl, fr, en; other languages get the step's own text):
    the coach reviews them in the patch."""
    if step.action != "pick_place" or step.pick is None or step.place is None:
        return None
    zone = config.zone(step.pick.zone)
    take_title: dict[str, str] = {}
    take_text: dict[str, str] = {}
    for lang, text in step.instruction.items():
        label = zone.label_in(lang, config.cell.language)
        words = _SPLIT_WORDS["take_bin" if zone.kind == "bin" and label else "take"]
        if lang in words:
            take_text[lang] = words[lang].format(q=step.pick.quantity, label=label or zone.id)
            take_title[lang] = _SPLIT_WORDS["take_title"][lang]
        else:
            take_text[lang] = f"1/2: {text}"
            take_title[lang] = f"1/2 {step.title.get(lang, text)}"
    take: dict[str, Any] = {"title": take_title, "instruction": take_text, "pictogram": "pick",
                            "pick": {"zone": step.pick.zone, "quantity": step.pick.quantity}}
    fit: dict[str, Any] = {"title": dict(step.title), "instruction": dict(step.instruction),
                           "place": {"zone": step.place.zone}}
    verify = step.verify.model_dump(exclude_defaults=True)
    if verify:
        fit["verify"] = verify
    return [take, fit]


def _steps_by_id(config: CellConfig) -> dict[str, Step]:
    return {s.id: s for t in config.tasks for s in t.steps}


def propose(config: CellConfig, profile: OperatorProfile,
            data: Iterable[Any] | Mapping[str, StepEvidence]) -> list[Proposal]:
    """What the log supports for this person, step by step (in task order), each with its reason and numbers.

    ``data``: log rows (see ``step_evidence``) or the evidence already gathered."""
    evidence = data if isinstance(data, Mapping) else step_evidence(config, profile, data)
    steps = _steps_by_id(config)
    adapted = {s.id: s for t in config.tasks for s in task_for(config, t, profile).steps}
    order = {sid: i for i, sid in enumerate(adapted)}
    for sid in steps:
        order.setdefault(sid, len(order))
    level = config.thresholds.cobot_at_rula_action_level
    total_help = sum(e.help_calls for e in evidence.values())
    total_done = sum(e.done for e in evidence.values())
    out: list[Proposal] = []
    for sid in sorted(evidence, key=lambda s: order.get(s, len(order))):
        e = evidence[sid]
        parent = split_parent(profile, sid)
        step = adapted.get(sid) or steps.get(sid)
        if step is None or (parent or (sid,))[0] in profile.limits.forbidden_steps:
            continue  # not a step of this cell (any more), or one the cobot already takes for this person
        original = steps.get(parent[0]) if parent else steps.get(sid)
        guidance = guidance_for(profile, sid)

        def guidance_change() -> dict[str, Any]:
            if parent is None:
                return {"steps": {sid: {"guidance": "full"}}}
            split = [sub.model_dump(mode="json", exclude_defaults=True) for sub in profile.steps[parent[0]].split or []]
            split[parent[1] - 1]["guidance"] = "full"
            return {"steps": {parent[0]: {"split": split}}}

        # repeated wrong picks: more guidance, and the pick-to-light
        rate = e.wrong_picks / e.done if e.done else None
        if e.wrong_picks >= WRONG_PICKS_MIN and (e.done < MIN_DONE or (rate or 0) >= WRONG_PICK_RATE):
            nums: dict[str, Any] = {"wrong_picks": e.wrong_picks, "done": e.done}
            if rate is not None:
                nums["rate"] = round(rate, 3)
            where = ""
            if e.wrong_zones:
                zone, n = e.wrong_zones.most_common(1)[0]
                nums["most_from"] = zone
                where = f", most often from {_zone_name(config, zone)} ({n} times)"
            how_often = f" in {e.done} times done ({_pct(rate)})" if rate is not None else ""
            said = f"{e.wrong_picks} picks from the wrong bin{how_often}{where}"
            note = _pick_light_note(config, step)
            if guidance != "full":
                out.append(Proposal(sid, "wrong_picks", f"{said}: full guidance shows the bin, the count and a "
                                    f"dot per part at every pick (now: {guidance})", nums, guidance_change(), note))
            else:
                out.append(Proposal(sid, "wrong_picks", f"{said}, with full guidance already", nums, {},
                                    note or "look at the bins with the person: labels, colours, order"))

        # the step keeps loading the body: the cobot takes it, or the integrator looks at it
        if e.frames >= POSTURE_MIN_FRAMES and e.high_share >= POSTURE_SHARE:
            nums = {"frames": e.frames, "frames_high": e.frames_high, "share": round(e.high_share, 3),
                    "action_level": level}
            body = ""
            if e.regions:
                part = e.regions.most_common(1)[0][0]
                nums["region"] = part
                body = f", mostly the {REGION_WORDS[part][1]}"
            said = (f"{_pct(e.high_share)} of the time on this step at RULA action level {level} or more "
                    f"({e.frames_high} of {e.frames} scored frames{body})")
            integrator = ("for the integrator: change the workplace for this step (heights, reach, a tool), or "
                          "teach the cobot a program and make the step who: both")
            split_here = sid in profile.steps and bool(profile.steps[sid].split)
            if parent is not None:
                out.append(Proposal(sid, "posture", f"{said}; it is part of '{parent[0]}', split for this person",
                                    nums, {}, (f"to give the whole step to the cobot, remove the split and add "
                                               f"'{parent[0]}' to limits.forbidden_steps")
                                    if original is not None and original.who == "both" else integrator))
            elif original is not None and original.who == "both" and (split_here or sid in profile.limits.practice_steps):
                why = "it is split for this person" if split_here else "it is a practice step for this person"
                out.append(Proposal(sid, "posture", f"{said}; the cobot could take it, but {why}", nums, {},
                                    f"to give it to the cobot, remove it from this profile's "
                                    f"{'steps' if split_here else 'practice_steps'} and add it to "
                                    "limits.forbidden_steps"))
            elif original is not None and original.who == "both":
                out.append(Proposal(sid, "posture", f"{said}: the cobot takes this step for this person",
                                    nums, {"limits": {"forbidden_steps": [sid]}}))
            else:
                out.append(Proposal(sid, "posture", f"{said}; only a person can do this step", nums, {}, integrator))

        # far slower than the target at this person's pace
        med = e.median_s
        expected = step.target_time_s / profile.pace
        if med is not None and len(e.durations) >= SLOW_MIN_DONE and med >= SLOW_FACTOR * expected:
            nums = {"median_s": round(med, 1), "target_s": step.target_time_s, "pace": profile.pace,
                    "expected_s": round(expected, 1), "times": len(e.durations)}
            said = (f"takes {med:.0f} s (median of {len(e.durations)}), {med / expected:.1f} times the "
                    f"{expected:.0f} s expected at this person's pace")
            split = (proposed_split(config, step)
                     if parent is None and not (sid in profile.steps and profile.steps[sid].split) else None)
            if guidance != "full":
                out.append(Proposal(sid, "slow", f"{said}: full guidance first (now: {guidance})", nums,
                                    guidance_change()))
            elif split is not None:
                out.append(Proposal(sid, "slow", f"{said}, with full guidance already: one thing at a time, "
                                    "first take the parts, then fit them", nums,
                                    {"steps": {sid: {"split": split}}}))
            else:
                out.append(Proposal(sid, "slow", f"{said}, with full guidance already", nums, {},
                                    "look at the step with the person; the target time may be too short for them"))

        # help calls concentrated on a step
        if e.help_calls >= HELP_MIN and total_help:
            share = e.help_calls / total_help
            other_done = total_done - e.done
            here = e.help_calls / max(e.done, 1)
            elsewhere = (total_help - e.help_calls) / other_done if other_done else 0.0
            if share >= HELP_SHARE and (elsewhere == 0 or here >= HELP_RATIO * elsewhere):
                nums = {"help_calls": e.help_calls, "all_help_calls": total_help, "share": round(share, 3),
                        "done": e.done}
                said = f"{e.help_calls} of this person's {total_help} calls for help were on this step ({_pct(share)})"
                if guidance != "full":
                    out.append(Proposal(sid, "help", f"{said}: full guidance (now: {guidance})", nums,
                                        guidance_change()))
                else:
                    out.append(Proposal(sid, "help", f"{said}, with full guidance already", nums, {},
                                        "practise the step with the person, or split it into smaller parts"))
    return _settle(out)


def _settle(proposals: list[Proposal]) -> list[Proposal]:
    """A step the cobot takes needs no other change: those become notes."""
    forbidden = {p.step_id for p in proposals if p.change.get("limits", {}).get("forbidden_steps")}
    out = []
    for p in proposals:
        if p.step_id in forbidden and p.change and not p.change.get("limits"):
            p = Proposal(p.step_id, p.rule, p.reason, p.numbers, {},
                         "not proposed: the cobot takes this step for this person (see the posture proposal)")
        out.append(p)
    return out


# ---- changes on a profile --------------------------------------------------------------------

def merge_change(target: dict[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """``target`` (profile data) with ``change`` merged in: mappings merge, id lists are added to, the rest replaced."""
    out = dict(target)
    for key, value in change.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_change(dict(out[key]), value)
        elif key in ID_LISTS and isinstance(value, list):
            have = list(out.get(key) or [])
            out[key] = have + [v for v in value if v not in have]
        else:
            out[key] = value
    return out


def combined_change(proposals: Iterable[Proposal]) -> dict[str, Any]:
    """Every proposal's change in one merge patch."""
    out: dict[str, Any] = {}
    for p in proposals:
        out = merge_change(out, p.change)
    return out


def apply_change(profile: OperatorProfile, change: Mapping[str, Any]) -> OperatorProfile:
    """The profile with the change (validated like the YAML: pydantic errors for a bad value)."""
    data = profile.model_dump(mode="json", exclude_defaults=True)
    return OperatorProfile.model_validate(merge_change(data, change))
