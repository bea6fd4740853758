"""`cell calibrate ...`: tie the projector and the camera to the bench.

    cell calibrate projector CONFIG                          live: project white, then the pattern; take frames
    cell calibrate projector CONFIG --camera-image P.png [--markers-image W.png]
                                                             offline: from a photo taken while the pattern was
                                                             projected (and one with the projector white)
    cell calibrate projector CONFIG --save-pattern P.png     only write the pattern, to project by other means

Writes the bench->projector mapping to ``projector.calibration`` (or
``--out``) and the camera->bench mapping beside it (``<name>.camera.yaml``).
Exit 0: written. Exit 1: refused (every reason printed, nothing written).
Exit 2: wrong use or a part that does not open (camera, display, file).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

calibrate_app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0])


@calibrate_app.callback()
def _calibrate() -> None:
    """Tie the projector and the camera to bench millimetres (docs/calibration.md)."""
    # a callback keeps `projector` a sub-command even while it is the only one


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _read_image(path: Path, what: str):
    import cv2

    if not path.is_file():
        raise _fail(f"{what} {path}: no such file")
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise _fail(f"{what} {path}: not an image OpenCV can read (PNG or JPEG)")
    return image


def _camera_source(source):
    """camera.source as VideoCapture wants it: a device index or a URL / file name."""
    if isinstance(source, str) and source.strip().isdigit():
        return int(source.strip())
    return source


class _LiveRig:
    """The projector (pygame, full screen on projector.display) and the camera (OpenCV VideoCapture)."""

    def __init__(self, cfg, settle_s: float) -> None:
        import cv2

        self.settle_s = settle_s
        self.source = cfg.camera.source
        source = _camera_source(cfg.camera.source)
        self.cap = cv2.VideoCapture(source)
        if not self.cap.isOpened():
            raise _fail(f"camera {cfg.camera.source!r} (camera.source) does not open: is it plugged in, "
                        f"is the index or URL right, is another program (a running cell) using it?")
        w, h = cfg.camera.resolution
        self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, w)
        self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, h)
        from projection.renderer import ProjectorWindow

        try:
            self.window = ProjectorWindow(cfg.projector.display, cfg.projector.resolution, fullscreen=True,
                                          title="projector calibration")
        except Exception as exc:  # ValueError (no such display) or pygame.error
            self.cap.release()
            raise _fail(f"projector display {cfg.projector.display} (projector.display): {exc}") from None

    def announce(self, cfg) -> None:
        """The calibration screen, in the cell's language, for the settle time."""
        from projection.bench_view import calibration_view
        from projection.geometry import BenchToProjector
        from projection.renderer import BenchRenderer

        pj = cfg.projector
        mapping = BenchToProjector.default(cfg.bench.width_mm, cfg.bench.depth_mm, *pj.resolution)
        self.window.show(BenchRenderer(pj.resolution, mapping).render(calibration_view(cfg), 0.0))
        time.sleep(self.settle_s)

    def show(self, image) -> None:
        import numpy as np
        import pygame

        rgb = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image[:, :, ::-1]
        self.window.show(pygame.surfarray.make_surface(np.ascontiguousarray(rgb.transpose(1, 0, 2))))

    def grab(self):
        """A frame taken after the projector settled: stale buffered frames dropped, 4 frames averaged."""
        import numpy as np
        import pygame

        end = time.monotonic() + self.settle_s
        while time.monotonic() < end:
            pygame.event.pump()
            time.sleep(0.02)
        for _ in range(5):
            self.cap.grab()
        frames = []
        for _ in range(4):
            ok, frame = self.cap.read()
            if ok and frame is not None:
                frames.append(frame.astype(np.float32))
        if not frames:
            raise _fail(f"camera {self.source!r} (camera.source) opened but gives no frames")
        return np.clip(np.mean(frames, axis=0) + 0.5, 0, 255).astype(np.uint8)

    def close(self) -> None:
        self.cap.release()
        self.window.close()


@calibrate_app.command("projector")
def projector(
    config: Path = typer.Argument(..., help="the cell YAML (camera.bench_markers, projector.resolution)"),
    camera_image: Optional[Path] = typer.Option(
        None, "--camera-image", help="calibrate from this photo instead of a live camera: taken by the cell's "
        "camera, from its working place, while the pattern (--save-pattern) was projected full screen"),
    markers_image: Optional[Path] = typer.Option(
        None, "--markers-image", help="with --camera-image: a photo from the same place with the projector "
        "showing plain white; the bench markers are read from it (default: from --camera-image)"),
    out: Optional[Path] = typer.Option(
        None, "--out", help="write the bench->projector file here (default: projector.calibration of CONFIG); "
        "the camera->bench file goes beside it"),
    save_pattern: Optional[Path] = typer.Option(
        None, "--save-pattern", help="write the pattern as a PNG at the projector's resolution; without "
        "--camera-image, stop there"),
    save_frames: Optional[Path] = typer.Option(
        None, "--save-frames", help="live camera: also keep the camera frames (PNG) in this folder"),
    settle_s: float = typer.Option(1.0, "--settle-s", help="live camera: wait this long after the projector "
                                   "changes its image before taking a frame"),
) -> None:
    """Calibrate the projector (and the camera) to bench millimetres; refuse if it is not accurate enough."""
    import cv2

    from cell.cli import _load
    from projection.calibration import (
        calibrate,
        charuco_pattern,
        run_calibration,
        save_calibration,
    )

    cfg = _load(config)
    pj = cfg.projector
    pattern, _board, layout = charuco_pattern(pj.resolution)
    if markers_image is not None and camera_image is None:
        raise _fail("--markers-image goes with --camera-image (a photo of the projected pattern)")
    if save_pattern is not None:
        save_pattern.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(save_pattern), pattern):
            raise _fail(f"{save_pattern}: cannot write a PNG there")
        typer.echo(f"pattern: {save_pattern} ({pj.resolution[0]}x{pj.resolution[1]} px, {layout.squares[0]}x"
                   f"{layout.squares[1]} squares, {layout.corner_count} corners)")
        if camera_image is None:
            typer.echo("next: show it full screen on the projector, unscaled; photograph the bench with the cell's "
                       "camera; show plain white and photograph again; then\n"
                       f"  cell calibrate projector {config} --camera-image PATTERN_PHOTO.png "
                       f"--markers-image WHITE_PHOTO.png")
            return
    if out is not None:
        target = out
    elif pj.calibration is not None:
        target = cfg.resolve(pj.calibration)
    else:
        raise _fail(f"{config}: nowhere to write the calibration: set projector.calibration (e.g. "
                    f"calibration/projector.json, relative to the config) or pass --out")
    if not cfg.camera.bench_markers:
        raise _fail(f"{config}: camera.bench_markers is empty: list the ArUco markers on the bench (id, x_mm, "
                    f"y_mm, size_mm), at least 4, one near each bench corner (docs/calibration.md)")

    bench = (cfg.bench.width_mm, cfg.bench.depth_mm)
    if camera_image is not None:
        image = _read_image(camera_image, "--camera-image")
        marker_frame = _read_image(markers_image, "--markers-image") if markers_image is not None else None
        try:
            result = calibrate(image, layout, cfg.camera.bench_markers, marker_image=marker_frame,
                               bench_size_mm=bench)
        except ValueError as exc:  # e.g. the two photos differ in size
            raise _fail(f"--camera-image {camera_image}: {exc}") from None
        source = f"photo {camera_image}" + (f" (markers from {markers_image})" if markers_image else "")
    else:
        if cfg.camera.source == "sim":
            raise _fail(f"{config}: camera.source is sim: calibration needs a real camera (camera.source: a "
                        f"device index such as 0, or an rtsp:// URL) or a photo of the projected pattern "
                        f"(--camera-image PHOTO.png; --save-pattern writes the pattern)")
        rig = _LiveRig(cfg, settle_s)
        frames: dict = {}
        try:
            rig.announce(cfg)  # "Calibrating: keep the bench clear" while the camera starts
            result = run_calibration(cfg, rig.grab, rig.show, frames=frames)
        finally:
            rig.close()
        if save_frames is not None:
            save_frames.mkdir(parents=True, exist_ok=True)
            for name, frame in frames.items():
                cv2.imwrite(str(save_frames / f"calibration-{name}.png"), frame)
            typer.echo(f"camera frames: {save_frames}")
        source = f"camera {cfg.camera.source!r}, projector display {pj.display}"

    typer.echo(f"projector calibration of {cfg.cell.id}: bench {bench[0]:g} x {bench[1]:g} mm, projector "
               f"{pj.resolution[0]}x{pj.resolution[1]}, {source}")
    for line in result.summary():
        typer.echo(f"  {line}")
    for note in result.notes:
        typer.echo(f"  note: {note}")
    reasons = result.refusals(pj.max_residual_mm)
    if reasons:
        typer.echo(f"refused, nothing written ({len(reasons)} reason{'s' if len(reasons) != 1 else ''}):", err=True)
        for r in reasons:
            typer.echo(f"  - {r}", err=True)
        raise typer.Exit(1)
    written = save_calibration(result, target)
    typer.echo(f"accepted (mean on the bench {result.bench_residual_mm.mean:.2f} mm, markers "
               f"{result.marker_residual_mm.mean:.2f} mm; limit {pj.max_residual_mm:g} mm)")
    typer.echo(f"written: {written[0]}\n         {written[1]}")
    if pj.calibration is None or cfg.resolve(pj.calibration) != target.resolve():
        typer.echo(f"the projection node reads projector.calibration: set it to {target} in {config} to use this")
