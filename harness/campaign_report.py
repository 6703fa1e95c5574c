"""What a campaign leaves behind: campaign.json, a JUnit XML file and an HTML index.

All three are rewritten after every test (atomically), so an interrupted or crashed
campaign still has them for what ran. campaign.json is also what a resumed campaign
reads to know which cells are done.

JUnit (one <testcase> per test, the de facto schema CI systems read): an invalid
verdict is a <failure>, unknown or a harness crash an <error>, a cell not run (after
--fail-fast or Ctrl-C) <skipped>; the message is the checkers' summary.
"""

from __future__ import annotations

import json
import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jinja2

CAMPAIGN_FILE = "campaign.json"
JUNIT_FILE = "junit.xml"
INDEX_FILE = "index.html"
DONE_VERDICTS = ("valid", "invalid", "unknown")


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def counts(tests: list[dict[str, Any]]) -> dict[str, int]:
    out = {"total": len(tests), "valid": 0, "invalid": 0, "unknown": 0, "crashed": 0, "not run": 0}
    for test in tests:
        verdict = test.get("verdict") or "not run"
        out[verdict if verdict in out else "not run"] += 1
    return out


def failing_summary(test: dict[str, Any], *, full: bool = False) -> str:
    """What went wrong: the error, or the summaries of the checkers that were not valid
    (their first lines, on one line; `full` keeps every line)."""
    if test.get("error"):
        return str(test["error"])
    bad = [
        f"{name}: {entry.get('summary') or ''}"
        for name, entry in (test.get("checkers") or {}).items()
        if entry.get("valid") is not True
    ]
    if full:
        return "\n".join(bad) or f"verdict {test.get('verdict')}"
    return "; ".join(b.splitlines()[0] for b in bad if b) or f"verdict {test.get('verdict')}"


def write_campaign_json(directory: Path, data: dict[str, Any]) -> None:
    data = {**data, "counts": counts(data["tests"])}
    write_atomic(directory / CAMPAIGN_FILE, json.dumps(data, indent=2, default=str) + "\n")


def junit_xml(name: str, tests: list[dict[str, Any]]) -> str:
    c = counts(tests)
    total_time = sum(t.get("duration_s") or 0.0 for t in tests)
    totals = {
        "tests": str(c["total"]),
        "failures": str(c["invalid"]),
        "errors": str(c["unknown"] + c["crashed"]),
        "skipped": str(c["not run"]),
        "time": f"{total_time:.3f}",
    }
    root = ET.Element("testsuites", name=name, **totals)
    suite = ET.SubElement(root, "testsuite", name=name, **totals)
    for test in tests:
        params = test["params"]
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{name}.{params['db']}.{params['workload']}",
            name=test["label"],
            time=f"{test.get('duration_s') or 0.0:.3f}",
        )
        verdict = test.get("verdict")
        message, details = failing_summary(test), failing_summary(test, full=True)
        if verdict == "invalid":
            ET.SubElement(case, "failure", message=message, type="invalid").text = details
        elif verdict in ("unknown", "crashed"):
            ET.SubElement(case, "error", message=message, type=verdict).text = details
        elif verdict is None:
            ET.SubElement(case, "skipped", message="not run")
        if test.get("run_dir"):
            ET.SubElement(case, "system-out").text = f"run dir: {test['run_dir']}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


INDEX_TEMPLATE = """<!doctype html>
<html><head><meta charset="utf-8"><title>campaign {{ name }}</title>
<style>
body { font: 14px sans-serif; margin: 2em; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
.valid { background: #dfd; } .invalid { background: #fcc; } .unknown, .crashed { background: #ffd; }
.notrun { color: #888; }
</style></head><body>
<h1>campaign {{ name }}</h1>
<p>{{ counts.total }} tests: {{ counts.valid }} valid, {{ counts.invalid }} invalid,
{{ counts.unknown }} unknown, {{ counts.crashed }} crashed, {{ counts["not run"] }} not run.
Files: <a href="campaign.json">campaign.json</a>, <a href="junit.xml">junit.xml</a>.</p>
<table><tr><th>#</th><th>test</th><th>verdict</th><th>seconds</th><th>checkers</th><th>report</th></tr>
{% for t in tests %}
<tr class="{{ (t.verdict or 'notrun') | replace(' ', '') }}">
<td>{{ t.index }}</td><td>{{ t.label }}</td><td>{{ t.verdict or "not run" }}</td>
<td>{{ "%.1f" | format(t.duration_s or 0) }}</td>
<td>{% for n, c in (t.checkers or {}).items() %}{{ n }}: {{ c.summary }}<br>{% endfor %}
{% if t.error %}{{ t.error }}{% endif %}</td>
<td>{% if t.report %}<a href="{{ t.report }}">report</a>{% endif %}</td></tr>
{% endfor %}
</table></body></html>
"""


def index_html(name: str, directory: Path, tests: list[dict[str, Any]]) -> str:
    rows = []
    for test in tests:
        row = dict(test)
        run_dir = test.get("run_dir")
        if run_dir and (Path(run_dir) / "report.html").is_file():
            row["report"] = os.path.relpath(Path(run_dir) / "report.html", directory)
        rows.append(row)
    env = jinja2.Environment(autoescape=True)
    return env.from_string(INDEX_TEMPLATE).render(name=name, tests=rows, counts=counts(tests))


def write_all(directory: Path, data: dict[str, Any]) -> None:
    """campaign.json, junit.xml and index.html for the campaign as it stands."""
    write_campaign_json(directory, data)
    write_atomic(directory / JUNIT_FILE, junit_xml(data["name"], data["tests"]))
    write_atomic(directory / INDEX_FILE, index_html(data["name"], directory, data["tests"]))
