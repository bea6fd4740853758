"""Localized muscle fatigue per body region: the three-compartment controller model (3CC-r).

Model (Xia T, Frey Law LA 2008, "A theoretical approach for modeling peripheral muscle
fatigue and recovery", J Biomech 41:3046-3052). A region's motor units are split into
resting MR, active MA and fatigued MF, in % of maximum (MR + MA + MF = 100)::

    dMA/dt =  C(t) - F*MA
    dMR/dt = -C(t) + R*MF
    dMF/dt =  F*MA - R*MF

    C(t) = L*(TL - MA)   if MA < TL and MR > TL - MA      (recruit towards the target load)
         = L*MR          if MA < TL and MR <= TL - MA     (resting pool exhausted)
         = L*(TL - MA)   if MA >= TL                      (relax towards the target load)

TL is the target load in % of the region's maximum (% MVC). When MA can no longer
reach TL the task would fail; the state reports it (``RegionState.task_failure``).
Residual capacity = 100 - MF (% of the fresh maximum).

Rest recovery (3CC-r; Looft JM, Herkert N, Frey-Law L 2018, "Modification of a
three-compartment muscle fatigue model to predict peak torque decline during intermittent
tasks", J Biomech 77:16-25, PMC6092960, section 2.1 "Modified Fatigue Model")::

    when TL > 0:  dMR/dt = -C(t) + R*MF          (original 3CC)
    when TL = 0:  dMR/dt = -C(t) + (R*r)*MF      (modified 3CC-r)

"This enhanced recovery occurs during rest intervals only (i.e. TL = 0)": r does not act
while any load is held, also not while MA relaxes towards a lower, non-zero TL, so sustained
tasks (and their endurance times) are exactly those of the 3CC model. The paper writes only
the MR equation; the flow it multiplies is the MF -> MR flow of its Figure 1B, so the same
R*r is taken out of MF (dMF/dt = F*MA - R*r*MF) and MR + MA + MF stays 100. r = 1 is the
original model. ``FatigueModel(rest_recovery=...)``: "published" (default) gives each region
the r below, a number gives every region that r, None (or 1) gives the plain 3CC model.

Parameters
----------
* L = 10 (per second), the controller gain of Xia & Frey Law (2008) that Frey-Law, Looft &
  Heitsman (2012) kept for their endurance-time fits (``CONTROLLER_GAIN``); confirmed by
  Looft et al. (2018), Table 4 footnote: "controller parameters set at L_D and L_R = 10".
* F and R (per second) from Frey-Law LA, Looft JM, Heitsman J (2012), "A three-compartment
  muscle fatigue model accurately predicts joint-specific maximum endurance times for
  sustained isometric tasks", J Biomech 45:1803-1808 (table of optimal parameters per
  joint region, fitted to the intensity-endurance curves of Frey Law & Avin 2010):

  ======== ======== ======== ====================================================
  joint    F        R        how it was checked here
  ======== ======== ======== ====================================================
  shoulder 0.01820  0.00168  abstract (PMC3397684): the largest F and R of all joints
  elbow    0.00912  0.00094  Looft et al. (2018) Table 4, which reprints the 2012
                             optimal F and R ("Elbow")
  trunk    0.00755  0.00075  paper table, from the author's notes; not re-read here
                             (Looft et al. 2018 Table 4 has no trunk row)
  hand     0.00980  0.00064  Looft et al. (2018) Table 4, 2012 values ("Grip")
  ======== ======== ======== ====================================================

  The stored copy of the abstract reads "Optimal F and R values ranged from 0.00589
  (Fankle) and 0.0182 (Rankle) to 0.00058 (Fshoulder) and 0.00168 (Rshoulder)"; the
  labels there are crossed: with F = 0.00058 the shoulder, which the paper and Frey Law
  & Avin (2010) find the most fatigable joint, would be the least fatigable, and with
  R = 0.0182 > F the ankle could hold 76 % MVC for ever. The consistent reading, used
  here, is F from 0.00589 (ankle) to 0.0182 (shoulder) and R from 0.00058 (ankle) to
  0.00168 (shoulder). Looft et al. (2018) Table 4 lists the ankle as F = 0.00589,
  R = 0.00058, which confirms that reading.
* Neck: Frey-Law et al. (2012) give no neck parameters. The neck region uses the shoulder
  values, the nearest documented region (the upper trapezius holds both the head and the
  shoulder girdle) and the most fatigable one, so the substitution errs towards fatigue.

* Rest recovery multiplier r, Looft et al. (2018), Table 2 ("Final r_opt") and Table 4, from
  a meta-analysis of 63 studies of intermittent isometric work (% peak torque decline, ankle,
  knee, elbow, hand/grip; read in the paper's full text, PMC6092960):

  ========= ==== ==========================================================================
  joint     r    basis
  ========= ==== ==========================================================================
  elbow     15   Table 2/4, elbow (least error at r = 8-10, but "the AICs for r of 8 versus
                 15 were not different"; the paper settles on 15)
  hand      30   Table 2/4, hand/grip (grip, first dorsal interosseus, abductor and adductor
                 pollicis)
  shoulder  15   general value (Table 2/4 "General (All)"): "no shoulder or trunk studies met
                 all inclusion/exclusion criteria"; the paper: "a rest recovery value of 15 is
                 a reasonable initial estimate until more data become available"
  trunk     15   general value, as for the shoulder (no trunk data)
  neck      15   general value (the neck uses the shoulder's F and R)
  ========= ==== ==========================================================================

  Regions given with their own ``FatigueParameters`` under a name outside ``REGION_JOINT``
  get the general r = 15 (``GENERAL_REST_RECOVERY``). Looft et al. fitted r with these
  Frey-Law et al. (2012) F and R and L = 10 (Table 4); over all joints the 3CC model
  over-predicted torque decline by 23.3 % on average, the 3CC-r model by 1.2 % (absolute
  error 8.2 %). Their data held few low-intensity, low-duty-cycle tasks ("only 14 % of the
  data involved < 50 % MVC or duty cycle"), none for the shoulder, and the paper notes the
  result "may not translate to dynamic tasks": MF remains an estimate, not a measurement.

Integration
-----------
The load is held constant over each ``update(dt)`` (zero-order hold), so the recovery rate
(R, or R*r while TL = 0) is constant over a step too. With C(t) piecewise
linear the ODEs are linear inside each regime, so each regime is solved exactly: the
tracking regime (first and third line of C) in closed form, the exhausted regime (second
line) with the exact 2x2 matrix exponential. At rest (TL = 0) MA >= TL always holds: only
the closed form with recovery rate R*r is used. Regime changes inside a step are located by
bisection to ``EVENT_TOLERANCE_S``; steps are cut to at most ``MAX_SUBSTEP_S`` so no
change can be missed. The result does not depend on dt (0.03 s frames or 60 s summaries)
beyond that tolerance.

Target loads from posture (``target_load``)
-------------------------------------------
* Shoulder and elbow: gravitational moment of the arm segments plus the hand load about
  the shoulder and elbow, divided by a maximal moment.
  - Segment masses and centres of mass: Dempster via Winter DA (2009), Biomechanics and
    Motor Control of Human Movement, 4th ed., Table 4.1: upper arm 0.028 M, CoM 0.436 of
    its length from the shoulder; forearm 0.016 M, 0.430 from the elbow; hand 0.006 M,
    0.506 from the wrist (values checked against BMClab's copy of the table).
  - Segment lengths: Drillis & Contini (1966) via Winter Fig. 4.1: upper arm 0.186 H,
    forearm 0.146 H, hand 0.108 H; shoulder height 0.818 H, hip (greater trochanter)
    0.530 H (from the author's notes of the book; no copy of the figure was at hand).
  - Maximal shoulder flexion moment: mean static flexion moments of young men, 89.9 N m
    at 0 degrees and 68.6 N m at 45 degrees of flexion, women "on average half" ("Dynamic
    shoulder flexion strength for use in occupational risk analysis and clinical
    assessment", abstract). The maximum at the measured elevation is interpolated
    linearly between those two points, extrapolated on the same line to 90 degrees
    (47.3 N m) and held there above 90 degrees (an assumption: no value above 45 degrees
    was found). Check: an unloaded arm held at 90 degrees then needs 23 % of the men's
    maximum (75 kg, 1.75 m) and 35 % of the women's (60 kg, 1.62 m), against 22-25 % and
    34 % measured with a dynamometer at 90 degrees ("Isometric strength in flexors,
    abductors, and external rotators of the shoulder", abstract).
  - Maximal elbow flexion moment: 0.78 N m per kg body mass (young men, concentric
    isokinetic peak torque; Lategan & Krueger 2003, Afr J Phys Health Educ Recreat Dance,
    special edition 165-172).
  - ``StrengthProfile.conservative`` (the default) takes the women's shoulder value (half
    of the men's) and, without a published women's elbow value, applies the same ratio to
    the elbow. A job coach can set a person's own maxima.
  - Geometry: the upper arm's elevation from hanging is taken from its flexion and
    abduction relative to the trunk, tilted by the trunk's forward flexion; the forearm is
    assumed to lie in the vertical plane of the upper arm and to bend upwards by the elbow
    angle; the hand load acts at the hand's centre of mass and is shared equally by both
    hands unless ``load_side`` says which hand holds it. Static moments only (no
    acceleration); shoulder extension moments (arm behind the body) are compared against
    the flexion maximum.
* Trunk: moment about the hips of head, neck and trunk (0.578 M, centre 0.66 of the
  hip-shoulder length from the hips; Winter Table 4.1, whose "proximal" end of this
  segment is read as the hip, the only reading that puts the head's mass above the trunk's
  middle), both arms and the load, with the trunk flexed forward; side bend and twist are
  ignored. Only computed when the profile gives ``trunk_extension_nm``: this
  module found no sourced population maximum for trunk extension to default to.
* Neck and hand/grip: not derived from posture (no sourced maxima for the neck; grip
  force depends on friction and grip type, which pose does not show). The model accepts
  explicit target loads for them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .angles import ArmAngles, JointAngles
from .landmarks import Side

CONTROLLER_GAIN = 10.0
MAX_SUBSTEP_S = 5.0
EVENT_TOLERANCE_S = 1e-6
GRAVITY = 9.81


@dataclass(frozen=True, slots=True)
class FatigueParameters:
    """Fatigue rate F and recovery rate R of one joint region, per second."""

    fatigue: float
    recovery: float
    source: str = ""

    def __post_init__(self) -> None:
        if not (self.fatigue > 0.0 and self.recovery > 0.0):
            raise ValueError(f"F and R must be > 0, got {self.fatigue}, {self.recovery}")


JOINT_PARAMETERS: dict[str, FatigueParameters] = {
    "shoulder": FatigueParameters(0.01820, 0.00168, "Frey-Law et al. 2012, shoulder"),
    "elbow": FatigueParameters(0.00912, 0.00094, "Frey-Law et al. 2012, elbow"),
    "trunk": FatigueParameters(0.00755, 0.00075, "Frey-Law et al. 2012, trunk"),
    "hand": FatigueParameters(0.00980, 0.00064, "Frey-Law et al. 2012, hand/grip"),
}

REGION_JOINT: dict[str, str] = {
    "shoulder_left": "shoulder",
    "shoulder_right": "shoulder",
    "elbow_left": "elbow",
    "elbow_right": "elbow",
    "trunk": "trunk",
    "neck": "shoulder",          # no published neck values: nearest documented region
    "hand_left": "hand",
    "hand_right": "hand",
}

DEFAULT_REGIONS: tuple[str, ...] = tuple(REGION_JOINT)


# Looft, Herkert & Frey-Law 2018, Table 2 "Final r_opt" / Table 4. No shoulder or trunk data
# were found for that meta-analysis: those regions (and the neck) take the general value.
GENERAL_REST_RECOVERY = 15.0
JOINT_REST_RECOVERY: dict[str, float] = {
    "shoulder": GENERAL_REST_RECOVERY,   # general value, no shoulder data in the paper
    "elbow": 15.0,                       # elbow
    "trunk": GENERAL_REST_RECOVERY,      # general value, no trunk data in the paper
    "hand": 30.0,                        # hand/grip
}
PUBLISHED = "published"


def region_parameters(region: str) -> FatigueParameters:
    """The published F and R of a region name (see ``REGION_JOINT``)."""
    try:
        return JOINT_PARAMETERS[REGION_JOINT[region]]
    except KeyError:
        raise ValueError(f"unknown region {region!r}; known: {', '.join(REGION_JOINT)}") from None


def region_rest_recovery(region: str) -> float:
    """The published rest recovery multiplier r of a region name (Looft et al. 2018).

    Regions outside ``REGION_JOINT`` (own ``FatigueParameters``) get the general value.
    """
    joint = REGION_JOINT.get(region)
    return JOINT_REST_RECOVERY[joint] if joint is not None else GENERAL_REST_RECOVERY


# ---------------------------------------------------------------- state

@dataclass(frozen=True, slots=True)
class RegionState:
    """Compartments of one region in % of maximum, and the target load it was given."""

    active: float
    resting: float
    fatigued: float
    target_load: float
    task_failure: bool

    @property
    def residual_capacity(self) -> float:
        """What the region can still produce, % of its fresh maximum: 100 - MF."""
        return 100.0 - self.fatigued


@dataclass(frozen=True, slots=True)
class FatigueState:
    """All regions after an update; ``elapsed_s`` is the model time since the start."""

    elapsed_s: float
    regions: dict[str, RegionState] = field(default_factory=dict)

    def fatigued(self, region: str) -> float:
        """MF of a region, % of maximum."""
        return self.regions[region].fatigued

    def residual_capacity(self, region: str) -> float:
        """100 - MF of a region."""
        return self.regions[region].residual_capacity


# ---------------------------------------------------------------- exact solutions

def _tracking_factors(t: float, f: float, r: float, gain: float
                      ) -> tuple[float, float, float, float]:
    """The time factors of ``_tracking``: exp(-k t), exp(-r t), and the coupling term
    (exp(-k t) - exp(-r t)) / (r - k) as numerator and denominator; k = L + F."""
    k = gain + f
    ek, er = math.exp(-k * t), math.exp(-r * t)
    d = r - k
    if abs(d) > 1e-9 * k:
        return ek, er, ek - er, d
    return ek, er, -t * ek, 1.0     # the limit r -> k (only with an extreme rest multiplier)


def _tracking_with(ma: float, mf: float, tl: float, f: float, r: float, gain: float,
                   ek: float, er: float, num: float, den: float) -> tuple[float, float]:
    """``_tracking`` with its time factors given (``_tracking_factors``)."""
    ma_inf = gain * tl / (gain + f)
    mf_inf = f * ma_inf / r
    return (ma_inf + (ma - ma_inf) * ek,
            mf_inf + (mf - mf_inf) * er + f * (ma - ma_inf) * num / den)


def _tracking(ma: float, mf: float, tl: float, t: float, f: float, r: float,
              gain: float) -> tuple[float, float]:
    """MA, MF after t seconds with C = L (TL - MA): closed form (r: the recovery rate).

    With k = L + F, MA* = L TL / k and MF* = F MA* / r:
    MA(t) = MA* + (MA - MA*) e^(-k t),
    MF(t) = MF* + (MF - MF*) e^(-r t) + F (MA - MA*) (e^(-k t) - e^(-r t)) / (r - k).
    """
    return _tracking_with(ma, mf, tl, f, r, gain, *_tracking_factors(t, f, r, gain))


def _exhausted(ma: float, mf: float, t: float, f: float, r: float,
               gain: float) -> tuple[float, float]:
    """MA, MF after t seconds with C = L MR: exact 2x2 matrix exponential in (MA, MR)."""
    mr = 100.0 - ma - mf
    # x' = M x + b, x = (MA, MR), M = [[-F, L], [-R, -(L+R)]], b = (0, 100 R)
    a11, a12, a21, a22 = -f, gain, -r, -(gain + r)
    det = a11 * a22 - a12 * a21
    # equilibrium: M x* = -b
    xs_ma = a12 * 100.0 * r / det
    xs_mr = -a11 * 100.0 * r / det
    d_ma, d_mr = ma - xs_ma, mr - xs_mr
    e11, e12, e21, e22 = _expm2(a11, a12, a21, a22, t)
    ma_t = xs_ma + e11 * d_ma + e12 * d_mr
    mr_t = xs_mr + e21 * d_ma + e22 * d_mr
    return ma_t, 100.0 - ma_t - mr_t


def _expm2(a: float, b: float, c: float, d: float, t: float
           ) -> tuple[float, float, float, float]:
    """exp(t [[a, b], [c, d]]) in closed form."""
    half_tr = 0.5 * (a + d)
    disc = (0.5 * (a - d)) ** 2 + b * c
    if disc > 1e-18:
        s = math.sqrt(disc)
        ch, sh = math.cosh(s * t), math.sinh(s * t) / s
    elif disc < -1e-18:
        s = math.sqrt(-disc)
        ch, sh = math.cos(s * t), math.sin(s * t) / s
    else:
        ch, sh = 1.0, t
    e = math.exp(half_tr * t)
    return (e * (ch + (a - half_tr) * sh), e * b * sh,
            e * c * sh, e * (ch + (d - half_tr) * sh))


def _in_tracking(ma: float, mf: float, tl: float) -> bool:
    # C = L (TL - MA) when MA >= TL, or when MR > TL - MA, i.e. MF < 100 - TL
    return ma >= tl or mf < 100.0 - tl


def _advance(ma: float, mf: float, tl: float, dt: float, f: float, r: float,
             gain: float) -> tuple[float, float]:
    """MA, MF after dt seconds at target load tl; r is the recovery rate in force (R or R*r)."""
    remaining = dt
    while remaining > 0.0:
        h = remaining if remaining < MAX_SUBSTEP_S else MAX_SUBSTEP_S
        tracking = ma >= tl or mf < 100.0 - tl          # _in_tracking, inlined: runs per frame
        if tracking:
            end_ma, end_mf = _tracking(ma, mf, tl, h, f, r, gain)
        else:
            end_ma, end_mf = _exhausted(ma, mf, h, f, r, gain)
        if (end_ma >= tl or end_mf < 100.0 - tl) != tracking:
            def solve(t: float, ma0: float = ma, mf0: float = mf,
                      tracking: bool = tracking) -> tuple[float, float]:
                if tracking:
                    return _tracking(ma0, mf0, tl, t, f, r, gain)
                return _exhausted(ma0, mf0, t, f, r, gain)

            lo, hi = 0.0, h           # first time the regime changes
            while hi - lo > EVENT_TOLERANCE_S:
                mid = 0.5 * (lo + hi)
                if _in_tracking(*solve(mid), tl) != tracking:
                    hi = mid
                else:
                    lo = mid
            h = max(hi, EVENT_TOLERANCE_S)
            end_ma, end_mf = solve(h)
            if tracking and not _in_tracking(end_ma, end_mf, tl):
                # land exactly on the boundary MF = 100 - TL so the next regime starts there
                end_mf = max(end_mf, 100.0 - tl)
        # clamp to 0 <= MA <= 100, 0 <= MF <= 100 - MA (as min/max, written out for speed)
        ma = 0.0 if end_ma < 0.0 else (100.0 if end_ma > 100.0 else end_ma)
        top = 100.0 - ma
        mf = 0.0 if end_mf < 0.0 else (top if end_mf > top else end_mf)
        remaining -= h
    return ma, mf


# ---------------------------------------------------------------- the model

class _Region:
    """One region's parameters and compartments, and the time factors of the last dt."""

    __slots__ = ("name", "f", "r_load", "r_rest", "ma", "mf", "state", "dt",
                 "load_factors", "rest_factors")

    def __init__(self, name: str, f: float, r_load: float, r_rest: float):
        self.name, self.f, self.r_load, self.r_rest = name, f, r_load, r_rest
        self.ma = self.mf = 0.0
        self.state: RegionState | None = None
        self.dt = -1.0
        self.load_factors = self.rest_factors = (0.0, 0.0, 0.0, 1.0)


class FatigueModel:
    """Three-compartment fatigue of several body regions (3CC-r); pure, time passed in as dt.

    ``regions``: region names (parameters from ``REGION_JOINT``) or a mapping from a
    name to its own ``FatigueParameters``. Every region starts fresh (MR = 100).

    ``rest_recovery``: the rest recovery multiplier r of Looft et al. (2018), which multiplies
    R while a region's target load is 0. ``"published"`` (the default): each region's
    published r (``region_rest_recovery``: 30 for the hands, 15 elsewhere); a number >= 1:
    that r for every region; ``None`` or 1: the original 3CC model. ``self.rest_recovery``
    holds the r of each region.
    """

    def __init__(self, regions: Iterable[str] | Mapping[str, FatigueParameters] = DEFAULT_REGIONS,
                 *, controller_gain: float = CONTROLLER_GAIN,
                 rest_recovery: float | str | None = PUBLISHED):
        if isinstance(regions, Mapping):
            self.parameters = dict(regions)
        else:
            self.parameters = {name: region_parameters(name) for name in regions}
        if not self.parameters:
            raise ValueError("give at least one region")
        if not controller_gain > 0.0:
            raise ValueError(f"controller gain must be > 0, got {controller_gain}")
        self.controller_gain = controller_gain
        if rest_recovery is None:
            self.rest_recovery = {name: 1.0 for name in self.parameters}
        elif isinstance(rest_recovery, str):
            if rest_recovery != PUBLISHED:
                raise ValueError(f"rest_recovery must be a number, None or {PUBLISHED!r}, "
                                 f"got {rest_recovery!r}")
            self.rest_recovery = {name: region_rest_recovery(name) for name in self.parameters}
        else:
            r = float(rest_recovery)
            if not (math.isfinite(r) and r >= 1.0):
                raise ValueError(f"rest_recovery must be a finite number >= 1, got {rest_recovery}")
            self.rest_recovery = {name: r for name in self.parameters}
        self._names = frozenset(self.parameters)
        # recovery rate R while loaded, R*r at rest (Looft et al. 2018)
        self._regions = [_Region(name, p.fatigue, p.recovery, p.recovery * self.rest_recovery[name])
                         for name, p in self.parameters.items()]
        self.elapsed_s = 0.0
        self.update(0.0, {})

    def update(self, dt_s: float, loads: Mapping[str, float]) -> FatigueState:
        """Advance by ``dt_s`` seconds with target loads (% MVC) held over the step.

        A region missing from ``loads`` is at rest (TL = 0): the operator rests or the
        cobot does the step; its recovery rate is then R*r (3CC-r). Loads above 100 % are
        held at 100.
        """
        if not (math.isfinite(dt_s) and dt_s >= 0.0):
            raise ValueError(f"dt must be a finite value >= 0, got {dt_s}")
        if not self._names.issuperset(loads):
            unknown = set(loads) - self._names
            raise ValueError(f"unknown region(s): {', '.join(sorted(unknown))}")
        gain = self.controller_gain
        # one step of the closed form covers dt when the region tracks its load and stays
        # tracking (nearly always); its exponentials are kept while dt stays the same
        fast = 0.0 < dt_s <= MAX_SUBSTEP_S
        for reg in self._regions:
            tl = loads.get(reg.name, 0.0)
            if tl:
                tl = float(tl)
                if not (tl > 0.0 and tl != math.inf):       # rejects NaN, < 0, inf
                    raise ValueError(f"target load of {reg.name} must be >= 0 % MVC, got {tl}")
                if tl > 100.0:
                    tl = 100.0
                resting, r = False, reg.r_load
            else:
                if tl != 0:                                  # None, "" and the like
                    raise ValueError(f"target load of {reg.name} must be >= 0 % MVC, got {tl!r}")
                tl = 0.0
                resting, r = True, reg.r_rest                # rest: Looft et al. 2018
            ma, mf, f = reg.ma, reg.mf, reg.f
            if fast and (ma >= tl or mf < 100.0 - tl):
                if reg.dt != dt_s:
                    reg.dt = dt_s
                    reg.load_factors = _tracking_factors(dt_s, f, reg.r_load, gain)
                    reg.rest_factors = _tracking_factors(dt_s, f, reg.r_rest, gain)
                factors = reg.rest_factors if resting else reg.load_factors
                end_ma, end_mf = _tracking_with(ma, mf, tl, f, r, gain, *factors)
                if end_ma >= tl or end_mf < 100.0 - tl:      # no regime change: as _advance
                    ma = 0.0 if end_ma < 0.0 else (100.0 if end_ma > 100.0 else end_ma)
                    top = 100.0 - ma
                    mf = 0.0 if end_mf < 0.0 else (top if end_mf > top else end_mf)
                else:
                    ma, mf = _advance(ma, mf, tl, dt_s, f, r, gain)
            elif dt_s > 0.0:
                ma, mf = _advance(ma, mf, tl, dt_s, f, r, gain)
            old = reg.state
            if old is None or old.active != ma or old.fatigued != mf or old.target_load != tl:
                reg.ma, reg.mf = ma, mf
                reg.state = RegionState(ma, max(0.0, 100.0 - ma - mf), mf, tl,
                                        not (ma >= tl or mf < 100.0 - tl))
        self.elapsed_s += dt_s
        return self.state()

    def state(self) -> FatigueState:
        """The current compartments without advancing time."""
        return FatigueState(self.elapsed_s, {reg.name: reg.state for reg in self._regions})


def endurance_time_s(target_load: float, parameters: FatigueParameters) -> float:
    """Closed-form endurance time of a sustained contraction, ignoring the controller lag.

    With MA held at TL, MF(t) = (F TL / R)(1 - exp(-R t)); the task fails when MF reaches
    100 - TL. Infinite when F TL / R <= 100 - TL (a load the region can hold for ever).
    """
    f, r = parameters.fatigue, parameters.recovery
    if not 0.0 < target_load <= 100.0:
        raise ValueError(f"target load must be in (0, 100] % MVC, got {target_load}")
    x = r * (100.0 - target_load) / (f * target_load)
    return math.inf if x >= 1.0 else -math.log(1.0 - x) / r


# ---------------------------------------------------------------- target loads from posture

# Winter (2009) Table 4.1 (Dempster): mass fraction of body mass, CoM fraction from proximal
UPPER_ARM = (0.028, 0.436)
FOREARM = (0.016, 0.430)
HAND = (0.006, 0.506)
HEAD_NECK_TRUNK = (0.578, 0.66)
# Winter (2009) Fig. 4.1 (Drillis & Contini 1966): segment length as a fraction of stature
UPPER_ARM_LENGTH = 0.186
FOREARM_LENGTH = 0.146
HAND_LENGTH = 0.108
HIP_TO_SHOULDER_LENGTH = 0.818 - 0.530

MEN_SHOULDER_FLEXION_NM_0 = 89.9        # static, 0 deg flexion, young men
MEN_SHOULDER_FLEXION_NM_45 = 68.6       # static, 45 deg flexion, young men
MEN_ELBOW_FLEXION_NM_PER_KG = 0.78      # Lategan & Krueger 2003, young men
WOMEN_TO_MEN = 0.5                      # shoulder flexion, "on average half"


@dataclass(frozen=True, slots=True)
class StrengthProfile:
    """Maximal joint moments (N m) the target loads are expressed against.

    Shoulder: the maximum at 0 and at 45 degrees of elevation, linear in between, the same
    line up to 90 degrees, constant above. ``elbow_flexion_nm`` None:
    ``elbow_flexion_nm_per_kg`` x body mass. ``trunk_extension_nm`` None: the trunk's
    target load is not computed.
    """

    shoulder_flexion_nm_0: float
    shoulder_flexion_nm_45: float
    elbow_flexion_nm_per_kg: float
    elbow_flexion_nm: float | None = None
    trunk_extension_nm: float | None = None

    @classmethod
    def men(cls) -> StrengthProfile:
        """Young men's means from the sources in the module doc."""
        return cls(MEN_SHOULDER_FLEXION_NM_0, MEN_SHOULDER_FLEXION_NM_45,
                   MEN_ELBOW_FLEXION_NM_PER_KG)

    @classmethod
    def conservative(cls) -> StrengthProfile:
        """Half the men's maxima (the women's shoulder ratio); the default."""
        return cls(MEN_SHOULDER_FLEXION_NM_0 * WOMEN_TO_MEN,
                   MEN_SHOULDER_FLEXION_NM_45 * WOMEN_TO_MEN,
                   MEN_ELBOW_FLEXION_NM_PER_KG * WOMEN_TO_MEN)

    def shoulder_max_nm(self, elevation_deg: float) -> float:
        """Maximal shoulder moment at an upper-arm elevation (degrees from hanging)."""
        e = min(90.0, max(0.0, elevation_deg))
        return self.shoulder_flexion_nm_0 + (
            self.shoulder_flexion_nm_45 - self.shoulder_flexion_nm_0) * e / 45.0


def _upper_arm_world(arm: ArmAngles, trunk_flexion: float) -> tuple[float, float, float]:
    """Unit upper-arm vector in the world: (downward, forward, sideways) components."""
    phi = math.radians(arm.upper_arm_flexion)
    alpha = math.radians(arm.upper_arm_abduction)
    down, fwd = math.cos(alpha) * math.cos(phi), math.cos(alpha) * math.sin(phi)
    beta = math.radians(trunk_flexion)
    # the trunk leans forward by beta: its down axis tilts backwards, its forward axis down
    return (math.cos(beta) * down + math.sin(beta) * fwd,
            -math.sin(beta) * down + math.cos(beta) * fwd,
            math.sin(alpha))


def _arm_moments(arm: ArmAngles, trunk_flexion: float, body_mass: float, stature: float,
                 hand_load: float) -> tuple[float, float, float, float, float]:
    """Shoulder moment, elbow moment (N m), arm mass with its load, how far that mass's
    centre lies in front of the shoulder (m), and the upper arm's elevation (degrees)."""
    down, fwd, side = _upper_arm_world(arm, trunk_flexion)
    theta = math.acos(max(-1.0, min(1.0, down)))           # elevation from hanging
    fore = min(math.pi, theta + math.radians(max(0.0, arm.lower_arm_flexion)))
    horizontal = math.hypot(fwd, side)
    forward_share = fwd / horizontal if horizontal > 1e-9 else 1.0   # hanging arm: bends forward
    # horizontal distances from the shoulder in the arm's vertical plane
    lu, lf, lh = (UPPER_ARM_LENGTH * stature, FOREARM_LENGTH * stature, HAND_LENGTH * stature)
    mu, mf, mh = UPPER_ARM[0] * body_mass, FOREARM[0] * body_mass, HAND[0] * body_mass
    x_elbow = lu * math.sin(theta)
    x_u = UPPER_ARM[1] * lu * math.sin(theta)
    x_f_rel = FOREARM[1] * lf * math.sin(fore)
    x_h_rel = (lf + HAND[1] * lh) * math.sin(fore)
    elbow = GRAVITY * abs(mf * x_f_rel + (mh + hand_load) * x_h_rel)
    first = mu * x_u + mf * (x_elbow + x_f_rel) + (mh + hand_load) * (x_elbow + x_h_rel)
    mass = mu + mf + mh + hand_load
    return (GRAVITY * abs(first), elbow, mass, forward_share * first / mass,
            math.degrees(theta))


def target_load(angles: JointAngles, load_kg: float, body_mass_kg: float, stature_m: float,
                *, strength: StrengthProfile | None = None,
                load_side: Side | None = None) -> dict[str, float]:
    """Target loads (% of maximal moment) of the regions posture can say something about.

    Returns shoulder_left/right and elbow_left/right always, trunk when the strength
    profile gives a trunk maximum. Values are capped at 100. ``load_kg`` is shared by both
    hands unless ``load_side`` names the hand that holds it.
    """
    for name, value in (("load", load_kg), ("body mass", body_mass_kg), ("stature", stature_m)):
        if not math.isfinite(value) or value < 0.0:
            raise ValueError(f"{name} must be a finite value >= 0, got {value}")
    if body_mass_kg <= 0.0 or stature_m <= 0.0:
        raise ValueError("body mass and stature must be > 0")
    profile = strength if strength is not None else StrengthProfile.conservative()
    elbow_max = (profile.elbow_flexion_nm if profile.elbow_flexion_nm is not None
                 else profile.elbow_flexion_nm_per_kg * body_mass_kg)

    def pct(moment: float, maximum: float) -> float:
        return min(100.0, 100.0 * moment / maximum)

    loads: dict[str, float] = {}
    trunk_moment_terms = 0.0
    beta = math.radians(angles.trunk_flexion)
    lt = HIP_TO_SHOULDER_LENGTH * stature_m
    shoulder_x = lt * math.sin(beta)       # shoulder forward of the hips
    for side in (Side.LEFT, Side.RIGHT):
        if load_side is None:
            hand_load = 0.5 * load_kg
        else:
            hand_load = load_kg if side is load_side else 0.0
        arm = angles.arm(side)
        shoulder, elbow, mass, com_forward, elevation = _arm_moments(
            arm, angles.trunk_flexion, body_mass_kg, stature_m, hand_load)
        loads[f"shoulder_{side.value}"] = pct(shoulder, profile.shoulder_max_nm(elevation))
        loads[f"elbow_{side.value}"] = pct(elbow, elbow_max)
        trunk_moment_terms += mass * (shoulder_x + com_forward)
    if profile.trunk_extension_nm is not None:
        hnt = HEAD_NECK_TRUNK[0] * body_mass_kg * HEAD_NECK_TRUNK[1] * lt * math.sin(beta)
        loads["trunk"] = pct(GRAVITY * abs(hnt + trunk_moment_terms), profile.trunk_extension_nm)
    return loads
