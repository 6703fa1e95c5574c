"""`splitbrain test --db pysyncobj` end to end: a short run under kills and a partition in
namespaces ends in a verdict from the checkers, and bad versions are one clear line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import requires_netns
from tests.e2e.conftest import CLI, splitbrain_test, store  # noqa: F401 - the store fixture

pytestmark = pytest.mark.process

# Two leader kills, then the whole cluster killed and restarted, then one node isolated.
# PySyncObj 0.3.12 keeps no term across restarts, so the restarted cluster elects leaders
# of terms that already had one: the election-safety checker reports it (docs/pysyncobj.md).
SCHEDULE = [
    {"at": 1.5, "f": "start-kill", "value": {"target": "leader"}},
    {"at": 2.5, "f": "stop-kill"},
    {"at": 4.0, "f": "start-kill", "value": {"target": "leader"}},
    {"at": 5.0, "f": "stop-kill"},
    {"at": 7.0, "f": "start-kill", "value": {"target": "all"}},
    {"at": 8.0, "f": "stop-kill"},
    {"at": 10.0, "f": "start-partition", "value": "one"},
    {"at": 13.0, "f": "stop-partition"},
]


@requires_netns
@pytest.mark.slow
def test_a_short_run_with_kills_and_a_partition_reaches_a_verdict(store, tmp_path: Path) -> None:  # noqa: F811
    spec = {
        "db": "pysyncobj",
        "workload": "register",
        "nodes": 3,
        "rate": 50,
        "time_limit": 15,
        "op_timeout": 2,
        "recovery_s": 4,
        "cluster": "netns",
        "seed": 1,
        "db_options": {"version": "0.3.12"},
        "nemesis": {"faults": ["kill", "partition"], "schedule": SCHEDULE},
    }
    path = tmp_path / "pysyncobj.yaml"
    path.write_text(yaml.safe_dump(spec))
    run = splitbrain_test(store, "-f", str(path))
    assert run.code in (0, 1), run.output  # a verdict, never a harness error
    results = run.results
    assert results["valid"] in (True, False)
    assert {"linearizability", "raft-safety"} <= set(results["checkers"])
    assert results["linearizability"]["valid"] in (True, False)
    ops = [line for line in (run.run_dir / "history.jsonl").read_text().splitlines()]
    assert sum('"type":"ok"' in op for op in ops) >= 20
    log = run.controller_log
    assert "killed ['n1', 'n2', 'n3']" in log and "partition one" in log
    for node in ("n1", "n2", "n3"):
        assert "pysyncobj 0.3.12" in (run.run_dir / "nodes" / node / "node.log").read_text()


def test_a_version_that_does_not_exist_is_one_line(store) -> None:  # noqa: F811
    run = splitbrain_test(store, "--db", "pysyncobj", "--db-option", "version=0.0.999",
                          "--cluster", "local", "--nemesis", "kill", "--time-limit", "2")  # fmt: skip
    assert run.code == 2
    errors = [line for line in run.output.splitlines() if line.startswith("splitbrain test:")]
    assert errors == [
        "splitbrain test: db pysyncobj: version 0.0.999 does not exist on the package index "
        "(list the available ones with: pip index versions pysyncobj)"
    ]
    assert (run.run_dir / "test.yaml").is_file()  # the store keeps what was recorded
    assert "0.0.999 does not exist" in run.controller_log


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--db-option", "version=../../etc", "--cluster", "local", "--nemesis", "kill"],
         "db pysyncobj: option version: '../../etc' is not a version number"),
        (["--cluster", "local", "--nemesis", "partition"],
         "db pysyncobj: partition needs --cluster netns or ssh"),
        (["--db-option", "novalue"], "--db-option: expected KEY=VALUE, got 'novalue'"),
    ],
)  # fmt: skip
def test_spec_errors_before_anything_starts(tmp_path: Path, args: list[str], expected: str) -> None:
    proc = subprocess.run([*CLI, "test", "--db", "pysyncobj", *args, "--store", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and expected in proc.stderr, proc.stderr
    assert not any(tmp_path.iterdir())
