"""`cell vision probe` on a real photograph that ships in a package (scikit-image's astronaut), offline."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from cell.cli import app

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR))
    return path


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.mark.timeout(120)
def test_probe_of_a_photograph_gives_plausible_landmarks_and_scores(astronaut, tmp_path):
    out = tmp_path / "annotated.png"
    r = CliRunner().invoke(app, ["vision", "probe", str(astronaut), "--out", str(out)])
    assert r.exit_code == 0, r.output
    (doc,) = lines(r.output)
    assert doc["person"] and len(doc["world_landmarks"]) == 33 and len(doc["image_landmarks"]) == 33
    assert all(len(row) == 4 for row in doc["world_landmarks"] + doc["image_landmarks"])
    img = np.array(doc["image_landmarks"])
    nose, l_sh, r_sh = img[0], img[11], img[12]
    # the face is above the shoulders, the shoulders apart, everything inside the picture
    assert nose[1] < l_sh[1] and nose[1] < r_sh[1] and abs(l_sh[0] - r_sh[0]) > 0.3
    assert 0.0 <= nose[0] <= 1.0 and 0.0 <= nose[1] <= 1.0 and nose[3] > 0.9
    world = np.array(doc["world_landmarks"])[:, :3]
    assert 0.25 < np.linalg.norm(world[11] - world[12]) < 0.6  # shoulder width in metres
    # RULA and REBA in the shape `cell ergonomics score` prints
    assert 1 <= doc["rula"]["grand_score"] <= 7 and doc["rula"]["worse_side"] in ("left", "right")
    assert 1 <= doc["reba"]["score"] <= 15 and "upper_arm" in doc["rula"]
    assert set(doc["hands"]) == {"left", "right"}
    assert cv2.imread(str(out)).shape == (512, 512, 3)


@pytest.mark.timeout(120)
def test_probe_says_so_when_nobody_is_there(tmp_path):
    empty = tmp_path / "bench.png"
    cv2.imwrite(str(empty), np.full((480, 640, 3), 90, np.uint8))
    r = CliRunner().invoke(app, ["vision", "probe", str(empty)])
    assert r.exit_code == 1 and "no person found" in r.output


@pytest.mark.timeout(120)
def test_probe_of_a_video_gives_one_line_per_frame(astronaut, tmp_path):
    video = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (512, 512))
    photo = cv2.imread(str(astronaut))
    for frame in [photo, photo, np.full_like(photo, 90), photo]:
        w.write(frame)
    w.release()
    r = CliRunner().invoke(app, ["vision", "probe", str(video)])
    assert r.exit_code == 0, r.output
    docs = lines(r.output)
    assert [d["frame"] for d in docs] == [0, 1, 2, 3]
    assert [d["person"] for d in docs] == [True, True, False, True]
