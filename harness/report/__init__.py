"""report.html for one run: verdicts and the command that reproduces the run, latency
and throughput plots, the Raft timeline, the linearizability counterexample view, Raft
safety evidence side by side and availability per fault (docs/reports.md).

The modules each do one part: `rundata` (ops paired once, fault windows), `command`
(reproduce line, parameters as run), `plots`, `raft_timeline`, `counterexample`,
`safety`, `availability`, and `page` (the HTML).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from checkers.history import Op
from harness.report.page import render_page
from harness.report.rundata import load_ops
from harness.spec import SpecError, TestSpec, build_spec, load_yaml

REPORT_FILE = "report.html"
log = logging.getLogger("splitbrain.report")


def spec_of(run_dir: Path, spec: TestSpec | dict[str, Any] | None) -> tuple[TestSpec, list[str]]:
    """The spec as a TestSpec: given, or re-read from the run's test.yaml."""
    if isinstance(spec, TestSpec):
        return spec, []
    try:
        if isinstance(spec, dict):
            return build_spec(spec, "spec"), []
        if (run_dir / "test.yaml").is_file():
            return load_yaml(run_dir / "test.yaml"), []
    except SpecError as exc:
        return TestSpec(), [f"parameters shown are defaults: {exc}"]
    return TestSpec(), ["no test.yaml: parameters shown are defaults"]


def render_report(
    run_dir: Path,
    spec: TestSpec | dict[str, Any] | None,
    results: dict[str, Any],
    ops: list[Op] | None = None,
) -> str:
    """The report's HTML. `ops` is the run's history as read by the checkers; when None
    it is read from run_dir/history.jsonl."""
    run_dir = Path(run_dir)
    warnings: list[str] = []
    if ops is None:
        ops, warnings = load_ops(run_dir)
    spec_obj, spec_warnings = spec_of(run_dir, spec)
    return render_page(run_dir, spec_obj, results, ops, warnings + spec_warnings)


def write_report(
    run_dir: Path,
    spec: TestSpec | dict[str, Any] | None,
    results: dict[str, Any],
    ops: list[Op] | None = None,
) -> Path:
    """Write run_dir/report.html; returns its path."""
    path = Path(run_dir) / REPORT_FILE
    path.write_text(render_report(run_dir, spec, results, ops), encoding="utf-8")
    return path


__all__ = ["REPORT_FILE", "render_report", "spec_of", "write_report"]
