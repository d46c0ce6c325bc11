"""The README's screenshot of `kinetic serve`: ``python -m tests.support.screenshot docs/img/web-today.png``.

Plays the demo's default day into a fresh home folder (no settings, as a newcomer), starts `kinetic serve` on it and
takes the Today page of the first wearer with Debian's Chromium (Playwright), 1100 px wide."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.support.servers import free_port

CHROMIUM = "/usr/bin/chromium"


def main(out: Path) -> None:
    home = Path(tempfile.mkdtemp(prefix="kinetic-shot-"))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
    kinetic = [sys.executable, "-m", "kinetic"]
    subprocess.run([*kinetic, "demo", "--speed", "0", "--json"], env=env, cwd=home, check=True, capture_output=True)
    port = free_port()
    serve = subprocess.Popen(
        [*kinetic, "serve"], env=env | {"KINETIC_WEB__PORT": str(port)}, cwd=home, stderr=subprocess.DEVNULL
    )
    try:
        url = f"http://127.0.0.1:{port}/w/alice/today"
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(url, wait_until="networkidle")
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=False)
            browser.close()
    finally:
        serve.terminate()
        serve.wait(10)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
