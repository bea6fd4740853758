"""`cell ergonomics score` and `cell ergonomics landmarks`: posture documents in, explained RULA/REBA out.

Golden values are worked by hand from the published tables (ergonomics/data/rula-reba-tables.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ergonomics.scoring import PostureDocumentError, score_document

ROOT = Path(__file__).resolve().parent.parent

# Upper arm 50 deg flexion -> 3; lower arm 80 deg -> 1; wrist 10 deg -> 2; twist mid-range -> 1.
# RULA Table A, row UA3/LA1 (3 3 4 4 4 4 5 5), column W2 t1 -> 4.
# Neck 15 deg -> 2; trunk 25 deg -> 3; legs supported -> 1. Table B, row neck 2, column T3 L1 -> 4.
# Load 3 kg intermittent -> force 1, no muscle use: C = 4 + 1 = 5, D = 4 + 1 = 5.
# Table C row 5 (4 4 4 5 6 7 7), column 5 -> 6: action level 3 (grand 5-6).
HAND_WORKED = {
    "angles": {"neck_flexion": 15, "trunk_flexion": 25,
               "left": {"upper_arm_flexion": 50, "lower_arm_flexion": 80, "wrist_flexion": 10, "wrist_deviation": 0},
               "right": {"upper_arm_flexion": 10, "lower_arm_flexion": 80, "wrist_flexion": 0, "wrist_deviation": 0}},
    "load_kg": 3,
}


def test_hand_worked_rula_example():
    r = score_document(HAND_WORKED)["rula"]
    assert r["worse_side"] == "left"
    assert (r["upper_arm"], r["lower_arm"], r["wrist"], r["wrist_twist"], r["table_a"]) == (3, 1, 2, 1, 4)
    assert (r["neck"], r["trunk"], r["legs"], r["table_b"]) == (2, 3, 1, 4)
    assert (r["force_load"], r["muscle_use"], r["score_c"], r["score_d"]) == (1, 0, 5, 5)
    assert (r["grand_score"], r["action_level"]) == (6, 3)
    # the right arm hangs (10 deg -> 1) with a neutral wrist (1): Table A UA1/LA1/W1 t1 -> 1; C = 1 + 1 = 2,
    # Table C row 2 column 5 -> 4
    assert (r["right"]["table_a"], r["right"]["score_c"], r["right"]["grand_score"]) == (1, 2, 4)


def test_hand_worked_reba_example():
    # REBA: trunk 25 deg -> 3, neck 15 deg -> 1, legs bilateral -> 1: Table A neck 1, trunk 3 -> "2 4 5 6", legs 1 -> 2.
    # Load 3 kg (< 5) -> 0: score A = 2.  Left arm: upper arm 50 -> 3, lower arm 80 -> 1, wrist 10 -> 1:
    # Table B lower arm 1, UA 3 -> "3 4 5", wrist 1 -> 3; coupling good 0: score B = 3.
    # Table C row 2 (1 2 2 3 4 4 5 6 6 7 7 8), column 3 -> 2; activity 0: REBA 2, action level 1 (low).
    r = score_document(HAND_WORKED)["reba"]
    left = r["left"]
    assert (left["trunk"], left["neck"], left["legs"], left["table_a"], left["score_a"]) == (3, 1, 1, 2, 2)
    assert (left["upper_arm"], left["lower_arm"], left["wrist"], left["table_b"], left["score_b"]) == (3, 1, 1, 3, 3)
    assert (left["table_c"], left["score"], left["action_level"], left["risk"]) == (2, 2, 1, "low")


def test_adjustments_are_named():
    doc = {"angles": {"neck_flexion": 15, "neck_twist": 20, "trunk_flexion": 5,
                      "left": {"upper_arm_flexion": 30, "upper_arm_abduction": 35, "shoulder_raised": True,
                               "lower_arm_flexion": 80, "across_midline": True}},
           "static": True, "coupling": "poor", "load_kg": 6}
    r = score_document(doc)
    adj = " | ".join(r["rula"]["left"]["adjustments"])
    assert "shoulder raised" in adj and "abducted" in adj and "across the midline" in adj
    assert "neck +1: twisted" in adj and "muscle use +1" in adj and "wrist not seen" in adj
    # 30 deg flexion -> 2, +1 raised, +1 abducted = 4
    assert r["rula"]["left"]["upper_arm"] == 4
    reba_adj = " | ".join(r["reba"]["left"]["adjustments"])
    assert "coupling: poor" in reba_adj and "activity +1" in reba_adj and "load: 6 kg" in reba_adj
    assert r["reba"]["left"]["coupling"] == 2 and r["reba"]["left"]["load"] == 1


@pytest.mark.parametrize("doc,words", [
    ({"world_landmarks": [[0, 0, 0, 1]] * 20}, "33 rows"),
    ({"angles": {"left": {"elbow": 3}}}, "unknown left arm angle"),
    ({"angles": {}, "weight": 3}, "unknown key"),
    ({"angles": {}, "coupling": "sticky"}, "allowed: good, fair, poor, unacceptable"),
    ({"something": 1}, "world_landmarks"),
])
def test_bad_documents_say_what_is_expected(doc, words):
    with pytest.raises(PostureDocumentError, match=words):
        score_document(doc)


def cell(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cell", "ergonomics", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_cli_scores_a_yaml_angles_file_and_rejects_garbage(tmp_path):
    f = tmp_path / "posture.yaml"
    f.write_text("angles:\n  neck_flexion: 15\n  trunk_flexion: 25\n  left: {upper_arm_flexion: 50, "
                 "lower_arm_flexion: 80, wrist_flexion: 10, wrist_deviation: 0}\nload_kg: 3\n")
    r = cell("score", str(f))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["rula"]["grand_score"] == 6 and out["rula"]["action_level"] == 3
    assert out["reba"]["score"] >= 1 and out["reba"]["action_level"] in range(5)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = cell("score", str(bad))
    assert r.returncode == 2 and "bad.json" in r.stderr


@pytest.mark.slow
def test_real_photograph_through_mediapipe_gives_complete_plausible_scores(tmp_path):
    """The astronaut photograph that ships inside scikit-image, through MediaPipe's own models."""
    import cv2
    import skimage.data

    image = tmp_path / "astronaut.png"
    cv2.imwrite(str(image), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    frame = tmp_path / "frame.json"
    r = cell("landmarks", str(image), "--out", str(frame))
    assert r.returncode == 0, r.stderr
    doc = json.loads(frame.read_text())
    rows = doc["world_landmarks"]
    assert len(rows) == 33 and all(len(row) == 4 for row in rows)
    assert min(rows[11][3], rows[12][3], rows[0][3]) > 0.9  # shoulders and nose clearly seen
    assert abs((rows[23][0] + rows[24][0]) / 2) < 0.05  # world frame is hip-centred
    r = cell("score", str(frame))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    rula, reba = out["rula"], out["reba"]
    for part in ("upper_arm", "lower_arm", "wrist", "wrist_twist", "table_a", "neck", "trunk", "legs", "table_b",
                 "score_c", "score_d", "grand_score", "action_level"):
        assert isinstance(rula[part], int) and isinstance(rula["left"][part], int) and isinstance(rula["right"][part], int)
    assert 1 <= rula["grand_score"] <= 7 and 1 <= rula["action_level"] <= 4
    assert 1 <= reba["score"] <= 15 and 0 <= reba["action_level"] <= 4
    # she stands upright holding a helmet at her chest: arms low, trunk near upright
    assert rula["upper_arm"] <= 2 and rula["trunk"] <= 3 and rula["neck"] <= 3
    assert rula["grand_score"] <= 4
    # the hands are not found in this photo: the wrists are reported as not seen, not as neutral
    assert rula["wrist_measured"] is False and any("wrist not seen" in a for a in rula["adjustments"])
    assert 0 < rula["confidence"] < 0.5
