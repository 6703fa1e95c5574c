"""`splitbrain check HISTORY`: the checkers on a recorded history, from the shell.

HISTORY is a history file in any format `checkers.formats` reads (our JSONL, Jepsen
EDN, Jepsen log lines) or a test's store directory (then results.json is written into
it and node events are read from its `nodes/`). Exit codes follow Jepsen: 0 valid,
1 invalid, 2 unknown - and 2 for input that cannot be read, with one line on stderr
saying why (never a traceback: the input is the user's, the bug is not ours).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from checkers.composite import (
    DEFAULT_BUDGET_S,
    WORKLOADS,
    check_history,
    check_store,
    summary_text,
    validate_model,
)
from checkers.events import EventsError
from checkers.history import HistoryError

EXIT_VALID, EXIT_INVALID, EXIT_UNKNOWN = 0, 1, 2


def exit_code(valid: object) -> int:
    if valid is True:
        return EXIT_VALID
    if valid is False:
        return EXIT_INVALID
    return EXIT_UNKNOWN


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(EXIT_UNKNOWN)


def _run(
    history: Path, workload: str | None, model: str | None, events: Path | None, budget: float
) -> dict:
    if history.is_dir():
        return check_store(
            history, workload=workload, model=model, budget_s=budget, events_dir=events
        )
    from checkers.formats import load_history

    read = load_history(history)
    return check_history(
        read.ops,
        workload=workload,
        model=model,
        budget_s=budget,
        events_dir=events,
        fmt=read.format,
        warnings=read.warnings,
        source=str(history),
    )


@click.command("check")
@click.argument("history", type=click.Path(path_type=Path))
@click.option("--model", help="Linearizability model (default: inferred from the workload).")
@click.option(
    "--workload",
    type=click.Choice(WORKLOADS),
    help="Which checker set to run (default: from test.yaml, else inferred from the ops).",
)
@click.option(
    "--events",
    type=click.Path(path_type=Path),
    help="Directory of node events (<node>/events.jsonl, dump.json) for the Raft safety checks.",
)
@click.option(
    "--budget",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_BUDGET_S,
    show_default=True,
    help="Seconds the linearizability search may take before answering unknown.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the results as JSON instead of a summary."
)
def check_command(
    history: Path,
    model: str | None,
    workload: str | None,
    events: Path | None,
    budget: float,
    as_json: bool,
) -> None:
    """Check a recorded HISTORY (file or store directory); exit 0 valid, 1 invalid, 2 unknown."""
    if not history.exists():
        _fail(f"{history}: no such file or directory")
    if events is not None and not events.is_dir():
        _fail(f"{events}: events directory not found")
    if model is not None:
        try:
            validate_model(model)
        except ValueError as exc:
            _fail(str(exc))
    try:
        results = _run(history, workload, model, events, budget)
    except (HistoryError, EventsError, ValueError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{exc.filename or history}: {exc.strerror}")
    if as_json:
        click.echo(json.dumps(results, indent=2, default=str))
    else:
        click.echo(summary_text(results))
    raise SystemExit(exit_code(results["valid"]))
