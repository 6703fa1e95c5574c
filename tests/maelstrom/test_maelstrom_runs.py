"""`splitbrain test --db maelstrom` end to end, as a user runs it: raftnode under the
Maelstrom protocol is valid under partitions and kills, the naive-replication node is
caught, and binaries that fail at start or print garbage give one clear line."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.conftest import requires_netns
from tests.e2e.conftest import Run, splitbrain_test, store  # noqa: F401 - the store fixture

pytestmark = pytest.mark.process

HERE = Path(__file__).resolve().parent
RAFTNODE = ["--bin", sys.executable, "--bin-arg", "-m", "--bin-arg", "raftnode",
            "--bin-arg", "--maelstrom", "--bin-arg=--data-dir=."]  # fmt: skip
BROKEN = ["--bin", str(HERE / "broken_node.py")]


def spec_file(tmp_path: Path, cluster: str, schedule: list[dict], time_limit: float) -> Path:
    """kv on 3 nodes with uniform 0–10 ms latency (so messages reorder) and a schedule."""
    spec = {
        "db": "maelstrom",
        "workload": "kv",
        "keys": 4,
        "nodes": 3,
        "concurrency": 6,
        "rate": 200,
        "time_limit": time_limit,
        "op_timeout": 1,
        "recovery_s": 2,
        "cluster": cluster,
        "seed": 7,
        "db_options": {"latency_ms": 5, "latency_dist": "uniform"},
        "nemesis": {
            "faults": sorted({e["f"].split("-", 1)[1] for e in schedule}),
            "schedule": schedule,
        },
    }
    path = tmp_path / f"maelstrom-{cluster}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


# Isolate the leader (found from the traffic), kill the next one, isolate again.
FAULTS = [
    {"at": 1.5, "f": "start-partition", "value": "leader"},
    {"at": 4.5, "f": "stop-partition"},
    {"at": 6.0, "f": "start-kill", "value": {"target": "leader"}},
    {"at": 7.5, "f": "stop-kill"},
    {"at": 8.5, "f": "start-partition", "value": "leader"},
    {"at": 11.0, "f": "stop-partition"},
]


def message_fates(run: Run) -> Counter[str]:
    lines = (run.run_dir / "maelstrom-messages.jsonl").read_text().splitlines()
    return Counter(json.loads(line)["fate"] for line in lines)


@requires_netns
def test_raftnode_under_maelstrom_is_valid_under_partitions_in_namespaces(store, tmp_path) -> None:  # noqa: F811
    run = splitbrain_test(store, "-f", str(spec_file(tmp_path, "netns", FAULTS, 12)), *RAFTNODE)
    assert run.code == 0, run.output
    results = run.results
    assert results["linearizability"]["valid"] is True
    assert "raft-safety" in results["checkers"]  # events.jsonl written in each node's cwd
    assert sum(1 for _ in (run.run_dir / "nodes").glob("n*/events.jsonl")) == 3
    fates = message_fates(run)
    assert fates["dropped-partition"] > 0 and fates["delivered"] > 100
    log = run.controller_log
    assert "partition leader" in log and "killed" in log and "restarted" in log


def test_raftnode_under_maelstrom_is_valid_on_loopback(store, tmp_path) -> None:  # noqa: F811
    schedule = FAULTS[:2] + [{"at": 5.0, "f": "start-pause", "value": {"target": "leader"}},
                             {"at": 6.5, "f": "stop-pause"}]  # fmt: skip
    run = splitbrain_test(store, "-f", str(spec_file(tmp_path, "local", schedule, 8)), *RAFTNODE)
    assert run.code == 0, run.output
    assert run.results["linearizability"]["valid"] is True
    assert message_fates(run)["dropped-partition"] > 0


def test_the_naive_replication_node_is_found_invalid(store, tmp_path) -> None:  # noqa: F811
    schedule = FAULTS[:2]
    run = splitbrain_test(store, "-f", str(spec_file(tmp_path, "local", schedule, 5)), *BROKEN)
    assert run.code == 1, run.output
    assert run.results["linearizability"]["valid"] is False
    assert "INVALID" in run.output


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ("exits_node.py", "exited during start (exit code 3); last stderr line: "
                          "exits_node: cannot open /nonexistent/config.toml"),
        ("garbage_node.py", "printed a line on stdout that is not a Maelstrom message: "
                            "'Hello! I am a node"),
    ],
)  # fmt: skip
def test_a_binary_that_fails_at_start_is_one_line(store, node: str, expected: str) -> None:  # noqa: F811
    run = splitbrain_test(store, "--db", "maelstrom", "--bin", str(HERE / node), "--nodes", "3",
                          "--cluster", "local", "--time-limit", "3")  # fmt: skip
    assert run.code == 2
    errors = [line for line in run.output.splitlines() if line.startswith("splitbrain test:")]
    assert len(errors) == 1 and expected in errors[0], run.output
    assert f"binary {HERE / node}" in errors[0]
    assert (run.run_dir / "test.yaml").is_file()  # the store keeps what was recorded
    assert expected.split(";")[0] in (run.run_dir / "controller.log").read_text()


def test_garbage_mid_run_is_logged_and_counted_not_fatal(store) -> None:  # noqa: F811
    run = splitbrain_test(store, "--db", "maelstrom", *BROKEN, "--bin-arg=--garbage-every=5",
                          "--nodes", "1", "--cluster", "local", "--time-limit", "3", "--recovery", "1",
                          "--nemesis", "pause", "--nemesis-interval", "1")  # fmt: skip
    assert run.code == 0, run.output  # one node: naive replication is trivially linearizable
    assert message_fates(run)["garbage"] >= 5
    log = run.controller_log
    assert "not a Maelstrom message" in log and "maelstrom network:" in log


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--workload", "set", *BROKEN],
            "workload 'set' is not supported by the Maelstrom lin-kv protocol",
        ),
        ([], "needs the node binary: --bin PATH"),
        (["--bin", "/nonexistent/node"], "binary /nonexistent/node does not exist"),
        (["--bin", str(HERE / "__init__.py")], "is not executable"),
        ([*BROKEN, "--nemesis", "packet"], "fault packet cannot reach Maelstrom nodes"),
    ],
)
def test_spec_errors_before_anything_starts(tmp_path: Path, args: list[str], expected: str) -> None:
    import subprocess

    from tests.e2e.conftest import CLI

    proc = subprocess.run([*CLI, "test", "--db", "maelstrom", *args, "--store", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("splitbrain test: command line: "), lines
    assert "db maelstrom: " in lines[0] and expected in lines[0]
    assert not any(tmp_path.iterdir())  # refused before a run directory was made
