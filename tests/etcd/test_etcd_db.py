"""EtcdDB: refusals before anything starts, a missing binary, and real runs in network
namespaces — linearizable reads stay valid under partitions and kills, serializable
reads from an isolated member are caught as not linearizable."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from harness.cluster import free_ports, open_cluster
from harness.core.faketime import FAKETIME_LIB, faketime_env
from harness.core.protocols import HarnessError, HostError
from harness.dbs.etcd import EtcdDB, EtcdSettings, parse_version
from harness.hosts.local import LocalHost
from harness.runner import Runner
from harness.spec import build_spec
from nemeses.base import wait_until
from tests.conftest import requires_netns
from tests.e2e.conftest import CLI, splitbrain_test
from tests.etcd.conftest import requires_etcd

MISSING = "/nonexistent/etcd"


def spec(**fields):
    return build_spec({"db": "etcd", "nodes": 3, **fields}, "test")


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"nemesis": "clock"}, "libfaketime cannot move it"),
        ({"nemesis": "disk"}, "no unsynced tail"),
        (
            {"nemesis": "none", "nemesis_schedule": [{"at": 1, "f": "start-clock"}]},
            "clock faults are not supported",
        ),
        ({"bugs": ["stale-read"]}, "planted bugs are raftnode's"),
        ({"db_options": {"serializble": True}}, "unknown db option 'serializble'"),
        ({"db_options": {"snapshot_count": "many"}}, "snapshot_count: expected an integer"),
        ({"cluster": "local", "nemesis": "partition"}, "use --cluster netns"),
        ({"db_options": {"etcd_bin": MISSING}}, "apt-get install etcd-server"),
    ],
)
def test_preflight_refuses_what_cannot_work(fields, words):
    with pytest.raises(HarnessError) as caught:
        EtcdDB().preflight(spec(**fields))
    message = str(caught.value)
    assert words in message and "\n" not in message


def test_settings_and_version_parsing():
    settings = EtcdSettings.from_options(
        {"seed": 3, "bugs": [], "extra_flags": "--pre-vote --quota-backend-bytes 1000000"}
    )
    assert settings.extra_flags == ["--pre-vote", "--quota-backend-bytes", "1000000"]
    assert parse_version("etcd Version: 3.4.23\nGit SHA: x\n") == "3.4.23"
    assert parse_version("garbage") is None


def test_missing_binary_is_one_line_before_any_cluster(tmp_path):
    proc = subprocess.run(
        [*CLI, "test", "--db", "etcd", "--db-option", f"etcd_bin={MISSING}", "--nodes", "3",
         "--store", str(tmp_path / "store"), "--no-progress"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "apt-get install etcd-server" in lines[0], proc.stderr
    assert "etcd_bin" in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "store").exists()  # refused before anything was made


def test_missing_binary_on_a_host_names_the_fix_and_the_store_keeps_the_run(tmp_path):
    """Past the preflight (e.g. an ssh host without etcd), setup fails on the host with
    the same hint, and the run directory keeps the spec, log and verdict."""
    with open_cluster("local", ["n1"]) as cluster, pytest.raises(HostError) as caught:
        EtcdDB().setup(cluster.node_specs(), {"etcd_bin": MISSING})
    assert "host n1" in str(caught.value) and "apt-get install etcd-server" in str(caught.value)
    run = Runner(
        spec(cluster="local", nemesis="none", time_limit=1, store=str(tmp_path),
             db_options={"etcd_bin": MISSING})
    ).run()  # fmt: skip
    assert run.exit_code == 2 and "apt-get install etcd-server" in run.error
    assert "etcd_bin" in (run.run_dir / "test.yaml").read_text()
    assert "apt-get install etcd-server" in (run.run_dir / "controller.log").read_text()
    assert json.loads((run.run_dir / "results.json").read_text())["valid"] == "unknown"


def assert_safety_reported(results: dict) -> None:
    safety = results["safety"]
    assert safety["checked"] == ["election-safety"]
    assert "per-entry" in safety["not_checked"]["log-matching"]
    props = results["raft-safety"]["details"]["properties"]
    assert props["log-matching"]["valid"] == "unknown"  # not checked is never "holds"
    assert results["db"] == {"name": "etcd", "version": results["db_version"]}
    assert results["db_version"].startswith("3.")


@requires_etcd
@requires_netns
@pytest.mark.process
def test_linearizable_reads_under_partition_and_kill_are_valid(store):
    run = splitbrain_test(
        store, "--db", "etcd", "--cluster", "netns", "--nodes", "3",
        "--nemesis", "partition,kill", "--time-limit", "8", "--nemesis-interval", "2",
        "--recovery", "2", "--seed", "3",
    )  # fmt: skip
    assert run.code == 0, run.output
    results = run.results
    assert results["valid"] is True and results["linearizability:kv"]["valid"] is True
    assert results["append:append"]["valid"] is True  # the default kv+append, both parts
    assert (
        results["stats"]["details"]["ok"] >= 20
        if "ok" in results["stats"].get("details", {})
        else True
    )
    nemesis_fs = {
        json.loads(line)["f"]
        for line in (run.run_dir / "history.jsonl").read_text().splitlines()
        if '"nemesis"' in line
    }
    assert {"start-partition", "start-kill"} & nemesis_fs, nemesis_fs
    assert_safety_reported(results)
    for node in ("n1", "n2", "n3"):
        assert (run.run_dir / "nodes" / node / "node.log").stat().st_size > 0
        assert '"ev":"role"' in (run.run_dir / "nodes" / node / "events.jsonl").read_text()


def stale_read_spec(tmp_path: Path) -> Path:
    """Isolate n3 (the member started last, so almost always a follower) for 5 s while
    the clients bound to n1 and n2 write through the majority and those bound to n3 read."""
    path = tmp_path / "serializable.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "db": "etcd", "workload": "kv", "keys": 3, "nodes": 3, "cluster": "netns",
                "concurrency": 6, "rate": 200, "time_limit": 9, "op_timeout": 1,
                "recovery_s": 1, "nemesis": "none", "seed": 5,
                "nemesis_schedule": [
                    {"at": 2, "f": "start-partition", "value": {"topology": "one", "node": "n3"},
                     "duration": 5},
                ],
            }
        )
    )  # fmt: skip
    return path


@requires_etcd
@requires_netns
@pytest.mark.process
def test_serializable_reads_from_an_isolated_member_are_not_linearizable(store, tmp_path):
    run = splitbrain_test(
        store, "-f", str(stale_read_spec(tmp_path)), "--db-option", "serializable=true"
    )
    assert run.code == 1, run.output
    results = run.results
    assert results["linearizability"]["valid"] is False
    spec_run = yaml.safe_load((run.run_dir / "test.yaml").read_text())
    assert spec_run["db_options"] == {"serializable": True}
    reads_on_n3 = [
        json.loads(line)
        for line in (run.run_dir / "history.jsonl").read_text().splitlines()
        if '"read"' in line and '"ok"' in line and '"n3"' in line
    ]
    assert reads_on_n3  # the isolated member kept answering reads (from its own state)


@requires_etcd
@pytest.mark.process
@pytest.mark.skipif(not Path(FAKETIME_LIB).exists(), reason="needs libfaketime (Debian faketime)")
def test_libfaketime_moves_date_but_not_etcd(tmp_path):
    """Why clock faults are refused for etcd: the same environment that moves a libc
    program's clock by an hour leaves a Go program's clock alone."""
    offset = tmp_path / "faketime.rc"
    offset.write_text("+3600\n")
    env = faketime_env(str(offset))
    host = LocalHost("n1")
    shifted = int(host.run(["date", "+%s"], env=env).stdout) - time.time()
    assert 3500 < shifted < 3700
    port, peer = free_ports(2)
    argv = [
        "etcd", "--name", "n1", "--data-dir", str(tmp_path / "data"), "--logger", "zap",
        "--listen-client-urls", f"http://127.0.0.1:{port}",
        "--advertise-client-urls", f"http://127.0.0.1:{port}",
        "--listen-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-cluster", f"n1=http://127.0.0.1:{peer}",
    ]  # fmt: skip
    log = tmp_path / "etcd.log"
    pid = host.start_daemon(argv, log_path=str(log), pid_path=str(tmp_path / "pid"), env=env)
    try:
        assert wait_until(lambda: '"ts"' in log.read_text(), 30.0)
        first = json.loads(next(line for line in log.read_text().splitlines() if '"ts"' in line))
        stamp = datetime.fromisoformat(first["ts"].replace("Z", "+00:00")).timestamp()
        assert abs(stamp - time.time()) < 300, first["ts"]  # real time, not an hour ahead
    finally:
        host.signal(pid, signal.SIGKILL)
        wait_until(lambda: not host.is_alive(pid), 15.0)


def test_db_option_flags_are_yaml_values_over_the_files(tmp_path):
    from harness.spec import SpecError
    from harness.test_command import parse_db_options, spec_from_cli

    assert parse_db_options(["serializable=true", "snapshot_count=100", "extra_flags=--pre-vote"]) == {
        "serializable": True, "snapshot_count": 100, "extra_flags": "--pre-vote"
    }  # fmt: skip
    path = tmp_path / "spec.yaml"
    path.write_text("db: etcd\ndb_options: {snapshot_count: 5, log_level: warn}\n")
    spec = spec_from_cli({"db_options": ("snapshot_count=7",)}, {"db_options"}, str(path))
    assert spec.db_options == {"snapshot_count": 7, "log_level": "warn"}
    with pytest.raises(SpecError, match="--db-option: expected KEY=VALUE, got 'serializable'"):
        parse_db_options(["serializable"])
