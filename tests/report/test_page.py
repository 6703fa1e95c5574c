"""report.html content: verdicts with reasons, the reproduce line, effective parameters,
only the sections that have something to show, inline assets only."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import click

from checkers.history import Op, write_jsonl
from harness.report import render_report, write_report
from harness.spec import ScheduleEntry, TestSpec
from harness.test_command import spec_from_cli
from harness.test_command import test_command as run_command
from tests.report.builders import SyntheticRun


def html_of(run: SyntheticRun) -> str:
    return (run.path / "report.html").read_text(encoding="utf-8")


def section_ids(html: str) -> set[str]:
    return set(re.findall(r'<section id="([^"]+)"', html))


def test_valid_run_has_plots_timeline_availability_and_no_failure_sections(
    valid_run: SyntheticRun,
) -> None:
    html = html_of(valid_run)
    assert section_ids(html) == {"verdicts", "plots", "raft-timeline", "availability"}
    assert "Valid: all 5 checkers passed." in html
    for plot in ("latency-raw", "latency-quantiles", "throughput"):
        assert f'id="plot-{plot}"' in html
    assert html.count("<svg") >= 4  # three plots and the Raft timeline, inline
    assert '<a href="results.json">results.json</a>' in html
    assert '"checkers": [' not in html  # results.json is linked, not pasted


def test_invalid_linearizability_run_shows_the_counterexample(lin_run: SyntheticRun) -> None:
    html = html_of(lin_run)
    assert {"counterexample", "plots", "raft-timeline"} <= section_ids(html)
    assert "safety" not in section_ids(html)
    assert "Invalid: linearizability found a violation." in html
    ce = lin_run.results["linearizability"]["details"]["counterexample"]
    blocked = ce["blocked"][0]
    data = json.loads(re.search(r'id="counterexample-data">(.*?)</script>', html, re.S).group(1))
    ops = data["prefixes"][0]["ops"]
    assert [op["id"] for op in ops if op["blocked"]] == [blocked["id"]]
    assert any(op["linearized"] and op["state_after"] is not None for op in ops)
    assert f'class="ce-state">{ce["prefixes"][0]["state"]}<' in html


def test_safety_run_shows_each_nodes_cited_events_side_by_side(safety_run: SyntheticRun) -> None:
    html = html_of(safety_run)
    assert "safety" in section_ids(html) and "counterexample" not in section_ids(html)
    section = html[html.index('<section id="safety">') :]
    section = section[: section.index("</section>")]
    assert "election-safety" in section and "2 leaders in term 2" in section
    assert re.findall(r"<h4>(n\d)</h4>", section) == ["n1", "n3"]
    cited = re.findall(r'<div class="cited"><span class="ln">(\d+)</span>([^<]*)</div>', section)
    assert len(cited) == 2 and all("role=&#34;leader&#34;" in text for _, text in cited)


def test_checker_rows_give_one_line_reasons(lin_run: SyntheticRun) -> None:
    html = html_of(lin_run)
    table = html[html.index("<h2>Checkers</h2>") : html.index("<h3>Reproduce</h3>")]
    rows = re.findall(r"<tr><td>([\w-]+)</td><td><span class=\"verdict (\w+)\">", table)
    assert [name for name, _ in rows] == lin_run.results["checkers"]
    assert ("linearizability", "INVALID") in rows
    assert "NOT linearizable" in table and "cannot linearize" not in table  # first line only


def test_parameters_are_effective_values_never_none(valid_run: SyntheticRun) -> None:
    html = html_of(valid_run)
    params = html[html.index('<dl class="params">') : html.index("</dl>")]
    assert "None" not in params and "null" not in params
    assert "9 client workers (the default: three per node)" in params  # None → the real count
    assert "<dd>local</dd>" in params and "1 (r)" in params


def test_no_network_references(valid_run: SyntheticRun, lin_run: SyntheticRun) -> None:
    for run in (valid_run, lin_run):
        html = html_of(run)
        assert not re.search(r'(src|href)="(https?:)?//', html)
        assert "<link" not in html and "<script src" not in html


def _reparse(command: str) -> TestSpec:
    """What `splitbrain test` would run for this command line."""
    args = shlex.split(command)
    assert args[:2] == ["splitbrain", "test"]
    ctx = run_command.make_context("test", args[2:])
    given = {
        name
        for name in ctx.params
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    }
    values = {k: v for k, v in ctx.params.items() if k not in ("spec_file", "progress")}
    return spec_from_cli(values, given, ctx.params["spec_file"])


def test_reproduce_command_parses_back_into_the_same_spec(tmp_path: Path) -> None:
    spec = TestSpec(
        name="hunt",
        workload="kv",
        nemesis=["pause", "partition"],
        nemesis_targets=["leader"],
        nodes=3,
        time_limit=12.5,
        seed=42,
        cluster="netns",
        bugs=["stale-read", "lease-read"],
        rate=None,
        keys=4,
        op_timeout=1.0,
        db_options={"latency_s": 0.01, "mode": "fast path", "peers": ["a", "b"]},
    )
    write_jsonl(tmp_path / "history.jsonl", [])
    html = render_report(tmp_path, spec, {"valid": True, "checkers": []}, [])
    command = re.search(r'<pre id="reproduce">(.*?)</pre>', html, re.S).group(1)
    command = command.replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"')
    again = _reparse(command)
    assert again.to_dict() == {**spec.to_dict(), "concurrency": spec.workers}  # the effective count


def test_reproduce_command_uses_the_spec_file_when_flags_cannot_say_it(tmp_path: Path) -> None:
    spec = TestSpec(
        seed=7,
        cluster="local",
        test_count=3,
        nemesis_schedule=[ScheduleEntry(at=2, f="start-pause", value="leader")],
    )
    (tmp_path / "test.yaml").write_text(spec.to_yaml(), encoding="utf-8")
    html = render_report(tmp_path, spec, {"valid": True, "checkers": []}, [])
    command = re.search(r'<pre id="reproduce">(.*?)</pre>', html, re.S).group(1)
    assert f"-f {tmp_path / 'test.yaml'}" in command
    again = _reparse(command)
    assert again.nemesis_schedule == spec.nemesis_schedule
    assert (again.seed, again.cluster, again.test_count) == (7, "local", 1)


def test_ops_are_read_from_the_run_when_not_given(valid_run: SyntheticRun) -> None:
    given = render_report(valid_run.path, valid_run.spec, valid_run.results, valid_run.ops)
    read = render_report(valid_run.path, None, valid_run.results)  # spec from test.yaml too

    def stable(html: str) -> str:  # all but the render time
        return re.sub(r"rendered in [\d.]+ s", "", html)

    assert stable(given) == stable(read)


def test_a_run_without_history_or_checkers_still_renders(tmp_path: Path) -> None:
    results = {"valid": "unknown", "checkers": [], "error": "no history was recorded"}
    path = write_report(tmp_path, TestSpec(seed=1), results)
    html = path.read_text()
    assert section_ids(html) == {"verdicts"}
    assert "Unknown: no history was recorded." in html
    assert "no history.jsonl in the run directory" in html


def test_unpairable_history_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    ops = [Op("ok", "read", 0, 1, "r", time=5, index=0)]  # a completion without invocation
    html = render_report(tmp_path, TestSpec(seed=1), {"valid": "unknown", "checkers": []}, ops)
    assert "client ops not drawn" in html


def test_checker_text_is_escaped(tmp_path: Path) -> None:
    results = {
        "valid": False,
        "checkers": ["set"],
        "set": {
            "valid": False,
            "summary": "lost <b>1</b>",
            "violations": [{"message": "element <script>alert(1)</script> lost"}],
            "violation_count": 1,
        },
    }
    html = render_report(tmp_path, TestSpec(seed=1), results, [])
    assert "element &lt;script&gt;alert(1)&lt;/script&gt; lost" in html
    assert "lost &lt;b&gt;1&lt;/b&gt;" in html and "<script>alert" not in html
