"""`splitbrain test`: run one (or --test-count N) Jepsen-style tests and exit with the
verdict: 0 valid, 1 invalid, 2 unknown or a harness error (one clear line, no
traceback; teardown has happened by then).

Flags override the fields of ``-f spec.yaml``; with no flags at all it runs the default
test: ~60 s of the kv+append workload on 5 raftnode nodes under partition, kill and pause.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import click
import yaml

from checkers.composite import summary_text
from harness.core.protocols import HarnessError
from harness.spec import SpecError, TestSpec, build_spec, load_yaml, validate_spec

COMMAND_LINE = "command line"

# CLI option → spec field (for overlaying explicitly given flags on a YAML spec).
OPTION_FIELDS = {
    "name": "name",
    "db": "db",
    "workload": "workload",
    "nemesis": "nemesis",
    "nemesis_interval": "nemesis_interval",
    "nemesis_targets": "nemesis_targets",
    "nodes": "nodes",
    "concurrency": "concurrency",
    "time_limit": "time_limit",
    "seed": "seed",
    "cluster": "cluster",
    "ssh_hosts": "ssh_hosts",
    "bugs": "bugs",
    "test_count": "test_count",
    "recovery": "recovery_s",
    "rate": "rate",
    "keys": "keys",
    "store": "store",
    "budget": "budget",
    "op_timeout": "op_timeout",
    "stop_on_violation": "stop_on_violation",
}


def _flag(field: str) -> str:
    for option, name in OPTION_FIELDS.items():
        if name == field:
            return "--" + ("bug" if option == "bugs" else option.replace("_", "-"))
    return field


def db_options_from_cli(values: dict[str, Any]) -> dict[str, Any]:
    """``--db-option KEY=VALUE`` (VALUE read as YAML), ``--bin``, ``--bin-arg``."""
    out = parse_db_options(values.get("db_options") or ())
    if values.get("bin"):
        out["bin"] = values["bin"]
    if values.get("bin_args"):
        out["bin_args"] = list(values["bin_args"])
    return out


def spec_from_cli(values: dict[str, Any], given: set[str], spec_file: str | None) -> TestSpec:
    """The spec: YAML file (if any), then the flags the user actually gave; validated
    (harness.spec.validate_spec) before anything starts."""
    base = load_yaml(spec_file) if spec_file else TestSpec()
    data = {OPTION_FIELDS[k]: values[k] for k in given if k in OPTION_FIELDS}
    cli_db_options = db_options_from_cli(values)
    if cli_db_options:
        data["db_options"] = {**base.db_options, **cli_db_options}
    if "rate" in data and data["rate"] == 0:
        data["rate"] = None  # --rate 0: unthrottled
    try:
        return validate_spec(build_spec(data, COMMAND_LINE, base), COMMAND_LINE)
    except SpecError as exc:
        if exc.path in data or spec_file is None:
            raise SpecError(COMMAND_LINE, _flag(exc.path), exc.problem) from None
        raise SpecError(spec_file, exc.path, exc.problem) from None  # the file's value


def parse_db_options(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """--db-option KEY=VALUE pairs; VALUE is read as YAML (true, 100, [a, b], text)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(COMMAND_LINE, "--db-option", f"expected KEY=VALUE, got {item!r}")
        try:
            out[key.strip().replace("-", "_")] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            out[key.strip().replace("-", "_")] = raw
    return out


def fail(message: str) -> None:
    click.echo(f"splitbrain test: {message}", err=True)
    sys.exit(2)


def combined_exit(codes: list[int]) -> int:
    """Several runs: invalid (1) if any was invalid, else 2 if any was not valid."""
    if 1 in codes:
        return 1
    return max(codes, default=2)


@click.command(name="test")
@click.option(
    "-f",
    "--file",
    "spec_file",
    type=click.Path(dir_okay=False),
    help="A YAML test spec; flags override its fields.",
)
@click.option("--name", help="Test name (store/<name>/…); default <db>-<workload>.")
@click.option(
    "--db",
    help="DB under test: raftnode (default), null, or a plug-in (entry point splitbrain.dbs).",
)
@click.option("--workload", help="kv+append (default), register, kv, set, append, counter or bank.")
@click.option(
    "--nemesis",
    help="Comma-separated faults for a random schedule: partition,kill,pause,clock,packet,disk; "
    "or none. Default scenarios: bug-aimed fault sequences (docs/nemeses.md).",
)
@click.option(
    "--nemesis-interval",
    type=float,
    help="Seconds between faults, the scenarios' time unit x4 (default 4).",
)
@click.option(
    "--nemesis-targets",
    help="Comma-separated: one, minority, minority-third, majority, leader, primaries, all, or node names.",
)
@click.option("--nodes", type=int, help="Number of nodes n1..nN (default 5).")
@click.option("--concurrency", type=int, help="Client worker processes (default: three per node).")
@click.option("--time-limit", type=float, help="Seconds of workload (default 60).")
@click.option(
    "--seed",
    type=int,
    help="Seed for ops and faults (default: random, printed and saved in test.yaml).",
)
@click.option(
    "--cluster",
    help="netns, local or ssh (default: netns when root may use namespaces, else local).",
)
@click.option(
    "--ssh-hosts", type=click.Path(dir_okay=False), help="YAML list of hosts for --cluster ssh."
)
@click.option(
    "--bug",
    "bugs",
    multiple=True,
    help="A raftnode planted bug to enable (repeatable; python -m raftnode --list-bugs).",
)
@click.option("--test-count", type=int, help="Run the test N times (seeds seed, seed+1, …).")
@click.option(
    "--recovery",
    type=float,
    help="Seconds to let the cluster recover before final reads (default 5).",
)
@click.option("--rate", type=float, help="Target total ops/s (default 100; 0 = unthrottled).")
@click.option("--keys", type=int, help="Number of keys/accounts for kv, append and bank.")
@click.option("--store", help="Store directory (default ./store).")
@click.option("--budget", type=float, help="Seconds the checkers may spend (default 120).")
@click.option("--op-timeout", type=float, help="Client op timeout in seconds (default 5).")
@click.option(
    "--db-option",
    "db_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A DB option (repeatable), e.g. serializable=true (etcd) or version=0.3.12 "
    "(pysyncobj); VALUE is read as YAML. See docs/*.md per DB.",
)
@click.option("--bin", help="--db maelstrom: the Maelstrom node binary to run on every node.")
@click.option(
    "--bin-arg",
    "bin_args",
    multiple=True,
    help="--db maelstrom: an argument for --bin (repeatable, in order).",
)
@click.option(
    "--stop-on-violation",
    is_flag=True,
    default=False,
    help="Check ops and node events online; at the first violation stop the workload "
    "(then heal, final reads and the full check as usual).",
)
@click.option("--progress/--no-progress", default=True, help="Show the live progress line.")
@click.pass_context
def test_command(ctx: click.Context, spec_file: str | None, progress: bool, **values: Any) -> None:
    """Run a Jepsen-style test: deploy, drive clients under faults, record, check."""
    given = {
        name
        for name in values
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    }
    if "bugs" in given and not values["bugs"]:
        given.discard("bugs")
    try:
        spec = spec_from_cli(values, given, spec_file)
    except HarnessError as exc:
        fail(str(exc))
        return
    codes = []
    for i in range(spec.test_count):
        run_spec = (
            spec
            if spec.test_count == 1
            else replace(spec, seed=None if spec.seed is None else spec.seed + i)
        )
        if spec.test_count > 1:
            click.echo(f"— test {i + 1} of {spec.test_count}", err=True)
        codes.append(run_one(run_spec, progress))
    sys.exit(combined_exit(codes))


def run_one(spec: TestSpec, progress: bool) -> int:
    """One run with the progress line; prints the verdict summary; returns the exit code."""
    from harness.progress import ProgressDisplay
    from harness.runner import Runner

    runner = Runner(spec)
    if progress:
        with ProgressDisplay(runner.status):
            result = runner.run()
    else:
        result = runner.run()
    click.echo(f"seed {spec.seed}; store {result.run_dir}")
    stopped = result.results.get("stopped_early_at_s")
    if stopped is not None:
        click.echo(f"stopped early at {stopped:.1f} s (--stop-on-violation)")
    click.echo(summary_text(result.results))
    if result.interrupted:
        click.echo("interrupted: the verdict covers the history recorded before Ctrl-C", err=True)
    if result.error:
        click.echo(f"splitbrain test: {result.error}", err=True)
    click.echo(f"report: {result.run_dir / 'report.html'}")
    return result.exit_code
