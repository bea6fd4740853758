"""One operator's ergonomics over time: each frame scored, the stream summarised, the muscles' fatigue.

``OperatorErgonomics.frame`` takes one pose frame and the step being worked
on. The step gives what posture cannot show: the load in the hands
(``load_kg``) and the grip (``coupling``). The posture stream itself gives
RULA's muscle use and REBA's activity points: static for more than a minute,
repeated 4 or more times a minute, rapid large changes (``ergonomics.exposure``).
The same frames drive the three-compartment fatigue model
(``ergonomics.fatigue``). While the operator does not work (a cobot step,
a pause) ``rest`` lets the muscles recover. NIOSH's lifting index for the
steps with a lift geometry is in ``lifting_indices``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cell.config import OperatorProfile, Step
from cell.messages import ErgonomicScore, ExposureSummary as ExposureMessage, FatigueState as FatigueMessage
from ergonomics.angles import JointAngles, joint_angles
from ergonomics.exposure import ExposureSummary, PostureStream, exposure_summary
from ergonomics.fatigue import FatigueModel, FatigueState, target_load
from ergonomics.niosh import LiftGeometry, NioshResult, lifting_index
from ergonomics.reba import RebaAssessment, reba_from_angles
from ergonomics.rula import RulaAssessment, rula_from_angles

NIOSH_COUPLING = {"good": "good", "fair": "fair", "poor": "poor", "unacceptable": "poor"}


@dataclass(frozen=True)
class FrameResult:
    t: float
    angles: JointAngles
    rula: RulaAssessment
    reba: RebaAssessment


class OperatorErgonomics:
    """Scores, exposure and fatigue for one operator; time is passed in.

    ``cache_size`` > 0 remembers the angles of landmark arrays it has seen (by
    identity): the simulator reuses the same arrays for the same pose. A live
    node gets new arrays every frame and keeps the default, no cache.
    """

    def __init__(self, profile: OperatorProfile, *, cache_size: int = 0, history_s: float = 3600.0):
        self.profile = profile
        self.stream = PostureStream(history_s=history_s)
        self.fatigue = FatigueModel()
        self.cache_size = cache_size
        self._angles: dict[int, tuple[np.ndarray, JointAngles]] = {}
        self._scores: dict[tuple, tuple] = {}
        self._last_t: float | None = None
        self.fatigue_state: FatigueState = self.fatigue.update(0.0, {})

    def angles(self, world: np.ndarray, visibility: np.ndarray | None,
               left_hand: np.ndarray | None, right_hand: np.ndarray | None) -> JointAngles:
        hit = self._angles.get(id(world))
        if hit is not None and hit[0] is world:
            return hit[1]
        a = joint_angles(world, visibility, left_hand=left_hand, right_hand=right_hand)
        if self.cache_size:
            if len(self._angles) >= self.cache_size:
                self._angles.clear()
            self._angles[id(world)] = (world, a)  # the array is kept, so its id stays unique
        return a

    def frame(self, t: float, world: np.ndarray, visibility: np.ndarray | None, left_hand: np.ndarray | None,
              right_hand: np.ndarray | None, step: Step | None) -> FrameResult:
        """Score one frame of the operator working on `step` (None: not handling anything)."""
        angles = self.angles(world, visibility, left_hand, right_hand)
        flags = (*self.stream.muscle_use(t), *self.stream.activity(t))
        load = step.load_kg if step else 0.0
        coupling = step.coupling if step else "good"
        key = (id(world), load, coupling, flags)
        hit = self._scores.get(key) if self.cache_size else None
        if hit is not None and hit[0] is world:
            _, rula, reba, loads = hit
        else:
            static, repetitive, a_static, a_repeated, a_rapid = flags
            rula = rula_from_angles(angles, load_kg=load, load_static_or_repeated=static or repetitive,
                                    muscle_use_static=static, muscle_use_repetitive=repetitive)
            reba = reba_from_angles(angles, load_kg=load, coupling=coupling, static=a_static, repeated=a_repeated,
                                    rapid_change=a_rapid, sitting=self.profile.seated)
            loads = target_load(angles, load, self.profile.body.mass_kg, self.profile.body.stature_m)
            if self.cache_size:
                if len(self._scores) >= self.cache_size:
                    self._scores.clear()
                self._scores[key] = (world, rula, reba, loads)
        self.stream.update(t, angles, rula, reba)
        self._advance_fatigue(t, loads)
        return FrameResult(t, angles, rula, reba)

    def rest(self, t: float) -> None:
        """The operator is not working (the cobot does the step, a pause): the muscles recover."""
        self._advance_fatigue(t, {})

    def _advance_fatigue(self, t: float, loads: dict[str, float]) -> None:
        if self._last_t is not None and t > self._last_t:
            self.fatigue_state = self.fatigue.update(t - self._last_t, loads)
        self._last_t = t

    def exposure(self, t0: float, t1: float) -> ExposureSummary:
        return exposure_summary(self.stream, t0, t1)


def lifting_indices(steps: list[Step], lifts_per_min: dict[str, float]) -> dict[str, NioshResult]:
    """NIOSH lifting index of every step with a lift geometry and a load.

    The lift frequency is the step's configured ``frequency_per_min`` or, when not given,
    the rate it was done at (``lifts_per_min``, e.g. measured over a shift).
    """
    out = {}
    for step in steps:
        lift = step.lift
        if lift is None or step.load_kg <= 0:
            continue
        freq = lift.frequency_per_min or lifts_per_min.get(step.id, 0.0)
        geometry = LiftGeometry(h_cm=lift.h_cm, v_origin_cm=lift.v_origin_cm, v_destination_cm=lift.v_destination_cm,
                                a_deg=lift.a_deg, frequency_per_min=freq, duration_h=lift.duration_h,
                                coupling=NIOSH_COUPLING[step.coupling])
        out[step.id] = lifting_index(step.load_kg, geometry)
    return out


def exposure_message(e: ExposureSummary, src: str, operator_id: str, now: float) -> ExposureMessage:
    """The bus form of an exposure summary (sides and classes as 'left.20-60' keys)."""
    elevation = {f"{side.name.lower()}.{cls}": round(v, 2) for side, classes in e.arm_elevation_pct.items()
                 for cls, v in classes.items()}
    entries = {f"{side.name.lower()}.{cls}": round(v, 2) for side, classes in e.arm_entries_per_min.items()
               for cls, v in classes.items()}
    return ExposureMessage(
        src=src, t=now, operator_id=operator_id, window_s=round(e.t1 - e.t0, 1),
        rula_al_pct={str(k): round(v, 2) for k, v in e.rula_action_level_pct.items()},
        reba_al_pct={str(k): round(v, 2) for k, v in (e.reba_action_level_pct or {}).items()},
        arm_elevation_pct=elevation, arm_elevation_per_min=entries, static_postures=e.static_count,
        static_s=round(e.static_time_s, 1), repetitions_per_min=round(e.repetition_per_min, 2),
        mean_grand=round(e.rula_grand_mean, 2), peak_grand=e.rula_grand_peak, confidence=round(e.mean_confidence, 3))


def fatigue_message(state: FatigueState, src: str, operator_id: str, now: float) -> FatigueMessage:
    return FatigueMessage(src=src, t=now, operator_id=operator_id,
                          fatigued_pct={k: round(v.fatigued, 2) for k, v in state.regions.items()})


def score_message(r: FrameResult, src: str, operator_id: str, t: float, step_id: str | None) -> ErgonomicScore:
    """The bus form of one scored frame: RULA and REBA, with the worse side's body-part scores."""
    rula, reba = r.rula, r.reba
    worse = rula.left if rula.worse_side.name == "LEFT" else rula.right
    return ErgonomicScore(src=src, t=t, operator_id=operator_id, rula_grand=rula.grand,
                          rula_action_level=rula.action_level, rula_left=rula.left.grand, rula_right=rula.right.grand,
                          confidence=round(rula.confidence, 3), step_id=step_id, reba_score=reba.score,
                          reba_action_level=reba.action_level,
                          parts={"upper_arm": worse.upper_arm, "lower_arm": worse.lower_arm, "wrist": worse.wrist,
                                 "neck": worse.neck, "trunk": worse.trunk, "legs": worse.legs})
