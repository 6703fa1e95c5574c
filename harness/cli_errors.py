"""The `splitbrain` command's last line of defence: every unexpected error exits 2.

Why: exit 1 means "the history is invalid". A crash that exits 1 (Python's default for
an uncaught exception, click's for Ctrl-C and a broken pipe) makes a CI job record a
bug the system under test does not have. So the click group invokes its subcommands
through `GuardedGroup`, which turns whatever escapes them into one line on stderr and
exit 2 ("unknown"):

- a HarnessError: its message (a user or environment problem, already one line);
- an OSError naming a file (an unusable `--store`, a full disk): the file and why
  (the traceback only with --debug: it is the environment, not a bug);
- Ctrl-C: "interrupted"; a closed stdout pipe: nothing more to say;
- anything else: "internal error: <type>: <message>" and where the traceback went.

The traceback goes to the controller.log of the run this process created, if any, else
to a crash log in the temp dir (`$SPLITBRAIN_CRASH_LOG` overrides the path).
`--debug` (or `SPLITBRAIN_DEBUG=1`) also prints it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

import click

from harness import store
from harness.core.protocols import HarnessError

EXIT_UNKNOWN = 2
DEBUG_ENV = "SPLITBRAIN_DEBUG"
CRASH_LOG_ENV = "SPLITBRAIN_CRASH_LOG"


def crash_log_path() -> Path:
    """Where a traceback goes: the controller.log of this process's run, else a file in
    the temp dir."""
    run = store.last_created
    if run is not None and run.is_dir():
        return run / "controller.log"
    override = os.environ.get(CRASH_LOG_ENV)
    if override:
        return Path(override)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    return Path(tempfile.gettempdir()) / f"splitbrain-crash-{stamp}-{os.getpid()}.log"


def save_traceback(exc: BaseException, command: str) -> Path | None:
    """Append the traceback to crash_log_path(); None if even that cannot be written."""
    path = crash_log_path()
    text = "".join(traceback.format_exception(exc))
    try:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} ERROR splitbrain {command}:\n")
            stream.write(text)
    except OSError:
        return None
    return path


def _debug(ctx: click.Context) -> bool:
    return bool(ctx.params.get("debug")) or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def _command(ctx: click.Context) -> str:
    """ "splitbrain test", as the subcommands name themselves in their own errors."""
    return " ".join(filter(None, ["splitbrain", ctx.invoked_subcommand]))


def _quit(command: str, message: str) -> NoReturn:
    click.echo(f"{command}: {message}", err=True)
    raise SystemExit(EXIT_UNKNOWN)


class GuardedGroup(click.Group):
    """A click group whose subcommands can only exit 0, 1 or 2 on purpose, and 2 (with
    one line) for everything that goes wrong unexpectedly. Subcommands are unaware of it,
    so new ones (added by anyone) are covered too."""

    def invoke(self, ctx: click.Context) -> Any:
        # A run directory belongs to the invocation that created it: an earlier command
        # in the same process (tests, an embedding tool) must not receive our traceback.
        store.last_created = None
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own usage errors already exit 2 with one line
        except KeyboardInterrupt:
            _quit(_command(ctx), "interrupted")
        except BrokenPipeError:
            # The reader of our stdout went away (`| head`): nothing left to tell it.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(EXIT_UNKNOWN) from None
        except HarnessError as exc:
            _quit(_command(ctx), str(exc))
        except Exception as exc:  # noqa: BLE001 - the point of this class
            self._report_crash(ctx, _command(ctx), exc)

    @staticmethod
    def _report_crash(ctx: click.Context, command: str, exc: Exception) -> NoReturn:
        if _debug(ctx):
            traceback.print_exception(exc, file=sys.stderr)
        if isinstance(exc, OSError) and exc.filename is not None:
            # The environment, not a bug (a --store that is a file, a read-only or full
            # disk): the path and the reason are the whole story.
            _quit(command, f"cannot use {exc.filename}: {exc.strerror or type(exc).__name__}")
        where = save_traceback(exc, command)
        saved = f"traceback in {where}" if where else "traceback could not be saved"
        detail = str(exc).splitlines()[0] if str(exc) else ""
        _quit(
            command,
            f"internal error: {type(exc).__name__}{': ' + detail if detail else ''} "
            f"(exit 2: the verdict is unknown; {saved})",
        )
