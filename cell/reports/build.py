"""Putting a report together: log rows -> summary -> charts -> one HTML page (and summary.json) in a folder."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from statistics import median

from cell.config import CellConfig
from cell.reports import plots
from cell.reports.load import choose_days, days_in_logs, read_rows
from cell.reports.names import Names
from cell.reports.page import Page
from cell.reports.suggestions import REGION_SHARE, Suggestion, cell_suggestions, operator_suggestions
from cell.reports.summary import REGIONS, CellSummary, OperatorSummary, cell_summary, operator_summary
from cell.reports.texts import Texts

REPORT_LANGUAGE = "en"  # the language the texts exist in; see texts.py to add one

# the job coach's suggestions under a few headings, in this order
SUGGESTION_GROUPS = ("body", "picks", "stress", "progress", "other")
RULE_GROUP = {"posture_cobot": "body", "posture_workplace": "body", "region": "body", "fatigue": "body",
              "wrong_picks": "picks", "help_step": "picks", "help_all": "picks", "slow_step": "picks",
              "stress_rising": "stress", "stress_high": "stress", "learning_guidance": "progress",
              "learning_slower": "progress", "share_minimum": "progress", "none": "other"}


@dataclass
class Report:
    html: Path
    pngs: list[Path]
    suggestions: list[Suggestion]
    summary: object
    json: Path | None = None
    days: list[date] = field(default_factory=list)


def _pct(x: float, digits: int = 0) -> str:
    return f"{100.0 * x:.{digits}f}%"


def _footer(page: Page, T: Texts, logs: list[str]) -> None:
    page.raw_note(T("made_by", logs=", ".join(Path(p).name for p in logs),
                    now=datetime.now().strftime("%Y-%m-%d %H:%M")))


# ---------------------------------------------------------------------------------------------
# operator

def operator_report(config: CellConfig, logs: list[Path], operator_id: str, out: Path, *, days: int | None = None,
                    since: date | None = None, until: date | None = None, language: str = REPORT_LANGUAGE) -> Report:
    """Read the logs, summarise one operator's period and write the report into ``out``."""
    lo, hi = choose_days(days_in_logs(logs, operator_id), days=days, since=since, until=until)
    sel = read_rows(logs, operator_id=operator_id, since=lo, until=hi)
    s = operator_summary(sel.rows, config, operator_id, sel.shift_start)
    return write_operator_report(s, config, out, language=language, logs=sel.logs)


def write_operator_report(s: OperatorSummary, config: CellConfig, out: Path, *, language: str = REPORT_LANGUAGE,
                          logs: list[str] | None = None) -> Report:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    T = Texts(language)
    N = Names(config, T)
    task = N.task_lower()
    op = s.operator_id
    nd = len(s.days)
    page = Page(T("op_title", operator=op), T.language)
    if not nd:
        page.h1(T("op_title", operator=op), config.cell.name)
        page.p(T("no_data"))
        html = out / "report.html"
        html.write_text(page.render(), encoding="utf-8")
        return Report(html, [], [], s)
    page.h1(T("op_title", operator=op),
            T("op_subtitle", cell=config.cell.name, period=T.period(s.days[0].day, s.days[-1].day), days=nd,
              s="s" if nd != 1 else "", hours=s.hours))
    if s.simulated:
        page.p(T("simulated"), "banner")
    page.p(T("privacy", operator=op), "privacy")
    suggestions = operator_suggestions(s, config, T)
    figs: list[plots.Figure] = []

    # ---- in short
    page.section("in-short", T("in_short"))
    stress = s.stress_values
    page.keys([
        ("units", str(s.units_built), T("k_units", tasks=N.task_plural())),
        ("operator_share", _pct(s.operator_share), T("k_share", operator=op)),
        ("wrong_picks", str(s.wrong_picks), T("k_wrong")),
        ("help_calls", str(s.help_calls), T("k_help")),
        ("al3", _pct(s.al3_share, 1), T("k_al3")),
        ("stress", f"{median(stress):.2f}" if stress else T("k_none"), T("k_stress")),
    ])
    page.p(T("read_first"))

    # ---- posture over the shift
    page.section("posture", T("s_posture"))
    page.p(T("s_posture_lead", days=nd, operator=op))
    fig = plots.posture_over_shift(s, T, out)
    figs.append(fig)
    page.figure(fig, out)
    kept = plots._kept_bins(s.posture_bins)
    trend = T("s_posture_trend_flat")
    if len(kept) >= 8:
        def share1(bs):
            tot = sum(sum(b) for _, b in bs)
            return sum(b[0] for _, b in bs) / tot if tot else 0.0
        early, late = share1(kept[:4]), share1(kept[-4:])
        if early - late >= 0.1:
            trend = T("s_posture_trend_up", early=early, late=late)
    page.p(T("s_posture_text", al3=s.al3_share, trend=trend))

    page.section("levels", T("s_levels"))
    page.p(T("s_levels_lead"))
    fig = plots.posture_levels_per_day(s, T, out)
    figs.append(fig)
    page.figure(fig, out)

    # ---- body regions
    page.section("regions", T("s_regions"))
    page.p(T("s_regions_lead"))
    fig = plots.body_regions(s, T, N, out, REGION_SHARE)
    figs.append(fig)
    page.figure(fig, out)
    worst = max(REGIONS, key=s.region_share)
    if s.region_share(worst) >= 0.05:
        steps = " / ".join(N.step(sid) for sid, _ in s.region_steps(worst)[:2])
        page.p(T("s_regions_text", region=T.region(worst).lower(), share=s.region_share(worst), steps=steps))
    else:
        page.p(T("s_regions_none"))

    # ---- stress
    page.section("stress", T("s_stress"))
    page.p(T("s_stress_lead"))
    high = config.thresholds.high_stress
    if s.stress_bins:
        fig = plots.stress_over_shift(s, T, out, high)
        figs.append(fig)
        page.figure(fig, out)
        first = [b.median for b in s.stress_bins if b.s0 < 3600]
        end = s.stress_bins[-1].s0
        last = [b.median for b in s.stress_bins if b.s0 > end - 3600]
        page.p(T("s_stress_text", first=sum(first) / max(1, len(first)), last=sum(last) / max(1, len(last)),
                 high=high, share=s.stress_high_share))
        page.p(T("s_stress_days", days=", ".join(f"{T.day(d.day)} {median(d.stress):.2f}" for d in s.days if d.stress)))
    else:
        page.p(T("s_stress_none"))

    # ---- errors and help per step
    page.section("errors", T("s_errors"))
    page.p(T("s_errors_lead", operator=op, days=nd))
    fig = plots.errors_help_per_step(s, T, N, out)
    figs.append(fig)
    page.figure(fig, out)
    rows = []
    for st in s.steps.values():
        if not (st.done_operator or st.wrong_picks or st.help_calls):
            continue
        instead = ", ".join(f"{N.bin(z)} {n}×" for z, n in st.wrong_bins.most_common(2))
        if instead:
            instead += f" ({N.bin(st.pick_zone, part=False)})"
        rows.append(({"step": st.step_id}, [N.step(st.step_id), (st.done_operator, "done_operator"),
                                            (st.wrong_picks, "wrong_picks"), instead or "-",
                                            (st.help_calls, "help_calls"), T.duration(st.help_wait_s)]))
    page.table("errors-table", [T("th_step"), T("th_done_by_operator", operator=op), T("th_wrong"),
                                T("th_wrong_bin"), T("th_help"), T("th_help_wait")], rows)

    # ---- learning curve
    page.section("learning", T("s_learning", task=task))
    page.p(T("s_learning_lead", task=task, operator=op))
    fig = plots.learning_curve(s, T, N, out)
    figs.append(fig)
    page.figure(fig, out)
    with_units = [d for d in s.days if d.unit_median_s is not None]
    if with_units:
        a, b = with_units[0], with_units[-1]
        ch = (b.unit_median_s - a.unit_median_s) / a.unit_median_s  # type: ignore[operator]
        change = (T("s_learning_faster", pct=-ch) if ch <= -0.03 else T("s_learning_slower", pct=ch) if ch >= 0.03
                  else T("s_learning_same"))
        page.p(T("s_learning_text", task=task, first=T.duration(a.unit_median_s), first_day=T.day(a.day),
                 last=T.duration(b.unit_median_s), last_day=T.day(b.day), change=change))
    else:
        page.p(T("s_learning_none", task=task))

    # ---- who did the work, and why steps moved
    page.section("share", T("s_share", operator=op))
    page.p(T("s_share_lead", min=config.allocation.min_operator_share))
    fig = plots.work_share(s, T, N, out, config.allocation.min_operator_share)
    figs.append(fig)
    page.figure(fig, out)
    page.p(T("s_share_text", operator=op, share=s.operator_share, moved=s.reassignments))
    page.section("reasons", T("s_reasons"))
    if s.reasons:
        page.p(T("s_reasons_lead"))
        fig = plots.reassignment_reasons(s, T, out)
        figs.append(fig)
        page.figure(fig, out)
        rows = []
        for g in sorted(s.reasons.values(), key=lambda g: -g.count):
            drivers = ", ".join(f"{T.driver(d)} {n}×" for d, n in g.drivers.most_common(3))
            steps = ", ".join(f"{N.step(sid)} {n}×" for sid, n in g.steps.most_common(3))
            rows.append(({"lead": g.lead}, [T.lead(g.lead), (g.count, "count"), drivers, steps]))
        page.table("reasons-table", [T("th_reason"), T("th_times"), T("th_because"), T("th_steps")], rows)
    else:
        page.p(T("s_reasons_none"))

    if s.fatigue:
        page.section("fatigue", T("s_fatigue"))
        page.p(T("s_fatigue_lead"))
        fig = plots.fatigue_per_day(s, T, out)
        figs.append(fig)
        page.figure(fig, out)

    # ---- the days
    page.section("days", T("s_days"))
    rows = []
    for d in s.days:
        rows.append(({"day": d.day.isoformat()}, [
            T.day(d.day), (d.units, "units"), (T.duration(d.unit_median_s), "unit_time"),
            (_pct(d.operator_share), "operator_share"), (_pct(d.al3_share, 1), "al3"),
            (f"{median(d.stress):.2f}" if d.stress else "-", "stress"), (d.wrong_picks, "wrong_picks"),
            (d.help_calls, "help_calls")]))
    page.table("days-table", [T("th_day"), T("th_units", tasks=N.task_plural()), T("th_minutes_per", task=task),
                              T("th_share", operator=op), T("th_al3"), T("th_stress"), T("th_wrong"), T("th_help")],
               rows)

    # ---- suggestions
    page.section("suggestions", T("s_suggestions"))
    page.p(T("s_suggestions_lead", operator=op))
    for group in SUGGESTION_GROUPS:
        items = [x for x in suggestions if RULE_GROUP.get(x.rule, "other") == group]
        if items:
            page.h3(T(f"sg_group_{group}"))
            page.suggestions(items)
    _footer(page, T, logs or [])

    html = out / "report.html"
    html.write_text(page.render(), encoding="utf-8")
    js = out / "summary.json"
    js.write_text(json.dumps(operator_json(s, suggestions), indent=1, default=str), encoding="utf-8")
    return Report(html, [out / f.name for f in figs], suggestions, s, js, [d.day for d in s.days])


def operator_json(s: OperatorSummary, suggestions: list[Suggestion]) -> dict:
    return {
        "operator": s.operator_id, "days": [d.day.isoformat() for d in s.days], "simulated": s.simulated,
        "units": s.units_built, "operator_share": round(s.operator_share, 4), "wrong_picks": s.wrong_picks,
        "help_calls": s.help_calls, "reassignments": s.reassignments, "rula_al_frames": s.al_frames,
        "rula_al3_share": round(s.al3_share, 4), "frame_s": s.frame_s,
        "regions": {r: round(s.region_share(r), 4) for r in s.region_frames},
        "stress_mean": s.stress_mean, "stress_high_share": round(s.stress_high_share, 4),
        "steps": {sid: {"done_operator": st.done_operator, "done_cobot": st.done_cobot,
                        "wrong_picks": st.wrong_picks, "wrong_bins": dict(st.wrong_bins),
                        "help_calls": st.help_calls, "help_wait_s": round(st.help_wait_s, 1),
                        "median_operator_s": st.median_operator_s, "median_cobot_s": st.median_cobot_s,
                        "rula_al3_share": round(st.al3_share, 4), "frames": st.frames,
                        "wait_for_cobot_s": round(st.wait_for_cobot_s, 1)} for sid, st in s.steps.items()},
        "per_day": [{"day": d.day.isoformat(), "units": d.units, "unit_median_s": d.unit_median_s,
                     "steps_operator": d.steps_operator, "steps_cobot": d.steps_cobot, "wrong_picks": d.wrong_picks,
                     "help_calls": d.help_calls, "rula_al_frames": d.al_frames, "stress_mean": d.stress_mean,
                     "reassignments": d.reassignments, "cobot_running_s": round(d.cobot_running_s, 1)}
                    for d in s.days],
        "reasons": {g.lead: {"count": g.count, "to": dict(g.to), "steps": dict(g.steps)} for g in s.reasons.values()},
        "suggestions": [{"rule": x.rule, "subject": x.subject, "text": x.text, "evidence": x.evidence}
                        for x in suggestions],
    }


# ---------------------------------------------------------------------------------------------
# cell

def cell_report(config: CellConfig, logs: list[Path], out: Path, *, days: int | None = None,
                since: date | None = None, until: date | None = None, language: str = REPORT_LANGUAGE) -> Report:
    lo, hi = choose_days(days_in_logs(logs), days=days, since=since, until=until)
    sel = read_rows(logs, since=lo, until=hi)
    c = cell_summary(sel.rows, config, sel.shift_start)
    return write_cell_report(c, config, out, language=language, logs=sel.logs)


def write_cell_report(c: CellSummary, config: CellConfig, out: Path, *, language: str = REPORT_LANGUAGE,
                      logs: list[str] | None = None) -> Report:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    T = Texts(language)
    N = Names(config, T)
    task = N.task_lower()
    nd = len(c.days)
    title = T("cell_title", cell=config.cell.id)
    page = Page(title, T.language)
    if not nd:
        page.h1(title, config.cell.name)
        page.p(T("no_data"))
        html = out / "report.html"
        html.write_text(page.render(), encoding="utf-8")
        return Report(html, [], [], c)
    page.h1(title, f"{config.cell.name} · " + T("cell_subtitle", period=T.period(c.days[0], c.days[-1]), days=nd,
                                               s="s" if nd != 1 else "", operators=", ".join(c.operators)))
    if c.simulated:
        page.p(T("simulated"), "banner")
    suggestions = cell_suggestions(c, config, T)
    figs: list[plots.Figure] = []
    shift_s = sum(d.shift_s for s in c.operators.values() for d in s.days)
    run_s = sum(d.cobot_running_s for s in c.operators.values() for d in s.days)
    wait_s = sum(st.wait_for_cobot_s for st in c.steps.values())
    page.section("in-short", T("c_in_short"))
    page.keys([
        ("units", str(sum(s.units_built for s in c.operators.values())), T("c_k_units", tasks=N.task_plural())),
        ("wrong_picks", str(c.wrong_picks), T("c_k_wrong")),
        ("help_calls", str(c.help_calls), T("c_k_help")),
        ("cobot_share", _pct(run_s / shift_s if shift_s else 0.0), T("c_k_cobot")),
        ("wait_for_cobot", T.duration(wait_s), T("c_k_wait")),
    ])

    page.section("errors", T("c_errors"))
    page.p(T("c_errors_lead"))
    fig = plots.cell_errors(c, T, N, out)
    figs.append(fig)
    page.figure(fig, out)
    ops = list(c.operators)
    rows = []
    for sid, st in sorted(c.steps.items(), key=lambda kv: -kv[1].wrong_picks):
        if not (st.done_operator or st.wrong_picks or st.help_calls):
            continue
        cells: list = [N.step(sid), (st.wrong_picks, "wrong_picks"),
                       (f"{100.0 * st.wrong_picks / st.done_operator:.1f}" if st.done_operator else "-", "per_100")]
        for op in ops:
            cells.append((c.operators[op].steps[sid].wrong_picks if sid in c.operators[op].steps else 0,
                          f"wrong_picks:{op}"))
        cells.append((st.help_calls, "help_calls"))
        rows.append(({"step": sid}, cells))
    page.table("errors-table", [T("th_step"), T("th_wrong"), T("th_per_100")] + ops + [T("th_help")], rows)

    page.section("times", T("c_times"))
    page.p(T("c_times_lead"))
    fig = plots.cell_step_times(c, T, N, out)
    figs.append(fig)
    page.figure(fig, out)
    rows = []
    for sid, st in c.steps.items():
        per_op = [(T.duration(c.operators[op].steps[sid].median_operator_s) if sid in c.operators[op].steps else "-",
                   f"median:{op}") for op in ops]
        rows.append(({"step": sid}, [N.step(sid), (T.duration(st.target_s), "target"),
                                     (T.duration(st.median_operator_s), "median_operator"), *per_op,
                                     (st.done_operator, "done_operator"), (T.duration(st.median_cobot_s), "median_cobot"),
                                     (st.done_cobot, "done_cobot")]))
    page.table("times-table", [T("th_step"), T("th_target"), T("th_median") + " (" + T("operator") + ")", *ops,
                               T("th_done_by_operator", operator=T("operator")), T("th_median") + " (" + T("cobot") + ")",
                               T("th_done_by_cobot")], rows)

    page.section("waits", T("c_waits"))
    page.p(T("c_waits_lead"))
    fig = plots.cell_waits(c, T, N, out)
    figs.append(fig)
    page.figure(fig, out)

    page.section("cobot", T("c_cobot"))
    page.p(T("c_cobot_lead"))
    fig = plots.cell_cobot(c, T, out)
    figs.append(fig)
    page.figure(fig, out)
    rows = []
    for op, s in c.operators.items():
        for d in s.days:
            rows.append(({"operator": op, "day": d.day.isoformat()},
                         [op, T.day(d.day), (d.units, "units"), (T.duration(d.unit_median_s), "unit_time"),
                          (_pct(d.cobot_share), "cobot_share"), (_pct(d.operator_share), "operator_share")]))
    page.table("cobot-table", [T("th_operator"), T("th_day"), T("th_units", tasks=N.task_plural()), T("th_minutes_per", task=task),
                               T("th_cobot_busy"), T("th_share", operator=T("operator"))], rows)

    page.section("suggestions", T("c_suggestions"))
    page.suggestions(suggestions)
    _footer(page, T, logs or [])
    html = out / "report.html"
    html.write_text(page.render(), encoding="utf-8")
    js = out / "summary.json"
    js.write_text(json.dumps({
        "days": [d.isoformat() for d in c.days], "operators": ops, "simulated": c.simulated,
        "wrong_picks": c.wrong_picks, "help_calls": c.help_calls,
        "cobot_running_share": round(run_s / shift_s, 4) if shift_s else 0.0, "wait_for_cobot_s": round(wait_s, 1),
        "steps": {sid: {"wrong_picks": st.wrong_picks, "help_calls": st.help_calls, "done_operator": st.done_operator,
                        "done_cobot": st.done_cobot, "median_operator_s": st.median_operator_s,
                        "median_cobot_s": st.median_cobot_s, "target_s": st.target_s,
                        "wait_for_cobot_s": round(st.wait_for_cobot_s, 1), "help_wait_s": round(st.help_wait_s, 1)}
                  for sid, st in c.steps.items()},
        "suggestions": [{"rule": x.rule, "subject": x.subject, "text": x.text, "evidence": x.evidence}
                        for x in suggestions],
    }, indent=1, default=str), encoding="utf-8")
    return Report(html, [out / f.name for f in figs], suggestions, c, js, c.days)
