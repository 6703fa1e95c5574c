"""The command that reproduces a run, and the parameters it ran with, as the report shows them.

Why derived from the spec: the spec is what the runner ran (seed and cluster kind filled
in), so one function turning a TestSpec into `splitbrain test` flags gives a command a
user can paste, and a test can parse it back into the same spec. A spec that flags cannot
express (an explicit fault schedule, DB options) is rerun from the run's test.yaml.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path
from typing import Any

from harness.spec import TestSpec
from harness.test_command import _flag

DEFAULTS = TestSpec()


def _number(value: float) -> str:
    return f"{value:g}"


def _flags(spec: TestSpec) -> list[str]:
    """Flags for every field that matters to the run; the ones users look for (db,
    workload, nemesis, nodes, concurrency, time limit, seed, cluster) always."""
    out: list[str] = []

    def add(field: str, value: Any) -> None:
        out.extend([_flag(field), str(value)])

    if spec.name:
        add("name", spec.name)
    add("db", spec.db)
    add("workload", spec.workload)
    add("nemesis", ",".join(spec.nemesis) or "none")
    if spec.nemesis and spec.nemesis_interval != DEFAULTS.nemesis_interval:
        add("nemesis_interval", _number(spec.nemesis_interval))
    if spec.nemesis_targets:
        add("nemesis_targets", ",".join(spec.nemesis_targets))
    add("nodes", spec.nodes)
    add("concurrency", spec.workers)
    add("time_limit", _number(spec.time_limit))
    if spec.seed is not None:
        add("seed", spec.seed)
    if spec.cluster is not None and spec.db != "null":
        add("cluster", spec.cluster)
    if spec.ssh_hosts:
        add("ssh_hosts", spec.ssh_hosts)
    for bug in spec.bugs:
        add("bugs", bug)
    if spec.recovery_s != DEFAULTS.recovery_s:
        add("recovery_s", _number(spec.recovery_s))
    if spec.rate != DEFAULTS.rate:
        add("rate", 0 if spec.rate is None else _number(spec.rate))
    if spec.keys is not None:
        add("keys", spec.keys)
    if spec.store != DEFAULTS.store:
        add("store", spec.store)
    if spec.budget != DEFAULTS.budget:
        add("budget", _number(spec.budget))
    if spec.op_timeout != DEFAULTS.op_timeout:
        add("op_timeout", _number(spec.op_timeout))
    for key, value in spec.db_options.items():  # VALUE is read as YAML, and JSON is YAML
        out.extend(["--db-option", f"{key}={json.dumps(value)}"])
    return out


def needs_spec_file(spec: TestSpec) -> bool:
    """The one field without a flag: an explicit fault schedule."""
    return bool(spec.nemesis_schedule)


def reproduce_args(spec: TestSpec, run_dir: Path) -> list[str]:
    """`splitbrain test` arguments that rerun this spec: flags, or `-f RUN/test.yaml`
    (which holds everything, seed included) plus what the file cannot know — the
    cluster kind chosen at run time — and one run instead of --test-count N."""
    if not needs_spec_file(spec):
        return ["splitbrain", "test", *_flags(spec)]
    args = ["splitbrain", "test", "-f", str(run_dir / "test.yaml")]
    if spec.seed is not None:
        args += [_flag("seed"), str(spec.seed)]
    if spec.cluster is not None and spec.db != "null":
        args += [_flag("cluster"), spec.cluster]
    if spec.test_count != 1:
        args += [_flag("test_count"), "1"]
    return args


def reproduce_command(spec: TestSpec, run_dir: Path) -> str:
    return shlex.join(reproduce_args(spec, run_dir))


def cluster_as_run(spec: TestSpec, run_dir: Path) -> str:
    """The cluster kind the run used. The runner fills spec.cluster when it chooses; a
    spec re-read from test.yaml (written before the choice) falls back to the kind the
    controller logged."""
    if spec.db == "null":
        return "none (in-process null DB)"
    if spec.cluster:
        return spec.cluster
    try:
        text = (run_dir / "controller.log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    found = re.search(r"cluster kind (\w+)", text)
    return found.group(1) if found else "chosen at run time (not recorded)"


def _keys_text(keys: list[Any]) -> str:
    if not keys:
        return "no keyed ops"
    shown = ", ".join(str(k) for k in keys[:5]) + (" …" if len(keys) > 5 else "")
    return f"{len(keys)} ({shown})"


def effective_parameters(
    spec: TestSpec,
    run_dir: Path,
    *,
    keys: list[Any],
    duration_s: float,
    t0_wall_ns: int | None,
) -> list[tuple[str, str]]:
    """(label, value) rows: what the run actually used, in words, never None."""
    started = (
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t0_wall_ns / 1e9))
        if t0_wall_ns is not None
        else run_dir.name
    )
    nodes = f"{spec.nodes} ({spec.node_names[0]}…{spec.node_names[-1]})"
    workers = f"{spec.workers} client workers"
    if spec.concurrency is None:
        workers += " (the default: three per node)"
    nemesis = ", ".join(spec.nemesis) or "none"
    if spec.nemesis:
        nemesis += f", about every {_number(spec.nemesis_interval)} s"
        nemesis += (
            f", targets {', '.join(spec.nemesis_targets)}"
            if spec.nemesis_targets
            else ", each fault's default targets"
        )
    rows = [
        ("test", spec.test_name),
        ("started", started),
        ("db", spec.db),
        ("workload", spec.workload),
        ("keys", _keys_text(keys)),
        ("nodes", nodes),
        ("concurrency", workers),
        ("cluster", cluster_as_run(spec, run_dir)),
        ("nemesis", nemesis),
    ]
    if spec.nemesis_schedule:
        rows.append(
            (
                "fault schedule",
                "; ".join(
                    f"{e.at:g} s {e.f}" + (f" {e.value}" if e.value is not None else "")
                    for e in spec.nemesis_schedule
                ),
            )
        )
    rows += [
        ("planted bugs", ", ".join(spec.bugs) or "none"),
        ("rate", "unthrottled" if spec.rate is None else f"{_number(spec.rate)} ops/s"),
        (
            "time limit",
            f"{_number(spec.time_limit)} s of workload; history spans {duration_s:.1f} s",
        ),
        ("op timeout", f"{_number(spec.op_timeout)} s"),
        ("recovery", f"{_number(spec.recovery_s)} s before the final reads"),
        ("checker budget", f"{_number(spec.budget)} s"),
        ("seed", "not recorded" if spec.seed is None else str(spec.seed)),
    ]
    if spec.db_options:
        rows.append(("db options", ", ".join(f"{k}={v}" for k, v in spec.db_options.items())))
    return rows
