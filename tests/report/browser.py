"""Loading a page in headless Chromium: its DOM after scripts ran, its console, a screenshot.

Why these three: the DOM shows whether the page's own script finished (it sets
`data-report-ready`) and whether the error handler in <head> caught anything
(`#report-errors`); Chromium's stderr log (`--enable-logging=stderr`) carries every
console message; the screenshot, decoded, shows the page is not blank. One Chromium
run gives all three (`--dump-dom` together with `--screenshot`).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import image

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)


@dataclass
class LoadedPage:
    dom: str
    console: list[str]  # console messages Chromium logged
    screenshot: Path

    @property
    def page_errors(self) -> str:
        found = re.search(r'<pre id="report-errors"[^>]*>(.*?)</pre>', self.dom, re.S)
        return found.group(1).strip() if found else "#report-errors missing from the page"

    @property
    def ready(self) -> bool:
        return 'data-report-ready="1"' in self.dom


def load(url: str, tmp: Path, *, height: int = 3000) -> LoadedPage:
    """Open `url` (file:// or http://) once; the profile lives in `tmp`."""
    shot = tmp / "screenshot.png"
    done = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp / 'profile'}",
            f"--window-size=1280,{height}",
            f"--screenshot={shot}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return LoadedPage(done.stdout, console, shot)


def colour_stats(png: Path) -> tuple[int, float]:
    """(distinct colours, share of the most common colour) of a screenshot."""
    rgb = (image.imread(png)[..., :3] * 255).astype(np.uint32).reshape(-1, 3)
    packed = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    _, counts = np.unique(packed, return_counts=True)
    return len(counts), float(counts.max() / counts.sum())
