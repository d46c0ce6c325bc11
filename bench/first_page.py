"""The newcomer's wait (issue 16): from ``./scripts/demo`` finishing to the first Today page with the demo's day.

    .venv/bin/python -m bench.first_page [--runs 3]

In a temporary data directory (XDG_DATA_HOME), ``kinetic demo --speed 0`` stores the demo's day; the clock starts
when it exits. Then, as the README's tour says, ``kinetic serve`` (a free loopback port, no other setting) and a
client that asks, every 50 ms, for the first wearer's Today page and its day data (``today.json``) until both
answer 200 with the day's posture timeline non-empty. Reported per run and as the median, in seconds: the time to
the URL printed and to the first full page. No broker runs (as after the demo): the page shows the stored day.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except OSError:
        return 0, b""


def one_run(base: Path) -> tuple[float, float]:
    env = {**os.environ, "XDG_DATA_HOME": str(base / "data"), "KINETIC_WEB__PORT": "0"}
    env.pop("KINETIC_STORE__KIND", None)
    kinetic = [sys.executable, "-m", "kinetic"]
    subprocess.run([*kinetic, "demo", "--speed", "0"], env=env, check=True, capture_output=True)
    started = time.monotonic()
    log = (base / "serve.log").open("w+b")
    serve = subprocess.Popen([*kinetic, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = None
        while url is None:
            log.seek(0)
            found = re.search(rb"open (http://\S+)", log.read())
            url = found.group(1).decode() if found else None
            if serve.poll() is not None:
                raise SystemExit(f"kinetic serve stopped: {(base / 'serve.log').read_text()}")
            time.sleep(0.02)
        listening = time.monotonic() - started
        while True:
            status, _ = _get(f"{url}w/alice/today")
            if status == 200:
                status, body = _get(f"{url}w/alice/today.json")
                if status == 200 and json.loads(body)["timeline"]:
                    return listening, time.monotonic() - started
            time.sleep(0.05)
    finally:
        serve.terminate()
        serve.wait(20)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    pages = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            listening, page = one_run(Path(tmp))
        pages.append(page)
        print(f"run {i + 1}: URL printed after {listening:.2f} s, first full Today page after {page:.2f} s")
    print(f"median over {args.runs} runs: {statistics.median(pages):.2f} s from the demo's end to the first Today page")


if __name__ == "__main__":
    main()
