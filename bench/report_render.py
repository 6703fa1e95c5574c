"""How long report.html takes to render, how big it is, and how long Chromium takes to
open it, for synthetic 10k- and 100k-op runs (valid, and invalid linearizability).

    python bench/report_render.py [--sizes 10000,100000] [--no-browser]

Each run directory is generated (tests/report/builders.py: a register history spread
over the run with two fault windows, node events with one append/commit/apply per write
per node, results.json by the real checkers), then timed: `render` is write_report with
the ops already read (what the runner does), `+read` also reads history.jsonl (what
`serve` does), `chromium` is a headless Chromium process loading the file until its DOM
is dumped (startup included: an upper bound on "opens in"; the same for a blank page is
printed first as the baseline). One small report is rendered first so imports and
matplotlib's font cache are not counted.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.report import write_report  # noqa: E402
from tests.report.browser import CHROMIUM, load  # noqa: E402
from tests.report.builders import make_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    browser = not args.no_browser and Path(CHROMIUM).exists()
    print(
        f"{'ops':>7} {'kind':<15} {'history MB':>10} {'events':>9} {'render s':>8} "
        f"{'+read s':>8} {'report KB':>9} {'chromium s':>10}"
    )
    root = Path(tempfile.mkdtemp(prefix="report-bench-"))
    try:
        warm = make_run(root / "warm-up", "valid", n_ops=200)
        write_report(warm.path, warm.spec, warm.results, warm.ops)
        if browser:
            blank = root / "blank.html"
            blank.write_text("<!doctype html><title>blank</title><body>blank</body>")
            started = time.perf_counter()
            load(blank.as_uri(), root)
            print(f"chromium on a blank page: {time.perf_counter() - started:.2f} s")
        for n_ops in (int(s) for s in args.sizes.split(",")):
            for kind in ("valid", "linearizability"):
                base = root / f"{kind}-{n_ops}"
                run = make_run(base, kind, n_ops=n_ops, duration_s=n_ops / 150, writes=n_ops // 3)
                history_mb = (run.path / "history.jsonl").stat().st_size / 2**20
                events = sum(
                    sum(1 for _ in p.open()) for p in (run.path / "nodes").glob("*/events.jsonl")
                )
                started = time.perf_counter()
                path = write_report(run.path, run.spec, run.results, run.ops)
                render_s = time.perf_counter() - started
                started = time.perf_counter()
                write_report(run.path, None, run.results)
                read_s = time.perf_counter() - started
                opened = "-"
                if browser:
                    started = time.perf_counter()
                    page = load(path.as_uri(), base)
                    opened = f"{time.perf_counter() - started:.2f}"
                    assert page.ready and not page.console, page.console
                print(
                    f"{n_ops:>7} {kind:<15} {history_mb:>10.1f} {events:>9} {render_s:>8.2f} "
                    f"{read_s:>8.2f} {path.stat().st_size / 1024:>9.0f} {opened:>10}",
                    flush=True,
                )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
