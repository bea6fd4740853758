"""Make the screenshots in docs/web/: two simulated cells, `cell web` on both, headless Chromium at 1280x800.

    .venv/bin/python docs/web/make-screenshots.py

Needs Debian's chromium (/usr/bin/chromium). Everything runs from copies in a temporary folder;
the cells' own files are not touched. Bench 2 asks for help; the coach has answered it on the
cell view's shot, not yet on the floor's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from cell.bus import Publisher
    from cell.config_loader import load_config
    from cell.demo import free_base_port
    from cell.messages import TaskEvent
    from cell.nodes import endpoints
    from playwright.sync_api import sync_playwright
    import zmq

    tmp = Path(tempfile.mkdtemp(prefix="cell-web-shots-"))
    import shutil

    shutil.copytree(ROOT / "configs", tmp / "configs")
    yaml = YAML()
    paths = []
    port = free_base_port(count=1, start=28180)
    for n, operator in ((1, "op-novice-01"), (2, "op-limited-03")):
        data = yaml.load((ROOT / "configs" / "lamp-cell.yaml").read_text())
        data["cell"]["id"] = f"lamp-cell-{n}"
        data["cell"]["name"] = f"Desk lamp, bench {n}"
        data["bus"]["base_port"] = free_base_port(start=26650 + 20 * n)
        data["store"]["path"] = f"../data/lamp-cell-{n}.sqlite"
        data["web"]["port"] = port
        data["web"]["reports"] = str(ROOT / "docs" / "reports")
        path = tmp / "configs" / f"lamp-cell-{n}.yaml"
        with open(path, "w") as f:
            yaml.dump(data, f)
        paths.append((path, operator))
    (tmp / "configs" / "names.yaml").write_text("op-novice-01: Jan\nop-limited-03: Fatima\n")
    first = yaml.load(paths[0][0].read_text())
    first["web"]["names"] = "names.yaml"
    with open(paths[0][0], "w") as f:
        yaml.dump(first, f)
    # a log for bench 1 where two steps gave trouble, so the adaptations page has something to show
    from cell.store import EventStore
    from tests.test_adaptation import _rows

    cfg1 = load_config(paths[0][0])
    store = EventStore(cfg1.resolve(cfg1.store.path), operator_id="op-novice-01")
    store.append_many(_rows(cfg1, "op-novice-01", slow={"insert_stem": 3.0}, high={"screw_stem": 0.8}))
    store.close()
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    subprocess.run([sys.executable, "-m", "cell", "coach", "add", str(paths[0][0]), "els", "--name", "Els",
                    "--password-stdin"], input="screenshots-only\n", text=True, check=True, env=env)
    procs = [subprocess.Popen([sys.executable, "-m", "cell", "run", str(p), "--operator", op, "--speed", "3",
                               "--state-dir", str(tmp / f"state-{i}"), "--frames-dir", str(tmp / f"frames-{i}")],
                              env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for i, (p, op) in enumerate(paths)]
    procs.append(subprocess.Popen([sys.executable, "-m", "cell", "web", *(str(p) for p, _ in paths)], env=env,
                                  start_new_session=True))
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{base}/login", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(40)  # let the cells work a little: progress, events, a minute of trends
        ctx = zmq.Context()
        pub = Publisher(ctx, endpoints(load_config(paths[1][0])).pub)
        time.sleep(0.5)
        pub.send(TaskEvent(src="vision", t=time.monotonic(), kind="help", detail="help button"))
        time.sleep(20)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{base}/login")
            page.fill("input[name=username]", "els")
            page.fill("input[name=password]", "screenshots-only")
            page.click("button[type=submit]")
            page.wait_for_selector(".tile.help")
            page.wait_for_timeout(1000)
            page.screenshot(path=str(OUT / "floor.png"))
            page.locator(".tile.help").get_by_role("button", name="On my way").click()
            page.wait_for_selector(".coming")
            page.goto(f"{base}/cell/lamp-cell-2")
            page.wait_for_timeout(2500)
            page.screenshot(path=str(OUT / "cell.png"))
            page.goto(f"{base}/cell/lamp-cell-1/adapt")
            page.wait_for_timeout(500)
            page.screenshot(path=str(OUT / "adaptations.png"))
            browser.close()
        pub.close()
        ctx.term()
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGINT)
        for p in procs:
            p.wait(20)
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
