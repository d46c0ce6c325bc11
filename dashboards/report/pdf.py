"""The report's HTML printed to PDF by headless Chromium (its own print engine: the page size and margins are the
HTML's CSS ``@page``). An adapter: runs the ``chromium`` program (Debian's package; ``scripts/test`` installs it)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from ingest.errors import ConfigError

_LOGGER = logging.getLogger(__name__)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 120


def find_chromium() -> str:
    """The path of a Chromium (or Chrome) program: ``KINETIC_CHROMIUM`` if set, else the first of BROWSERS on PATH.
    Raises ConfigError naming what to install."""
    chosen = os.environ.get("KINETIC_CHROMIUM")
    if chosen:
        return chosen
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError(
        "--pdf needs Chromium to print the report: install it (Debian: apt-get install chromium) or set "
        "KINETIC_CHROMIUM to the browser's path; the HTML report was written and prints from any browser"
    )


def print_pdf(html_path: Path) -> Path:
    """Print ``html_path`` to the same name with ``.pdf`` (blocking; run it in a thread from async code). Raises
    ConfigError when Chromium is missing or fails."""
    pdf_path = html_path.with_suffix(".pdf")
    browser = find_chromium()
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",  # root in containers and CI has no user namespace for the sandbox; the page is our own file
        "--disable-gpu",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf_path}",
        html_path.resolve().as_uri(),
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"--pdf: {browser} did not print {html_path} ({exc})") from None
    if done.returncode != 0 or not pdf_path.exists() or pdf_path.stat().st_size == 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise ConfigError(f"--pdf: {browser} did not print {html_path} (exit {done.returncode}: {last})")
    pdf_path.chmod(0o600)  # health data: the owner's only, as the HTML it was printed from
    _LOGGER.debug("%s: printed to %s", html_path, pdf_path)
    return pdf_path
