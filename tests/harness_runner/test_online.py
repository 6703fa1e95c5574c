"""--stop-on-violation: the online op checks, the watcher, and whole runs that use it.

Unit tests judge hand-made ops and events; a property test feeds histories that are
linearizable by construction (so no rule may fire on them); the runner tests use the
in-process null DB (its ``stale_reads`` option makes a history invalid); the e2e tests
run raftnode with a planted bug (it must end early and be invalid) and without (it must
run its full length and stay valid).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from checkers.history import Op
from checkers.online import OnlineOpsChecker
from harness.runner import Runner
from harness.spec import SpecError, build_spec
from harness.test_command import spec_from_cli
from harness.watcher import EventMirror, HistoryTail, Violation, Watcher
from tests.conftest import requires_command, requires_netns
from tests.e2e.conftest import requires_raftnode, splitbrain_test
from tests.harness_runner.helpers import null_spec
from workloads import NAMES as WORKLOADS


class History:
    """Builds ops in order: ``call`` returns a handle, ``end`` completes it."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def _add(self, type_: str, f: str, process: int, key: Any, value: Any) -> Op:
        op = Op(type_, f, process, value, key, time=len(self.ops) * 1000, index=len(self.ops))
        self.ops.append(op)
        return op

    def call(self, process: int, f: str, key: Any, value: Any = None) -> tuple[int, str, Any]:
        self._add("invoke", f, process, key, value)
        return process, f, key

    def end(self, handle: tuple[int, str, Any], type_: str = "ok", value: Any = None) -> None:
        process, f, key = handle
        self._add(type_, f, process, key, value)

    def op(self, process: int, f: str, key: Any, value: Any = None, result: Any = None) -> None:
        handle = self.call(process, f, key, value)
        self.end(handle, "ok", value if result is None and f != "read" else result)


def kinds(ops: list[Op], workload: str | None = None) -> list[str]:
    return [v.kind for v in OnlineOpsChecker(workload).feed_all(ops)]


# ------------------------------------------------------------------- registers


def test_read_of_an_overwritten_value_is_a_stale_read() -> None:
    h = History()
    h.op(0, "write", "r", 1)
    h.op(0, "write", "r", 2)
    h.op(1, "read", "r", result=1)  # began after write 2 was acknowledged
    found = OnlineOpsChecker("register").feed_all(h.ops)
    assert [v.kind for v in found] == ["stale-read"]
    assert found[0].ops == (2, 4, 5)  # the write it missed, the read's invoke and ok
    assert found[0].time_ns == h.ops[5].time


def test_reading_the_initial_value_after_an_acknowledged_write_is_stale() -> None:
    h = History()
    h.op(0, "write", "r", 3)
    h.op(1, "read", "r", result=None)
    assert kinds(h.ops) == ["stale-read"]


def test_a_read_concurrent_with_the_write_may_miss_it() -> None:
    h = History()
    h.op(0, "write", "r", 1)
    read = h.call(1, "read", "r")
    write = h.call(0, "write", "r", 2)
    h.end(write)
    h.end(read, value=1)  # began before write 2 was acknowledged
    assert kinds(h.ops) == []


def test_a_write_still_in_flight_or_info_may_be_what_was_read() -> None:
    for ending in (None, "info"):
        h = History()
        h.op(0, "write", "r", 1)
        pending = h.call(2, "write", "r", 5)
        if ending:
            h.end(pending, ending)
        h.op(0, "write", "r", 2)
        h.op(1, "read", "r", result=5)  # 5 may have taken effect after 2
        assert kinds(h.ops) == [], ending


def test_a_failed_write_is_no_source_and_its_value_unexpected() -> None:
    h = History()
    failed = h.call(0, "write", "r", 9)
    h.end(failed, "fail")
    h.op(1, "read", "r", result=9)
    assert kinds(h.ops) == ["unexpected"]


def test_cas_writes_its_new_value() -> None:
    h = History()
    h.op(0, "write", "r", 1)
    h.op(0, "cas", "r", [1, 4])
    h.op(1, "read", "r", result=4)
    h.op(1, "read", "r", result=1)  # stale: cas 1->4 was acknowledged before it began
    assert kinds(h.ops) == ["stale-read"]


# ----------------------------------------------------------------- collections


def test_an_acknowledged_append_missing_from_a_later_read() -> None:
    h = History()
    h.op(0, "append", "a0", 1, result=[1])
    h.op(0, "append", "a0", 2, result=[1, 2])
    h.op(1, "read", "a0", result=[1])
    found = OnlineOpsChecker("append").feed_all(h.ops)
    assert [v.kind for v in found] == ["missing"]
    assert "2" in found[0].message


def test_an_append_acknowledged_after_the_read_began_may_be_missing() -> None:
    h = History()
    h.op(0, "append", "a0", 1, result=[1])
    read = h.call(1, "read", "a0")
    h.op(0, "append", "a0", 2, result=[1, 2])
    h.end(read, value=[1])
    assert kinds(h.ops, "append") == []


def test_a_duplicated_element() -> None:
    h = History()
    h.op(0, "append", "s", 7, result=[7])
    h.op(1, "read", "s", result=[7, 7])
    assert kinds(h.ops, "set") == ["duplicated"]


# -------------------------------------------------------------------- counters


def test_counter_reads_outside_the_increments_bounds() -> None:
    h = History()
    h.op(0, "incr", "c", 0, result=0)
    h.op(0, "incr", "c", 2, result=2)
    h.op(1, "read", "c", result=1)  # below: incr 2 was acknowledged before it began
    h.op(1, "read", "c", result=5)  # above: only 2 was ever added
    h.op(1, "read", "c", result=2)
    assert kinds(h.ops, "counter") == ["out-of-bounds", "out-of-bounds"]


def test_counter_in_flight_and_failed_increments() -> None:
    h = History()
    pending = h.call(0, "incr", "c", 3)
    failed = h.call(2, "incr", "c", 10)
    h.end(failed, "fail")
    h.op(1, "read", "c", result=3)  # the pending incr may have applied
    h.op(1, "read", "c", result=13)  # the failed one certainly did not
    h.end(pending)
    assert kinds(h.ops, "counter") == ["out-of-bounds"]


# -------------------------------------------------------- keys not judged


def test_keys_changed_in_two_ways_or_by_transfers_are_not_judged() -> None:
    h = History()
    h.op(0, "write", "x", 1)
    h.op(0, "append", "x", 2)
    h.op(1, "read", "x", result=None)
    h.op(0, "write", "acct0", 100)
    h.op(0, "transfer", None, {"from": "acct0", "to": "acct1", "amount": 5})
    h.op(1, "read", "acct0", result=100)
    assert kinds(h.ops, "bank") == []


def test_nemesis_ops_and_orphan_completions_are_ignored() -> None:
    ops = [
        Op("info", "start-partition", "nemesis", {"n1": []}, index=0),
        Op("ok", "read", 4, 3, "r", index=1),  # no invocation: the full check reports it
    ]
    assert kinds(ops) == []


# ------------------------------------------------ linearizable histories: silence


def linearizable_history(rng: random.Random, workload: str, steps: int = 400) -> list[Op]:
    """Concurrent ops on one key of a sequential object; each takes effect at a random
    moment between its invocation and completion (or never: fail; or maybe: info)."""
    h = History()
    state: Any = {"register": None, "set": [], "counter": 0}[workload]
    key = {"register": "r", "set": "s", "counter": "c"}[workload]
    pending: dict[int, dict[str, Any]] = {}
    next_process, next_element = 0, 0
    for _ in range(steps):
        roll = rng.random()
        idle = [p for p in range(next_process, next_process + 4) if p not in pending]
        if roll < 0.35 and idle and len(pending) < 4:
            process = idle[0]
            if rng.random() < 0.5:
                f, value = "read", None
            elif workload == "register":
                f, value = rng.choice(["write", "cas"]), rng.randrange(4)
                if f == "cas":
                    value = [rng.randrange(4), rng.randrange(4)]
            elif workload == "set":
                f, value, next_element = "append", next_element, next_element + 1
            else:
                f, value = "incr", rng.randrange(1, 4)
            pending[process] = {"handle": h.call(process, f, key, value), "applied": False}
            pending[process].update(f=f, value=value)
        elif pending:
            process = rng.choice(sorted(pending))
            entry = pending[process]
            if not entry["applied"] and rng.random() < 0.6:
                entry["applied"] = True  # the linearization point
                f, value = entry["f"], entry["value"]
                if f == "read":
                    entry["result"] = list(state) if isinstance(state, list) else state
                elif f == "write":
                    state = value
                elif f == "cas":
                    entry["ok"] = state == value[0]
                    state = value[1] if entry["ok"] else state
                elif f == "append":
                    state = [*state, value]
                else:
                    state += value
                continue
            del pending[process]
            if not entry["applied"]:
                if entry["f"] == "read" or rng.random() < 0.5:
                    h.end(entry["handle"], "fail")
                else:
                    h.end(entry["handle"], "info")  # never applied: info allows that
                    next_process += 1
                continue
            if entry["f"] == "cas" and not entry["ok"]:
                h.end(entry["handle"], "fail")
            elif entry["f"] == "read":
                h.end(entry["handle"], "ok", entry["result"])
            else:
                h.end(entry["handle"], "ok", entry["value"])
    return h.ops


@pytest.mark.parametrize("workload", ["register", "set", "counter"])
def test_no_violation_on_linearizable_histories(workload: str) -> None:
    judged = 0
    for seed in range(60):
        checker = OnlineOpsChecker(workload)
        found = checker.feed_all(linearizable_history(random.Random(seed), workload))
        assert found == [], (seed, found[0].message)
        judged += checker.reads_judged
    assert judged > 1000  # the rules did look at reads


def test_a_broken_history_from_the_same_generator_is_caught() -> None:
    """The generator's histories are not vacuous: drop one acknowledged element from
    every later read and the rule fires."""
    caught = 0
    for seed in range(20):
        ops = linearizable_history(random.Random(seed), "set")
        acked = next((op.value for op in ops if op.type == "ok" and op.f == "append"), None)
        if acked is None:
            continue
        broken = [
            Op(
                op.type,
                op.f,
                op.process,
                [v for v in op.value if v != acked],
                op.key,
                op.time,
                op.index,
            )  # fmt: skip
            if op.type == "ok" and op.f == "read"
            else op
            for op in ops
        ]
        caught += bool(kinds(broken, "set"))
    assert caught >= 15


# ---------------------------------------------------------------------- watcher


def test_history_tail_returns_each_complete_line_once(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    first = Op("invoke", "read", 0, None, "r", index=0).to_json()
    second = Op("ok", "read", 0, 1, "r", index=1).to_json()
    tail = HistoryTail(path)
    assert tail.new_ops() == []  # no file yet
    path.write_text(json.dumps(first) + "\n" + json.dumps(second)[:10])
    assert [op.index for op in tail.new_ops()] == [0]
    assert tail.new_ops() == []
    path.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    assert [(op.index, op.value) for op in tail.new_ops()] == [(1, 1)]


class FakeHost:
    """A host whose files live in a dict; counts reads (the watcher's only access)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.reads = 0

    def read_file(self, remote: str) -> bytes:
        self.reads += 1
        if remote not in self.files:
            raise OSError(f"no {remote}")
        return self.files[remote]


def event(node: str, term: int, ev: str, **data: Any) -> bytes:
    return (json.dumps({"t": 1, "node": node, "term": term, "ev": ev, **data}) + "\n").encode()


def test_event_mirror_copies_whole_lines_through_the_host(tmp_path: Path) -> None:
    host = FakeHost({"/d/n1/events.jsonl": event("n1", 1, "role", role="leader") + b'{"t":'})
    mirror = EventMirror(
        {"n1": (host, "/d/n1/events.jsonl"), "n2": (host, "/d/n2/events.jsonl")}, tmp_path
    )
    assert mirror.refresh() is True
    assert (tmp_path / "n1" / "events.jsonl").read_bytes() == event("n1", 1, "role", role="leader")
    assert not (tmp_path / "n2").exists()  # not written yet: skipped, retried next look
    assert mirror.refresh() is False  # nothing new
    assert host.reads == 4


def two_leaders_in_term_2() -> dict[str, bytes]:
    return {
        "/d/n1/events.jsonl": event("n1", 0, "start") + event("n1", 2, "role", role="leader"),
        "/d/n2/events.jsonl": event("n2", 0, "start") + event("n2", 2, "role", role="leader"),
    }


def test_watcher_finds_a_raft_safety_violation_in_node_events(tmp_path: Path) -> None:
    host = FakeHost(two_leaders_in_term_2())
    files = {n: (host, f"/d/{n}/events.jsonl") for n in ("n1", "n2")}
    (tmp_path / "history.jsonl").write_text("")
    seen: list[Violation] = []
    watcher = Watcher(
        history=tmp_path / "history.jsonl",
        now_s=lambda: 4.5,
        on_violation=seen.append,
        mirror=EventMirror(files, tmp_path / "mirror"),
        interval_s=0.05,
        shown_root=tmp_path / "run" / "nodes",
    )
    watcher.start()
    watcher.join(timeout=10)
    assert not watcher.is_alive()  # it stops at the first violation
    assert len(seen) == 1 and seen[0] is watcher.found
    assert seen[0].checker == "raft-safety" and seen[0].found_at_s == 4.5
    assert "term 2" in seen[0].message
    assert seen[0].details.get("property") == "election-safety"
    # it cites the lines where the run's nodes/ will hold them, not the scratch copies
    cited = json.dumps(seen[0].to_json())
    assert str(tmp_path / "mirror") not in cited
    assert str(tmp_path / "run" / "nodes" / "n2" / "events.jsonl") + ":2" in cited


def test_watcher_stays_quiet_on_good_evidence_until_halted(tmp_path: Path) -> None:
    files = two_leaders_in_term_2()
    files["/d/n2/events.jsonl"] = event("n2", 0, "start") + event("n2", 2, "role", role="follower")
    host = FakeHost(files)
    h = History()
    h.op(0, "write", "r", 1)
    h.op(1, "read", "r", result=1)
    history = tmp_path / "history.jsonl"
    history.write_text("".join(json.dumps(op.to_json()) + "\n" for op in h.ops))
    seen: list[Violation] = []
    watcher = Watcher(
        history=history,
        now_s=lambda: 0.0,
        on_violation=seen.append,
        mirror=EventMirror(
            {n: (host, f"/d/{n}/events.jsonl") for n in ("n1", "n2")}, tmp_path / "m"
        ),
        interval_s=0.02,
    )
    watcher.start()
    deadline = time.monotonic() + 10
    while watcher.looks < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    watcher.halt()
    watcher.join(timeout=10)
    assert watcher.looks >= 3 and seen == []
    assert watcher.ops.reads_judged == 1


def test_watcher_reports_an_op_violation(tmp_path: Path) -> None:
    h = History()
    h.op(0, "append", "a1", 1, result=[1])
    h.op(1, "read", "a1", result=[])
    history = tmp_path / "history.jsonl"
    history.write_text("".join(json.dumps(op.to_json()) + "\n" for op in h.ops))
    watcher = Watcher(history=history, now_s=lambda: 2.0, on_violation=lambda v: None)
    found = watcher.look()
    assert found is not None and found.checker == "online-missing"
    assert found.details["ops"] == [1, 2, 3]


# ------------------------------------------------------------------------- spec


def test_stop_on_violation_from_yaml_and_flag(tmp_path: Path) -> None:
    assert build_spec({"stop-on-violation": True}, "spec.yaml").stop_on_violation is True
    assert build_spec({}, "spec.yaml").stop_on_violation is False
    with pytest.raises(SpecError, match="stop_on_violation: expected true or false, got 'yes'"):
        build_spec({"stop_on_violation": "yes"}, "spec.yaml")
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump({"db": "null", "stop_on_violation": True}))
    spec = spec_from_cli({}, set(), str(spec_file))
    assert spec.stop_on_violation is True
    spec = spec_from_cli(
        {"stop_on_violation": True, "db": "null"}, {"stop_on_violation", "db"}, None
    )
    assert spec.stop_on_violation is True and "stop_on_violation: true" in spec.to_yaml()


def test_bad_yaml_value_is_one_clear_line(tmp_path: Path) -> None:
    from harness.cli import main

    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text("db: null\nstop_on_violation: 3\n")
    result = CliRunner().invoke(main, ["test", "-f", str(spec_file)])
    assert result.exit_code == 2
    assert "stop_on_violation: expected true or false, got 3" in result.output
    assert "Traceback" not in result.output


# ------------------------------------------------------------ runs (null DB)


def test_null_db_stale_reads_stop_the_run_early(tmp_path: Path) -> None:
    spec = null_spec(
        tmp_path,
        workload="register",
        time_limit=30.0,
        rate=200.0,
        db_options={"stale_reads": True},
        stop_on_violation=True,
    )
    result = Runner(spec).run()
    assert result.valid is False and result.exit_code == 1
    results = json.loads((result.run_dir / "results.json").read_text())
    stopped = results["stopped_early_at_s"]
    assert stopped is not None and 0 < stopped < 30
    assert results["online"]["violation"]["checker"] == "online-stale-read"
    assert results["linearizability"]["valid"] is False  # the full check agrees
    online = json.loads((result.run_dir / "online.json").read_text())
    assert online["found_at_s"] == stopped
    log = (result.run_dir / "controller.log").read_text()
    assert "stop-on-violation: online-stale-read" in log
    assert "phase: final-reads" in log  # stopped like a normal run ends, not like Ctrl-C
    ops = [json.loads(line) for line in (result.run_dir / "history.jsonl").read_text().splitlines()]
    main_ops = [op for op in ops if not op.get("final") and op["process"] != "nemesis"]
    assert max(op["time"] for op in main_ops) / 1e9 < stopped + spec.op_timeout + 1
    assert any(op.get("final") and op["type"] == "ok" for op in ops)


def test_null_db_correct_run_with_the_flag_runs_its_length(tmp_path: Path) -> None:
    spec = null_spec(tmp_path, workload="kv", time_limit=3.0, stop_on_violation=True)
    result = Runner(spec).run()
    assert result.valid is True
    results = json.loads((result.run_dir / "results.json").read_text())
    assert results["stopped_early_at_s"] is None
    assert results["online"]["looks"] >= 2 and results["online"]["reads_judged"] > 0
    assert results["online"]["events"] is False  # the null DB has no node events
    assert not (result.run_dir / "online.json").exists()
    times = [
        json.loads(line)["time"]
        for line in (result.run_dir / "history.jsonl").read_text().splitlines()
    ]
    assert max(times) / 1e9 >= 2.5


@pytest.mark.parametrize("workload", WORKLOADS)
def test_every_workload_on_the_correct_null_db_is_never_stopped(
    tmp_path: Path, workload: str
) -> None:
    """The rules on each workload's real op shapes (info and fail ops included): a
    linearizable DB is never stopped, and reads were judged where the rules apply."""
    spec = null_spec(
        tmp_path,
        workload=workload,
        time_limit=2.0,
        stop_on_violation=True,
        db_options={"info_rate": 0.05, "fail_rate": 0.05},
    )
    result = Runner(spec).run()
    results = json.loads((result.run_dir / "results.json").read_text())
    assert results["stopped_early_at_s"] is None, results["online"]["violation"]
    assert results["online"]["violation"] is None
    if workload in ("register", "kv", "append", "counter"):  # reads during the main phase
        assert results["online"]["reads_judged"] > 0


def test_without_the_flag_no_watcher_runs(tmp_path: Path) -> None:
    result = Runner(
        null_spec(tmp_path, db_options={"stale_reads": True}, workload="register")
    ).run()
    results = json.loads((result.run_dir / "results.json").read_text())
    assert results["stopped_early_at_s"] is None and "online" not in results
    assert results["valid"] is False  # the run went its whole length and was still judged
    assert not (result.run_dir / "online.json").exists()


# ------------------------------------------------------------ e2e (raftnode)


def _main_phase_end_s(run_dir: Path) -> float:
    last = 0
    for line in (run_dir / "history.jsonl").read_text().splitlines():
        op = json.loads(line)
        if op["process"] != "nemesis" and not op.get("final"):
            last = max(last, op["time"])
    return last / 1e9


@requires_raftnode
@pytest.mark.process
@pytest.mark.parametrize("cluster", ["local", pytest.param("netns", marks=requires_netns)])
def test_planted_bug_run_ends_early_and_is_invalid(tmp_path: Path, cluster: str) -> None:
    run = splitbrain_test(
        tmp_path / "store",
        "--bug", "follower-read", "--time-limit", "40", "--seed", "3",
        "--cluster", cluster, "--stop-on-violation",
    )  # fmt: skip
    assert run.code == 1, run.output
    results = run.results
    stopped = results["stopped_early_at_s"]
    assert stopped is not None and stopped < 30, run.output
    assert f"stopped early at {stopped:.1f} s" in run.output
    assert "splitbrain: stop-on-violation:" in run.output  # the console line
    assert _main_phase_end_s(run.run_dir) < stopped + 7  # op timeout + slack, not 40 s
    assert results["online"]["events"] is True  # node events were read during the run
    assert results["online"]["event_bytes"] > 0
    assert (run.run_dir / "online.json").is_file()
    assert "phase: final-reads" in run.controller_log


@requires_raftnode
@pytest.mark.process
def test_correct_raftnode_with_the_flag_runs_full_length_and_is_valid(tmp_path: Path) -> None:
    run = splitbrain_test(
        tmp_path / "store", "--time-limit", "15", "--seed", "5", "--cluster", "local",
        "--stop-on-violation",
    )  # fmt: skip
    assert run.code == 0, run.output
    results = run.results
    assert results["stopped_early_at_s"] is None
    assert results["online"]["violation"] is None and results["online"]["looks"] >= 10
    assert results["online"]["events"] is True
    assert _main_phase_end_s(run.run_dir) >= 13.0


@requires_raftnode
@pytest.mark.process
@requires_netns
@requires_command("/usr/sbin/sshd", "openssh-server")
@requires_command("ssh-keygen", "openssh-client")
def test_over_ssh_node_events_are_read_through_sftp(tmp_path: Path) -> None:
    from harness.sshd import ssh_lab

    with ssh_lab(["n1", "n2", "n3"], tmp_path / "ssh") as lab:
        run = splitbrain_test(
            tmp_path / "store", "--cluster", "ssh", "--ssh-hosts", str(lab.hosts_file),
            "--nodes", "3", "--nemesis", "kill", "--nemesis-interval", "3",
            "--time-limit", "8", "--seed", "2", "--stop-on-violation",
        )  # fmt: skip
    assert run.code == 0, run.output
    online = run.results["online"]
    assert online["events"] is True and online["looks"] >= 4
    assert online["event_errors"] == {}
    assert online["event_bytes"] > 0  # copied from the ssh hosts during the run
    assert run.results["stopped_early_at_s"] is None


# ------------------------------------- the batch Raft check on prefixes (simulation)


def simulated_events(monkeypatch: pytest.MonkeyPatch, seed: int) -> dict[str, list[bytes]]:
    """Each node's event lines from raftnode's deterministic simulation of a correct
    3-node cluster under random drops, duplicates, delays, crashes and partitions."""
    from raftnode import sim
    from raftnode.sim import cluster as sim_cluster

    recorded: dict[str, list[bytes]] = {}

    class Recorder(sim.Invariants):
        def on_events(self, node_id: str, events: list[dict[str, Any]]) -> None:
            recorded.setdefault(node_id, []).extend((json.dumps(e) + "\n").encode() for e in events)
            super().on_events(node_id, events)

    monkeypatch.setattr(sim_cluster, "Invariants", Recorder)
    cfg = sim.SimConfig(nodes=3, seed=seed, drop=0.05, duplicate=0.05, max_delay=4)
    sim.simulate(cfg, 600, faults=sim.SimFaults(every=30))
    return recorded


def test_watcher_raft_check_on_node_prefixes_of_a_correct_cluster_is_silent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The watcher judges each node's events as copied so far, each file cut at a
    different moment: no such cut of a correct cluster's evidence may be a violation."""
    rng = random.Random(7)
    looks = 0
    for seed in range(4):
        lines = simulated_events(monkeypatch, seed)
        assert sum(map(len, lines.values())) > 100
        for cut in range(6):
            files = {
                f"/d/{n}/events.jsonl": b"".join(ls[: rng.randrange(len(ls) + 1)])
                for n, ls in lines.items()
            }
            mirror = EventMirror(
                {n: (FakeHost(files), f"/d/{n}/events.jsonl") for n in lines},
                tmp_path / f"s{seed}c{cut}",
            )
            watcher = Watcher(
                history=tmp_path / "none.jsonl", now_s=lambda: 0.0,
                on_violation=lambda v: None, mirror=mirror,
            )  # fmt: skip
            assert watcher.look() is None, (seed, cut)
            looks += 1
    assert looks == 24
