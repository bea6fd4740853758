"""How exact the joint angles are: synthetic skeletons from known angles, with and without landmark noise.

    python -m bench.angle_noise [--postures 400] [--seed 0]

Skeletons come from the simulator's body model (cell/simulator/body.py) with
random joint angles in working ranges; the angle extractor (ergonomics/angles.py)
measures them back. Gaussian noise of the given standard deviation is added to
every coordinate of every pose and hand landmark (MediaPipe's world landmarks
jitter by about 1-2 cm). Prints the mean absolute and 95th-percentile error per
angle and how often the RULA body-part band changes. The numbers are written
into docs/ergonomics-accuracy.md by hand, with the command that made them.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import replace

import numpy as np

from cell.simulator.body import BodyDimensions, Posture, forward_kinematics
from ergonomics import rula
from ergonomics.angles import joint_angles

ANGLES = ["trunk_flexion", "trunk_side_bend", "trunk_twist", "neck_flexion", "neck_side_bend", "neck_twist"]
ARM = ["upper_arm_flexion", "upper_arm_abduction", "elbow_flexion", "wrist_flexion", "wrist_deviation"]


def random_posture(rng: random.Random) -> Posture:
    p = Posture.neutral(seated=rng.random() < 0.3)
    kw = dict(trunk_flexion=rng.uniform(-10, 60), trunk_side_bend=rng.uniform(-15, 15),
              trunk_twist=rng.uniform(-25, 25), neck_flexion=rng.uniform(-15, 40),
              neck_side_bend=rng.uniform(-15, 15), neck_twist=rng.uniform(-30, 30))
    for side in ("left", "right"):
        kw.update({f"{side}_upper_arm_flexion": rng.uniform(-20, 150), f"{side}_upper_arm_abduction": rng.uniform(0, 60),
                   f"{side}_elbow_flexion": rng.uniform(10, 140), f"{side}_wrist_flexion": rng.uniform(-40, 40),
                   f"{side}_wrist_deviation": rng.uniform(-15, 15)})
    return replace(p, **kw)


def measure(p: Posture, noise_m: float, rng: np.random.Generator, dims: BodyDimensions) -> dict[str, float]:
    f = forward_kinematics(p, dims)
    w, lh, rh = (a + rng.normal(0.0, noise_m, a.shape) if noise_m else a
                 for a in (f.world.astype(float), f.left_hand.astype(float), f.right_hand.astype(float)))
    a = joint_angles(w, None, left_hand=lh, right_hand=rh)
    out = {n: getattr(a, n) - getattr(p, n) for n in ANGLES}
    for side in ("left", "right"):
        arm = getattr(a, side)
        out[f"{side}.upper_arm_flexion"] = arm.upper_arm_flexion - getattr(p, f"{side}_upper_arm_flexion")
        out[f"{side}.upper_arm_abduction"] = arm.upper_arm_abduction - getattr(p, f"{side}_upper_arm_abduction")
        out[f"{side}.lower_arm_flexion"] = arm.lower_arm_flexion - getattr(p, f"{side}_elbow_flexion")
        out[f"{side}.wrist_flexion"] = arm.wrist_flexion - getattr(p, f"{side}_wrist_flexion")
        out[f"{side}.wrist_deviation"] = arm.wrist_deviation - getattr(p, f"{side}_wrist_deviation")
        true_band = rula.upper_arm_score(getattr(p, f"{side}_upper_arm_flexion"))
        out[f"{side}.upper_arm_band_changed"] = float(rula.upper_arm_score(arm.upper_arm_flexion) != true_band)
    out["trunk_band_changed"] = float(rula.trunk_score(a.trunk_flexion) != rula.trunk_score(p.trunk_flexion))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--postures", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    dims = BodyDimensions.from_stature(1.72)
    prng = random.Random(args.seed)
    postures = [random_posture(prng) for _ in range(args.postures)]
    for noise_cm in (0.0, 1.0, 2.0):
        rng = np.random.default_rng(args.seed)
        rows = [measure(p, noise_cm / 100, rng, dims) for p in postures]
        print(f"landmark noise {noise_cm:.0f} cm (sd per coordinate), {len(postures)} postures")
        for key in rows[0]:
            vals = np.array([r[key] for r in rows])
            if key.endswith("band_changed"):
                print(f"  {key:32s} {100 * vals.mean():5.1f} % of postures")
            else:
                err = np.abs(vals)
                print(f"  {key:32s} mean |error| {err.mean():6.2f} deg   95th pct {np.percentile(err, 95):6.2f} deg")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
