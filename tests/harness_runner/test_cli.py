"""`splitbrain test` as a user runs it: exit codes, one-line errors, -f spec files."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from harness import test_command as test_command_module
from harness.test_command import combined_exit, spec_from_cli

NULL_ARGS = [
    "--db",
    "null",
    "--nemesis",
    "none",
    "--nodes",
    "3",
    "--time-limit",
    "1",
    "--recovery",
    "0",
    "--no-progress",
]


def invoke(args: list[str]):
    return CliRunner().invoke(test_command_module.test_command, args, catch_exceptions=False)


def test_null_run_exits_valid(tmp_path: Path) -> None:
    result = invoke([*NULL_ARGS, "--store", str(tmp_path), "--seed", "4", "--workload", "counter"])
    assert result.exit_code == 0, result.output
    assert "verdict: valid" in result.output
    assert "seed 4" in result.output
    assert (tmp_path / "latest" / "report.html").is_file()


def test_invalid_history_exits_1(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "db: null\nworkload: register\nnemesis: none\ndb_options: {stale_reads: true}\nrate: 300\n"
    )
    result = invoke(
        [
            "-f",
            str(spec),
            "--store",
            str(tmp_path),
            "--time-limit",
            "2",
            "--no-progress",
            "--recovery",
            "0",
        ]
    )
    assert result.exit_code == 1, result.output
    assert "INVALID" in result.output


def test_bad_flag_value_is_one_line_exit_2(tmp_path: Path) -> None:
    result = invoke(["--db", "null", "--time-limit", "-5", "--store", str(tmp_path)])
    assert result.exit_code == 2
    assert (
        result.output.strip()
        == "splitbrain test: command line: --time-limit: expected a number > 0, got -5.0"
    )
    result = invoke(["--db", "null", "--nemesis", "kill,meteor", "--store", str(tmp_path)])
    assert result.exit_code == 2 and "--nemesis: unknown fault 'meteor'" in result.output
    assert not (tmp_path / "latest").exists()  # nothing started


def test_bad_spec_file_is_one_line_exit_2(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("nemesis:\n  interval: abc\n")
    result = invoke(["-f", str(spec)])
    assert result.exit_code == 2
    assert (
        result.output.strip()
        == f"splitbrain test: {spec}: nemesis.interval: expected a number > 0, got 'abc'"
    )
    assert "Traceback" not in result.output


def test_bad_ssh_hosts_file_is_caught_before_anything_starts(tmp_path: Path) -> None:
    store = tmp_path / "store"
    missing = tmp_path / "nope.yaml"
    result = invoke(["--cluster", "ssh", "--ssh-hosts", str(missing), "--store", str(store)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"splitbrain test: command line: --ssh-hosts: ssh hosts file {missing}: no such file"
    )
    short = tmp_path / "hosts.yaml"
    key = tmp_path / "id_ed25519"
    key.write_text("not read before connecting\n")
    short.write_text(f"- {{address: 10.77.250.2, user: root, key_file: {key}}}\n")
    result = invoke(
        ["--cluster", "ssh", "--ssh-hosts", str(short), "--nodes", "3", "--store", str(store)]
    )
    assert result.exit_code == 2 and "1 hosts for 3 nodes" in result.output, result.output
    assert not store.exists()  # no run directory for a mistake in the command


def test_unknown_bug_is_caught_before_anything_starts(tmp_path: Path) -> None:
    result = invoke(["--bug", "stale-read", "--bug", "gremlins", "--store", str(tmp_path)])
    assert result.exit_code == 2
    # the message is raftnode's own (the DB checks its bug names: SupportsBugs)
    assert "command line: --bug: unknown bug" in result.output and "gremlins" in result.output
    assert "stale-read" in result.output.split("known")[-1]
    assert not (tmp_path / "latest").exists()


def test_unknown_db_is_one_line_exit_2(tmp_path: Path) -> None:
    result = invoke(
        ["--db", "nosuchdb", "--nemesis", "none", "--store", str(tmp_path), "--no-progress"]
    )
    assert result.exit_code == 2
    assert "unknown db 'nosuchdb' (available: " in result.output
    assert {"null", "raftnode"} <= set(
        result.output.split("available: ")[1].split(")")[0].split(", ")
    )
    assert "Traceback" not in result.output
    assert not (tmp_path / "latest").exists()  # refused before anything started


def test_a_bad_value_in_the_file_names_the_file(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("db: null\nbugs: [stale-read]\n")
    result = invoke(["-f", str(spec), "--store", str(tmp_path / "store")])
    assert result.exit_code == 2
    assert result.output.strip() == f"splitbrain test: {spec}: bugs: db null has no planted bugs"
    result = invoke(["-f", str(spec), "--db", "nosuchdb", "--store", str(tmp_path / "store")])
    assert result.output.startswith("splitbrain test: command line: --db: unknown db 'nosuchdb'")
    assert not (tmp_path / "store").exists()


def test_flags_override_the_file(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("workload: kv\nnodes: 3\nbugs: [stale-read]\n")
    given = {"nodes": 7, "bugs": ("no-fsync", "dup-apply"), "rate": 0.0}
    merged = spec_from_cli(given, set(given), str(spec))
    assert (merged.workload, merged.nodes, merged.rate) == ("kv", 7, None)
    assert merged.bugs == ["no-fsync", "dup-apply"]


def test_test_count_repeats_with_successive_seeds(tmp_path: Path) -> None:
    result = invoke([*NULL_ARGS, "--store", str(tmp_path), "--seed", "10", "--test-count", "2"])
    assert result.exit_code == 0, result.output
    assert "seed 10" in result.output and "seed 11" in result.output
    assert len(list((tmp_path / "null-kv_append").iterdir())) == 2


def test_combined_exit_codes() -> None:
    assert combined_exit([0, 0]) == 0
    assert combined_exit([0, 2, 1]) == 1
    assert combined_exit([0, 2]) == 2
