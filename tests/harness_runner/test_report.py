"""The runner's report seam: a real (null DB) run ends with a report that has its plots,
its clock anchor and the seed in its reproduce line; `write_report` takes the ops the
runner already read, positionally, as the runner calls it."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from checkers.history import read_jsonl
from harness.recorder import read_t0_wall_ns
from harness.report import write_report
from harness.runner import Runner
from tests.harness_runner.helpers import null_spec


def test_a_run_writes_a_report_that_write_report_can_redo_from_given_ops(tmp_path: Path) -> None:
    before = time.time_ns()
    run_dir = Runner(null_spec(tmp_path)).run().run_dir
    t0 = read_t0_wall_ns(run_dir)
    assert t0 is not None and before <= t0 <= time.time_ns()  # clock.json: history time 0
    html = (run_dir / "report.html").read_text()
    assert 'id="plot-latency-raw"' in html and 'id="plot-throughput"' in html
    seed = re.search(r"^seed: (\d+)$", (run_dir / "test.yaml").read_text(), re.M)
    command = re.search(r'<pre id="reproduce">(.*?)</pre>', html, re.S)
    assert seed and command and f"--seed {seed.group(1)}" in command.group(1)
    assert "--db null" in command.group(1)

    ops = read_jsonl(run_dir / "history.jsonl").ops
    results = json.loads((run_dir / "results.json").read_text())
    (run_dir / "history.jsonl").unlink()  # proof that the given ops are used, not re-read
    path = write_report(run_dir, None, results, ops)
    assert path == run_dir / "report.html"
    assert f"from {len(ops)} history events" in path.read_text()
