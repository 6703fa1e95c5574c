"""The bug-zoo table: what a `splitbrain campaign campaigns/bugzoo.yaml` found, per bug.

    python bench/bugzoo.py CAMPAIGN_DIR [CAMPAIGN_DIR ...] [--markdown] [--examples]

CAMPAIGN_DIR is a campaign directory (it holds campaign.json; several are summed, e.g.
one campaign per batch of seeds; `store/campaigns/latest`
works). One row per planted bug set (and one for the correct node, no bug), with:

- runs (with a verdict; cells not run yet are left out), invalid, unknown (unknown or
  crashed), and the detection rate (invalid / runs);
- which checkers caught it: per checker, in how many invalid runs it said invalid;
- time to detection, median and max over the invalid runs: results.json's
  ``detection.earliest_s`` (test seconds of the earliest op or node event a violation
  involves; "-" where the checkers did not report it);
- stopped early: how many runs --stop-on-violation ended, and the median test time at
  which the watcher stopped them (``stopped_early_at_s``);
- wall seconds per run, median, for runs stopped early and for runs that went their
  whole length.

Below the table: the campaign's total wall time, and what stopping early saved (per
stopped run, the median wall of a full-length run minus its own wall). Numbers are read
from campaign.json and, for what it lacks, from each run's results.json.

With --examples, one counterexample per bug follows: from the invalid run with the
lowest seed, the first violation of the checker that saw it earliest (results.json's
``detection.checker``), with the run directory, so a reader can open its report.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CAMPAIGN_FILE = "campaign.json"
CORRECT = "(correct)"


@dataclass
class RunRow:
    """One test of the campaign, as far as the table is concerned."""

    bug: str
    verdict: str | None
    caught_by: list[str]
    detection_s: float | None
    stopped_at_s: float | None
    wall_s: float | None


@dataclass
class Example:
    """One bug's counterexample: where it is and what the checker said."""

    bug: str
    seed: Any
    checker: str
    run_dir: str
    detection_s: float | None
    stopped_at_s: float | None
    message: str


@dataclass
class BugSummary:
    bug: str
    runs: int = 0
    invalid: int = 0
    unknown: int = 0
    caught_by: Counter[str] = field(default_factory=Counter)
    detection: list[float] = field(default_factory=list)
    stopped_at: list[float] = field(default_factory=list)
    wall_stopped: list[float] = field(default_factory=list)
    wall_full: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.invalid / self.runs if self.runs else 0.0


class BugzooError(Exception):
    """A directory that is not a campaign directory, or a campaign.json unreadable."""


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _results(run_dir: Any) -> dict[str, Any]:
    if not isinstance(run_dir, str):
        return {}
    try:
        data = json.loads((Path(run_dir) / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _caught_by(test: dict[str, Any], results: dict[str, Any]) -> list[str]:
    checkers = test.get("checkers")
    if not isinstance(checkers, dict) or not checkers:
        checkers = {
            name: results[name]
            for name in results.get("checkers", [])
            if isinstance(results.get(name), dict)
        }
    return sorted(
        name
        for name, entry in checkers.items()
        if isinstance(entry, dict) and entry.get("valid") is False
    )


def row_of(test: dict[str, Any]) -> RunRow:
    """One campaign.json test entry (plus its results.json for what the entry lacks)."""
    params = test.get("params") if isinstance(test.get("params"), dict) else {}
    bugs = params.get("bugs") or []
    bug = "+".join(str(b) for b in bugs) if bugs else CORRECT
    results = _results(test.get("run_dir"))
    detection = test.get("detection", results.get("detection"))
    earliest = _number(detection.get("earliest_s")) if isinstance(detection, dict) else None
    stopped = test.get("stopped_early_at_s", results.get("stopped_early_at_s"))
    return RunRow(
        bug=bug,
        verdict=test.get("verdict"),
        caught_by=_caught_by(test, results),
        detection_s=earliest,
        stopped_at_s=_number(stopped),
        wall_s=_number(test.get("duration_s")),
    )


def _first_violation(entry: dict[str, Any], limit: int = 600) -> str:
    """A checker entry's first violation message, else the start of its details."""
    violations = entry.get("violations")
    if isinstance(violations, list) and violations and isinstance(violations[0], dict):
        text = str(violations[0].get("message", ""))
    else:
        details = entry.get("details")
        text = details if isinstance(details, str) else str(entry.get("summary", ""))
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + " …"


def example_of(test: dict[str, Any]) -> Example | None:
    """The counterexample of one invalid campaign test (None if it is not invalid)."""
    if test.get("verdict") != "invalid":
        return None
    row = row_of(test)
    results = _results(test.get("run_dir"))
    detection = results.get("detection") if isinstance(results.get("detection"), dict) else {}
    checker = detection.get("checker") if isinstance(detection.get("checker"), str) else None
    checker = checker if isinstance(results.get(checker), dict) else None
    checker = checker or next(iter(row.caught_by), None)
    if checker is None or not isinstance(results.get(checker), dict):
        return None
    params = test.get("params") if isinstance(test.get("params"), dict) else {}
    return Example(
        bug=row.bug,
        seed=params.get("seed", test.get("seed")),
        checker=checker,
        run_dir=str(test.get("run_dir")),
        detection_s=row.detection_s,
        stopped_at_s=row.stopped_at_s,
        message=_first_violation(results[checker]),
    )


def _tests(campaign_dir: Path) -> list[dict[str, Any]]:
    path = campaign_dir / CAMPAIGN_FILE
    if not path.is_file():
        raise BugzooError(f"{campaign_dir}: no {CAMPAIGN_FILE} (not a campaign directory)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BugzooError(f"{path}: unreadable ({exc})") from None
    tests = data.get("tests") if isinstance(data, dict) else None
    if not isinstance(tests, list):
        raise BugzooError(f"{path}: no list of tests")
    return [t for t in tests if isinstance(t, dict)]


def load_rows(campaign_dir: Path) -> list[RunRow]:
    return [row_of(t) for t in _tests(campaign_dir)]


def load_examples(campaign_dirs: list[Path]) -> list[Example]:
    """Per bug, the example from its invalid run with the lowest seed, in name order."""
    found: dict[str, Example] = {}
    for test in sorted(
        (t for d in campaign_dirs for t in _tests(d)),
        key=lambda t: (str(t.get("seed")).zfill(6), str(t.get("label"))),
    ):
        example = example_of(test)
        if example is not None:
            found.setdefault(example.bug, example)
    return [found[bug] for bug in sorted(found)]


def render_examples(examples: list[Example]) -> str:
    lines = []
    for ex in examples:
        when = f"detection {_seconds(ex.detection_s)}, stopped at {_seconds(ex.stopped_at_s)}"
        quoted = "\n  > ".join(ex.message.splitlines())
        lines += [
            f"- **{ex.bug}** — seed {ex.seed}, `{ex.checker}` ({when}; run `{ex.run_dir}`):",
            f"  > {quoted}",
        ]
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def summarize(rows: list[RunRow]) -> list[BugSummary]:
    """One summary per bug, in name order, the correct node last."""
    by_bug: dict[str, BugSummary] = {}
    for row in rows:
        if row.verdict is None:
            continue  # not run (yet), or interrupted: no verdict to count
        s = by_bug.setdefault(row.bug, BugSummary(row.bug))
        s.runs += 1
        if row.verdict == "invalid":
            s.invalid += 1
            s.caught_by.update(row.caught_by)
            if row.detection_s is not None:
                s.detection.append(row.detection_s)
        elif row.verdict != "valid":
            s.unknown += 1
        if row.stopped_at_s is not None:
            s.stopped_at.append(row.stopped_at_s)
        if row.wall_s is not None:
            (s.wall_stopped if row.stopped_at_s is not None else s.wall_full).append(row.wall_s)
    return sorted(by_bug.values(), key=lambda s: (s.bug == CORRECT, s.bug))


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "-"


def _max(values: list[float]) -> str:
    return f"{max(values):.1f}" if values else "-"


HEADERS = (
    "bug",
    "runs",
    "invalid",
    "unknown",
    "detected",
    "caught by (runs)",
    "TTD median s",
    "TTD max s",
    "stopped early",
    "stop at median s",
    "wall/run stopped s",
    "wall/run full s",
)


def table_rows(summaries: list[BugSummary]) -> list[list[str]]:
    out = []
    for s in summaries:
        caught = ", ".join(f"{name} {n}" for name, n in s.caught_by.most_common()) or "-"
        out.append(
            [
                s.bug,
                str(s.runs),
                str(s.invalid),
                str(s.unknown),
                f"{s.invalid}/{s.runs} ({100 * s.rate:.0f}%)",
                caught,
                _median(s.detection),
                _max(s.detection),
                str(len(s.stopped_at)),
                _median(s.stopped_at),
                _median(s.wall_stopped),
                _median(s.wall_full),
            ]
        )
    return out


def footer(summaries: list[BugSummary]) -> list[str]:
    walls = [w for s in summaries for w in (*s.wall_stopped, *s.wall_full)]
    full = [w for s in summaries for w in s.wall_full]
    stopped = [w for s in summaries for w in s.wall_stopped]
    lines = [f"{len(walls)} runs, {sum(walls) / 60:.1f} min of wall time in all"]
    if stopped and full:
        saved = sum(max(statistics.median(full) - w, 0.0) for w in stopped)
        lines.append(
            f"{len(stopped)} runs stopped early (--stop-on-violation): about "
            f"{saved / 60:.1f} min saved against the median full-length run "
            f"({statistics.median(full):.0f} s)"
        )
    correct = next((s for s in summaries if s.bug == CORRECT), None)
    if correct is not None:
        lines.append(
            f"correct node: {correct.invalid} invalid, {correct.unknown} unknown "
            f"of {correct.runs} runs"
        )
    return lines


def render_text(summaries: list[BugSummary]) -> str:
    rows = [list(HEADERS), *table_rows(summaries)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([*lines, "", *footer(summaries)])


def render_markdown(summaries: list[BugSummary]) -> str:
    lines = [
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" if i == 0 or i == 5 else "---:" for i in range(len(HEADERS))) + "|",
    ]
    for row in table_rows(summaries):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join([*lines, "", *footer(summaries)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "campaign_dir",
        type=Path,
        nargs="+",
        help="campaign directories (campaign.json); several are summed (e.g. more seeds)",
    )
    parser.add_argument("--markdown", action="store_true", help="a table for docs/bugzoo.md")
    parser.add_argument(
        "--examples", action="store_true", help="one counterexample per bug below the table"
    )
    args = parser.parse_args(argv)
    try:
        summaries = summarize([row for d in args.campaign_dir for row in load_rows(d)])
    except BugzooError as exc:
        print(f"bugzoo: {exc}", file=sys.stderr)
        return 2
    if not summaries:
        names = ", ".join(str(d) for d in args.campaign_dir)
        print(f"bugzoo: {names}: the campaign has no tests", file=sys.stderr)
        return 2
    print(render_markdown(summaries) if args.markdown else render_text(summaries))
    if args.examples:
        print("\n" + render_examples(load_examples(args.campaign_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
