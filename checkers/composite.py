"""The composite check: run the right checkers for a workload, merge, write results.json.

Which checkers run (docs/interfaces.md §5):

| workload | checker(s) |
|---|---|
| register | linearizability, cas-register model |
| kv       | linearizability, per-key kv model (P-compositional) |
| set      | set (Jepsen set-full) |
| append   | linearizability, list-append model; append (lost, duplicated, divergent); durability |
| kv+append | the kv checkers on the ops tagged part "kv", the append checkers but the linearizability search on those tagged "append", named `<checker>:<part>` |
| counter  | counter bounds |
| bank     | bank totals |

plus, always, stats and unhandled errors; Raft safety when node events or dumps exist
(results["safety"] says which of its properties could be checked and why not the others);
durability whenever the history has final reads; and linearizability with `model`
whenever the caller names one. The verdict is merged with false > unknown > true. A
checker that crashes becomes "unknown" with its error instead of taking the whole
verdict down: one broken checker must not hide another's violation.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from checkers import appends, bank, counter, durability, errors, raft_safety, sets, stats
from checkers.detection import compute_detection
from checkers.events import has_evidence
from checkers.formats import load_history
from checkers.history import HistoryError, Op, Operation, ReadResult, pair_history
from checkers.linearizability import check as lin_check
from checkers.models import get_model
from checkers.result import UNKNOWN, Result, merge_valid, verdict_word

WORKLOADS = ("kv+append", "register", "kv", "set", "append", "counter", "bank")
# Composite workloads: each client op carries "part" (a tag the workload sets), and each
# part's ops are checked as the named workload on their own, under checker names like
# "linearizability:kv" (nemesis ops go to every part: durability looks for the last one).
PARTS: dict[str, dict[str, str]] = {"kv+append": {"kv": "kv", "append": "append"}}
# Parts checked without the linearizability search. The list-append search over the
# default mix's append part (many unanswered appends under the default scenarios) took
# 101 s and ran out of budget on a correct 30 s run; the append checker's lost /
# duplicated / divergent rules and durability judge that part in milliseconds, and the
# kv part keeps the linearizability check. The plain append workload keeps both.
PARTS_WITHOUT_SEARCH = {"append"}
DEFAULT_BUDGET_S = 60.0
RESULTS_FILE = "results.json"
HISTORY_FILE = "history.jsonl"
MAX_WARNINGS_SHOWN = 8  # in the human summary; results.json has them all
DB_INFO_FILE = "db.json"  # written by harness.status_poller.start_status_poller

# The one table of linearizability models: per workload checked for linearizability,
# and per family of imported history (model_family). Names are checkers.models.MODELS keys.
LIN_MODELS: dict[str, str] = {
    "register": "cas-register",
    "kv": "kv",  # per-key cas registers, checked key by key (P-compositional)
    "append": "list-append",
    # Jepsen's etcd logs: a cas register where a failed cas means "the value differed".
    "etcd": "cas-register",
    "porcupine-kv": "porcupine-kv",
}
LIN_WORKLOADS = tuple(w for w in WORKLOADS if w in LIN_MODELS)
# Where acknowledged writes must survive as written: counter and bank values change by
# increments and transfers, which their own checkers bound instead.
DURABILITY_WORKLOADS = ("register", "kv", "append", "set")


def _client_ops(ops: Sequence[Op]) -> Iterator[Op]:
    # hardening (issue 11 item 8): a generator, not a list: `ops` may be a columnar
    # History, and a list of every client Op would cost ~200 MiB on a 100 MB history.
    return (op for op in ops if op.is_client)


def infer_workload(ops: Sequence[Op]) -> str:
    """Guess the workload from the ops' `f`s and values (for histories recorded elsewhere)."""
    parts = {op.extra.get("part") for op in _client_ops(ops)} - {None}
    for name, tags in PARTS.items():
        if parts and parts <= set(tags):
            return name
    fs = {op.f for op in _client_ops(ops)}
    reads = [op.value for op in _client_ops(ops) if op.type == "ok" and op.f in ("read", "get")]
    if "transfer" in fs:
        return "bank"
    if "incr" in fs:
        return "counter"
    if "add" in fs:
        return (
            "counter"
            if any(isinstance(v, int) and not isinstance(v, bool) for v in reads)
            else "set"
        )
    if "append" in fs:
        return "kv" if any(isinstance(v, str) for v in reads) else "append"
    keys = {op.key for op in _client_ops(ops) if op.key is not None}
    if fs & {"get", "put"} or len(keys) > 1:
        return "kv"
    return "register"


def model_family(workload: str, ops: Sequence[Op], fmt: str | None = None) -> str | None:
    """Which kind of model a history needs: a Jepsen log of etcd needs etcd's register
    semantics; Porcupine's string kv (get/put/append) its own kv model."""
    if workload not in LIN_WORKLOADS:
        return None
    fs = {op.f for op in _client_ops(ops)}
    if fmt == "jepsen-log":
        return "etcd"
    if workload == "kv" and fs & {"get", "put"}:
        return "porcupine-kv"
    return workload


def validate_model(name: str) -> None:
    """Raise ValueError with a one-line message if `name` is not a known model."""
    try:
        get_model(name)
    except (KeyError, ValueError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        raise ValueError(f"unknown model {name!r}: {message}") from None


def run_linearizability(ops: Sequence[Op], model: str, budget_s: float) -> Result:
    """Adapt the linearizability checker's LinResult to a Result."""
    lin = lin_check(ops, get_model(model), budget_s=budget_s)  # hardening: no list copy
    details = lin.to_json()
    if isinstance(details, dict):
        details = {k: v for k, v in details.items() if k != "valid"}
    return Result(
        name="linearizability",
        valid=lin.valid,
        summary=f"model {model}: {lin.summary()}",
        details={"model": model, **details} if isinstance(details, dict) else {"model": model},
    )


def part_history(ops: Sequence[Op], part: str) -> list[Op]:
    """The ops of one part of a composite workload: its tagged client ops and every
    nemesis op (invocations and completions both carry the tag, so pairs stay whole)."""
    return [op for op in ops if not op.is_client or op.extra.get("part") == part]


OP_ID_FIELDS = ("read", "write", "other", "op")  # violation fields naming an op by id
OP_IDS_FIELDS = ("reads", "ops")  # ... and lists of them


def _event_key(op: Op) -> tuple[Any, ...]:
    return (op.index, op.time, op.process, op.type)


def _global_ids(
    part_ops: Sequence[Op], part_paired: list[Operation], ops: Sequence[Op], paired: list[Operation]
) -> dict[int, int]:
    """Part-history op id -> whole-history op id (by the invocation event), so a part
    checker's violations name the ops as every other checker and the report do."""
    whole = {_event_key(ops[o.call]): o.id for o in paired}
    return {o.id: whole.get(_event_key(part_ops[o.call]), o.id) for o in part_paired}


def _renumbered(run: Callable[[], Result], ids: dict[int, int]) -> Callable[[], Result]:
    def renumbered() -> Result:
        result = run()
        for violation in result.violations:
            for name in OP_ID_FIELDS:
                if isinstance(violation.get(name), int):
                    violation[name] = ids.get(violation[name], violation[name])
            for name in OP_IDS_FIELDS:
                if isinstance(violation.get(name), list):
                    violation[name] = [ids.get(i, i) for i in violation[name]]
        return result

    return renumbered


def _workload_plan(
    workload: str,
    ops: Sequence[Op],
    paired: list[Operation],
    model: str | None,
    budget_s: float,
) -> list[tuple[str, Callable[[], Result]]]:
    """The checkers one (non-composite) workload's ops get, beyond stats and errors."""
    plan: list[tuple[str, Callable[[], Result]]] = []
    if model is not None:
        plan.append(("linearizability", lambda: run_linearizability(ops, model, budget_s)))
    if workload == "set":
        plan.append(("set", lambda: sets.check(ops)))
    elif workload == "append":
        plan.append(("append", lambda: appends.check(ops)))
    elif workload == "counter":
        plan.append(("counter", lambda: counter.check(ops)))
    elif workload == "bank":
        plan.append(("bank", lambda: bank.check(ops)))
    if workload in DURABILITY_WORKLOADS and durability.final_reads(ops, paired):
        plan.append(("durability", lambda: durability.check(ops)))
    return plan


def _guarded(name: str, run: Callable[[], Result]) -> tuple[Result, float]:
    """Run one checker; a crash becomes an "unknown" result naming the error."""
    started = time.perf_counter()
    try:
        result = run()
    except Exception as exc:  # noqa: BLE001 - reported in the result, by design
        result = Result(
            name=name,
            valid=UNKNOWN,
            summary=f"checker failed: {type(exc).__name__}: {exc}",
            details={"error": f"{type(exc).__name__}: {exc}"},
        )
    return result, time.perf_counter() - started


def check_history(
    ops: Sequence[Op],
    *,
    workload: str | None = None,
    model: str | None = None,
    budget_s: float = DEFAULT_BUDGET_S,
    events_dir: str | Path | None = None,
    fmt: str | None = None,
    warnings: Sequence[str] = (),
    source: str | None = None,
) -> dict[str, Any]:
    """Check an in-memory history (plus node evidence) and return the results dict.

    Raises HistoryError if the history's invocations and completions do not pair up
    (no verdict on it would mean anything) and ValueError for an unknown workload."""
    ops = ops if isinstance(ops, Sequence) else list(ops)  # hardening: keep a History as is
    paired = pair_history(ops, source=source)  # validates before any checker runs
    if workload is None:
        workload = infer_workload(ops)
    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload {workload!r} (expected one of {', '.join(WORKLOADS)})")
    plan: list[tuple[str, Callable[[], Result]]] = [
        ("stats", lambda: stats.check(ops)),
        ("errors", lambda: errors.check(ops)),
    ]
    if workload in PARTS:
        model = model or ", ".join(
            f"{LIN_MODELS[w]} ({part})"
            for part, w in PARTS[workload].items()
            if w in LIN_MODELS and part not in PARTS_WITHOUT_SEARCH
        )
        for part, part_workload in PARTS[workload].items():
            part_ops = part_history(ops, part)
            part_paired = pair_history(part_ops).ops
            ids = _global_ids(part_ops, part_paired, ops, paired.ops)
            plan += [
                (f"{name}:{part}", _renumbered(run, ids))
                for name, run in _workload_plan(
                    part_workload,
                    part_ops,
                    part_paired,
                    None if part in PARTS_WITHOUT_SEARCH else LIN_MODELS.get(part_workload),
                    budget_s,
                )
            ]
    else:
        if model is None:
            family = model_family(workload, ops, fmt)
            model = LIN_MODELS[family] if family else None
        plan += _workload_plan(workload, ops, paired.ops, model, budget_s)
    if events_dir is not None and has_evidence(events_dir):
        root = events_dir
        plan.append(("raft-safety", lambda: raft_safety.check_events(root)))
    results: dict[str, Any] = {
        "valid": True,
        "workload": workload,
        "model": model,
        "checkers": [],
        "history": {"source": source, "ops": len(ops), "client_ops": len(paired.ops)},
        # readers may already carry the pairing warnings: say each once
        "warnings": list(dict.fromkeys([*warnings, *paired.warnings])),
        "timing_s": {},
    }
    verdicts = []
    for name, run in plan:
        result, elapsed = _guarded(name, run)
        results["checkers"].append(name)
        results[name] = result.to_json()
        results["timing_s"][name] = round(elapsed, 3)
        verdicts.append(result.valid)
    results["valid"] = merge_valid(verdicts)
    results["safety"] = safety_coverage(results)
    return results


def safety_coverage(results: dict[str, Any]) -> dict[str, Any]:
    """Which Raft safety properties this run's evidence could check, and why not the
    others: without node evidence nothing was checked (never "holds")."""
    entry = results.get("raft-safety")
    properties = (entry or {}).get("details", {}).get("properties")
    if not isinstance(properties, dict):
        why = (
            "the raft-safety checker did not finish"
            if entry
            else "no node events or log dumps were collected"
        )
        return {"checked": [], "not_checked": dict.fromkeys(raft_safety.PROPERTIES, why)}
    return {
        "checked": [p for p, e in properties.items() if e.get("checked", True)],
        "not_checked": {
            p: e.get("reason", "") for p, e in properties.items() if not e.get("checked", True)
        },
    }


def _workload_from_spec(store_dir: Path, warnings: list[str]) -> str | None:
    """The workload named in the store's test.yaml, if any (the harness writes it).
    hardening (issue 11 item 6): a test.yaml that exists but cannot be used is a warning
    naming the problem, never silently ignored - the workload is then inferred."""
    spec_path = store_dir / "test.yaml"
    if not spec_path.is_file():
        return None
    try:
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - reported, then the workload is inferred
        mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
        if mark is not None and problem:
            problem = f"invalid YAML at line {mark.line + 1}: {problem}"
        else:
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        warnings.append(f"{spec_path}: unreadable ({problem}); workload inferred from the ops")
        return None
    found = spec.get("workload") if isinstance(spec, dict) else None
    if isinstance(found, dict):
        found = found.get("name")
    if isinstance(found, str) and found in WORKLOADS:
        return found
    if not isinstance(spec, dict):
        what = "not a mapping of fields"
    elif found is None:
        what = "no workload field"
    else:
        what = f"workload {found!r} is not one of {', '.join(WORKLOADS)}"
    warnings.append(f"{spec_path}: {what}; workload inferred from the ops")
    return None


def write_results(path: Path, results: dict[str, Any]) -> None:
    """Write results.json atomically (a reader never sees half a file). The one writer of
    results.json: check_store uses it, and so does the runner for a run it could not check."""
    fd, tmp = tempfile.mkstemp(prefix=".results.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(results, stream, indent=2, default=str)
            stream.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_store_history(store_dir: Path) -> ReadResult:
    """The ops (and reader warnings, e.g. a torn last line) of a store's history.jsonl."""
    path = store_dir / HISTORY_FILE
    if not path.is_file():
        raise HistoryError(f"no {HISTORY_FILE} in this store directory", source=str(store_dir))
    return load_history(path)


def check_store(
    store_dir: str | Path,
    *,
    workload: str | None = None,
    model: str | None = None,
    budget_s: float = DEFAULT_BUDGET_S,
    events_dir: str | Path | None = None,
    history: ReadResult | None = None,
) -> dict[str, Any]:
    """Check a test's store directory and write `store_dir/results.json`.

    `workload` defaults to the one in test.yaml, else it is inferred from the history;
    node evidence is read from `events_dir`, by default `store_dir/nodes`. `history` is
    the store's history already read (the runner reads it once for the checkers and the
    report); without it, history.jsonl is read here."""
    store = Path(store_dir)
    if history is None:
        history = load_store_history(store)
    run_facts = _run_facts(store)
    spec_warnings: list[str] = []
    if workload is None:
        workload = _workload_from_spec(store, spec_warnings)
    if events_dir is None and (store / "nodes").is_dir():
        events_dir = store / "nodes"
    results = check_history(
        history.ops,
        workload=workload,
        model=model,
        budget_s=budget_s,
        events_dir=events_dir,
        fmt="jsonl",
        warnings=[*history.warnings, *spec_warnings],
        source=str(store / HISTORY_FILE),
    )
    results.update(_db_info(store))
    results.update(run_facts)
    results["detection"] = compute_detection(results, history.ops, store=store)
    write_results(store / RESULTS_FILE, results)
    return results


# What the runner alone knows about a run and records in results.json beside the verdict:
# a re-check (`splitbrain check STORE`) rewrites the verdict but must keep these.
RUN_FACTS = ("stopped_early_at_s", "online", "harness_error")


def _run_facts(store: Path) -> dict[str, Any]:
    """RUN_FACTS from the store's results.json as the run left it ({} if none or torn)."""
    try:
        previous = json.loads((store / RESULTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(previous, dict):
        return {}
    return {key: previous[key] for key in RUN_FACTS if key in previous}


def _db_info(store: Path) -> dict[str, Any]:
    """{"db": {...}, "db_version": ...} from the store's db.json (the runner writes it)."""
    try:
        info = json.loads((store / DB_INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(info, dict):
        return {}
    return {"db": info, "db_version": info.get("version")}


def summary_text(results: dict[str, Any], *, max_violations: int = 5) -> str:
    """A short human summary: the verdict, one line per checker, and the first
    violations of each failed checker."""
    lines = [
        f"verdict: {verdict_word(results['valid'])}  "
        f"(workload {results.get('workload')}, model {results.get('model') or '-'}, "
        f"{results.get('history', {}).get('client_ops', 0)} client ops)"
    ]
    if results.get("error"):
        lines.append(f"  error: {results['error']}")
    names = results.get("checkers", [])
    width = max((len(n) for n in names), default=0)
    for name in names:
        entry = results.get(name, {})
        summary = str(entry.get("summary", "")).replace("\n", "\n" + " " * (width + 13))
        lines.append(f"  {name:<{width}}  {verdict_word(entry.get('valid')):<8} {summary}")
    for name in names:
        entry = results.get(name, {})
        if entry.get("valid") is not False:
            continue
        shown = entry.get("violations", [])[:max_violations]
        for violation in shown:
            lines.append(f"  [{name}] {violation.get('message')}")
        more = entry.get("violation_count", len(shown)) - len(shown)
        if more > 0:
            lines.append(f"  [{name}] ... and {more} more (see results.json)")
    not_checked = results.get("safety", {}).get("not_checked") or {}
    reasons = sorted(set(not_checked.values()))
    if len(not_checked) == len(raft_safety.PROPERTIES) and len(reasons) == 1:
        lines.append(f"  raft safety not checked: {reasons[0]}")
    elif not_checked and "raft-safety" not in names:  # else its summary says it
        listed = "; ".join(f"{p} ({why})" for p, why in not_checked.items())
        lines.append(f"  raft safety not checked: {listed}")
    # hardening (issue 11 item 6): the checkers' own warnings too (unreadable evidence
    # lines...), not only with --json; the first few, then how many more.
    warnings = [*results.get("warnings", [])]
    warnings += [f"[{n}] {w}" for n in names for w in results.get(n, {}).get("warnings", [])]
    for warning in warnings[:MAX_WARNINGS_SHOWN]:
        lines.append(f"  warning: {warning}")
    if len(warnings) > MAX_WARNINGS_SHOWN:
        more = len(warnings) - MAX_WARNINGS_SHOWN
        lines.append(f"  ... and {more} more warnings (see results.json)")
    return "\n".join(lines)
