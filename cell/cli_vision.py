"""`cell vision probe IMAGE_OR_VIDEO`: what the camera path sees, frame by frame, as JSON.

One JSON object per frame (one per line): ``world_landmarks`` (metres) and
``image_landmarks`` (normalised image coordinates), each 33 rows of
``[x, y, z, visibility]`` in MediaPipe's order; ``hands`` (21 world landmarks per
hand that was found, else null); and ``angles``, ``rula`` and ``reba`` in the
shape `cell ergonomics score` prints. MediaPipe runs on the models inside its
wheel: nothing is downloaded. Exits 1 when no frame shows a person.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

vision_app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0])


def _frames(path: Path, max_frames: int):
    """(index, BGR image) of a photo, or of a video file / folder of images (every frame, in order)."""
    import cv2

    from cell.vision.camera import IMAGE_SUFFIXES

    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        bgr = cv2.imread(str(path))
        if bgr is None:
            raise typer.BadParameter(f"{path}: not an image OpenCV can read")
        yield 0, bgr
        return
    from cell.vision.camera import open_capture

    cap = open_capture(str(path))  # every frame in order (the live source would skip to the newest)
    try:
        if not cap.isOpened():
            raise typer.BadParameter(f"{path}: not a video or folder of images OpenCV can read")
        for index in range(max_frames):
            ok, bgr = cap.read()
            if not ok or bgr is None:
                return
            yield index, bgr
    finally:
        cap.release()


def _annotate(bgr, result, out: Path) -> None:
    import cv2
    import mediapipe as mp

    img = bgr.copy()
    h, w = img.shape[:2]
    pts = [(int(x * w), int(y * h)) for x, y, _ in result.image]
    for a, b in mp.solutions.pose.POSE_CONNECTIONS:
        if result.visibility[a] > 0.5 and result.visibility[b] > 0.5:
            cv2.line(img, pts[a], pts[b], (0, 228, 240), 2, cv2.LINE_AA)
    for p, v in zip(pts, result.visibility):
        if v > 0.5:
            cv2.circle(img, p, 4, (233, 180, 86), -1, cv2.LINE_AA)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), img)


@vision_app.command("probe")
def probe(source: Path = typer.Argument(..., help="a photograph, a video file or a folder of images"),
          out: Optional[Path] = typer.Option(None, "--out", "-o", help="also write the first frame with a person, "
                                             "its landmarks drawn, to this PNG"),
          max_frames: int = typer.Option(300, help="stop after this many frames of a video")) -> None:
    """Body and hand landmarks and RULA/REBA of every frame, one JSON object per line."""
    import cv2

    from cell.vision.camera import IMAGE_SUFFIXES
    from cell.vision.pose import MediaPipePose
    from ergonomics.scoring import score_document

    if not source.exists():
        typer.echo(f"{source}: no such file or folder", err=True)
        raise typer.Exit(2)
    still = source.is_file() and source.suffix.lower() in IMAGE_SUFFIXES
    pose = MediaPipePose(static_image=still)
    found = frames = 0
    try:
        for index, bgr in _frames(source, max_frames):
            frames += 1
            result = pose.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            if result is None:
                typer.echo(json.dumps({"frame": index, "person": False}))
                continue
            found += 1
            doc = result.as_document()
            scored = score_document(doc)
            typer.echo(json.dumps({
                "frame": index, "person": True,
                "world_landmarks": doc["world_landmarks"],
                "image_landmarks": [[*map(float, p), float(v)] for p, v in zip(result.image, result.visibility)],
                "hands": {side: doc.get(f"{side}_hand_landmarks") for side in ("left", "right")},
                "angles": scored["angles"], "rula": scored["rula"], "reba": scored["reba"],
            }))
            if out is not None and found == 1:
                _annotate(bgr, result, out)
    finally:
        pose.close()
    if frames == 0:
        typer.echo(f"{source}: no frame could be read", err=True)
        raise typer.Exit(2)
    if found == 0:
        typer.echo(f"{source}: no person found in {frames} frame(s); is the whole upper body in view and lit?",
                   err=True)
        raise typer.Exit(1)
