"""`splitbrain cleanup [RUN]`: remove what a dead controller's run left behind.

A `splitbrain test` killed with SIGKILL cannot tear down: its node processes (perhaps
one SIGSTOPped), their ports and temporary node directories, its netns lab and its run
record stay. This removes exactly one run's debris (RUN: its store directory, or its id
`<test name>/<timestamp>`, or just the timestamp), or with no RUN that of every run
whose controller is gone - never anything of a run still running, nor of other tests.
The nodes' logs are copied into the run's `nodes/<node>/` first, so `splitbrain check
RUN_DIR` can still use them. Every `splitbrain test` does the no-RUN form by itself.
"""

from __future__ import annotations

from pathlib import Path

import click

from harness.hosts.local_state import RunRecord, all_runs, reap_run


def _matches(record: RunRecord, run: str) -> bool:
    path = Path(run)
    if path.is_dir():
        return record.run_dir is not None and Path(record.run_dir) == path.resolve()
    run_id = record.run_id or ""
    return run_id == run.strip("/") or run_id.endswith("/" + run.strip("/"))


def _fail(message: str) -> None:
    click.echo(f"splitbrain cleanup: {message}", err=True)
    raise SystemExit(2)


@click.command(name="cleanup")
@click.argument("run", required=False)
@click.option(
    "--force", is_flag=True, help="Also clean up a run whose controller is still running."
)
def cleanup_command(run: str | None, force: bool) -> None:
    """Kill a dead test's leftover nodes, remove its temp dirs and lab, keep its logs.

    RUN is a run directory (store/<test>/<time>) or its id (<test>/<time>, or <time>);
    without RUN, every run whose controller is gone is cleaned up."""
    records, problems = all_runs()
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)
    if run is None:
        chosen = [r for r in records if not r.controller_alive]
    else:
        chosen = [r for r in records if _matches(r, run)]
        if not chosen:
            if Path(run).is_dir():
                click.echo(f"run {run}: nothing left to clean up")
                return
            _fail(
                f"no run {run!r} is recorded: give its store directory or its id "
                "<test>/<timestamp> (splitbrain cleanup with no argument cleans every dead run)"
            )
        alive = [r for r in chosen if r.controller_alive]
        if alive and not force:
            pid = alive[0].owner_pid
            _fail(
                f"run {run} is still running (controller pid {pid}): stop it with "
                f"kill -TERM {pid} (it then tears down by itself), or pass --force"
            )
    if not chosen:
        click.echo("nothing to clean up: no run of a dead controller is recorded")
        return
    failed = False
    for record in chosen:
        reaped = reap_run(record)
        click.echo(reaped.describe())
        if reaped.collected:
            click.echo(f"  check what it recorded: splitbrain check {record.run_dir}")
        failed = failed or bool(reaped.errors)
    if failed:
        raise SystemExit(2)
