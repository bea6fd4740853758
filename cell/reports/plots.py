"""The report's charts as PNG files (matplotlib, Agg: no display needed).

Written for a job coach, not an engineer: a title that says in words what
the chart shows, axes with units, few lines per chart, and the Okabe-Ito
colours, which people with the common kinds of colour blindness can tell
apart. Each function takes a summary and the texts, writes one PNG and
returns a :class:`Figure` (file name, title) for the page.
"""

from __future__ import annotations

import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():  # matplotlib 3.9 uses pyparsing names that pyparsing 3.2+ marks deprecated
    warnings.simplefilter("ignore", DeprecationWarning)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator, PercentFormatter

from cell.reports.names import Names  # noqa: E402
from cell.reports.summary import REGIONS, CellSummary, OperatorSummary  # noqa: E402
from cell.reports.texts import Texts  # noqa: E402

# Okabe & Ito (2008), "Color Universal Design"
BLUE, ORANGE, GREEN, YELLOW = "#0072B2", "#E69F00", "#009E73", "#F0E442"
SKY, VERMILLION, PURPLE, GREY = "#56B4E9", "#D55E00", "#CC79A7", "#999999"
AL_COLOURS = (GREEN, YELLOW, ORANGE, VERMILLION)
AL_HATCH = ("", "", "//", "xx")
OPERATOR, COBOT = BLUE, ORANGE
SERIES = (BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILLION, YELLOW)
OPERATOR_SERIES = (GREEN, PURPLE, SKY, VERMILLION, YELLOW, BLUE)  # operators side by side: not the cobot's orange

STYLE = {
    "font.size": 11, "axes.titlesize": 13, "axes.titleweight": "bold", "axes.labelsize": 11,
    "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
    "figure.dpi": 100, "savefig.dpi": 110, "axes.grid": True, "grid.alpha": 0.3, "grid.linewidth": 0.6,
    "axes.axisbelow": True,
}

REGION_ORDER = ("neck", "upper_arm", "lower_arm", "wrist", "trunk", "legs")  # head to feet


@dataclass
class Figure:
    name: str        # file name beside the report
    title: str       # what it shows, in words (also the image's alt text)


def _wrap(text: str, width: int = 72) -> str:
    return "\n".join(textwrap.wrap(text, width))


def _save(fig, out: Path, name: str, title: str) -> Figure:
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / name, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return Figure(name, title)


def _shift_clock(s: OperatorSummary, T: Texts) -> str:
    starts = sorted(d.start_wall for d in s.days)
    return T.clock(starts[len(starts) // 2]) if starts else "?"


def _hours_axis(ax, T: Texts, s: OperatorSummary, end_h: float) -> None:
    ax.set_xlabel(T("hours_axis", clock=_shift_clock(s, T)))
    ax.set_xlim(0, max(0.5, end_h))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=10))


def _kept_bins(bins: list[list[int]]) -> list[tuple[int, list[int]]]:
    """Half hours with enough scored frames (a last half hour cut off after a few seconds is dropped)."""
    totals = sorted(sum(b) for b in bins if sum(b))
    if not totals:
        return []
    floor = 0.1 * totals[len(totals) // 2]
    return [(i, b) for i, b in enumerate(bins) if sum(b) and sum(b) >= floor]


# ---------------------------------------------------------------------------------------------
# operator report

def posture_over_shift(s: OperatorSummary, T: Texts, out: Path) -> Figure:
    title = T("p_posture", days=len(s.days))
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(10, 4.6))
        kept = _kept_bins(s.posture_bins)
        xs = [i * 0.5 + 0.25 for i, _ in kept]
        bottom = [0.0] * len(kept)
        for lvl in range(4):
            vals = [100.0 * b[lvl] / sum(b) for _, b in kept]
            ax.bar(xs, vals, width=0.46, bottom=bottom, color=AL_COLOURS[lvl], hatch=AL_HATCH[lvl],
                   edgecolor="white", linewidth=0.5, label=T.al(lvl + 1))
            bottom = [a + v for a, v in zip(bottom, vals)]
        ax.set_ylim(0, 100)
        ax.yaxis.set_major_formatter(PercentFormatter())
        ax.set_ylabel(T("share_axis"))
        _hours_axis(ax, T, s, (kept[-1][0] + 1) * 0.5 if kept else 8)
        ax.grid(axis="x", visible=False)
        ax.set_title(_wrap(title), loc="left")
        ax.legend(title="RULA", loc="upper left", bbox_to_anchor=(1.0, 1.0), reverse=True)
        return _save(fig, out, "posture_over_shift.png", title)


def posture_levels_per_day(s: OperatorSummary, T: Texts, out: Path) -> Figure:
    title = T("p_levels")
    with plt.rc_context(STYLE):
        rows = [(T.day(d.day), d.al_frames) for d in s.days] + [(T("week"), s.al_frames)]
        fig, ax = plt.subplots(figsize=(10, 0.55 * len(rows) + 1.6))
        ys = list(range(len(rows)))
        left = [0.0] * len(rows)
        for lvl in range(4):
            vals = [100.0 * fr[lvl] / sum(fr) if sum(fr) else 0.0 for _, fr in rows]
            bars = ax.barh(ys, vals, left=left, color=AL_COLOURS[lvl], hatch=AL_HATCH[lvl], edgecolor="white",
                           linewidth=0.5, label=T.al(lvl + 1), height=0.7)
            for bar, v, l0 in zip(bars, vals, left):
                if v >= 6:
                    ax.text(l0 + v / 2, bar.get_y() + bar.get_height() / 2, f"{v:.0f}%", ha="center",
                            va="center", fontsize=10, color="black" if lvl in (1, 2) else "white")
            left = [a + v for a, v in zip(left, vals)]
        ax.set_yticks(ys, [r[0] for r in rows])
        ax.get_yticklabels()[-1].set_fontweight("bold")
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.xaxis.set_major_formatter(PercentFormatter())
        ax.set_xlabel(T("p_levels_x"))
        ax.grid(axis="y", visible=False)
        ax.set_title(_wrap(title), loc="left")
        ax.legend(title="RULA", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _save(fig, out, "posture_levels_per_day.png", title)


def body_regions(s: OperatorSummary, T: Texts, names: Names, out: Path, threshold: float) -> Figure:
    title = T("p_regions")
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(10, 4.8))
        regions = [r for r in REGION_ORDER if r in REGIONS]
        vals = [100.0 * s.region_share(r) for r in regions]
        colours = [VERMILLION if v >= 100 * threshold else BLUE for v in vals]
        ys = list(range(len(regions)))
        ax.barh(ys, vals, color=colours, height=0.65)
        top = max(vals + [10.0])
        for y, r, v in zip(ys, regions, vals):
            steps = s.region_steps(r)
            note = f"{v:.0f}%"
            if steps and v >= 1:
                note += "   " + T("p_regions_mostly", step=names.step(steps[0][0]))
            ax.text(v + top * 0.01, y, note, va="center", fontsize=10)
        ax.set_yticks(ys, [f"{T.region(r)}\n({_wrap(T.region_how(r), 34)})" for r in regions], fontsize=9.5)
        ax.invert_yaxis()
        ax.set_xlim(0, min(100.0, top * 1.55 + 5))
        ax.axvline(100 * threshold, color="black", linestyle="--", linewidth=1)
        ax.xaxis.set_major_formatter(PercentFormatter())
        ax.set_xlabel(T("p_regions_x"))
        ax.grid(axis="y", visible=False)
        ax.set_title(_wrap(title), loc="left")
        return _save(fig, out, "body_regions.png", title)


def stress_over_shift(s: OperatorSummary, T: Texts, out: Path, high: float) -> Figure:
    title = T("p_stress", days=len(s.days))
    with plt.rc_context(STYLE):
        fig, (ax, axc) = plt.subplots(2, 1, figsize=(10, 5.4), sharex=True,
                                      gridspec_kw={"height_ratios": [4, 1], "hspace": 0.08})
        bins = [b for b in s.stress_bins if b.n >= 3]
        xs = [b.s0 / 3600.0 + 0.125 for b in bins]
        ax.fill_between(xs, [b.q25 for b in bins], [b.q75 for b in bins], color=SKY, alpha=0.35, linewidth=0,
                        label=T("p_stress_band"))
        ax.plot(xs, [b.median for b in bins], color=BLUE, linewidth=2.5, label=T("p_stress_line"))
        ax.axhline(high, color=VERMILLION, linestyle="--", linewidth=1.5, label=T("p_stress_high", high=high))
        ax.set_ylim(0, 1)
        ax.set_ylabel(T("p_stress_y"))
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0], ["0 calm", "0.25", "0.5", "0.75", "1 strain"])
        ax.legend(loc="upper left", fontsize=10)
        ax.set_title(_wrap(title), loc="left")
        axc.fill_between(xs, [b.confidence for b in bins], color=GREY, alpha=0.5, linewidth=0)
        axc.plot(xs, [b.confidence for b in bins], color="#555555", linewidth=1.2)
        axc.set_ylim(0, 1.05)
        axc.set_yticks([0, 1])
        axc.set_ylabel(T("p_stress_conf"))
        _hours_axis(axc, T, s, (bins[-1].s0 / 3600.0 + 0.25) if bins else 8)
        return _save(fig, out, "stress.png", title)


def errors_help_per_step(s: OperatorSummary, T: Texts, names: Names, out: Path) -> Figure:
    title = T("p_errors", days=len(s.days))
    with plt.rc_context(STYLE):
        steps = [st for st in s.steps.values() if st.done_operator or st.wrong_picks or st.help_calls]
        fig, ax = plt.subplots(figsize=(10, 0.5 * len(steps) + 1.8))
        ys = list(range(len(steps)))
        h = 0.38
        wr = [st.wrong_picks for st in steps]
        hp = [st.help_calls for st in steps]
        ax.barh([y - h / 2 for y in ys], wr, height=h, color=VERMILLION, label=T("p_wrong"))
        ax.barh([y + h / 2 for y in ys], hp, height=h, color=BLUE, hatch="..", edgecolor="white", label=T("p_help"))
        top = max(wr + hp + [1])
        for y, a, b in zip(ys, wr, hp):
            ax.text(a + top * 0.01, y - h / 2, str(a), va="center", fontsize=9)
            ax.text(b + top * 0.01, y + h / 2, str(b), va="center", fontsize=9)
        ax.set_yticks(ys, [names.step(st.step_id) for st in steps])
        ax.invert_yaxis()
        ax.set_xlim(0, top * 1.12)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(T("p_errors_x"))
        ax.grid(axis="y", visible=False)
        ax.legend(loc="lower right")
        ax.set_title(_wrap(title), loc="left")
        return _save(fig, out, "errors_help_per_step.png", title)


def learning_curve(s: OperatorSummary, T: Texts, names: Names, out: Path) -> Figure:
    task = names.task_lower()
    title = T("p_learning", task=task)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(10, 4.6))
        shift = max([d.shift_s for d in s.days] + [1.0])
        ys = [u.cycle_s / 60.0 for u in s.units]
        cap = sorted(ys)[int(0.98 * (len(ys) - 1))] * 1.15 if ys else 1.0
        xs = [u.day_index + 0.1 + 0.8 * min(1.0, u.s_end / shift) for u in s.units]
        inside = [(x, y) for x, y in zip(xs, ys) if y <= cap]
        ax.scatter([x for x, _ in inside], [y for _, y in inside], s=10, color=SKY, alpha=0.55, linewidths=0,
                   label=T("p_learning_dot", task=task))
        over = [x for x, y in zip(xs, ys) if y > cap]
        if over:  # the few very long ones (a call for help, a pause) at the top edge, as arrows
            ax.scatter(over, [cap] * len(over), s=22, marker="^", color=GREY, linewidths=0, clip_on=False,
                       label=T("p_learning_over", m=cap))
        med = [(i + 0.5, d.unit_median_s / 60.0) for i, d in enumerate(s.days) if d.unit_median_s is not None]
        if med:
            ax.plot([m[0] for m in med], [m[1] for m in med], color=BLUE, linewidth=2.5, marker="o", markersize=8,
                    label=T("p_learning_line"))
            for x, y in med:
                ax.annotate(T.duration(y * 60.0), (x, y), textcoords="offset points", xytext=(0, 12), ha="center",
                            fontsize=10, fontweight="bold", color=BLUE,
                            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none",
                                  "alpha": 0.85})
        for i in range(1, len(s.days)):
            ax.axvline(i, color="#cccccc", linewidth=0.8)
        ax.set_xticks([i + 0.5 for i in range(len(s.days))], [T.day(d.day) for d in s.days])
        ax.set_xlim(0, max(1, len(s.days)))
        ax.set_ylim(0, cap * 1.05)
        ax.set_ylabel(T("p_learning_y", task=task))
        ax.set_xlabel(T("day_axis"))
        ax.grid(axis="x", visible=False)
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=3, fontsize=10)
        ax.set_title(_wrap(title), loc="left")
        return _save(fig, out, "learning_curve.png", title)


def work_share(s: OperatorSummary, T: Texts, names: Names, out: Path, min_share: float) -> Figure:
    title = T("p_share_day") + " / " + T("p_share_step", days=len(s.days))
    with plt.rc_context(STYLE):
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [1.1, 1.5], "wspace": 0.5})
        days = [T.day(d.day) for d in s.days]
        op = [100.0 * d.operator_share for d in s.days]
        xs = list(range(len(days)))
        a1.bar(xs, op, color=OPERATOR, label=s.operator_id, width=0.7)
        a1.bar(xs, [100.0 - v if (d.steps_operator + d.steps_cobot) else 0 for v, d in zip(op, s.days)], bottom=op,
               color=COBOT, hatch="//", edgecolor="white", label=T("cobot"), width=0.7)
        for x, v in zip(xs, op):
            a1.text(x, v / 2, f"{v:.0f}%", ha="center", va="center", color="white", fontsize=10, fontweight="bold")
        a1.axhline(100 * min_share, color="black", linestyle="--", linewidth=1.5, label=T("p_share_min", min=min_share))
        a1.set_xticks(xs, [d.replace(" ", "\n", 1) for d in days], fontsize=10 if len(days) <= 5 else 8)
        a1.set_ylim(0, 100)
        a1.yaxis.set_major_formatter(PercentFormatter())
        a1.set_ylabel(T("p_share_y"))
        a1.grid(axis="x", visible=False)
        a1.set_title(_wrap(T("p_share_day"), 40), loc="left")
        a1.legend(loc="upper left", bbox_to_anchor=(0.0, -0.17), ncol=1)
        steps = list(s.steps.values())
        ys = list(range(len(steps)))
        a2.barh(ys, [st.done_operator for st in steps], color=OPERATOR, height=0.7)
        a2.barh(ys, [st.done_cobot for st in steps], left=[st.done_operator for st in steps], color=COBOT,
                hatch="//", edgecolor="white", height=0.7)
        a2.set_yticks(ys, [names.step(st.step_id) for st in steps])
        a2.invert_yaxis()
        a2.set_xlabel(T("p_share_x"))
        a2.grid(axis="y", visible=False)
        a2.set_title(_wrap(T("p_share_step", days=len(s.days)), 50), loc="left")
        return _save(fig, out, "work_share.png", title)


def reassignment_reasons(s: OperatorSummary, T: Texts, out: Path) -> Figure:
    n = sum(g.count for g in s.reasons.values())
    title = T("p_reasons", n=n, days=len(s.days))
    with plt.rc_context(STYLE):
        groups = sorted(s.reasons.values(), key=lambda g: -g.count)
        fig, ax = plt.subplots(figsize=(10, max(3.2, 0.75 * len(groups) + 1.6)))
        ys = list(range(len(groups)))
        to_cobot = [g.to.get("cobot", 0) for g in groups]
        to_op = [g.to.get("operator", 0) for g in groups]
        ax.barh(ys, to_cobot, color=COBOT, hatch="//", edgecolor="white", height=0.6, label=T("cobot"))
        if any(to_op):
            ax.barh(ys, to_op, left=to_cobot, color=OPERATOR, height=0.6, label=T("operator"))
        top = max([g.count for g in groups] + [1])
        for y, g in zip(ys, groups):
            ax.text(g.count + top * 0.01, y, str(g.count), va="center", fontsize=10)
        ax.set_yticks(ys, [_wrap(T.lead(g.lead), 36) for g in groups])
        ax.invert_yaxis()
        ax.set_xlim(0, top * 1.12)
        ax.set_xlabel(T("p_reasons_x"))
        ax.grid(axis="y", visible=False)
        if groups:
            ax.legend(loc="lower right", title=T("p_reasons_to"))
        ax.set_title(_wrap(title), loc="left")
        return _save(fig, out, "reassignment_reasons.png", title)


def fatigue_per_day(s: OperatorSummary, T: Texts, out: Path) -> Figure:
    title = T("p_fatigue")
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(10, 4.2))
        regions = sorted(s.fatigue, key=lambda r: -s.fatigue[r])[:5]
        xs = list(range(len(s.days)))
        for i, r in enumerate(regions):
            ax.plot(xs, [d.fatigue_peak.get(r, 0.0) for d in s.days], marker="o", linewidth=2,
                    color=SERIES[i % len(SERIES)], label=r.replace("_", " "))
        ax.set_xticks(xs, [T.day(d.day) for d in s.days])
        ax.set_ylim(0, 100)
        ax.set_ylabel(T("p_fatigue_y"))
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.set_title(_wrap(title), loc="left")
        return _save(fig, out, "fatigue.png", title)


# ---------------------------------------------------------------------------------------------
# cell report

def _op_colours(ops: list[str]) -> dict[str, str]:
    return {op: OPERATOR_SERIES[i % len(OPERATOR_SERIES)] for i, op in enumerate(ops)}


def cell_errors(c: CellSummary, T: Texts, names: Names, out: Path) -> Figure:
    title = T("p_c_errors", days=len(c.days))
    with plt.rc_context(STYLE):
        ops = list(c.operators)
        col = _op_colours(ops)
        steps = [sid for sid, st in c.steps.items() if st.done_operator or st.wrong_picks or st.help_calls]
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(12.5, 0.55 * len(steps) + 2.2), sharey=True,
                                     gridspec_kw={"wspace": 0.15})
        h = 0.8 / max(1, len(ops))
        for k, op in enumerate(ops):
            st = c.operators[op].steps
            ys = [i - 0.4 + h * (k + 0.5) for i in range(len(steps))]
            a1.barh(ys, [st[sid].wrong_picks if sid in st else 0 for sid in steps], height=h, color=col[op], label=op)
            a2.barh(ys, [st[sid].help_calls if sid in st else 0 for sid in steps], height=h, color=col[op])
        a1.set_yticks(range(len(steps)), [names.step(sid) for sid in steps])
        a1.invert_yaxis()
        for a, t in ((a1, title), (a2, T("p_c_help"))):
            a.set_xlabel(T("p_errors_x"))
            a.grid(axis="y", visible=False)
            a.xaxis.set_major_locator(MaxNLocator(integer=True))
            a.set_title(_wrap(t, 50), loc="left")
        a1.legend(loc="lower right")
        return _save(fig, out, "cell_errors.png", title)


def cell_step_times(c: CellSummary, T: Texts, names: Names, out: Path) -> Figure:
    title = T("p_c_times")
    with plt.rc_context(STYLE):
        steps = list(c.steps.values())
        fig, ax = plt.subplots(figsize=(10, 0.55 * len(steps) + 1.8))
        ys = list(range(len(steps)))
        h = 0.38
        opm = [st.median_operator_s or 0.0 for st in steps]
        cbm = [st.median_cobot_s or 0.0 for st in steps]
        ax.barh([y - h / 2 for y in ys], opm, height=h, color=OPERATOR, label=T("p_c_operators"))
        ax.barh([y + h / 2 for y in ys], cbm, height=h, color=COBOT, hatch="//", edgecolor="white", label=T("cobot"))
        ax.scatter([st.target_s for st in steps], ys, marker="|", s=500, color="black", linewidths=2.5,
                   label=T("p_c_target"), zorder=5)
        top = max(opm + cbm + [st.target_s for st in steps] + [1.0])
        for y, v in zip(ys, opm):
            if v:
                ax.text(v + top * 0.01, y - h / 2, f"{v:.0f} s", va="center", fontsize=9)
        ax.set_yticks(ys, [names.step(st.step_id) for st in steps])
        ax.invert_yaxis()
        ax.set_xlim(0, top * 1.12)
        ax.set_xlabel(T("p_c_times_x"))
        ax.grid(axis="y", visible=False)
        ax.legend(loc="lower right")
        ax.set_title(_wrap(title), loc="left")
        return _save(fig, out, "cell_step_times.png", title)


def cell_waits(c: CellSummary, T: Texts, names: Names, out: Path) -> Figure:
    title = T("p_c_waits", days=len(c.days))
    with plt.rc_context(STYLE):
        steps = [st for st in c.steps.values() if st.wait_for_cobot_s or st.help_wait_s]
        fig, ax = plt.subplots(figsize=(10, 0.55 * max(1, len(steps)) + 1.8))
        ys = list(range(len(steps)))
        wc = [st.wait_for_cobot_s / 60.0 for st in steps]
        wh = [st.help_wait_s / 60.0 for st in steps]
        ax.barh(ys, wc, color=COBOT, hatch="//", edgecolor="white", height=0.65, label=T("p_c_wait_cobot"))
        ax.barh(ys, wh, left=wc, color=BLUE, height=0.65, label=T("p_c_wait_help"))
        top = max([a + b for a, b in zip(wc, wh)] + [1.0])
        for y, a, b in zip(ys, wc, wh):
            ax.text(a + b + top * 0.01, y, f"{a + b:.0f} min", va="center", fontsize=9)
        ax.set_yticks(ys, [names.step(st.step_id) for st in steps])
        ax.invert_yaxis()
        ax.set_xlim(0, top * 1.15)
        ax.set_xlabel(T("p_c_waits_x"))
        ax.grid(axis="y", visible=False)
        ax.legend(loc="lower right")
        ax.set_title(_wrap(title), loc="left")
        return _save(fig, out, "cell_waits.png", title)


def cell_cobot(c: CellSummary, T: Texts, out: Path) -> Figure:
    title = T("p_c_cobot")
    with plt.rc_context(STYLE):
        ops = list(c.operators)
        col = _op_colours(ops)
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.3, 1], "wspace": 0.45})
        days = c.days
        w = 0.8 / max(1, len(ops))
        for k, op in enumerate(ops):
            by_day = {d.day: d for d in c.operators[op].days}
            xs = [i - 0.4 + w * (k + 0.5) for i in range(len(days))]
            a1.bar(xs, [100.0 * by_day[d].cobot_share if d in by_day else 0 for d in days], width=w, color=col[op],
                   label=op)
        a1.set_xticks(range(len(days)), [T.day(d).replace(" ", "\n", 1) for d in days])
        a1.set_ylim(0, 100)
        a1.yaxis.set_major_formatter(PercentFormatter())
        a1.set_ylabel(T("p_c_cobot_y"))
        a1.grid(axis="x", visible=False)
        a1.legend(loc="upper left", fontsize=9)
        a1.set_title(_wrap(title, 45), loc="left")
        progs: dict[str, float] = {}
        for s in c.operators.values():
            for d in s.days:
                for p, sec in d.cobot_programs.items():
                    progs[p] = progs.get(p, 0.0) + sec
        items = sorted(progs.items(), key=lambda kv: -kv[1])
        ys = list(range(len(items)))
        a2.barh(ys, [v / 3600.0 for _, v in items], color=COBOT, height=0.65)
        a2.set_yticks(ys, [p for p, _ in items])
        a2.invert_yaxis()
        a2.set_xlabel(T("p_c_programs_x"))
        a2.grid(axis="y", visible=False)
        a2.set_title(_wrap(T("p_c_programs"), 38), loc="left")
        return _save(fig, out, "cell_cobot.png", title)
