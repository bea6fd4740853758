"""Score one posture document with RULA and REBA and explain every number (`cell ergonomics score`).

A document (JSON or YAML) holds either a landmark frame::

    {"world_landmarks": [[x, y, z, visibility], ...33 rows],      # MediaPipe world, metres
     "left_hand_landmarks": [[x, y, z], ...21 rows],              # optional, same frame
     "right_hand_landmarks": [...]}

or joint angles in degrees (as ``ergonomics.angles`` measures them)::

    {"angles": {"trunk_flexion": 25, "neck_flexion": 15,
                "left": {"upper_arm_flexion": 45, "lower_arm_flexion": 80, "wrist_flexion": 10},
                "right": {...}}}

plus optional task flags: ``load_kg``, ``shock``, ``coupling`` (good, fair,
poor, unacceptable), ``static`` and ``repetitive`` (muscle use / activity),
``rapid_change``, ``arm_supported``, ``legs_supported``, ``sitting``,
``wrist_twist_end_of_range``. The result gives, for RULA and REBA, the worse
side's scores at the top (``rula.grand_score``, ``rula.action_level``,
``reba.score``, ``reba.action_level``) with every body-part score, the
adjustments applied, the table scores and the final scores, and the same for
each side under ``left`` and ``right``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, fields
from typing import Any

import numpy as np

from ergonomics import reba, rula
from ergonomics.angles import ArmAngles, JointAngles, joint_angles

FLAGS = {"load_kg": 0.0, "shock": False, "coupling": "good", "static": False, "repetitive": False,
         "rapid_change": False, "arm_supported": False, "legs_supported": True, "sitting": False,
         "wrist_twist_end_of_range": False}


class PostureDocumentError(ValueError):
    """The document is not a landmark frame or a set of joint angles; the message says what is expected."""


def angles_from_document(doc: dict[str, Any]) -> tuple[JointAngles, str]:
    if "world_landmarks" in doc:
        rows = np.asarray(doc["world_landmarks"], dtype=float)
        if rows.shape not in ((33, 3), (33, 4)):
            raise PostureDocumentError(f"world_landmarks needs 33 rows of [x, y, z, visibility]; got shape {rows.shape}")
        vis = rows[:, 3] if rows.shape[1] == 4 else None
        hands = {}
        for side in ("left", "right"):
            h = doc.get(f"{side}_hand_landmarks")
            if h is not None:
                arr = np.asarray(h, dtype=float)[:, :3]
                if arr.shape != (21, 3):
                    raise PostureDocumentError(f"{side}_hand_landmarks needs 21 rows of [x, y, z]; got {arr.shape}")
                hands[side] = arr
        return joint_angles(rows[:, :3], vis, left_hand=hands.get("left"), right_hand=hands.get("right")), "landmarks"
    if "angles" in doc:
        a = dict(doc["angles"])
        arm_names = {f.name for f in fields(ArmAngles)}
        joint_names = {f.name for f in fields(JointAngles)}

        def arm(side: str) -> ArmAngles:
            given = dict(a.pop(side, {}) or {})
            unknown = set(given) - arm_names
            if unknown:
                raise PostureDocumentError(f"unknown {side} arm angle(s) {sorted(unknown)}; allowed: {sorted(arm_names)}")
            base = dict(upper_arm_flexion=0.0, upper_arm_abduction=0.0, shoulder_raised=False,
                        lower_arm_flexion=80.0, across_midline=False, out_to_side=False,
                        wrist_flexion=None, wrist_deviation=None, confidence=1.0)
            return ArmAngles(**{**base, **given})

        left, right = arm("left"), arm("right")
        unknown = set(a) - joint_names
        if unknown:
            raise PostureDocumentError(f"unknown angle(s) {sorted(unknown)}; allowed: {sorted(joint_names - {'left', 'right'})}")
        base = dict(neck_flexion=0.0, neck_twist=0.0, neck_side_bend=0.0, trunk_flexion=0.0, trunk_twist=0.0,
                    trunk_side_bend=0.0, knee_flexion_left=0.0, knee_flexion_right=0.0, one_leg_stance=False)
        return JointAngles(left=left, right=right, **{**base, **a}), "angles"
    raise PostureDocumentError("a posture document holds 'world_landmarks' (33 rows of x, y, z, visibility) "
                               "or 'angles' (joint angles in degrees)")


def _rula_adjustments(angles: JointAngles, arm: ArmAngles, f: dict) -> list[str]:
    out = []
    if arm.shoulder_raised:
        out.append("upper arm +1: shoulder raised")
    if arm.upper_arm_abduction > rula.ABDUCTION_THRESHOLD_DEG:
        out.append(f"upper arm +1: abducted ({arm.upper_arm_abduction:.0f} deg)")
    if f["arm_supported"]:
        out.append("upper arm -1: arm supported or person leaning")
    if arm.across_midline or arm.out_to_side:
        out.append("lower arm +1: " + ("working across the midline" if arm.across_midline else "out to the side"))
    if arm.wrist_flexion is None:
        out.append(f"wrist not seen (no hand landmarks): band {rula.UNKNOWN_WRIST_BAND} assumed, confidence lowered")
    elif arm.wrist_deviation is not None and abs(arm.wrist_deviation) > rula.WRIST_DEVIATION_THRESHOLD_DEG:
        out.append("wrist +1: bent from the midline")
    if f["wrist_twist_end_of_range"]:
        out.append("wrist twist 2: at or near the end of range")
    out += _body_adjustments(angles, rula.TWIST_THRESHOLD_DEG, rula.SIDE_BEND_THRESHOLD_DEG)
    if not f["legs_supported"] or angles.one_leg_stance:
        out.append("legs 2: not supported or not balanced")
    if f["static"] or f["repetitive"]:
        out.append("muscle use +1: " + ("mainly static (held > 1 min)" if f["static"] else "repeated 4 or more times a minute"))
    if f["load_kg"] > 0 or f["shock"]:
        out.append(f"force/load: {f['load_kg']:g} kg" + (", shock or rapid build-up" if f["shock"] else ""))
    return out


def _body_adjustments(angles: JointAngles, twist_deg: float, bend_deg: float) -> list[str]:
    out = []
    for part in ("neck", "trunk"):
        if abs(getattr(angles, f"{part}_twist")) > twist_deg:
            out.append(f"{part} +1: twisted")
        if abs(getattr(angles, f"{part}_side_bend")) > bend_deg:
            out.append(f"{part} +1: side-bent")
    return out


def _rula_side(s: rula.RulaScore, adjustments: list[str]) -> dict:
    return {"upper_arm": s.upper_arm, "lower_arm": s.lower_arm, "wrist": s.wrist, "wrist_twist": s.wrist_twist,
            "table_a": s.posture_a, "neck": s.neck, "trunk": s.trunk, "legs": s.legs, "table_b": s.posture_b,
            "muscle_use": s.muscle_use, "force_load": s.force_load, "score_c": s.score_c, "score_d": s.score_d,
            "grand_score": s.grand, "action_level": s.action_level, "action": rula.ACTION_LEVELS[s.action_level],
            "wrist_measured": s.wrist_measured, "confidence": round(s.confidence, 3), "adjustments": adjustments}


def _reba_side(s: reba.RebaScore, adjustments: list[str]) -> dict:
    return {"neck": s.neck, "trunk": s.trunk, "legs": s.legs, "table_a": s.posture_a, "load": s.load,
            "score_a": s.score_a, "upper_arm": s.upper_arm, "lower_arm": s.lower_arm, "wrist": s.wrist,
            "table_b": s.posture_b, "coupling": s.coupling, "score_b": s.score_b, "table_c": s.score_c,
            "activity": s.activity, "score": s.score, "action_level": s.action_level, "risk": s.risk,
            "wrist_measured": s.wrist_measured, "confidence": round(s.confidence, 3), "adjustments": adjustments}


def _reba_adjustments(angles: JointAngles, arm: ArmAngles, f: dict) -> list[str]:
    out = []
    if arm.upper_arm_abduction > reba.ABDUCTION_THRESHOLD_DEG:
        out.append(f"upper arm +1: abducted ({arm.upper_arm_abduction:.0f} deg)")
    if arm.shoulder_raised:
        out.append("upper arm +1: shoulder raised")
    if f["arm_supported"]:
        out.append("upper arm -1: supported or gravity-assisted")
    if arm.wrist_flexion is None:
        out.append(f"wrist not seen: band {reba.UNKNOWN_WRIST_BAND} assumed, confidence lowered")
    elif arm.wrist_deviation is not None and abs(arm.wrist_deviation) > reba.WRIST_DEVIATION_THRESHOLD_DEG:
        out.append("wrist +1: deviated")
    for part in ("neck", "trunk"):
        if abs(getattr(angles, f"{part}_twist")) > reba.TWIST_THRESHOLD_DEG or \
                abs(getattr(angles, f"{part}_side_bend")) > reba.SIDE_BEND_THRESHOLD_DEG:
            out.append(f"{part} +1: twisted or side-flexed")
    knee = max(angles.knee_flexion_left, angles.knee_flexion_right)
    if angles.one_leg_stance:
        out.append("legs 2: unilateral weight bearing")
    if not f["sitting"] and knee > 30:
        out.append(f"legs +{1 if knee <= 60 else 2}: knees flexed {knee:.0f} deg")
    if f["load_kg"] >= 5 or f["shock"]:
        out.append(f"load: {f['load_kg']:g} kg" + (", shock or rapid build-up +1" if f["shock"] else ""))
    if f["coupling"] != "good":
        out.append(f"coupling: {f['coupling']}")
    for flag, text in (("static", "one or more body parts held > 1 min"), ("repetitive", "small-range actions repeated > 4/min"),
                       ("rapid_change", "rapid large changes in posture")):
        if f[flag]:
            out.append(f"activity +1: {text}")
    return out


def score_document(doc: dict[str, Any]) -> dict[str, Any]:
    """RULA and REBA of one posture document, with every intermediate and the adjustments applied."""
    if not isinstance(doc, dict):
        raise PostureDocumentError("a posture document is a mapping (JSON object)")
    unknown = set(doc) - set(FLAGS) - {"world_landmarks", "left_hand_landmarks", "right_hand_landmarks", "angles"}
    if unknown:
        raise PostureDocumentError(f"unknown key(s) {sorted(unknown)}; allowed: world_landmarks (with "
                                   f"left_hand_landmarks, right_hand_landmarks) or angles, and the flags "
                                   f"{', '.join(sorted(FLAGS))}")
    f = {**FLAGS, **{k: doc[k] for k in FLAGS if k in doc}}
    if str(f["coupling"]).lower() not in ("good", "fair", "poor", "unacceptable"):
        raise PostureDocumentError(f"coupling {f['coupling']!r}; allowed: good, fair, poor, unacceptable")
    f["coupling"] = str(f["coupling"]).lower()
    angles, source = angles_from_document(doc)
    ru = rula.rula_from_angles(angles, load_kg=float(f["load_kg"]), load_static_or_repeated=f["static"] or f["repetitive"],
                               shock=f["shock"], muscle_use_static=f["static"], muscle_use_repetitive=f["repetitive"],
                               arm_supported=f["arm_supported"], legs_supported=f["legs_supported"],
                               wrist_twist_end_of_range=f["wrist_twist_end_of_range"])
    re = reba.reba_from_angles(angles, load_kg=float(f["load_kg"]), shock=f["shock"], coupling=f["coupling"],
                               static=f["static"], repeated=f["repetitive"], rapid_change=f["rapid_change"],
                               arm_supported=f["arm_supported"], sitting=f["sitting"])
    rula_sides = {side: _rula_side(getattr(ru, side), _rula_adjustments(angles, getattr(angles, side), f))
                  for side in ("left", "right")}
    reba_sides = {side: _reba_side(getattr(re, side), _reba_adjustments(angles, getattr(angles, side), f))
                  for side in ("left", "right")}
    worse_rula, worse_reba = ru.worse_side.name.lower(), re.worse_side.name.lower()
    return {
        "input": source,
        "flags": f,
        "angles": _clean(asdict(angles)),
        "rula": {**rula_sides[worse_rula], "worse_side": worse_rula, "confidence": round(ru.confidence, 3), **rula_sides},
        "reba": {**reba_sides[worse_reba], "worse_side": worse_reba, "confidence": round(re.confidence, 3), **reba_sides},
    }


def _clean(value: Any) -> Any:
    """JSON-friendly: rounded floats, NaN as null."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 2)
    return value
