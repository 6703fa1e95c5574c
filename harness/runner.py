"""The runner: one test from spec to verdict.

Phases (DESIGN.md "The flow of one test"):
setup → wait healthy (a leader known) → workload + nemesis for ``time_limit`` → heal all
(the nemesis's final ops) → recovery wait → final reads (``"final": true``) → collect
node logs/events into ``nodes/<n>/`` → teardown (always, in ``finally``) → check
(checkers.composite.check_store) → report. The seed and the cluster kind are fixed
before test.yaml is written, so it records the run as it ran; history.jsonl is read
once, for the checkers and the report alike.

--stop-on-violation: a watcher thread (harness/watcher.py) judges the ops and node events
recorded so far during the main phase; its first violation stops the workload (only),
and the run goes on from heal exactly as after a full main phase. results.json records
``stopped_early_at_s`` (null when the run was not stopped).

Ctrl-C: the first SIGINT (or :meth:`Runner.interrupt`) stops the generators, skips the
recovery wait and the final reads, and still heals, collects logs, tears down and checks
the history prefix; a second one also skips log collection and stops waiting for
in-flight ops, but still heals and tears down. Ctrl-C during the check (the cluster is
gone by then) abandons it: the verdict is unknown.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nemeses
from checkers.composite import check_store, load_store_history, write_results
from checkers.history import HistoryError, Op
from harness import watcher
from harness.cluster import Cluster, default_cluster_kind, open_cluster
from harness.context import TestContext
from harness.core import generators as g
from harness.core.protocols import DB, HarnessError, SupportsPid, is_hostless
from harness.dbs.registry import load_db
from harness.hosts.local_state import reap_dead_runs
from harness.recorder import Counters, Recorder
from harness.report import write_report
from harness.spec import TestSpec, default_workload_for
from harness.status_poller import start_status_poller, stop_status_poller
from harness.store import RunDir, create_run
from harness.workers import ClientSlot, Shared, run_nemesis_op, start_threads
from workloads import WorkloadOptions
from workloads import build as build_workload

log = logging.getLogger("splitbrain")

HEALTHY_TIMEOUT_S = 60.0
FINAL_READ_DEADLINE_S = 30.0
JOIN_GRACE_S = 5.0


@dataclass
class RunResult:
    """What one test run produced. ``valid`` is True, False or "unknown"."""

    valid: Any
    run_dir: Path
    results: dict[str, Any]
    counters: Counters
    interrupted: bool = False
    error: str | None = None

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return 2
        if self.valid is True:
            return 0
        if self.valid is False:
            return 1
        return 2


@dataclass
class Status:
    """A snapshot for the progress display."""

    phase: str
    elapsed_s: float
    time_limit: float
    counters: Counters


def new_seed() -> int:
    return random.SystemRandom().randrange(2**31)


@dataclass
class Runner:
    """Runs one test. Hooks (``db``, ``nemesis_package``) let tests inject fakes."""

    spec: TestSpec
    db: DB | None = None
    nemesis_package: Any = None
    on_status: Callable[[Status], None] | None = None
    phase: str = "init"
    stop: threading.Event = field(default_factory=threading.Event)
    abort: threading.Event = field(default_factory=threading.Event)
    recorder: Recorder | None = None
    run_dir: RunDir | None = None
    interrupted: bool = False
    slots: list[ClientSlot] = field(default_factory=list)
    # The main phase's stop: Ctrl-C sets it, and so does --stop-on-violation's watcher
    # (which, unlike Ctrl-C, leaves recovery and the final reads to run).
    workload_stop: threading.Event = field(default_factory=threading.Event)
    online: watcher.StopOnViolation | None = None

    # ------------------------------------------------------------------ control
    def interrupt(self) -> None:
        """What Ctrl-C does: first call stops the workload, second also skips the
        optional phases. Teardown always happens."""
        if self.stop.is_set():
            self.abort.set()
            log.warning("second interrupt: skipping recovery, final reads and log collection")
        else:
            log.warning("interrupted: stopping clients, then healing and tearing down")
        self.interrupted = True
        self.stop.set()
        self.workload_stop.set()

    def status(self) -> Status:
        recorder = self.recorder
        return Status(
            phase=self.phase,
            elapsed_s=recorder.now_s() if recorder else 0.0,
            time_limit=self.spec.time_limit,
            counters=recorder.counters if recorder else Counters(),
        )

    def _phase(self, name: str) -> None:
        self.phase = name
        log.info("phase: %s", name)

    # ----------------------------------------------------------------------- run
    def run(self) -> RunResult:
        """Run the whole test; never raises for harness errors (they become exit 2)."""
        spec = self.spec
        if spec.seed is None:
            spec.seed = new_seed()
        self.run_dir = run_dir = create_run(spec.store, spec.test_name)
        run_dir.attach_log(log)
        log.info("test %s seed %s in %s", spec.test_name, spec.seed, run_dir.path)
        reap_dead_runs(log)  # hardening (issue 11 item 7): debris of controllers that died
        previous = self._install_sigint()
        error: str | None = None
        try:
            try:
                self._execute(run_dir)
            except HarnessError as exc:
                error = str(exc)
                log.error("%s", error)
            except Exception as exc:  # noqa: BLE001 - reported as one line, logged in full
                error = f"{type(exc).__name__}: {exc}"
                log.exception("harness error")
            finally:
                if self.recorder is not None:
                    self.recorder.close()
            results, ops = self._check(run_dir, error)
            self._report(run_dir, results, ops)
            counters = self.recorder.counters if self.recorder else Counters()
            return RunResult(
                valid=results.get("valid", "unknown"),
                run_dir=run_dir.path,
                results=results,
                counters=counters,
                interrupted=self.interrupted,
                error=error,
            )
        finally:
            self._restore_sigint(previous)
            self.phase = "done"
            run_dir.detach_log(log)

    def _install_sigint(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return None
        # hardening (issue 11 item 7): SIGTERM (kill, systemd, a CI timeout) stops the
        # test exactly like Ctrl-C - heal, tear down, check, results.json, report -
        # instead of exiting 143 with nothing recorded.
        previous_term = signal.signal(signal.SIGTERM, self._on_sigint)
        return signal.signal(signal.SIGINT, self._on_sigint), previous_term

    def _on_sigint(self, signum: int, frame: Any) -> None:
        """Ctrl-C: before teardown, a graceful stop; during the check, abandon it
        (the cluster is already gone; the verdict becomes unknown)."""
        if self.phase in ("check", "report"):
            self.interrupted = True
            raise KeyboardInterrupt
        self.interrupt()

    @staticmethod
    def _restore_sigint(previous: Any) -> None:
        if previous is not None:
            signal.signal(signal.SIGINT, previous[0])
            signal.signal(signal.SIGTERM, previous[1])

    def _execute(self, run_dir: RunDir) -> None:
        spec = self.spec
        nodes = spec.node_names
        cluster: Cluster | None = None
        db = self.db
        ctx: TestContext | None = None
        package = self.nemesis_package
        poller = None  # etcd-helper hook: node evidence for DBs that write none
        try:
            self._phase("setup")
            db = self._settle(run_dir)
            options: dict[str, Any] = {"bugs": list(spec.bugs), "seed": spec.seed}
            options["store_dir"] = str(run_dir.path)  # for controller-side DB artefacts
            options.update(spec.db_options)
            if needs_faketime(spec):
                options["faketime"] = True
            if is_hostless(db):
                db.setup(nodes, options)
            else:
                cluster = self._open_cluster(nodes)
                db.setup(cluster.node_specs(), options)
            for node in nodes:
                db.start(node)
            self._log_pids(db, nodes)
            ctx = TestContext(
                spec=spec,
                cluster=cluster,
                db=db,
                nodes=nodes,
                rng=random.Random(spec.seed),
                store_dir=run_dir.path,
                log=log,
            )
            self.recorder = Recorder(run_dir.history)
            self._phase("wait-healthy")
            self._wait_healthy(ctx, HEALTHY_TIMEOUT_S)
            poller = start_status_poller(ctx)  # etcd-helper hook (harness/status_poller.py)
            if package is None:
                package = self._build_nemesis(ctx)
            if package is not None:
                package.nemesis.setup(ctx)
            workload = build_workload(spec.workload, WorkloadOptions(keys=spec.keys))
            self._phase("workload")
            self._main_phase(ctx, workload, package)
            self._phase("heal")
            self._heal(ctx, package)
            if not self.stop.is_set():
                self._phase("recovery")
                self.abort.wait(spec.recovery_s)
                self._wait_healthy(ctx, HEALTHY_TIMEOUT_S, required=False)
            if not self.stop.is_set() and workload.final is not None:
                self._phase("final-reads")
                self._final_reads(ctx, workload.final)
            stop_status_poller(poller)  # etcd-helper hook: stopped before collect
            if not self.abort.is_set():
                self._phase("collect")
                self._collect(ctx, run_dir)
        finally:
            stop_status_poller(poller)  # etcd-helper hook: also when a phase failed
            self._phase("teardown")
            self._teardown(ctx, db, cluster, package)

    # -------------------------------------------------------------------- phases
    def _settle(self, run_dir: RunDir) -> DB:
        """Load the DB and fix what the spec left to the runner (the seed is chosen in
        run(); the cluster kind here, unless the DB is Hostless), then write test.yaml:
        the spec as it runs, rerunnable with ``-f`` (written also when loading fails)."""
        try:
            if self.db is None:
                self.db = load_db(self.spec.db)
            default_workload_for(self.spec, self.db)  # e.g. maelstrom: its own workload
            if self.spec.cluster is None and not is_hostless(self.db):
                self.spec.cluster, why = default_cluster_kind()
                log.info("cluster kind %s", why)
        finally:
            run_dir.spec.write_text(self.spec.to_yaml(), encoding="utf-8")
        return self.db

    def _open_cluster(self, nodes: list[str]) -> Cluster:
        assert self.spec.cluster is not None  # fixed by _settle
        run_path = self.run_dir.path if self.run_dir is not None else None
        cluster = open_cluster(
            self.spec.cluster, nodes, ssh_hosts_file=self.spec.ssh_hosts, run_dir=run_path
        )
        if cluster.lab:
            # `splitbrain cleanup RUN` (or lab down --name LAB) cleans up after a dead controller.
            log.info("lab: %s", cluster.lab)
        return cluster

    @staticmethod
    def _log_pids(db: DB, nodes: list[str]) -> None:
        """Node pids in controller.log: what to look for if a teardown ever fails."""
        if isinstance(db, SupportsPid):
            log.info("node pids: %s", " ".join(f"{n}={db.pid(n)}" for n in nodes))

    def _wait_healthy(self, ctx: TestContext, timeout: float, *, required: bool = True) -> None:
        """Poll until some node is known as leader (a deadline, not a fixed sleep)."""
        deadline = time.monotonic() + timeout
        while not self.abort.is_set() and not (required and self.stop.is_set()):
            leader = ctx.leader()
            if leader is not None:
                log.info("leader: %s", leader)
                return
            if time.monotonic() >= deadline:
                break
            self.abort.wait(0.1)
        if required and self.stop.is_set():
            raise HarnessError("interrupted before the cluster was healthy")
        if required and not self.abort.is_set():
            raise HarnessError(f"cluster not healthy: no leader within {timeout:g} s")

    def _build_nemesis(self, ctx: TestContext) -> Any:
        spec = self.spec
        if not spec.nemesis and not spec.nemesis_schedule:
            return None
        if ctx.cluster is None:
            # the scenario schedule keeps only what a hostless DB can take (kill, pause)
            hostless = sorted(
                set(spec.nemesis) - set(nemeses.HOSTLESS_FAULTS) - {nemeses.SCENARIOS}
            )
            if hostless:
                raise HarnessError(
                    f"db {spec.db}: no hosts to inject {', '.join(hostless)} into "
                    f"(only {', '.join(nemeses.HOSTLESS_FAULTS)}; try --nemesis kill,pause)"
                )
        return nemeses.build(
            list(spec.nemesis),
            interval_s=spec.nemesis_interval,
            targets=spec.nemesis_targets,
            schedule=[e.to_dict() for e in spec.nemesis_schedule],
            rng=random.Random(f"nemesis:{spec.seed}"),
            nodes=ctx.nodes,
        )

    def _client_slots(self, ctx: TestContext) -> list[ClientSlot]:
        db = ctx.db
        n = self.spec.workers
        return [
            ClientSlot(
                slot=i,
                node=ctx.nodes[i % len(ctx.nodes)],
                process=i,
                concurrency=n,
                make_client=db.client,
                op_timeout=self.spec.op_timeout,
            )
            for i in range(n)
        ]

    def _nemesis_call(self, ctx: TestContext, package: Any) -> Callable[[str, Any], Any]:
        return lambda f, value: package.nemesis.invoke(f, value, ctx)

    def build_generator(self, workload: Any, package: Any) -> g.Generator:
        """The main phase's root generator (also used by reproducibility tests)."""
        spec = self.spec
        client_gen = workload.generator
        if spec.rate:
            client_gen = g.rate(spec.rate, client_gen)
        if workload.setup is not None:
            client_gen = g.phases(workload.setup, client_gen)
        nemesis_gen = package.generator if package is not None else None
        root = g.time_limit(spec.time_limit, g.clients_and_nemesis(client_gen, nemesis_gen))
        return root.bind(spec.seed or 0)

    def _main_phase(self, ctx: TestContext, workload: Any, package: Any) -> None:
        assert self.recorder is not None
        gen = self.build_generator(workload, package)
        shared = Shared(gen, self.recorder, self.workload_stop)
        self.slots = self._client_slots(ctx)
        nemesis = self._nemesis_call(ctx, package) if package is not None else None
        if self.spec.stop_on_violation and self.run_dir is not None:
            self.online = watcher.start(
                ctx,
                history=self.recorder.path,
                run_dir=self.run_dir.path,
                now_s=self.recorder.now_s,
                stop_workload=self.workload_stop,
                workload=self.spec.workload,
                announce=watcher.to_stderr,
            )
        threads = start_threads(self.slots, shared, nemesis)
        try:
            self._join(threads, self.spec.time_limit + self.spec.op_timeout + JOIN_GRACE_S)
        finally:
            if self.online is not None:
                self.online.halt()

    def _join(self, threads: list[threading.Thread], budget_s: float) -> None:
        """Wait for the workers; after a stop, give in-flight ops one op timeout."""
        deadline = time.monotonic() + budget_s
        stop_deadline: float | None = None
        for thread in threads:
            while thread.is_alive():
                if self.workload_stop.is_set() and stop_deadline is None:
                    stop_deadline = time.monotonic() + self.spec.op_timeout + 1.0
                limit = stop_deadline or deadline
                if time.monotonic() >= limit or self.abort.is_set():
                    log.warning("%s still busy; continuing without it", thread.name)
                    break
                thread.join(0.1)

    def _heal(self, ctx: TestContext, package: Any) -> None:
        if package is None:
            return
        assert self.recorder is not None
        call = self._nemesis_call(ctx, package)
        for request in package.final_ops:
            run_nemesis_op(self.recorder, call, request)
        try:
            package.nemesis.heal_all(ctx)
        except Exception as exc:  # noqa: BLE001 - keep going to teardown
            log.error("heal_all failed: %s", exc)

    def _final_reads(self, ctx: TestContext, final: g.Generator) -> None:
        """Each final read is retried (on other nodes) until it is ok or the deadline
        passes, so checkers get the settled state."""
        assert self.recorder is not None
        ops = [op for _, _, op in g.drain(final.bind(self.spec.seed or 0), [0])]
        slots = self.slots or self._client_slots(ctx)
        shared = Shared(g.seq([]), self.recorder, threading.Event())
        deadline = time.monotonic() + FINAL_READ_DEADLINE_S + self.spec.op_timeout
        turn = 0
        for op in ops:
            request = g.OpRequest(op.f, op.value, op.key, {**op.extra, "final": True})
            while not self.abort.is_set() and time.monotonic() < deadline:
                slot = slots[turn % len(slots)]
                turn += 1
                if slot.invoke(shared, request).type == "ok":
                    break
                self.abort.wait(0.2)
        for slot in slots:
            slot.drop_client()

    def _collect(self, ctx: TestContext, run_dir: RunDir) -> None:
        """Download every node's log files into nodes/<node>/ (best effort)."""
        cluster = ctx.cluster
        for node in ctx.nodes:
            try:
                files = ctx.db.log_files(node)
            except Exception as exc:  # noqa: BLE001
                log.warning("log files of %s: %s", node, exc)
                continue
            if not files:
                continue
            host = cluster.hosts.get(node) if cluster is not None else None
            target = run_dir.node_dir(node)
            for name, remote in files.items():
                try:
                    if host is not None:
                        host.download(remote, target / name)
                    else:
                        (target / name).write_bytes(Path(remote).read_bytes())
                except Exception as exc:  # noqa: BLE001 - a missing log is not fatal
                    log.warning("collect %s %s: %s", node, name, exc)

    def _teardown(
        self, ctx: TestContext | None, db: DB | None, cluster: Cluster | None, package: Any
    ) -> None:
        """Undo everything, each step independent of the others' failures."""
        if package is not None and ctx is not None:
            for step in (package.nemesis.heal_all, package.nemesis.teardown):
                try:
                    step(ctx)
                except Exception as exc:  # noqa: BLE001
                    log.error("nemesis teardown: %s", exc)
        if db is not None:
            try:
                db.teardown()
            except Exception as exc:  # noqa: BLE001
                log.error("db teardown: %s", exc)
        if cluster is not None:
            try:
                cluster.close()
            except Exception as exc:  # noqa: BLE001
                log.error("cluster close: %s", exc)

    # --------------------------------------------------------------- check/report
    def _check(self, run_dir: RunDir, error: str | None) -> tuple[dict[str, Any], list[Op]]:
        """The verdict and the ops it was reached on (for the report). results.json
        also records a harness error, so the store says why a verdict is unknown."""
        self._phase("check")
        ops: list[Op] = []
        if not run_dir.history.exists() or run_dir.history.stat().st_size == 0:
            results = unknown_results(self.spec, "no history was recorded")
        else:
            try:
                results, ops = check_run(run_dir, self.spec)
            except KeyboardInterrupt:
                log.warning("check interrupted: verdict unknown")
                results = unknown_results(self.spec, "check interrupted by Ctrl-C")
        if error is not None:
            results.setdefault("harness_error", error)
        # --stop-on-violation (harness/watcher.py): when the run stopped early, and why
        results["stopped_early_at_s"] = None
        if self.online is not None:
            self.online.annotate(results)
        write_results(run_dir.results, results)
        return results, ops

    def _report(self, run_dir: RunDir, results: dict[str, Any], ops: list[Op]) -> None:
        self._phase("report")
        try:
            write_report(run_dir.path, self.spec, results, ops)
        except KeyboardInterrupt:
            log.warning("report skipped (Ctrl-C)")
        except Exception as exc:  # noqa: BLE001 - a report failure must not hide the verdict
            log.error("report: %s", exc)


def needs_faketime(spec: TestSpec) -> bool:
    """Whether nodes must start under libfaketime (clock faults, also scheduled ones)."""
    schedule = [e.to_dict() for e in spec.nemesis_schedule]
    return nemeses.requires_faketime(list(spec.nemesis), schedule)


def unknown_results(spec: TestSpec, error: str) -> dict[str, Any]:
    """The results of a run that could not be judged, and why."""
    return {"valid": "unknown", "workload": spec.workload, "checkers": [], "error": error}


def check_run(run_dir: RunDir, spec: TestSpec) -> tuple[dict[str, Any], list[Op]]:
    """Read the run's history once and check it (check_store writes results.json; node
    evidence comes from nodes/); the ops go on to the report. A history that cannot be
    read or a checker that crashes makes the verdict unknown."""
    try:
        history = load_store_history(run_dir.path)
    except HistoryError as exc:
        return unknown_results(spec, f"history unreadable: {exc}"), []
    try:
        results = check_store(
            run_dir.path, workload=spec.workload, budget_s=spec.budget, history=history
        )
    except Exception as exc:  # noqa: BLE001 - a checker crash is an unknown verdict
        log.exception("checker crashed")
        results = unknown_results(spec, f"checker error: {type(exc).__name__}: {exc}")
    return results, history.ops


def run_test(spec: TestSpec, **kwargs: Any) -> RunResult:
    """Convenience: ``Runner(spec, **kwargs).run()``."""
    return Runner(spec, **kwargs).run()
