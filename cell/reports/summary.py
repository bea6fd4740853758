"""From event-log rows to the numbers of a report. Pure: rows and the cell config in, dataclasses out.

One pass per operator and day over the rows (:class:`cell.reports.load.Row`,
sorted by day and time) gives:

* posture: RULA action level of every scored frame, per day, per half hour
  of the shift, per step, and per body region (a region counts as strained
  when its RULA body-part score reaches ``REGION_STRAINED``);
* steps: who did each step (``StepState`` done), how long it took (first
  active to done), picks from the wrong bin and the bin taken
  (``TaskEvent`` wrong_pick), calls for help and how long the help took
  (help to help_cleared), and how long the operator stood waiting while only
  the cobot was working on the unit;
* units: a unit is built when every step of its task is done; its cycle time
  runs from its first step becoming active to its last step done;
* stress: the index and confidence of every ``StressEstimate`` per quarter
  hour of the shift and per day;
* allocation: every reassignment (``Allocation.reassigned``) grouped by the
  lead phrase of its reason, with what drove it (tired muscles, a raised
  arm, the step's usual posture, signs of stress);
* the cobot: time running a program (``RobotStatus`` mode ``running``).

A frame is one scored camera frame; its duration is the typical time
between scores (1 s in the simulator, 0.2 s on the live camera path).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from statistics import median
from typing import Iterable

from cell.config import CellConfig
from cell.reports.load import Row

POSTURE_BIN_S = 1800.0   # posture over the shift: half hours
STRESS_BIN_S = 900.0     # stress over the shift: quarter hours
MAX_GAP_S = 600.0        # a gap this long between step states is a break, not waiting

# RULA body-part score from which a region counts as strained (see docs/reports.md for the angles)
REGION_STRAINED: dict[str, int] = {
    "upper_arm": 3,   # raised forward more than 45 degrees (or 20..45 with the shoulder raised or the arm out)
    "lower_arm": 3,   # bent outside 60..100 degrees and working across the body or out to the side
    "wrist": 3,       # bent more than 15 degrees (or bent and turned sideways)
    "neck": 3,        # bent forward more than 20 degrees, or bent back, or twisted and bent
    "trunk": 3,       # bent forward more than 20 degrees, or twisted and bent
    "legs": 2,        # not supported and balanced
}
REGIONS = tuple(REGION_STRAINED)


def reason_lead(reason: str) -> str:
    """The lead phrase of an allocation reason: 'the cobot takes the strain: the ...' -> 'the cobot takes the strain'."""
    return reason.split(":")[0].split(" (")[0].split(";")[0].strip()


_TIRED = re.compile(r"the (\w+) (left|right) muscles are (\d+)% fatigued")
_RAISED = re.compile(r"the (left|right) upper arm was above (\d+)°")


def reason_driver(reason: str) -> tuple[str, ...]:
    """What drove a decision, as a key and its words: ('tired', region, side), ('arm_raised', side, deg), ..."""
    m = _TIRED.search(reason)
    if m:
        return ("tired", m.group(1), m.group(2))
    m = _RAISED.search(reason)
    if m:
        return ("arm_raised", m.group(1), m.group(2))
    if "stress index" in reason:
        return ("stress",)
    if "usually scores RULA" in reason or "RULA action level" in reason:
        return ("step_posture",)
    if "meaningful work" in reason:
        return ("share",)
    return ("other",)


def _median(xs: list[float]) -> float | None:
    return float(median(xs)) if xs else None


def _quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    if not s:
        return 0.0
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


@dataclass
class StepStats:
    step_id: str
    index: int
    who: str
    target_s: float
    picks_each: int                        # parts picked each time the step is done
    pick_zone: str | None
    done_operator: int = 0
    done_cobot: int = 0
    wrong_picks: int = 0
    wrong_bins: Counter = field(default_factory=Counter)     # zone taken from instead -> times
    help_calls: int = 0
    help_wait_s: float = 0.0
    durations_operator: list[float] = field(default_factory=list)
    durations_cobot: list[float] = field(default_factory=list)
    frames: int = 0
    frames_al3: int = 0
    region_frames: Counter = field(default_factory=Counter)  # region -> strained frames on this step
    to_cobot: int = 0                      # reassigned to the cobot
    to_operator: int = 0
    wait_for_cobot_s: float = 0.0          # the operator had nothing to do while the cobot did this step

    @property
    def done(self) -> int:
        return self.done_operator + self.done_cobot

    @property
    def median_operator_s(self) -> float | None:
        return _median(self.durations_operator)

    @property
    def median_cobot_s(self) -> float | None:
        return _median(self.durations_cobot)

    @property
    def al3_share(self) -> float:
        return self.frames_al3 / self.frames if self.frames else 0.0

    def merge(self, other: "StepStats") -> None:
        for name in ("done_operator", "done_cobot", "wrong_picks", "help_calls", "help_wait_s", "frames",
                     "frames_al3", "to_cobot", "to_operator", "wait_for_cobot_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.wrong_bins.update(other.wrong_bins)
        self.region_frames.update(other.region_frames)
        self.durations_operator.extend(other.durations_operator)
        self.durations_cobot.extend(other.durations_cobot)


@dataclass
class DayStats:
    day: date
    start_wall: float
    shift_s: float = 0.0
    units: int = 0
    steps_operator: int = 0
    steps_cobot: int = 0
    wrong_picks: int = 0
    help_calls: int = 0
    help_wait_s: float = 0.0
    al_frames: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    stress: list[float] = field(default_factory=list)
    stress_high: int = 0
    reassignments: int = 0
    cobot_running_s: float = 0.0
    cobot_programs: Counter = field(default_factory=Counter)   # program -> running seconds
    unit_cycles: list[float] = field(default_factory=list)
    fatigue_peak: dict[str, float] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return sum(self.al_frames)

    @property
    def al3_share(self) -> float:
        return (self.al_frames[2] + self.al_frames[3]) / self.frames if self.frames else 0.0

    @property
    def operator_share(self) -> float:
        n = self.steps_operator + self.steps_cobot
        return self.steps_operator / n if n else 0.0

    @property
    def stress_mean(self) -> float | None:
        return sum(self.stress) / len(self.stress) if self.stress else None

    @property
    def stress_high_share(self) -> float:
        return self.stress_high / len(self.stress) if self.stress else 0.0

    @property
    def unit_median_s(self) -> float | None:
        return _median(self.unit_cycles)

    @property
    def cobot_share(self) -> float:
        return self.cobot_running_s / self.shift_s if self.shift_s else 0.0


@dataclass
class UnitTime:
    day_index: int
    s_end: float          # when in the shift it was finished
    cycle_s: float        # first step active .. last step done
    operator_s: float     # the operator's own step time in it


@dataclass
class StressBin:
    s0: float
    median: float
    q25: float
    q75: float
    confidence: float
    n: int


@dataclass
class ReasonGroup:
    lead: str
    count: int = 0
    drivers: Counter = field(default_factory=Counter)   # driver tuple -> times
    steps: Counter = field(default_factory=Counter)     # step id -> times
    to: Counter = field(default_factory=Counter)        # assignee -> times


@dataclass
class OperatorSummary:
    operator_id: str
    days: list[DayStats]
    steps: dict[str, StepStats]            # in task order
    task_name: dict[str, str]              # language -> the (first) task's name
    frame_s: float
    posture_bins: list[list[int]]          # per half hour of the shift: frames at action level 1..4
    region_frames: Counter                 # region -> strained frames
    stress_bins: list[StressBin]
    units: list[UnitTime]
    reasons: dict[str, ReasonGroup]
    simulated: bool = False
    fatigue: dict[str, float] = field(default_factory=dict)          # region -> peak % over the period
    fatigue_day: dict[str, date] = field(default_factory=dict)

    # ---- totals -------------------------------------------------------------------------------
    @property
    def frames(self) -> int:
        return sum(d.frames for d in self.days)

    @property
    def al_frames(self) -> list[int]:
        return [sum(d.al_frames[i] for d in self.days) for i in range(4)]

    @property
    def al3_share(self) -> float:
        a = self.al_frames
        return (a[2] + a[3]) / self.frames if self.frames else 0.0

    @property
    def hours(self) -> float:
        return sum(d.shift_s for d in self.days) / 3600.0

    @property
    def units_built(self) -> int:
        return sum(d.units for d in self.days)

    @property
    def steps_operator(self) -> int:
        return sum(d.steps_operator for d in self.days)

    @property
    def steps_cobot(self) -> int:
        return sum(d.steps_cobot for d in self.days)

    @property
    def operator_share(self) -> float:
        n = self.steps_operator + self.steps_cobot
        return self.steps_operator / n if n else 0.0

    @property
    def wrong_picks(self) -> int:
        return sum(d.wrong_picks for d in self.days)

    @property
    def help_calls(self) -> int:
        return sum(d.help_calls for d in self.days)

    @property
    def reassignments(self) -> int:
        return sum(d.reassignments for d in self.days)

    @property
    def stress_values(self) -> list[float]:
        return [x for d in self.days for x in d.stress]

    @property
    def stress_mean(self) -> float | None:
        v = self.stress_values
        return sum(v) / len(v) if v else None

    @property
    def stress_high_share(self) -> float:
        n = sum(len(d.stress) for d in self.days)
        return sum(d.stress_high for d in self.days) / n if n else 0.0

    def region_share(self, region: str) -> float:
        return self.region_frames[region] / self.frames if self.frames else 0.0

    def region_steps(self, region: str) -> list[tuple[str, int]]:
        """The steps in which this region was strained most (step id, frames), most first."""
        c = Counter({sid: s.region_frames[region] for sid, s in self.steps.items() if s.region_frames[region]})
        return c.most_common()


@dataclass
class CellSummary:
    operators: dict[str, OperatorSummary]
    steps: dict[str, StepStats]            # every operator together
    days: list[date]
    simulated: bool = False

    @property
    def wrong_picks(self) -> int:
        return sum(s.wrong_picks for s in self.steps.values())

    @property
    def help_calls(self) -> int:
        return sum(s.help_calls for s in self.steps.values())


# ------------------------------------------------------------------------------------------------

def _new_steps(config: CellConfig) -> dict[str, StepStats]:
    out: dict[str, StepStats] = {}
    for task in config.tasks:
        for i, st in enumerate(task.steps):
            if st.id not in out:
                out[st.id] = StepStats(step_id=st.id, index=len(out), who=st.who, target_s=st.target_time_s,
                                       picks_each=st.pick.quantity if st.pick else 0,
                                       pick_zone=st.pick.zone if st.pick else None)
    return out


def _step(steps: dict[str, StepStats], step_id: str) -> StepStats:
    if step_id not in steps:  # a step the config no longer has: keep it, at the end
        steps[step_id] = StepStats(step_id=step_id, index=len(steps), who="operator", target_s=0.0,
                                   picks_each=0, pick_zone=None)
    return steps[step_id]


def _task_sizes(config: CellConfig) -> dict[str, int]:
    return {t.id: len(t.steps) for t in config.tasks}


def _day_pass(rows: list[Row], day: DayStats, day_index: int, steps: dict[str, StepStats], sizes: dict[str, int],
              posture_bins: list[list[int]], region_frames: Counter, stress_pts: list[tuple[float, float, float]],
              units_out: list[UnitTime], reasons: dict[str, ReasonGroup], high_stress: float,
              frame_gaps: list[float]) -> bool:
    """One operator's rows of one day, in time order. Returns whether any row came from a simulated source."""
    simulated = False
    first_active: dict[tuple, float] = {}
    done_keys: set[tuple] = set()
    active: dict[tuple, str] = {}           # (order, unit, step) -> assignee, while active or verifying
    units: dict[tuple, dict] = {}           # (order, unit) -> {first, last, steps, op_s, task}
    help_open: dict[str | None, float] = {}
    prev_state_s: float | None = None
    paused = False
    last_frame_s: float | None = None
    running_since: float | None = None
    running_program = ""
    last_s = 0.0
    for r in rows:
        p = r.p
        last_s = max(last_s, r.s)
        ty = r.type
        if ty == "ErgonomicScore":
            al = int(p.get("rula_action_level", 0))
            if 1 <= al <= 4:
                day.al_frames[al - 1] += 1
                b = int(r.s // POSTURE_BIN_S)
                while len(posture_bins) <= b:
                    posture_bins.append([0, 0, 0, 0])
                posture_bins[b][al - 1] += 1
                parts = p.get("parts") or {}
                st = _step(steps, p["step_id"]) if p.get("step_id") else None
                if st is not None:
                    st.frames += 1
                    st.frames_al3 += al >= 3
                for region, lim in REGION_STRAINED.items():
                    if parts.get(region, 0) >= lim:
                        region_frames[region] += 1
                        if st is not None:
                            st.region_frames[region] += 1
            if last_frame_s is not None and 0 < r.s - last_frame_s < 5.0:
                frame_gaps.append(r.s - last_frame_s)
            last_frame_s = r.s
        elif ty == "StepState":
            key = (p.get("order_id"), p.get("unit"), p.get("step_id"))
            ukey = key[:2]
            # waiting: nothing for the operator while the cobot works on the unit
            if prev_state_s is not None and not paused:
                gap = r.s - prev_state_s
                if 0 < gap < MAX_GAP_S and active and "operator" not in active.values():
                    cobot_keys = [k for k, a in active.items() if a == "cobot"]
                    for k in cobot_keys:
                        _step(steps, k[2]).wait_for_cobot_s += gap / len(cobot_keys)
            prev_state_s = r.s
            paused = bool(p.get("paused"))
            if p.get("order_done"):
                continue
            phase = p.get("phase")
            if phase in ("active", "verifying"):
                first_active.setdefault(key, r.s)
                active[key] = p.get("assignee", "operator")
                u = units.setdefault(ukey, {"first": r.s, "last": r.s, "steps": set(), "op_s": 0.0,
                                            "task": p.get("task_id")})
                u["first"] = min(u["first"], r.s)
            elif phase == "done":
                active.pop(key, None)
                if key in done_keys:
                    continue
                done_keys.add(key)
                who = p.get("assignee", "operator")
                st = _step(steps, key[2])
                dur = r.s - first_active[key] if key in first_active else None
                if who == "cobot":
                    day.steps_cobot += 1
                    st.done_cobot += 1
                    if dur is not None:
                        st.durations_cobot.append(dur)
                else:
                    day.steps_operator += 1
                    st.done_operator += 1
                    if dur is not None:
                        st.durations_operator.append(dur)
                u = units.setdefault(ukey, {"first": first_active.get(key, r.s), "last": r.s, "steps": set(),
                                            "op_s": 0.0, "task": p.get("task_id")})
                u["steps"].add(key[2])
                u["last"] = r.s
                if who != "cobot" and dur is not None:
                    u["op_s"] += dur
                if len(u["steps"]) >= sizes.get(u["task"], 10 ** 9):
                    day.units += 1
                    cycle = u["last"] - u["first"]
                    day.unit_cycles.append(cycle)
                    units_out.append(UnitTime(day_index, r.s, cycle, u["op_s"]))
                    del units[ukey]
        elif ty == "TaskEvent":
            kind = p.get("kind")
            sid = p.get("step_id")
            if kind == "wrong_pick":
                day.wrong_picks += 1
                if sid:
                    st = _step(steps, sid)
                    st.wrong_picks += 1
                    if p.get("zone"):
                        st.wrong_bins[p["zone"]] += 1
            elif kind == "help":
                day.help_calls += 1
                if sid:
                    _step(steps, sid).help_calls += 1
                help_open[sid] = r.s
            elif kind == "help_cleared":
                t0 = help_open.pop(sid, None)
                if t0 is None and help_open:
                    sid, t0 = help_open.popitem()
                if t0 is not None:
                    day.help_wait_s += r.s - t0
                    if sid:
                        _step(steps, sid).help_wait_s += r.s - t0
            if r.p.get("src") == "sim-operator":
                simulated = True
        elif ty == "StressEstimate":
            conf = float(p.get("confidence", 0.0))
            if conf > 0:
                idx = float(p.get("index", 0.0))
                day.stress.append(idx)
                day.stress_high += idx >= high_stress
                stress_pts.append((r.s, idx, conf))
        elif ty == "Allocation":
            if p.get("reassigned"):
                day.reassignments += 1
                reason = p.get("reason", "")
                lead = reason_lead(reason)
                g = reasons.setdefault(lead, ReasonGroup(lead))
                g.count += 1
                g.drivers[reason_driver(reason)] += 1
                g.steps[p.get("step_id")] += 1
                g.to[p.get("assignee")] += 1
                st = _step(steps, p.get("step_id"))
                if p.get("assignee") == "cobot":
                    st.to_cobot += 1
                else:
                    st.to_operator += 1
        elif ty == "RobotStatus":
            simulated = simulated or bool(p.get("simulated"))
            mode = p.get("mode")
            if mode == "running" and running_since is None:
                running_since, running_program = r.s, p.get("program") or p.get("step_id") or "?"
            elif mode != "running" and running_since is not None:
                day.cobot_running_s += r.s - running_since
                day.cobot_programs[running_program] += r.s - running_since
                running_since = None
        elif ty == "FatigueState":
            for region, pct in (p.get("fatigued_pct") or {}).items():
                day.fatigue_peak[region] = max(day.fatigue_peak.get(region, 0.0), float(pct))
    if running_since is not None:
        day.cobot_running_s += last_s - running_since
        day.cobot_programs[running_program] += last_s - running_since
    day.shift_s = last_s
    return simulated


def operator_summary(rows: Iterable[Row], config: CellConfig, operator_id: str,
                     shift_start: dict | None = None) -> OperatorSummary:
    """The numbers of one operator's report from their rows (any days; sorted by day and time)."""
    by_day: dict[date, list[Row]] = defaultdict(list)
    for r in rows:
        if r.operator_id == operator_id:
            by_day[r.day].append(r)  # type: ignore[index]
    steps = _new_steps(config)
    sizes = _task_sizes(config)
    days: list[DayStats] = []
    posture_bins: list[list[int]] = []
    region_frames: Counter = Counter()
    stress_pts: list[tuple[float, float, float]] = []
    units: list[UnitTime] = []
    reasons: dict[str, ReasonGroup] = {}
    frame_gaps: list[float] = []
    simulated = False
    for i, d in enumerate(sorted(by_day)):
        day_rows = by_day[d]
        start = (shift_start or {}).get((operator_id, d), min(r.wall for r in day_rows))
        ds = DayStats(day=d, start_wall=start)
        simulated |= _day_pass(day_rows, ds, i, steps, sizes, posture_bins, region_frames, stress_pts, units,
                               reasons, config.thresholds.high_stress, frame_gaps)
        days.append(ds)
    stress_bins = []
    grouped: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for s, idx, conf in stress_pts:
        grouped[int(s // STRESS_BIN_S)].append((idx, conf))
    for b in sorted(grouped):
        vals = [v for v, _ in grouped[b]]
        stress_bins.append(StressBin(b * STRESS_BIN_S, _quantile(vals, 0.5), _quantile(vals, 0.25),
                                     _quantile(vals, 0.75), sum(c for _, c in grouped[b]) / len(vals), len(vals)))
    fatigue: dict[str, float] = {}
    fatigue_day: dict[str, date] = {}
    for ds in days:
        for region, pct in ds.fatigue_peak.items():
            if pct > fatigue.get(region, -1.0):
                fatigue[region], fatigue_day[region] = pct, ds.day
    task = config.tasks[0]
    return OperatorSummary(
        operator_id=operator_id, days=days, steps=dict(sorted(steps.items(), key=lambda kv: kv[1].index)),
        task_name=dict(task.name), frame_s=_median(frame_gaps) or 1.0, posture_bins=posture_bins,
        region_frames=region_frames, stress_bins=stress_bins, units=units, reasons=reasons, simulated=simulated,
        fatigue=fatigue, fatigue_day=fatigue_day)


def cell_summary(rows: list[Row], config: CellConfig, shift_start: dict | None = None) -> CellSummary:
    """Every operator's summary and the steps of all of them together."""
    ops = sorted({r.operator_id for r in rows if r.operator_id})
    return combine({op: operator_summary(rows, config, op, shift_start) for op in ops}, config)


def combine(per: dict[str, OperatorSummary], config: CellConfig) -> CellSummary:
    """The cell's numbers from its operators' summaries (the steps of all of them added up)."""
    per = dict(sorted(per.items()))
    steps = _new_steps(config)
    for s in per.values():
        for sid, st in s.steps.items():
            _step(steps, sid).merge(st)
    days = sorted({d.day for s in per.values() for d in s.days})
    return CellSummary(operators=per, steps=steps, days=days, simulated=any(s.simulated for s in per.values()))
