"""Assembling report.html: the verdict table, then each section that has something to
show, into one self-contained page (inline CSS, JS and SVG; no network).

Why "only sections with content": an empty "Counterexample" heading on a valid run
makes a reader hunt for something that is not there. Raw files are links, not pasted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from checkers.history import Op
from checkers.result import verdict_word
from harness.recorder import read_t0_wall_ns
from harness.report.availability import availability
from harness.report.command import effective_parameters, reproduce_command
from harness.report.counterexample import find_counterexample
from harness.report.plots import history_plots
from harness.report.raft_timeline import MAX_LEADER_ROWS, load_timeline, plot_timeline
from harness.report.rundata import build_run_data
from harness.report.safety import MAX_VIOLATIONS, safety_violations
from harness.spec import TestSpec

RAW_FILES = (
    "results.json",
    "history.jsonl",
    "test.yaml",
    "controller.log",
    "clock.json",
    "db.json",
)
MAX_MESSAGES = 10
# Checkers whose violations have their own section.
OWN_SECTIONS = ("raft-safety",)


@dataclass
class CheckerRow:
    name: str
    verdict: str
    reason: str


@dataclass
class ViolationList:
    checker: str
    count: int
    messages: list[str]


def _first_line(text: Any) -> str:
    return str(text or "").strip().split("\n", 1)[0]


def checker_rows(results: dict[str, Any]) -> list[CheckerRow]:
    """One row per checker: its verdict and its one-line reason."""
    rows = []
    for name in results.get("checkers", []):
        entry = results.get(name) if isinstance(results.get(name), dict) else {}
        reason = _first_line(entry.get("summary")) or _first_line(entry.get("error"))
        rows.append(
            CheckerRow(name, verdict_word(entry.get("valid", "unknown")), reason or "no summary")
        )
    return rows


def verdict_reason(results: dict[str, Any], rows: list[CheckerRow]) -> str:
    """One sentence for the whole run."""
    bad = [r.name for r in rows if r.verdict == "INVALID"]
    undecided = [r.name for r in rows if r.verdict == "unknown"]
    if bad:
        return f"Invalid: {', '.join(bad)} found a violation."
    if results.get("error"):
        return f"Unknown: {_first_line(results['error'])}."
    if undecided:
        return f"Unknown: {', '.join(undecided)} could not decide."
    if not rows:
        return "Unknown: no checker ran."
    return f"Valid: all {len(rows)} checkers passed."


def other_violations(
    results: dict[str, Any], with_counterexample: str | None
) -> list[ViolationList]:
    out = []
    for name in results.get("checkers", []):
        entry = results.get(name)
        if not isinstance(entry, dict) or name in OWN_SECTIONS or name == with_counterexample:
            continue
        listed = [v for v in entry.get("violations") or [] if isinstance(v, dict)]
        if listed:
            out.append(
                ViolationList(
                    name,
                    int(entry.get("violation_count") or len(listed)),
                    [str(v.get("message", v)) for v in listed[:MAX_MESSAGES]],
                )
            )
    return out


def raw_links(run_dir: Path) -> list[tuple[str, str]]:
    links = [(name, name) for name in RAW_FILES if (run_dir / name).is_file()]
    nodes = run_dir / "nodes"
    if nodes.is_dir():
        for path in sorted(p for p in nodes.glob("*/*") if p.is_file()):
            relative = path.relative_to(run_dir).as_posix()
            links.append((relative.removeprefix("nodes/"), relative))
    return links


def _asset(name: str) -> str:
    return (resources.files("harness") / "templates" / name).read_text(encoding="utf-8")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("harness", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )


def render_page(
    run_dir: Path,
    spec: TestSpec,
    results: dict[str, Any],
    ops: list[Op],
    warnings: list[str],
) -> str:
    started = time.perf_counter()
    data = build_run_data(ops)
    t0_wall_ns = read_t0_wall_ns(run_dir)
    rows = checker_rows(results)
    counterexample = find_counterexample(results)
    timeline = load_timeline(run_dir, data, t0_wall_ns)
    safety_entry = (
        results.get("raft-safety") if isinstance(results.get("raft-safety"), dict) else {}
    )
    safety = safety_violations(run_dir, results, t0_wall_ns)
    context = {
        "title": f"splitbrain: {spec.test_name} · {run_dir.name}",
        "verdict": verdict_word(results.get("valid", "unknown")),
        "verdict_reason": verdict_reason(results, rows),
        "harness_error": results.get("harness_error"),
        "checkers": rows,
        "command": reproduce_command(spec, run_dir),
        "params": effective_parameters(
            spec, run_dir, keys=data.keys, duration_s=data.end_s, t0_wall_ns=t0_wall_ns
        ),
        "links": raw_links(run_dir),
        "warnings": [
            *warnings,
            *[str(w) for w in results.get("warnings", [])],
            *data.warnings,
            *(timeline.warnings[:5] if timeline else []),
        ],
        "counterexample": counterexample,
        "safety": safety,
        "safety_more": max(0, int(safety_entry.get("violation_count") or 0) - MAX_VIOLATIONS),
        "violations": other_violations(results, counterexample.checker if counterexample else None),
        "plots": history_plots(data),
        "timeline": plot_timeline(timeline, data) if timeline else None,
        "leaders": timeline.leaders[:MAX_LEADER_ROWS] if timeline else [],
        "availability": availability(data),
        "windows": data.windows,
        "op_count": len(ops),
        "css": _asset("report.css"),
        "js": _asset("report.js"),
    }
    context["render_s"] = time.perf_counter() - started
    return _environment().get_template("report.html.j2").render(**context)
