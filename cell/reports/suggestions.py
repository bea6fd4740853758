"""Concrete suggestions for the job coach and the integrator, by fixed rules on a report's numbers. Pure.

Each rule names the numbers it is based on (``Suggestion.evidence``), so a
suggestion can be checked against the charts. The thresholds are the
constants below; docs/reports.md lists the rules in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cell.config import CellConfig
from cell.reports.names import Names
from cell.reports.summary import REGIONS, CellSummary, OperatorSummary
from cell.reports.texts import Texts

WRONG_MIN = 5             # picks from a wrong bin at one step in the period ...
WRONG_RATE = 0.03         # ... and at least this share of the step's picks
WRONG_MAX_STEPS = 3       # suggestions for at most this many steps (the worst)
HELP_MIN = 3              # calls for help at one step ...
HELP_STEP_FACTOR = 2.0    # ... at least this many times the operator's usual rate over all steps
HELP_STEP_RATE = 0.02     # ... and at least this share of the times the step was done
HELP_PER_DAY = 4.0        # or this many calls a day in all: one suggestion for the whole task
POSTURE_MIN_FRAMES = 60   # scored frames of a step before its posture counts
POSTURE_AL3 = 0.10        # share of a step's scored time at RULA action level 3 or 4
REGION_SHARE = 0.30       # share of working time a body region is strained
REGION_MAX = 2            # suggestions for at most this many regions (the worst)
STRESS_RISE = 0.15        # typical index in the last hour minus the first hour
STRESS_HIGH_SHARE = 0.05  # share of estimates at or above the cell's high-stress threshold
SLOW_RATIO = 1.5          # an operator's typical step time against the step's target time
SLOW_MIN_N = 10
SLOW_MAX_STEPS = 2
LEARN_CHANGE = 0.10       # typical time per unit, last day against the first day
LEARN_MIN_DAYS = 3
SHARE_MARGIN = 0.05       # operator share within this of allocation.min_operator_share ...
SHARE_MIN_MOVES = 10      # ... with at least this many reassignments
FATIGUE_PCT = 60.0        # peak muscle fatigue of a region
CELL_SLOW_RATIO = 1.5
CELL_WAIT_MIN_PER_DAY = 10.0   # minutes a shift the operators wait for the cobot at one step
CELL_COBOT_LOW = 0.15          # the cobot runs less than this share of the shift

LESS_GUIDANCE = {"full": "standard", "standard": "minimal"}


@dataclass
class Suggestion:
    rule: str
    text: str
    evidence: dict = field(default_factory=dict)
    subject: str | None = None      # the step or region it is about


def _first_last_hour(s: OperatorSummary) -> tuple[float, float] | None:
    bins = [b for b in s.stress_bins if b.n >= 3]
    if len(bins) < 8:  # two hours at least
        return None
    first = [b.median for b in bins if b.s0 < 3600.0]
    end = bins[-1].s0
    last = [b.median for b in bins if b.s0 > end - 3600.0]
    return sum(first) / len(first), sum(last) / len(last)


def operator_suggestions(s: OperatorSummary, config: CellConfig, texts: Texts) -> list[Suggestion]:
    T, N = texts, Names(config, texts)
    profile = config.operator(s.operator_id) if s.operator_id in {o.id for o in config.operators} else None
    out: list[Suggestion] = []
    ndays = len(s.days)
    if not ndays:
        return out
    op = s.operator_id
    task = N.task_lower()

    # posture per step: let the cobot take it, or change the workplace
    for st in s.steps.values():
        if st.frames >= POSTURE_MIN_FRAMES and st.al3_share >= POSTURE_AL3:
            region = max(REGIONS, key=lambda r: st.region_frames[r])
            ev = {"step": st.step_id, "al3_share": round(st.al3_share, 3), "frames": st.frames,
                  "region": region, "given_to_cobot": st.done_cobot}
            if st.who == "both":
                text = T("sg_posture_cobot", step=N.step(st.step_id), share=st.al3_share, operator=op,
                         region=T.region(region).lower(), how=T.region_how(region), n=st.done_cobot,
                         total=st.done, days=ndays)
                out.append(Suggestion("posture_cobot", text, ev, st.step_id))
            else:
                text = T("sg_posture_workplace", step=N.step(st.step_id), share=st.al3_share,
                         region=T.region(region).lower(), how=T.region_how(region), fix=T(f"fix_{region}"))
                out.append(Suggestion("posture_workplace", text, ev, st.step_id))

    # body regions strained much of the time
    regions = sorted((r for r in REGIONS if s.region_share(r) >= REGION_SHARE), key=lambda r: -s.region_share(r))
    for region in regions[:REGION_MAX]:
        share = s.region_share(region)
        top = [N.step(sid) for sid, _ in s.region_steps(region)[:2]]
        text = T("sg_region", region=T.region(region), how=T.region_how(region), share=share,
                 steps=f" {T('and')} ".join(top) or "-", fix=T(f"fix_{region}"))
        out.append(Suggestion("region", text, {"region": region, "share": round(share, 3)}, region))

    # picks from a wrong bin
    wrong = []
    for st in s.steps.values():
        picks = st.done_operator * max(1, st.picks_each)
        if st.wrong_picks >= WRONG_MIN and picks and st.wrong_picks / picks >= WRONG_RATE:
            wrong.append((st.wrong_picks, st, picks))
    ptl = any(d.kind == "pick_to_light" for d in config.devices)
    for n, st, picks in sorted(wrong, key=lambda x: -x[0])[:WRONG_MAX_STEPS]:
        wzone = st.wrong_bins.most_common(1)[0][0] if st.wrong_bins else None
        right, wrong_bin = N.bin(st.pick_zone, part=False), N.bin(wzone, part=False)
        guidance = profile.guidance if profile else "standard"
        how = (T("sg_wrong_how_ptl", right=right, wrong=wrong_bin, operator=op) if ptl else
               T("sg_wrong_how_full", right=right, wrong=wrong_bin) if guidance == "full" else
               T("sg_wrong_how_guidance", right=right, guidance=guidance))
        text = T("sg_wrong", step=N.step(st.step_id), n=n, days=ndays, rate=n / picks, wrong_long=N.bin(wzone),
                 right_long=N.bin(st.pick_zone), how=how)
        out.append(Suggestion("wrong_picks", text, {"step": st.step_id, "wrong_picks": n, "picks": picks},
                              st.step_id))

    # calls for help: one step that stands out, or many calls on all steps
    done = sum(st.done_operator for st in s.steps.values())
    usual = s.help_calls / done if done else 0.0
    standout = [st for st in s.steps.values()
                if st.help_calls >= HELP_MIN and st.done_operator
                and st.help_calls / st.done_operator >= max(HELP_STEP_RATE, HELP_STEP_FACTOR * usual)]
    for st in sorted(standout, key=lambda x: -x.help_calls):
        text = T("sg_help", step=N.step(st.step_id), n=st.help_calls, days=ndays,
                 rate=st.help_calls / st.done_operator, wait=T.duration(st.help_wait_s))
        out.append(Suggestion("help_step", text, {"step": st.step_id, "help_calls": st.help_calls}, st.step_id))
    if s.help_calls / ndays >= HELP_PER_DAY and not standout:
        wait = sum(d.help_wait_s for d in s.days)
        text = T("sg_help_all", operator=op, n=s.help_calls, days=ndays, per_day=s.help_calls / ndays,
                 wait=T.duration(wait))
        out.append(Suggestion("help_all", text, {"help_calls": s.help_calls, "days": ndays}))

    # stress
    moved = sum(g.count for lead, g in s.reasons.items() if lead == "signs of strain")
    moved_text = T("sg_stress_moved", n=moved) if moved else ""
    fl = _first_last_hour(s)
    high = config.thresholds.high_stress
    if fl and fl[1] - fl[0] >= STRESS_RISE:
        half = fl[0] + (fl[1] - fl[0]) / 2.0
        mark = next(b for b in s.stress_bins if b.n >= 3 and b.median >= half and b.s0 >= 3600.0
                    or b is s.stress_bins[-1])
        start = sorted(d.start_wall for d in s.days)[len(s.days) // 2]
        text = T("sg_stress", first=fl[0], last=fl[1], clock=T.clock(start + mark.s0), after=mark.s0 / 3600.0,
                 moved=moved_text)
        out.append(Suggestion("stress_rising", text, {"first_hour": round(fl[0], 3), "last_hour": round(fl[1], 3),
                                                      "moved_for_stress": moved}))
    elif s.stress_high_share >= STRESS_HIGH_SHARE:
        text = T("sg_stress_high", high=high, share=s.stress_high_share, moved=moved_text, operator=op)
        out.append(Suggestion("stress_high", text, {"high_share": round(s.stress_high_share, 3)}))

    # slow steps
    slow = []
    for st in s.steps.values():
        m = st.median_operator_s
        if m is not None and len(st.durations_operator) >= SLOW_MIN_N and st.target_s and m >= SLOW_RATIO * st.target_s:
            slow.append((m / st.target_s, st, m))
    for ratio, st, m in sorted(slow, key=lambda x: -x[0])[:SLOW_MAX_STEPS]:
        text = T("sg_slow", step=N.step(st.step_id), operator=op, median=T.duration(m), target=T.duration(st.target_s),
                 ratio=ratio, pace=profile.pace if profile else 1.0)
        out.append(Suggestion("slow_step", text, {"step": st.step_id, "median_s": round(m, 1),
                                                  "target_s": st.target_s}, st.step_id))

    # learning over the days
    with_units = [d for d in s.days if d.unit_median_s is not None]
    if len(with_units) >= LEARN_MIN_DAYS:
        a, b = with_units[0], with_units[-1]
        change = (b.unit_median_s - a.unit_median_s) / a.unit_median_s  # type: ignore[operator]
        common = dict(first=T.duration(a.unit_median_s), last=T.duration(b.unit_median_s), first_day=T.day(a.day),
                      last_day=T.day(b.day), task=task, operator=op)
        ev = {"first_day_s": round(a.unit_median_s, 1), "last_day_s": round(b.unit_median_s, 1),  # type: ignore[arg-type]
              "change": round(change, 3)}
        guidance = profile.guidance if profile else "standard"
        if change <= -LEARN_CHANGE and guidance in LESS_GUIDANCE and b.wrong_picks <= a.wrong_picks:
            out.append(Suggestion("learning_guidance", T("sg_learning_guidance", e1=a.wrong_picks, e2=b.wrong_picks,
                                                         guidance=guidance, less=LESS_GUIDANCE[guidance], **common),
                                  ev))
        elif change >= LEARN_CHANGE:
            out.append(Suggestion("learning_slower", T("sg_learning_slower", **common), ev))

    # the operator's share close to the minimum
    min_share = config.allocation.min_operator_share
    if s.reassignments >= SHARE_MIN_MOVES and s.operator_share < min_share + SHARE_MARGIN:
        out.append(Suggestion("share_minimum", T("sg_share", operator=op, share=s.operator_share, min=min_share),
                              {"operator_share": round(s.operator_share, 3), "min": min_share}))

    # tired muscles (when the log has fatigue estimates)
    for region, pct in sorted(s.fatigue.items(), key=lambda kv: -kv[1]):
        if pct >= FATIGUE_PCT:
            out.append(Suggestion("fatigue", T("sg_fatigue", region=region.replace("_", " "), pct=pct,
                                               day=T.day(s.fatigue_day[region]), operator=op),
                                  {"region": region, "peak_pct": round(pct, 1)}, region))
            break

    if not out:
        out.append(Suggestion("none", T("sg_none", days=ndays, task=task), {}))
    return out


def cell_suggestions(c: CellSummary, config: CellConfig, texts: Texts) -> list[Suggestion]:
    T, N = texts, Names(config, texts)
    out: list[Suggestion] = []
    ndays = len(c.days)
    if not ndays:
        return out
    steps = list(c.steps.values())
    errs = [st for st in steps if st.wrong_picks >= WRONG_MIN and st.done_operator]
    for st in sorted(errs, key=lambda x: -x.wrong_picks / x.done_operator)[:2]:
        ops = sum(1 for s in c.operators.values() if s.steps.get(st.step_id) and s.steps[st.step_id].wrong_picks)
        text = T("c_sg_errors", step=N.step(st.step_id), n=st.wrong_picks, per100=100.0 * st.wrong_picks / st.done_operator,
                 ops=ops, wrong=N.bin(st.wrong_bins.most_common(1)[0][0] if st.wrong_bins else None),
                 right=N.bin(st.pick_zone))
        out.append(Suggestion("cell_errors", text, {"step": st.step_id, "wrong_picks": st.wrong_picks}, st.step_id))
    slow = [(st.median_operator_s / st.target_s, st) for st in steps
            if st.median_operator_s is not None and len(st.durations_operator) >= SLOW_MIN_N and st.target_s
            and st.median_operator_s >= CELL_SLOW_RATIO * st.target_s]
    for ratio, st in sorted(slow, key=lambda x: -x[0])[:2]:
        text = T("c_sg_slow", step=N.step(st.step_id), median=T.duration(st.median_operator_s),
                 target=T.duration(st.target_s), ratio=ratio)
        out.append(Suggestion("cell_slow", text, {"step": st.step_id, "ratio": round(ratio, 2)}, st.step_id))
    shifts = sum(len(s.days) for s in c.operators.values()) or 1
    waits = sorted(steps, key=lambda x: -x.wait_for_cobot_s)
    for st in waits[:2]:
        if st.wait_for_cobot_s / 60.0 / shifts >= CELL_WAIT_MIN_PER_DAY:
            text = T("c_sg_wait", minutes=T.duration(st.wait_for_cobot_s), step=N.step(st.step_id),
                     per_day=T.duration(st.wait_for_cobot_s / shifts))
            out.append(Suggestion("cell_wait", text, {"step": st.step_id, "wait_s": round(st.wait_for_cobot_s)},
                                  st.step_id))
    for op, s in c.operators.items():
        run = sum(d.cobot_running_s for d in s.days)
        total = sum(d.shift_s for d in s.days)
        if total and run / total < CELL_COBOT_LOW and config.robot is not None:
            out.append(Suggestion("cell_cobot_low", T("c_sg_cobot_low", share=run / total, operator=op),
                                  {"operator": op, "share": round(run / total, 3)}, op))
    if not out:
        out.append(Suggestion("none", T("c_sg_none"), {}))
    return out
