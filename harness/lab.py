"""`splitbrain lab up|down|status`: manage network-namespace labs by hand.

Tests and `splitbrain test --cluster netns` make and remove their own labs; these
commands are for exploring a lab interactively (curl a node, run a node by hand) and
for cleaning up after a controller that died (`lab down` is idempotent and works from
the state files alone).
"""

from __future__ import annotations

import sys

import click

from harness.core.protocols import HarnessError
from harness.hosts import lab_state, local_state, netns


def _fail(message: str) -> None:
    click.echo(f"splitbrain lab: {message}", err=True)
    sys.exit(2)


def _require_admin() -> None:
    ok, reason = netns.can_admin_network()
    if not ok:
        _fail(f"network namespaces unavailable: {reason}")


@click.group(name="lab")
def lab_group() -> None:
    """Network-namespace labs: one namespace per node on a private bridge."""


@lab_group.command("up")
@click.option(
    "--name",
    "name",
    default=None,
    help="Lab name (1-12 lowercase letters/digits); random if omitted.",
)
@click.option(
    "--nodes",
    "nodes",
    type=click.IntRange(1, 200),
    default=5,
    show_default=True,
    help="Number of nodes n1..nN.",
)
def lab_up(name: str | None, nodes: int) -> None:
    """Create a lab and print each node's namespace and address."""
    _require_admin()
    try:
        record = netns.create_lab([f"n{i}" for i in range(1, nodes + 1)], name)
    except HarnessError as exc:
        _fail(str(exc))
        return
    click.echo(
        f"lab {record.name}: subnet {record.subnet}, controller {record.host_address} on {record.host_link}"
    )
    for node, rec in record.nodes.items():
        click.echo(f"  {node}  {rec.address:<15}  ip netns exec {rec.ns} ...")
    click.echo(f"remove with: splitbrain lab down --name {record.name}")


@lab_group.command("down")
@click.option("--name", "name", default=None, help="The lab to remove.")
@click.option("--all", "all_labs", is_flag=True, help="Remove every lab recorded on this machine.")
def lab_down(name: str | None, all_labs: bool) -> None:
    """Remove a lab: kill its daemons, delete namespaces, links and routes. Idempotent.

    --all removes every lab on this machine (also other running tests' labs) and cleans
    up the runs of dead controllers; `splitbrain cleanup RUN` removes one run's debris."""
    if bool(name) == all_labs:
        _fail("give exactly one of --name N or --all")
    if all_labs:
        for session, pids in local_state.reap_orphans().items():
            click.echo(
                f"{session}: killed leftover daemons {pids}" if pids else f"{session}: removed"
            )
        if not lab_state.all_names() and not netns.can_admin_network()[0]:
            click.echo("no labs")
            return
    _require_admin()
    names = lab_state.all_names() if all_labs else [name]
    if all_labs:
        # Also namespaces whose record was lost (e.g. state dir removed by hand).
        for ns in netns.existing_namespaces():
            parts = ns.split("-")
            if len(parts) >= 2 and parts[0] == "sb" and lab_state.LAB_NAME_RE.match(parts[1]):
                names.append(parts[1])
    for lab in sorted(set(n for n in names if n)):
        try:
            removed = netns.destroy_lab(lab)
        except HarnessError as exc:
            _fail(str(exc))
            return
        click.echo(f"lab {lab}: " + (", ".join(removed) if removed else "nothing left to remove"))
    if not names:
        click.echo("no labs")


@lab_group.command("status")
def lab_status() -> None:
    """List labs with their subnet, namespaces present and live daemons."""
    names = lab_state.all_names()
    if not names:
        click.echo("no labs")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="splitbrain labs")
    columns = ["name", "state", "subnet", "nodes", "namespaces", "live_pids", "owner"]
    for column in columns:
        table.add_column(column, no_wrap=True)
    for lab in names:
        try:
            row = netns.lab_status(lab)
        except HarnessError as exc:
            row = {"name": lab, "state": f"error: {exc}"}
        table.add_row(*(str(row.get(c, "")) for c in columns))
    # Piped output (scripts, CI logs) must not be cut at 80 columns.
    Console(width=None if sys.stdout.isatty() else 160).print(table)
