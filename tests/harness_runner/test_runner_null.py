"""The runner end to end against the in-process null DB (no processes, no sockets)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.core import generators as g
from harness.core.protocols import HarnessError
from harness.dbs.null import NullDB
from harness.runner import Runner
from tests.harness_runner.helpers import assert_well_formed, load_ops, null_spec, ops_by_process


def test_null_run_is_valid_and_stored(tmp_path: Path) -> None:
    result = Runner(null_spec(tmp_path)).run()
    assert result.error is None
    assert result.valid is True and result.exit_code == 0
    run_dir = result.run_dir
    for name in ("test.yaml", "history.jsonl", "results.json", "report.html", "controller.log"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "nodes").is_dir()
    latest = tmp_path / "store" / "latest"
    assert latest.is_symlink() and latest.resolve() == run_dir.resolve()
    assert run_dir.parent.name == "null-kv"
    assert json.loads((run_dir / "results.json").read_text())["valid"] is True
    ops = load_ops(run_dir)
    assert_well_formed(ops)
    client = [op for op in ops if op.type == "invoke"]
    assert len(client) >= 50
    assert result.counters.invoked == len(client)
    # The final reads come last, one per key, marked final and ok.
    finals = [op for op in ops if op.extra.get("final")]
    assert {op.key for op in finals if op.type == "ok"} == {f"k{i}" for i in range(10)}
    first_final = min(op.index for op in finals)
    assert all(not op.extra.get("final") for op in ops[:first_final])
    log = (run_dir / "controller.log").read_text()
    for phase in ("setup", "wait-healthy", "workload", "heal", "final-reads", "teardown", "check"):
        assert f"phase: {phase}" in log


def test_processes_are_bound_to_nodes(tmp_path: Path) -> None:
    result = Runner(null_spec(tmp_path, concurrency=4, nodes=3)).run()
    for op in load_ops(result.run_dir):
        if op.type == "invoke" and not op.extra.get("final"):
            assert op.node == f"n{(op.process % 4) % 3 + 1}"


def test_info_ops_retire_their_process(tmp_path: Path) -> None:
    spec = null_spec(tmp_path, concurrency=3, db_options={"info_rate": 0.2}, workload="register")
    result = Runner(spec).run()
    ops = load_ops(result.run_dir)
    assert_well_formed(ops)  # includes: a retired process never invokes again
    infos = [op for op in ops if op.type == "info"]
    assert infos, "with info_rate 0.2 some ops must end info"
    by_process = ops_by_process(ops)
    main_phase = [op for op in infos if not op.extra.get("final")]
    for op in main_phase[:-3]:  # the last few may have been at the very end of the phase
        assert op.process + 3 in by_process, f"no replacement for process {op.process}"
    assert max(p for p in by_process if isinstance(p, int)) >= 3
    assert result.valid is True  # an info op that did or did not happen is still linearizable


def test_stale_reads_are_found_invalid(tmp_path: Path) -> None:
    spec = null_spec(
        tmp_path, workload="register", db_options={"stale_reads": True}, time_limit=2.0
    )
    result = Runner(spec).run()
    assert result.valid is False and result.exit_code == 1
    assert result.results["linearizability"]["valid"] is False
    assert "INVALID" in (result.run_dir / "report.html").read_text()


def test_same_seed_same_ops_per_process(tmp_path: Path) -> None:
    def run(sub: str) -> dict[Any, list[tuple[Any, ...]]]:
        result = Runner(null_spec(tmp_path / sub, workload="append", seed=5)).run()
        by = ops_by_process([op for op in load_ops(result.run_dir) if not op.extra.get("final")])
        return {
            p: [(o.f, o.key, o.value) for o in ops if o.type == "invoke"] for p, ops in by.items()
        }

    one, two = run("a"), run("b")
    assert set(one) == set(two)
    for process in one:
        n = min(len(one[process]), len(two[process]))
        assert n > 0 and one[process][:n] == two[process][:n]


@dataclass
class FakeNemesis:
    """Records what the runner asks; 'start-boom' raises to show faults cannot crash a test."""

    name: str = "fake"
    fs: tuple[str, ...] = ("start-x", "stop-x", "start-boom")
    calls: list[str] = field(default_factory=list)

    def setup(self, ctx: Any) -> None:
        self.calls.append("setup")

    def invoke(self, f: str, value: Any, ctx: Any) -> Any:
        self.calls.append(f)
        if f == "start-boom":
            raise RuntimeError("boom")
        return {"did": f, "leader": ctx.leader()}

    def heal_all(self, ctx: Any) -> None:
        self.calls.append("heal_all")

    def teardown(self, ctx: Any) -> None:
        self.calls.append("teardown")


@dataclass
class FakePackage:
    nemesis: FakeNemesis
    generator: g.Generator
    final_ops: list[g.OpRequest]


def test_nemesis_ops_are_recorded_and_healed(tmp_path: Path) -> None:
    nemesis = FakeNemesis()
    schedule = g.seq(
        [g.OpRequest("start-x", "n1"), g.OpRequest("start-boom"), g.OpRequest("stop-x")]
    )
    package = FakePackage(
        nemesis, g.stagger(0.2, schedule), [g.OpRequest("stop-x", None, None, {"final": True})]
    )
    result = Runner(null_spec(tmp_path), nemesis_package=package).run()
    assert result.error is None and result.valid is True
    assert nemesis.calls[0] == "setup"
    assert nemesis.calls[1:4] == ["start-x", "start-boom", "stop-x"]
    assert nemesis.calls[4:] == ["stop-x", "heal_all", "heal_all", "teardown"]
    ops = [op for op in load_ops(result.run_dir) if op.process == "nemesis"]
    assert [(op.type, op.f) for op in ops] == [
        ("invoke", "start-x"),
        ("info", "start-x"),
        ("invoke", "start-boom"),
        ("info", "start-boom"),
        ("invoke", "stop-x"),
        ("info", "stop-x"),
        ("invoke", "stop-x"),
        ("info", "stop-x"),
    ]
    assert ops[1].value == {"did": "start-x", "leader": "n1"}
    assert ops[3].error == "boom"
    assert ops[-1].extra == {"final": True}


class ExplodingDB(NullDB):
    def __init__(self) -> None:
        super().__init__()
        self.torn_down = False

    def start(self, node: str) -> None:
        raise HarnessError(f"host {node}: start: port in use")

    def teardown(self) -> None:
        self.torn_down = True


def test_setup_failure_is_one_line_and_tears_down(tmp_path: Path) -> None:
    db = ExplodingDB()
    result = Runner(null_spec(tmp_path), db=db).run()
    assert result.exit_code == 2
    assert result.error == "host n1: start: port in use"
    assert db.torn_down
    assert result.results["valid"] == "unknown"
    on_disk = json.loads((result.run_dir / "results.json").read_text())
    assert on_disk["harness_error"] == "host n1: start: port in use"  # the store says why


def test_unhealthy_cluster_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.runner as runner_module

    class Leaderless(NullDB):
        def start(self, node: str) -> None:
            pass  # never running: no node answers probes

    monkeypatch.setattr(runner_module, "HEALTHY_TIMEOUT_S", 0.5)
    result = Runner(null_spec(tmp_path), db=Leaderless()).run()
    assert result.exit_code == 2 and "no leader" in (result.error or "")


def run_interrupted(tmp_path: Path, trigger: Any) -> tuple[Any, float]:
    spec = null_spec(tmp_path, time_limit=60.0, workload="register", recovery_s=30.0)
    runner = Runner(spec)
    timer = threading.Timer(1.0, trigger, args=(runner,))
    timer.start()
    started = time.monotonic()
    try:
        result = runner.run()
    finally:
        timer.cancel()
    return result, time.monotonic() - started


def test_interrupt_checks_the_prefix(tmp_path: Path) -> None:
    result, elapsed = run_interrupted(tmp_path, lambda r: r.interrupt())
    assert elapsed < 30  # neither the 60 s workload nor the 30 s recovery ran out
    assert result.interrupted and result.error is None
    assert result.valid is True and result.exit_code == 0
    ops = load_ops(result.run_dir)
    assert_well_formed(ops)
    assert any(op.type == "ok" for op in ops)
    assert not any(op.extra.get("final") for op in ops)  # final reads skipped
    log = (result.run_dir / "controller.log").read_text()
    assert "interrupted" in log and "phase: teardown" in log and "phase: collect" in log


def test_second_interrupt_skips_collection_but_tears_down(tmp_path: Path) -> None:
    def twice(runner: Runner) -> None:
        runner.interrupt()
        runner.interrupt()

    result, _ = run_interrupted(tmp_path, twice)
    log = (result.run_dir / "controller.log").read_text()
    assert "second interrupt" in log and "phase: collect" not in log and "phase: teardown" in log
    assert result.valid is True


def test_real_sigint_is_handled(tmp_path: Path) -> None:
    previous = signal.getsignal(signal.SIGINT)
    result, elapsed = run_interrupted(tmp_path, lambda r: os.kill(os.getpid(), signal.SIGINT))
    assert result.interrupted and elapsed < 30
    assert signal.getsignal(signal.SIGINT) is previous  # handler restored
    assert (result.run_dir / "results.json").is_file()


def test_null_db_rejects_faults_that_need_hosts(tmp_path: Path) -> None:
    result = Runner(null_spec(tmp_path, nemesis=["partition", "kill"])).run()
    assert result.exit_code == 2
    assert result.error is not None and "no hosts to inject partition" in result.error
    assert result.results["error"] == "no history was recorded"


def test_null_db_takes_kill_and_pause_through_the_real_nemeses(tmp_path: Path) -> None:
    spec = null_spec(tmp_path, nemesis=["kill", "pause"], nemesis_interval=0.3, time_limit=3.0)
    result = Runner(spec).run()
    assert result.error is None and result.valid is True
    ops = load_ops(result.run_dir)
    assert_well_formed(ops)
    fault_fs = {op.f for op in ops if op.process == "nemesis" and op.type == "info"}
    assert fault_fs & {"start-kill", "start-pause"}
    assert {"stop-kill", "stop-pause"} <= fault_fs  # healed at the end


def test_ctrl_c_during_the_check_gives_unknown(tmp_path: Path, monkeypatch) -> None:
    import harness.runner as runner_module

    def interrupted_check(run_dir: Any, spec: Any) -> tuple[dict[str, Any], list[Any]]:
        runner._on_sigint(signal.SIGINT, None)  # what the handler does in the check phase
        raise AssertionError("the handler must raise")

    runner = Runner(null_spec(tmp_path, time_limit=0.5))
    monkeypatch.setattr(runner_module, "check_run", interrupted_check)
    result = runner.run()
    assert result.valid == "unknown" and result.exit_code == 2 and result.interrupted
    assert result.results["error"] == "check interrupted by Ctrl-C"
    assert json.loads((result.run_dir / "results.json").read_text())["valid"] == "unknown"


class HostedNullDB(NullDB):
    """The null DB as if it needed hosts: the runner opens a cluster for it."""

    hostless = False


def test_test_yaml_records_the_seed_and_cluster_kind_it_ran_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.runner as runner_module

    monkeypatch.setattr(runner_module, "default_cluster_kind", lambda: ("local", "local: test"))
    result = Runner(null_spec(tmp_path, seed=None), db=HostedNullDB()).run()
    assert result.error is None and result.valid is True
    recorded = yaml.safe_load((result.run_dir / "test.yaml").read_text())
    assert recorded["cluster"] == "local" and isinstance(recorded["seed"], int)
    again = yaml.safe_load((Runner(null_spec(tmp_path)).run().run_dir / "test.yaml").read_text())
    assert again["cluster"] is None  # hostless: no cluster kind to choose


def test_history_is_read_once_for_checkers_and_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import checkers.composite as composite

    reads: list[Path] = []
    real = composite.load_history

    def counting(path: Any, *args: Any, **kwargs: Any) -> Any:
        reads.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(composite, "load_history", counting)
    result = Runner(null_spec(tmp_path, workload="register", time_limit=1.0)).run()
    assert result.valid is True
    assert reads == [result.run_dir / "history.jsonl"]
    assert "<rect" in (result.run_dir / "report.html").read_text()  # the report drew the ops
