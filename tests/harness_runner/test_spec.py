"""Spec validation: YAML and CLI values become one TestSpec, or an error naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.spec import ScheduleEntry, SpecError, TestSpec, build_spec, load_yaml, validate_spec


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(SpecError) as info:
        load_yaml(write(tmp_path, text))
    return str(info.value)


def test_defaults_are_the_default_run() -> None:
    spec = TestSpec()
    assert (spec.db, spec.workload, spec.nodes, spec.time_limit) == (
        "raftnode",
        "kv+append",
        5,
        60.0,
    )
    assert spec.nemesis == ["scenarios"] and spec.nemesis_interval == 4.0
    assert spec.node_names == ["n1", "n2", "n3", "n4", "n5"]
    assert spec.workers == 15  # three client workers per node
    assert spec.test_name == "raftnode-kv+append"


def test_nemesis_mapping_without_faults_keeps_the_default(tmp_path: Path) -> None:
    spec = load_yaml(write(tmp_path, "nemesis:\n  interval: 2\n"))
    assert spec.nemesis == TestSpec().nemesis and spec.nemesis_interval == 2.0


def test_full_yaml_spec(tmp_path: Path) -> None:
    spec = load_yaml(
        write(
            tmp_path,
            """
name: my-test
workload: kv
nodes: 3
concurrency: 6
time-limit: 12.5
seed: 9
cluster: local
bugs: [stale-read]
keys: 4
nemesis:
  faults: partition, kill
  interval: 2
  targets: [minority, n2]
  schedule:
    - {at: 5, fault: partition, duration: 3, topology: majorities-ring}
    - {at: 1, f: start-kill, value: leader}
""",
        )
    )
    assert spec.name == "my-test" and spec.workload == "kv" and spec.nodes == 3
    assert spec.workers == 6 and spec.time_limit == 12.5 and spec.seed == 9
    assert spec.nemesis == ["partition", "kill"] and spec.nemesis_interval == 2.0
    assert spec.nemesis_targets == ["minority", "n2"]
    assert spec.bugs == ["stale-read"] and spec.keys == 4
    assert spec.nemesis_schedule == [
        ScheduleEntry(at=1.0, f="start-kill", value="leader"),
        ScheduleEntry(at=5.0, f="partition", duration=3.0, params={"topology": "majorities-ring"}),
    ]
    assert spec.nemesis_schedule[1].to_dict() == {
        "at": 5.0,
        "f": "partition",
        "topology": "majorities-ring",
        "duration": 3.0,
    }


def test_to_yaml_round_trips(tmp_path: Path) -> None:
    spec = build_spec({"workload": "bank", "seed": 3, "nemesis": "none"}, "cli")
    again = load_yaml(write(tmp_path, spec.to_yaml()))
    assert again == spec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nemesis:\n  interval: abc\n", "nemesis.interval: expected a number > 0, got 'abc'"),
        ("time_limit: -3\n", "time_limit: expected a number > 0, got -3"),
        ("nodes: 0\n", "nodes: expected an integer >= 1, got 0"),
        ("nodes: two\n", "nodes: expected an integer >= 1, got 'two'"),
        (
            "workload: queue\n",
            "workload: expected one of kv+append, register, kv, set, append, counter, bank, got 'queue'",
        ),
        ("nemesis: [partition, meteor]\n", "nemesis: unknown fault 'meteor'"),
        ("cluster: cloud\n", "cluster: expected one of netns, local, ssh, got 'cloud'"),
        ("cluster: ssh\n", "ssh_hosts: cluster ssh needs a hosts file"),
        ("nemsis: kill\n", "nemsis: unknown field"),
        ("nemesis:\n  faults: kill\n  every: 3\n", "nemesis.every: unknown field"),
        ("nemesis_targets: [n9]\n", "nemesis_targets: node n9 is not one of n1..n5"),
        ("nemesis_targets: [sideways]\n", "nemesis_targets: unknown target 'sideways'"),
        ("nemesis_schedule:\n  - {fault: kill}\n", "nemesis_schedule[0].at: missing"),
        ("nemesis_schedule:\n  - {at: 2}\n", "nemesis_schedule[0].f: missing"),
        (
            "nemesis_schedule:\n  - {at: x, f: kill}\n",
            "nemesis_schedule[0].at: expected a number >= 0, got 'x'",
        ),
        ("nemesis_schedule: 3\n", "nemesis_schedule: expected a list"),
        ("seed: -1\n", "seed: expected an integer >= 0, got -1"),
        ("rate: nan\n", "rate: expected a number > 0"),
        ("name: 'a b'\n", "name: expected letters, digits"),
        ("- a\n- b\n", "top level: expected a mapping of fields, got list"),
        ("workload: [unclosed\n", "invalid YAML"),
        ("db_options: 3\n", "db_options: expected a mapping, got 3"),
        # the schedule goes through the nemeses' own parser, paths in the user's order
        (
            "nemesis_schedule:\n  - {at: 9, f: kill}\n  - {at: 1, f: start-partiton}\n",
            "nemesis_schedule[1].fault: unknown fault 'start-partiton'",
        ),
        (
            "nemesis:\n  schedule:\n    - {at: 2, f: partition, topology: rign}\n",
            "nemesis.schedule[0].value.topology: unknown value 'rign'",
        ),
        (
            "nodes: 3\nnemesis_schedule:\n  - {at: 2, f: kill, value: [n1, n7]}\n",
            "nemesis_schedule[0].value.target: unknown node(s) n7",
        ),
        (
            "nemesis_schedule:\n  - {at: 1, f: partition}\n  - {at: 2, f: partition}\n",
            "nemesis_schedule[1].at: partition starts at 2s while the partition from",
        ),
    ],
)
def test_bad_yaml_names_the_field(tmp_path: Path, text: str, expected: str) -> None:
    message = error_of(tmp_path, text)
    assert message.startswith(str(tmp_path / "spec.yaml") + ": ")
    assert expected in message
    assert "\n" not in message


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_yaml(tmp_path / "nope.yaml")


def test_empty_yaml_is_the_default(tmp_path: Path) -> None:
    assert load_yaml(write(tmp_path, "")) == TestSpec()


def test_cli_values_overlay_a_base() -> None:
    base = build_spec({"workload": "kv", "nodes": 3}, "spec.yaml")
    spec = build_spec({"nodes": 7, "nemesis": "kill"}, "command line", base)
    assert (spec.workload, spec.nodes, spec.nemesis) == ("kv", 7, ["kill"])
    assert base.nodes == 3  # the base is not modified
    assert build_spec({"nemesis": "none"}, "cli").nemesis == []


def test_yaml_dump_of_spec_is_plain_data() -> None:
    spec = build_spec({"nemesis_schedule": [{"at": 1, "f": "kill"}]}, "cli")
    data = yaml.safe_load(spec.to_yaml())
    assert data["nemesis_schedule"] == [{"at": 1.0, "f": "kill"}]


def test_spec_error_is_structured(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_yaml(write(tmp_path, "nemesis:\n  interval: abc\n"))
    error = info.value
    assert (error.source, error.path) == (str(tmp_path / "spec.yaml"), "nemesis.interval")
    assert error.problem == "expected a number > 0, got 'abc'"


@pytest.mark.parametrize(
    ("fields", "path", "problem"),
    [
        ({"db": "nosuchdb"}, "db", "unknown db 'nosuchdb' (available: "),
        ({"db": "null", "bugs": ["stale-read"]}, "bugs", "db null has no planted bugs"),
        ({"bugs": ["stale-read", "gremlins"]}, "bugs", "gremlins"),
        ({"cluster": "ssh", "ssh_hosts": "/nonexistent/hosts.yaml"}, "ssh_hosts", "no such file"),
    ],
)
def test_validate_spec_checks_what_the_spec_names(fields, path, problem) -> None:
    spec = build_spec(fields, "spec.yaml")
    with pytest.raises(SpecError) as info:
        validate_spec(spec, "spec.yaml")
    assert info.value.path == path and problem in info.value.problem


def test_validate_spec_accepts_the_default_and_a_null_run() -> None:
    assert validate_spec(TestSpec(), "cli") == TestSpec()
    validate_spec(build_spec({"db": "null", "nemesis": "kill,pause"}, "cli"), "cli")
    validate_spec(build_spec({"bugs": ["stale-read", "no-fsync"]}, "cli"), "cli")
