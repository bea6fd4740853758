"""Localized muscle fatigue per body region: the three-compartment controller model.

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

Parameters
----------
* L = 10 (per second), the controller gain of Xia & Frey Law (2008) that Frey-Law, Looft &
  Heitsman (2012) kept for their endurance-time fits (``CONTROLLER_GAIN``); from the
  author's notes of those papers, not re-read here; public implementations of the model
  (bioptim, User-in-the-Box) use the same 10.
* F and R (per second) from Frey-Law LA, Looft JM, Heitsman J (2012), "A three-compartment
  muscle fatigue model accurately predicts joint-specific maximum endurance times for
  sustained isometric tasks", J Biomech 45:1803-1808 (table of optimal parameters per
  joint region, fitted to the intensity-endurance curves of Frey Law & Avin 2010):

  ======== ======== ======== ====================================================
  joint    F        R        how it was checked here
  ======== ======== ======== ====================================================
  shoulder 0.01820  0.00168  abstract (PMC3397684): the largest F and R of all joints
  elbow    0.00912  0.00094  paper table as reused in public code: bioptim (citing
                             Looft et al. 2018, which takes the 2012 values) and
                             MyoSuite both use these for the elbow
  trunk    0.00755  0.00075  paper table, from the author's notes; not re-read here
  hand     0.00980  0.00064  paper table (hand/grip), from the author's notes; not
                             re-read here
  ======== ======== ======== ====================================================

  The stored copy of the abstract reads "Optimal F and R values ranged from 0.00589
  (Fankle) and 0.0182 (Rankle) to 0.00058 (Fshoulder) and 0.00168 (Rshoulder)"; the
  labels there are crossed: with F = 0.00058 the shoulder, which the paper and Frey Law
  & Avin (2010) find the most fatigable joint, would be the least fatigable, and with
  R = 0.0182 > F the ankle could hold 76 % MVC for ever. The consistent reading, used
  here, is F from 0.00589 (ankle) to 0.0182 (shoulder) and R from 0.00058 (ankle) to
  0.00168 (shoulder).
* Neck: Frey-Law et al. (2012) give no neck parameters. The neck region uses the shoulder
  values, the nearest documented region (the upper trapezius holds both the head and the
  shoulder girdle) and the most fatigable one, so the substitution errs towards fatigue.

The 3CC model over-predicts fatigue for intermittent work with rest pauses (Looft, Herkert
& Frey-Law 2018, J Biomech 77:16-25, who add a rest recovery multiplier r); this module
implements the original model only, so its MF is an upper estimate for intermittent tasks.

Integration
-----------
The load is held constant over each ``update(dt)`` (zero-order hold). With C(t) piecewise
linear the ODEs are linear inside each regime, so each regime is solved exactly: the
tracking regime (first and third line of C) in closed form, the exhausted regime (second
line) with the exact 2x2 matrix exponential. Regime changes inside a step are located by
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


def region_parameters(region: str) -> FatigueParameters:
    """The published F and R of a region name (see ``REGION_JOINT``)."""
    try:
        return JOINT_PARAMETERS[REGION_JOINT[region]]
    except KeyError:
        raise ValueError(f"unknown region {region!r}; known: {', '.join(REGION_JOINT)}") from None


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

def _tracking(ma: float, mf: float, tl: float, t: float, f: float, r: float,
              gain: float) -> tuple[float, float]:
    """MA, MF after t seconds with C = L (TL - MA): closed form."""
    k = gain + f
    ma_inf = gain * tl / k
    mf_inf = f * ma_inf / r
    ek, er = math.exp(-k * t), math.exp(-r * t)
    ma_t = ma_inf + (ma - ma_inf) * ek
    mf_t = mf_inf + (mf - mf_inf) * er + f * (ma - ma_inf) * (ek - er) / (r - k)
    return ma_t, mf_t


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


def _advance(ma: float, mf: float, tl: float, dt: float, p: FatigueParameters,
             gain: float) -> tuple[float, float]:
    f, r = p.fatigue, p.recovery
    remaining = dt
    while remaining > 0.0:
        h = min(remaining, MAX_SUBSTEP_S)
        tracking = _in_tracking(ma, mf, tl)

        def solve(t: float, ma0: float = ma, mf0: float = mf) -> tuple[float, float]:
            if tracking:
                return _tracking(ma0, mf0, tl, t, f, r, gain)
            return _exhausted(ma0, mf0, t, f, r, gain)

        end = solve(h)
        if _in_tracking(*end, tl) != tracking:
            lo, hi = 0.0, h           # first time the regime changes
            while hi - lo > EVENT_TOLERANCE_S:
                mid = 0.5 * (lo + hi)
                if _in_tracking(*solve(mid), tl) != tracking:
                    hi = mid
                else:
                    lo = mid
            h = max(hi, EVENT_TOLERANCE_S)
            end = solve(h)
            if tracking and not _in_tracking(*end, tl):
                # land exactly on the boundary MF = 100 - TL so the next regime starts there
                end = (end[0], max(end[1], 100.0 - tl))
        ma, mf = end
        ma = min(100.0, max(0.0, ma))
        mf = min(100.0 - ma, max(0.0, mf))
        remaining -= h
    return ma, mf


# ---------------------------------------------------------------- the model

class FatigueModel:
    """Three-compartment fatigue of several body regions; pure, time passed in as dt.

    ``regions``: region names (parameters from ``REGION_JOINT``) or a mapping from a
    name to its own ``FatigueParameters``. Every region starts fresh (MR = 100).
    """

    def __init__(self, regions: Iterable[str] | Mapping[str, FatigueParameters] = DEFAULT_REGIONS,
                 *, controller_gain: float = CONTROLLER_GAIN):
        if isinstance(regions, Mapping):
            self.parameters = dict(regions)
        else:
            self.parameters = {name: region_parameters(name) for name in regions}
        if not self.parameters:
            raise ValueError("give at least one region")
        if not controller_gain > 0.0:
            raise ValueError(f"controller gain must be > 0, got {controller_gain}")
        self.controller_gain = controller_gain
        self._ma = {name: 0.0 for name in self.parameters}
        self._mf = {name: 0.0 for name in self.parameters}
        self._tl = {name: 0.0 for name in self.parameters}
        self.elapsed_s = 0.0

    def update(self, dt_s: float, loads: Mapping[str, float]) -> FatigueState:
        """Advance by ``dt_s`` seconds with target loads (% MVC) held over the step.

        A region missing from ``loads`` is at rest (TL = 0): the operator rests or the
        cobot does the step. Loads above 100 % are held at 100.
        """
        if not (math.isfinite(dt_s) and dt_s >= 0.0):
            raise ValueError(f"dt must be a finite value >= 0, got {dt_s}")
        unknown = set(loads) - set(self.parameters)
        if unknown:
            raise ValueError(f"unknown region(s): {', '.join(sorted(unknown))}")
        for name, p in self.parameters.items():
            tl = float(loads.get(name, 0.0))
            if not (math.isfinite(tl) and tl >= 0.0):
                raise ValueError(f"target load of {name} must be >= 0 % MVC, got {tl}")
            tl = min(tl, 100.0)
            self._tl[name] = tl
            if dt_s > 0.0:
                self._ma[name], self._mf[name] = _advance(
                    self._ma[name], self._mf[name], tl, dt_s, p, self.controller_gain)
        self.elapsed_s += dt_s
        return self.state()

    def state(self) -> FatigueState:
        """The current compartments without advancing time."""
        regions = {}
        for name in self.parameters:
            ma, mf, tl = self._ma[name], self._mf[name], self._tl[name]
            regions[name] = RegionState(
                active=ma, resting=max(0.0, 100.0 - ma - mf), fatigued=mf, target_load=tl,
                task_failure=not _in_tracking(ma, mf, tl))
        return FatigueState(elapsed_s=self.elapsed_s, regions=regions)


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
