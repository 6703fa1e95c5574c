"""The bug zoo, end to end: campaigns/bugzoo.yaml is what issue 8 asks, and a reduced
campaign of it runs through `splitbrain campaign` and bench/bugzoo.py.

The slow test runs three planted bugs (one seed each, the plain default test with
--stop-on-violation, exactly a bugzoo.yaml cell) and one short correct-node run, then
asserts each bug's run is invalid, the correct one valid, and that bench/bugzoo.py's table
says so. About a minute and a half of wall time: each bug run stops at its first violation.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.campaign import load_campaign
from harness.spec import TestSpec
from nemeses.base import FAULTS
from tests.e2e.conftest import CLI, requires_raftnode

ROOT = Path(__file__).resolve().parents[2]
BUGZOO = ROOT / "campaigns" / "bugzoo.yaml"
BENCH = ROOT / "bench" / "bugzoo.py"
SMOKE_BUGS = ("ack-before-commit", "follower-read", "no-fsync")

pytestmark = requires_raftnode


def planted_bugs() -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "raftnode", "--list-bugs"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(line.split()[0] for line in out.splitlines() if line.strip())


def test_bugzoo_yaml_is_the_default_test_for_every_planted_bug() -> None:
    campaign = load_campaign(BUGZOO)
    default = TestSpec()
    bug_cells = [c for c in campaign.cells if c.spec.bugs]
    correct = [c for c in campaign.cells if not c.spec.bugs]
    assert sorted({c.spec.bugs[0] for c in bug_cells}) == planted_bugs()
    assert all(len(c.spec.bugs) == 1 for c in bug_cells)
    for bug in planted_bugs():
        assert sorted(c.seed for c in bug_cells if c.spec.bugs == [bug]) == list(range(1, 11))
    for cell in bug_cells:  # nothing but the bug, the seed and the online stop
        spec = cell.spec
        assert spec.stop_on_violation is True
        assert (spec.workload, spec.nemesis, spec.nodes, spec.time_limit) == (
            default.workload, default.nemesis, default.nodes, default.time_limit,
        )  # fmt: skip
        assert spec.nemesis_interval == default.nemesis_interval
        assert spec.nemesis_targets == default.nemesis_targets
    assert sorted(c.seed for c in correct) == list(range(1, 21))
    assert all(sorted(c.spec.nemesis) == sorted(FAULTS) for c in correct)


def run_bench(directory: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(BENCH), str(directory), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_bench_refuses_a_directory_that_is_not_a_campaign(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "no campaign.json (not a campaign directory)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bench_examples_quote_the_earliest_checkers_first_violation(tmp_path: Path) -> None:
    """--examples: per bug, the lowest-seed invalid run's first violation of the checker
    named by detection.checker; valid runs and the correct node give none."""

    def run_dir(name: str, results: dict) -> str:
        path = tmp_path / "runs" / name
        path.mkdir(parents=True)
        (path / "results.json").write_text(json.dumps(results))
        return str(path)

    lost = {"valid": False, "violations": [{"message": "element 7 of key 'a1' lost"}]}
    safety = {"valid": False, "details": "leader n3 of term 9 advanced its commit index"}
    tests = [
        {"seed": 2, "label": "x2", "verdict": "invalid", "params": {"bugs": ["dup-apply"], "seed": 2},
         "run_dir": run_dir("a", {"detection": {"checker": "append:append", "earliest_s": 4.0},
                                  "append:append": {"valid": False, "violations": [{"message": "seed 2"}]}})},
        {"seed": 1, "label": "x1", "verdict": "invalid", "params": {"bugs": ["dup-apply"], "seed": 1},
         "run_dir": run_dir("b", {"detection": {"checker": "append:append", "earliest_s": 3.5},
                                  "append:append": lost, "raft-safety": safety})},
        {"seed": 1, "label": "f1", "verdict": "invalid", "params": {"bugs": ["figure8"], "seed": 1},
         "run_dir": run_dir("c", {"detection": {"checker": "raft-safety"}, "raft-safety": safety})},
        {"seed": 1, "label": "c1", "verdict": "valid", "params": {"bugs": [], "seed": 1},
         "run_dir": run_dir("d", {"detection": None})},
    ]  # fmt: skip
    (tmp_path / "campaign.json").write_text(json.dumps({"tests": tests}))
    out = run_bench(tmp_path, "--examples")
    examples = [line for line in out.splitlines() if line.startswith(("- **", "  > "))]
    assert examples == [
        f"- **dup-apply** — seed 1, `append:append` (detection 3.5 s, stopped at -; run `{tmp_path}/runs/b`):",
        "  > element 7 of key 'a1' lost",
        f"- **figure8** — seed 1, `raft-safety` (detection -, stopped at -; run `{tmp_path}/runs/c`):",
        "  > leader n3 of term 9 advanced its commit index",
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.process
def test_reduced_bugzoo_campaign(tmp_path: Path) -> None:
    # Each bug run is a bugzoo.yaml cell: the 60 s default test, stopped at the first
    # violation. The full campaign found these three in 10 of 10 seeds each, at most 23 s
    # in (docs/bugzoo.md); a shorter time limit would test where the seed's shuffle puts
    # the scenario that finds the bug (a 20 s cut missed ack-before-commit on seed 1).
    spec = {
        "name": "bugzoo-smoke",
        "base": {"stop_on_violation": True},
        "matrices": [
            {"bugs": [[bug] for bug in SMOKE_BUGS], "seeds": [1]},
            {"overrides": {"time_limit": 12, "recovery_s": 2}, "seeds": [1]},
        ],
    }
    spec_file = tmp_path / "smoke.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    directory = tmp_path / "campaign"
    proc = subprocess.run(
        [*CLI, "campaign", str(spec_file), "--dir", str(directory), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=420,
        stdin=subprocess.DEVNULL,
    )
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output
    assert proc.returncode == 1, output  # some test invalid
    tests = json.loads((directory / "campaign.json").read_text())["tests"]
    verdicts = {(t["params"]["bugs"] or ["correct"])[0]: t for t in tests}
    for bug in SMOKE_BUGS:
        assert verdicts[bug]["verdict"] == "invalid", (bug, output)
    assert verdicts["correct"]["verdict"] == "valid", output
    assert verdicts["correct"]["stopped_early_at_s"] is None
    assert any(verdicts[b]["stopped_early_at_s"] is not None for b in SMOKE_BUGS)

    table = run_bench(directory)
    rows = {line.split()[0]: line for line in table.splitlines() if line.strip()}
    for bug in SMOKE_BUGS:
        assert "1/1 (100%)" in rows[bug], table
        caught = [n for n, e in verdicts[bug]["checkers"].items() if e["valid"] is False]
        assert f"{caught[0]} 1" in rows[bug], table
    assert "0/1 (0%)" in rows["(correct)"], table
    assert "correct node: 0 invalid, 0 unknown of 1 runs" in table
    markdown = run_bench(directory, "--markdown", "--examples")
    assert "| ack-before-commit | 1 | 1 | 0 | 1/1 (100%) |" in markdown
    for bug in SMOKE_BUGS:
        assert f"- **{bug}** — seed 1, `" in markdown, markdown
