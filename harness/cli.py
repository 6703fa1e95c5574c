"""The `splitbrain` console command: one click group, one module per subcommand.

Subcommands live next to what they drive: `test` in harness.test_command, `lab` in
harness.lab, `check` in checkers.cli, `campaign` in harness.campaign_run, `serve` in
harness.serve, `cleanup` in harness.cleanup_command. This file only wires them together
(through harness.cli_errors.GuardedGroup: any unexpected error exits 2 with one line).
"""

from __future__ import annotations

import click

from checkers.cli import check_command
from harness.campaign_run import campaign_command
from harness.cleanup_command import cleanup_command
from harness.cli_errors import GuardedGroup
from harness.lab import lab_group
from harness.serve import serve_command
from harness.test_command import test_command


@click.group(cls=GuardedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="splitbrain")
@click.option(
    "--debug",
    is_flag=True,
    help="On an unexpected error, also print the traceback (else it is only saved).",
)
def main(debug: bool) -> None:
    """splitbrain: a Jepsen-style correctness harness for Raft clusters.

    Exit codes: 0 valid, 1 invalid, 2 unknown or any error (one line on stderr)."""


main.add_command(test_command, name="test")
main.add_command(lab_group, name="lab")
main.add_command(check_command, name="check")
main.add_command(campaign_command, name="campaign")  # etcd-helper: harness/campaign_run.py
main.add_command(serve_command, name="serve")
main.add_command(cleanup_command, name="cleanup")


if __name__ == "__main__":
    main()
