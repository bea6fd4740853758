"""Every allocation policy on the same seeded simulated shift, for each operator profile: one table.

``compare_policies`` runs ``run_shift`` for each (operator, policy) pair with
the same seed and duration, so differences come from the policy alone, and
``markdown_table`` writes the result the way docs/ keeps it.
"""

from __future__ import annotations

from cell.allocation import POLICIES
from cell.config import CellConfig
from cell.simulator.shift import ShiftSummary, run_shift

BASELINES = ("operator-only", "static")


def compare_policies(config: CellConfig, *, duration_s: float, seed: int,
                     policies: tuple[str, ...] = ("operator-only", "static", "ergonomic", "optimal"),
                     operators: list[str] | None = None) -> list[ShiftSummary]:
    for p in policies:
        if p not in POLICIES:
            raise ValueError(f"unknown policy {p!r}; allowed: {', '.join(POLICIES)}")
    ops = operators or [o.id for o in config.operators]
    return [run_shift(config, operator_id=op, policy=p, duration_s=duration_s, seed=seed)
            for op in ops for p in policies]


def markdown_table(rows: list[ShiftSummary], min_share: float) -> str:
    regions = sorted({r for s in rows for r in s.fatigue_peak_pct})
    head = ["operator", "policy", "units", "RULA AL>=3 %", "RULA AL>=4 %",
            *[f"peak fatigue {r.replace('_', ' ')} %" for r in regions],
            "mean stress", "operator share", "reassignments", "AL>=3 cut vs operator-only", "AL>=3 cut vs static",
            "units vs best"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by_op: dict[str, dict[str, ShiftSummary]] = {}
    for s in rows:
        by_op.setdefault(s.operator, {})[s.policy] = s
    for op, runs in by_op.items():
        best = max(r.units for r in runs.values())
        for policy, s in runs.items():
            cuts = []
            for base in BASELINES:
                b = runs.get(base)
                if b is None or base == policy or b.rula_al3_pct == 0:
                    cuts.append("-")
                else:
                    change = 100 * (b.rula_al3_pct - s.rula_al3_pct) / b.rula_al3_pct
                    cuts.append(f"{change:.0f}% less" if change >= 0 else f"{-change:.0f}% more")
            share = f"{s.operator_share:.0%}" + (" (below minimum!)" if s.operator_share < min_share else "")
            cells = [op, policy, str(s.units), f"{s.rula_al3_pct:.1f}", f"{s.rula_al4_pct:.1f}",
                     *[f"{s.fatigue_peak_pct.get(r, 0.0):.0f}" for r in regions],
                     f"{s.mean_stress:.2f}", share, str(s.reassignments), *cuts, f"{s.units / best:.0%}"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
