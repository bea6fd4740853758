"""Every word a report shows, by key, so that a translation is one more dictionary.

The reports are written in English (``EN``). To translate, add a dictionary
with the same keys (e.g. ``NL``) to ``CATALOGUES``; a key missing from it
falls back to English. Texts are ``str.format`` templates with named fields.
Step titles and bin labels come from the cell file, in the report's language
when the cell file has it.
"""

from __future__ import annotations

from datetime import date, datetime

EN: dict[str, str] = {
    # ---- common -------------------------------------------------------------------------------
    "lang": "en",
    "weekdays": "Mon Tue Wed Thu Fri Sat Sun",
    "months": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
    "day_fmt": "{weekday} {day} {month}",
    "period": "{first} to {last} {year}",
    "period_one": "{first} {year}",
    "simulated": "This report is made from SIMULATED data: a simulated operator and a simulated cobot, "
                 "not a real person.",
    "privacy": "{operator} is a pseudonym. The cell keeps no video and no pictures of the body, only numbers "
               "derived from them (steps, posture scores, stress estimates). They are there to fit the work to "
               "the person, not to judge the person.",
    "made_by": "Made by cell report from {logs} on {now}.",
    "no_data": "There is no data for this period.",
    "minutes": "{m:.0f} min",
    "min_sec": "{m} min {s:02d} s",
    "seconds": "{s:.0f} s",
    "al_1": "1 fine",
    "al_2": "2 look at it",
    "al_3": "3 change soon",
    "al_4": "4 change now",
    "operator": "operator",
    "cobot": "cobot",
    "week": "all days",
    "hours_axis": "hours since the start of the shift (started about {clock})",
    "day_axis": "day",
    "share_axis": "share of the working time (%)",
    "figure_alt": "{title}",
    "step_label": "{n}. {title}",
    "plural": "{word}s",
    "more": "and {n} more",
    "and": "and",
    # ---- regions ------------------------------------------------------------------------------
    "region_upper_arm": "Shoulder and upper arm",
    "region_lower_arm": "Elbow and forearm",
    "region_wrist": "Wrist",
    "region_neck": "Neck",
    "region_trunk": "Back",
    "region_legs": "Legs",
    "region_how_upper_arm": "arm raised more than 45°",
    "region_how_lower_arm": "arm bent far and working across the body or out to the side",
    "region_how_wrist": "wrist bent more than 15°",
    "region_how_neck": "head bent forward more than 20° or twisted",
    "region_how_trunk": "back bent forward more than 20° or twisted",
    "region_how_legs": "not standing or sitting evenly",
    "side_left": "left",
    "side_right": "right",
    # ---- reasons for moving a step ------------------------------------------------------------
    "lead_the cobot takes the strain": "body load was high: the cobot took the step",
    "lead_load is raised": "body load was rising and the cobot is as quick",
    "lead_signs of strain": "signs of stress: the cobot took the step so the operator could settle",
    "lead_keeps meaningful work with the operator": "kept with the operator, who keeps at least half the work",
    "driver_tired": "tired muscles ({side} {region})",
    "driver_arm_raised": "{side} arm often raised above {deg}°",
    "driver_step_posture": "this step usually means a poor posture for this person",
    "driver_stress": "stress index high",
    "driver_share": "the operator keeps at least half the work",
    "driver_other": "other",
    # ---- operator report ----------------------------------------------------------------------
    "op_title": "Work report for {operator}",
    "op_subtitle": "{cell} · {period} · {days} working day{s}, {hours:.1f} hours at the cell",
    "in_short": "In short",
    "k_units": "{tasks} built",
    "k_share": "steps done by {operator} (the rest by the cobot)",
    "k_wrong": "picks from a wrong bin",
    "k_help": "calls for help",
    "k_al3": "of the working time in a posture to change soon or now (level 3 or 4)",
    "k_stress": "typical stress index (0 calm, 1 clear signs of strain)",
    "k_none": "-",
    "read_first": "The suggestions are at the end of the report.",
    "s_posture": "Posture during the shift",
    "s_posture_lead": "The camera scores the posture of the body with RULA, a standard method: level 1 is fine, "
                      "level 2 should be looked at, level 3 should be changed soon and level 4 now. The chart shows "
                      "for every half hour of the shift how much of the working time was at each level "
                      "(all {days} days together; only time when {operator} worked on a step counts).",
    "s_posture_text": "Over the period {al3:.1%} of the working time was at level 3 or 4. {trend}",
    "s_posture_trend_up": "Posture got worse later in the shift: level 1 was {early:.0%} of the time in the "
                          "first two hours and {late:.0%} in the last two.",
    "s_posture_trend_flat": "Posture stayed about the same through the shift.",
    "s_levels": "Time at each posture level, day by day",
    "s_levels_lead": "The same levels per day, to see whether a day was better or worse than the others.",
    "s_regions": "Which part of the body was under strain",
    "s_regions_lead": "How much of the working time each part of the body was in a strained position (what "
                      "counts as strained is written under each bar), and in which step that happened most.",
    "s_regions_text": "Most strained: {region} ({share:.0%} of the working time, mostly during {steps}).",
    "s_regions_none": "No part of the body was in a strained position for more than a few percent of the time.",
    "s_stress": "Signs of stress during the shift",
    "s_stress_lead": "The stress index combines the heart (when a wearable is worn) and the work itself (wrong "
                     "picks, calls for help, slower steps than usual for this person). 0 is calm, 1 is clear "
                     "signs of strain. The line is the typical value at that time of the shift over all days; the "
                     "shaded band shows where the middle half of the values lay. The lower strip shows how much "
                     "evidence the estimate had (1 = heart and work; lower = little data yet).",
    "s_stress_text": "Typical index {first:.2f} in the first hour and {last:.2f} in the last hour. Above the "
                     "cell's 'high' mark ({high:.2f}) in {share:.0%} of the estimates.",
    "s_stress_days": "Per day (typical index): {days}.",
    "s_stress_none": "There are no stress estimates in this period.",
    "s_errors": "Picks from a wrong bin and calls for help, per step",
    "s_errors_lead": "How often {operator} took a part from a wrong bin, and how often they called for help, "
                     "in each step ({days} days together). The table also says which bin was taken instead.",
    "s_learning": "Time per {task}, day by day",
    "s_learning_lead": "Each dot is one {task}: the minutes from its first step to its last (with the cobot's "
                       "steps). The line is the typical time of each day. Falling means {operator} is getting "
                       "faster.",
    "s_learning_text": "Typical time per {task}: {first} on {first_day}, {last} on {last_day} ({change}).",
    "s_learning_faster": "{pct:.0%} faster",
    "s_learning_slower": "{pct:.0%} slower",
    "s_learning_same": "about the same",
    "s_learning_none": "No {task} was finished in this period.",
    "s_share": "Who did the work: {operator} and the cobot",
    "s_share_lead": "The cell gives some steps to the cobot, by plan or when the load gets too high for the "
                    "person. It always leaves at least {min:.0%} of the steps with the person: the work itself "
                    "matters. Left: the share per day. Right: who did each step.",
    "s_share_text": "{operator} did {share:.0%} of the steps; {moved} times a step was moved away from the plan.",
    "s_reasons": "Why steps were moved",
    "s_reasons_lead": "Every time the cell gave a step to someone else than planned, it wrote down why. "
                      "The reasons grouped by their main point:",
    "s_reasons_none": "No step was moved away from the plan in this period.",
    "s_fatigue": "Tired muscles",
    "s_fatigue_lead": "The highest muscle fatigue the cell estimated for each part of the body, per day.",
    "s_suggestions": "Suggestions",
    "s_suggestions_lead": "Derived from the numbers above by fixed rules (each says which numbers it is based "
                          "on). They are starting points for a talk with {operator}, not orders.",
    "s_days": "The days",
    # ---- tables ------------------------------------------------------------------------------
    "th_step": "step",
    "th_done_by_operator": "done by {operator}",
    "th_done_by_cobot": "done by the cobot",
    "th_wrong": "picks from a wrong bin",
    "th_wrong_bin": "taken instead (right bin)",
    "th_help": "calls for help",
    "th_help_wait": "waited for help",
    "th_median": "typical time",
    "th_target": "target",
    "th_reason": "reason",
    "th_times": "times",
    "th_because": "what caused it",
    "th_steps": "steps",
    "th_day": "day",
    "th_units": "{tasks} built",
    "th_minutes_per": "min per {task}",
    "th_share": "steps by {operator}",
    "th_al3": "posture level 3+",
    "th_stress": "stress (typical)",
    "th_operator": "operator",
    "th_wait_cobot": "operator waited for the cobot",
    "th_cobot_busy": "cobot busy",
    "th_program": "program",
    "th_per_100": "per 100 times",
    "bin": "bin {label}",
    # ---- plot titles and labels ---------------------------------------------------------------
    "p_posture": "Posture level through the shift ({days} days together)",
    "p_levels": "Time at each posture level, per day",
    "p_levels_x": "share of the working time (%)",
    "p_regions": "Share of working time each body part was in a strained position",
    "p_regions_x": "share of the working time (%)",
    "p_regions_mostly": "mostly: {step}",
    "p_stress": "Signs of stress during the shift ({days} days)",
    "p_stress_y": "stress index",
    "p_stress_line": "typical value",
    "p_stress_band": "middle half of the values",
    "p_stress_high": "'high' mark of the cell ({high:.2f})",
    "p_stress_conf": "evidence",
    "p_errors": "Picks from a wrong bin and calls for help, per step ({days} days)",
    "p_errors_x": "number of times",
    "p_wrong": "picks from a wrong bin",
    "p_help": "calls for help",
    "p_learning": "Minutes per {task}, day by day",
    "p_learning_y": "minutes per {task}",
    "p_learning_dot": "one {task}",
    "p_learning_line": "typical time that day",
    "p_learning_over": "longer than {m:.1f} min (drawn at the top)",
    "p_share_day": "Share of the steps, per day",
    "p_share_step": "Who did each step ({days} days)",
    "p_share_y": "share of the steps (%)",
    "p_share_x": "number of times the step was done",
    "p_share_min": "the person always keeps at least {min:.0%}",
    "p_reasons": "Why steps were moved to the cobot or back ({n} times in {days} days)",
    "p_reasons_x": "number of times",
    "p_reasons_to": "moved to",
    "p_fatigue": "Highest muscle fatigue per day",
    "p_fatigue_y": "fatigued (%)",
    # ---- suggestions (rules in suggestions.py) ------------------------------------------------
    "sg_wrong": "{step}: {n} picks from a wrong bin in {days} days ({rate:.0%} of its picks), mostly from "
                "{wrong_long} instead of {right_long}. {how}.",
    "sg_wrong_how_guidance": "Show this step with more guidance (the profile's guidance is now '{guidance}'; "
                             "try 'full'), mark {right} with a colour and a picture of the part, or add a "
                             "pick-to-light at {right}",
    "sg_wrong_how_full": "Guidance is already 'full', so mark {right} and {wrong} clearly apart (colour, a "
                         "picture of the part, more space between them) or add a pick-to-light at {right}",
    "sg_wrong_how_ptl": "Check that the pick-to-light lights {right} and that {operator} looks at it; mark "
                        "{right} and {wrong} clearly apart",
    "sg_help": "{step}: {n} calls for help in {days} days ({rate:.1%} of the times it was done; {wait} waiting "
               "for help). Practise this step together, or show it step by step with full guidance.",
    "sg_help_all": "{operator} called for help {n} times in {days} days ({per_day:.1f} a day, spread over the "
                   "steps; {wait} waiting in total). Stay close in the first hours, and practise the task as a "
                   "whole.",
    "sg_posture_cobot": "{step}: the posture was at level 3 or 4 for {share:.0%} of the time {operator} worked "
                        "on it, mostly the {region} ({how}). Let the cobot take this step: it already did "
                        "{n} of the {total} times in {days} days; to make that always so, add the step to "
                        "{operator}'s limits (forbidden_steps) in the profile.",
    "sg_posture_workplace": "{step}: the posture was at level 3 or 4 for {share:.0%} of the time, mostly the "
                            "{region} ({how}). Only a person can do this step, so change the workplace. {fix}.",
    "sg_region": "{region} under strain for {share:.0%} of the working time ({how}), mostly during {steps}. "
                 "{fix}.",
    "fix_upper_arm": "Bring the bins and the fixture closer and lower, so the arm can stay low",
    "fix_lower_arm": "Put the parts in front of the working hand, not across the body",
    "fix_wrist": "Turn the fixture or the part so the wrist can stay straight",
    "fix_neck": "Raise the work or tilt the fixture towards the person so the head can stay up; check the "
                "height of the seat or bench",
    "fix_trunk": "Bring the bins closer so the person does not have to lean forward",
    "fix_legs": "Check the seat or a standing mat and the foot rest",
    "sg_stress": "Signs of stress rose through the shift: typical index {first:.2f} in the first hour and "
                 "{last:.2f} in the last hour; half of that rise had come by about {clock} (after {after:.1f} "
                 "hours){moved}. Plan a short break before {clock}, or a lighter task for the last part of the "
                 "shift.",
    "sg_stress_high": "The stress index was at the cell's 'high' mark ({high:.2f}) or above in {share:.0%} of "
                      "the estimates{moved}. Talk with {operator} about what made the work hard.",
    "sg_stress_moved": "; the cobot took {n} steps over for it",
    "sg_slow": "{step} takes {operator} {median} where the target is {target} ({ratio:.1f} times). Practise it "
               "together; if it stays slow, the target does not fit this person: set the profile's pace (now "
               "{pace}) or the step's target time.",
    "sg_learning_guidance": "{operator} is getting faster ({first} per {task} on {first_day}, {last} on "
                            "{last_day}) and picks from a wrong bin went from {e1} to {e2} a day. Guidance is "
                            "'{guidance}': try one level less ({less}) next week and watch the wrong picks.",
    "sg_learning_slower": "Each {task} took longer at the end of the period ({last} on {last_day}) than at the "
                          "start ({first} on {first_day}). Ask how things are going, and check the workplace "
                          "and the parts.",
    "sg_share": "{operator} kept {share:.0%} of the steps, close to the {min:.0%} the cell always leaves with the "
                "person. The cobot cannot take much more: if the load stays high, change the workplace or the "
                "task rather than moving more steps.",
    "sg_fatigue": "The {region} muscles were up to {pct:.0f}% fatigued (on {day}). Plan short breaks, or let "
                  "{operator} alternate with a task that uses other muscles.",
    "sg_none": "No changes suggested: in these {days} days no step had many picks from a wrong bin or calls for "
               "help, the posture and the stress stayed low, and the times per {task} were steady.",
    "sg_based_on": "based on",
    "sg_group_body": "Body and workplace",
    "sg_group_picks": "Picking, help and pace",
    "sg_group_stress": "Stress",
    "sg_group_progress": "Progress and the division of work",
    "sg_group_other": "Other",
    # ---- cell report ---------------------------------------------------------------------------
    "cell_title": "Cell report for the integrator: {cell}",
    "cell_subtitle": "{period} · {days} working day{s} · operators {operators}",
    "c_in_short": "In short",
    "c_k_units": "{tasks} built",
    "c_k_wrong": "picks from a wrong bin",
    "c_k_help": "calls for help",
    "c_k_cobot": "of the shift time the cobot was running a program",
    "c_k_wait": "the operators stood waiting for the cobot",
    "c_errors": "Steps that cause the most errors",
    "c_errors_lead": "Picks from a wrong bin and calls for help per step, for each operator. A step that many "
                     "operators get wrong points at the cell (bins, light, instruction), not at a person.",
    "c_times": "Bottlenecks: how long each step takes",
    "c_times_lead": "Typical time per step for the operators (all together) and for the cobot, against the "
                    "step's target time. Steps well over their target limit the output.",
    "c_waits": "Bottlenecks: where the work waits",
    "c_waits_lead": "Minutes the operator had no step to do while the cobot worked on the unit (waiting for the "
                    "cobot), and minutes spent waiting for help, per step.",
    "c_cobot": "Cobot utilisation",
    "c_cobot_lead": "Share of each shift the cobot was running a program, per operator and day, and the hours "
                    "per program.",
    "c_suggestions": "Points for the integrator",
    "c_sg_errors": "{step}: {n} picks from a wrong bin ({per100:.1f} per 100 times done) across {ops} "
                   "operators, mostly {wrong} instead of {right}. Look at the bin layout and labels there, or "
                   "add a pick-to-light.",
    "c_sg_slow": "{step}: operators need {median} against a target of {target} ({ratio:.1f} times). The "
                 "target time or the step itself needs a look.",
    "c_sg_wait": "Operators waited {minutes} in total for the cobot at {step} ({per_day} a shift). A faster "
                 "cobot program, or letting the operator do a next step meanwhile (the step's 'after:' in the "
                 "task file), would save that time.",
    "c_sg_cobot_low": "The cobot ran a program {share:.0%} of the time with {operator}. It could take more of "
                      "the 'both' steps.",
    "c_sg_none": "Nothing stands out for the integrator in this period.",
    "p_c_errors": "Picks from a wrong bin, per step and operator",
    "p_c_help": "Calls for help per step, by operator",
    "p_c_times": "Typical time per step: operators, cobot and the target",
    "p_c_times_x": "seconds",
    "p_c_target": "target time",
    "p_c_operators": "operators (typical)",
    "p_c_waits": "Where the work waits (minutes in {days} days, all operators)",
    "p_c_waits_x": "minutes",
    "p_c_wait_cobot": "operator waiting for the cobot",
    "p_c_wait_help": "waiting for help",
    "p_c_cobot": "Cobot running a program, share of each shift",
    "p_c_cobot_y": "share of the shift (%)",
    "p_c_programs": "Hours per cobot program",
    "p_c_programs_x": "hours",
}

CATALOGUES: dict[str, dict[str, str]] = {"en": EN}


class Texts:
    """Texts of one language: ``T("key", field=value)``; falls back to English for a missing key."""

    def __init__(self, language: str = "en"):
        self.language = language if language in CATALOGUES else "en"
        self.cat = CATALOGUES[self.language]

    def __call__(self, key: str, **fields) -> str:
        template = self.cat.get(key, EN.get(key))
        if template is None:
            raise KeyError(f"no report text {key!r}")
        return template.format(**fields) if fields else template

    def has(self, key: str) -> bool:
        return key in self.cat or key in EN

    def day(self, d: date) -> str:
        wd = self("weekdays").split()[d.weekday()]
        mo = self("months").split()[d.month - 1]
        return self("day_fmt", weekday=wd, day=d.day, month=mo)

    def period(self, first: date, last: date) -> str:
        if first == last:
            return self("period_one", first=self.day(first), year=first.year)
        return self("period", first=self.day(first), last=self.day(last), year=last.year)

    def clock(self, wall: float) -> str:
        return datetime.fromtimestamp(wall).strftime("%H:%M")

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return self("k_none")
        if seconds >= 600:
            return self("minutes", m=seconds / 60.0)
        if seconds >= 60:
            whole = int(round(seconds))
            return self("min_sec", m=whole // 60, s=whole % 60)
        return self("seconds", s=seconds)

    def al(self, level: int) -> str:
        return self(f"al_{level}")

    def region(self, region: str) -> str:
        return self(f"region_{region}")

    def region_how(self, region: str) -> str:
        return self(f"region_how_{region}")

    def lead(self, lead: str) -> str:
        return self(f"lead_{lead}") if self.has(f"lead_{lead}") else lead

    def driver(self, driver: tuple) -> str:
        kind = driver[0]
        if kind == "tired":
            return self("driver_tired", region=driver[1], side=self(f"side_{driver[2]}"))
        if kind == "arm_raised":
            return self("driver_arm_raised", side=self(f"side_{driver[1]}"), deg=driver[2])
        return self(f"driver_{kind}") if self.has(f"driver_{kind}") else kind
