"""`splitbrain campaign SPEC.yaml`: run a validated matrix of tests one after another.

Every cell is validated before anything runs (harness.campaign). Then each test runs
through the ordinary Runner, its run directory under ``<campaign dir>/runs/``; after
each, campaign.json, junit.xml and index.html are rewritten (harness.campaign_report),
so what ran is never lost. A live table shows progress and verdicts (a plain line per
test when stderr is not a terminal, e.g. in CI).

Resume: a campaign directory that already holds campaign.json (``--dir DIR`` or
``--resume DIR``) skips every cell recorded there with a verdict (valid, invalid,
unknown) whose spec is unchanged; crashed, interrupted and new cells run.

Ctrl-C: the running test stops the way `splitbrain test` does (heal, collect, tear
down, check what was recorded), then the campaign stops and writes its files; rerun
with ``--resume DIR`` to go on. Exit code: 1 if any test was invalid, else 2 if any
was unknown, crashed or the campaign was interrupted, else 0.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from harness.campaign import Campaign, Cell, load_campaign
from harness.campaign_report import CAMPAIGN_FILE, DONE_VERDICTS, counts, write_all
from harness.core.protocols import HarnessError
from harness.store import create_run
from harness.test_command import combined_exit

SPEC_COPY = "campaign.yaml"
EXIT_OF = {"valid": 0, "invalid": 1, "unknown": 2, "crashed": 2}
STYLE = {"valid": "green", "invalid": "bold red", "unknown": "yellow", "crashed": "yellow"}
SHOWN_ROWS = 20


def verdict_of(valid: Any, error: str | None) -> str:
    """A found violation wins over a crash; a crash over an undecided check."""
    if valid is False:
        return "invalid"
    if error is not None:
        return "crashed"
    return "valid" if valid is True else "unknown"


def entry_for(cell: Cell) -> dict[str, Any]:
    return {
        "index": cell.index,
        "key": cell.key,
        "label": cell.label,
        "params": cell.describe(),
        "seed": cell.seed,
        "verdict": None,
    }


def results_fields(results: dict[str, Any]) -> dict[str, Any]:
    """What campaign.json keeps of a test's results.json."""
    out: dict[str, Any] = {
        "checkers": {
            name: {"valid": results[name].get("valid"), "summary": results[name].get("summary")}
            for name in results.get("checkers", [])
            if isinstance(results.get(name), dict)
        }
    }
    for name in ("detection", "stopped_early_at_s", "db_version", "safety"):
        if name in results:
            out[name] = results[name]
    return out


@dataclass
class CampaignRun:
    """One execution of a campaign in `directory` (new, or one to resume)."""

    campaign: Campaign
    directory: Path
    fail_fast: bool = False
    tests: list[dict[str, Any]] = field(default_factory=list)
    current: Any = None  # the Runner of the test in progress
    current_index: int | None = None
    interrupted: bool = False
    started: float = field(default_factory=time.time)

    def prepare(self) -> int:
        """Entries for every cell, taking finished ones from an earlier campaign.json;
        returns how many cells are already done."""
        previous = self._previous()
        self.tests = []
        reused = 0
        for cell in self.campaign.cells:
            old = previous.get(cell.key)
            if (
                old is not None
                and old.get("verdict") in DONE_VERDICTS
                and not old.get("interrupted")
            ):
                self.tests.append(
                    {**old, "index": cell.index, "label": cell.label, "resumed": True}
                )
                reused += 1
            else:
                self.tests.append(entry_for(cell))
        self.write()
        return reused

    def _previous(self) -> dict[str, dict[str, Any]]:
        path = self.directory / CAMPAIGN_FILE
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise HarnessError(f"{path}: unreadable ({exc}); use a new --dir") from None
        if data.get("name") != self.campaign.name:
            raise HarnessError(
                f"{self.directory} holds campaign {data.get('name')!r}, not {self.campaign.name!r}"
            )
        return {t["key"]: t for t in data.get("tests", []) if isinstance(t, dict) and "key" in t}

    def write(self) -> None:
        write_all(
            self.directory,
            {
                "name": self.campaign.name,
                "spec_file": self.campaign.source,
                "directory": str(self.directory),
                "started": self.started,
                "updated": time.time(),
                "interrupted": self.interrupted,
                "tests": self.tests,
            },
        )

    def run(self, on_change: Any = None) -> int:
        """Run every cell not done yet; returns the campaign's exit code."""
        from harness.runner import Runner

        for cell, entry in zip(self.campaign.cells, self.tests, strict=True):
            if entry.get("verdict") in DONE_VERDICTS and entry.get("resumed"):
                continue
            runner = Runner(replace(cell.spec, store=str(self.directory / "runs")))
            self.current, self.current_index = runner, cell.index
            began = time.monotonic()
            try:
                result = runner.run()
            except KeyboardInterrupt:  # between the runner's own Ctrl-C handling
                self.interrupted = True
                entry.update(interrupted=True, duration_s=round(time.monotonic() - began, 3))
                break
            except Exception as exc:  # noqa: BLE001 - one crashed test does not end the campaign
                entry.update(verdict="crashed", error=f"{type(exc).__name__}: {exc}")
            else:
                entry.update(self._finished(result))
            finally:
                entry["duration_s"] = round(time.monotonic() - began, 3)
                self.current, self.current_index = None, None
                self.write()
                if on_change is not None:
                    on_change(entry)
            if entry.get("interrupted"):
                self.interrupted = True
                break
            if self.fail_fast and entry["verdict"] != "valid":
                break
        self.write()
        return self.exit_code()

    @staticmethod
    def _finished(result: Any) -> dict[str, Any]:
        verdict = verdict_of(result.valid, result.error)
        out: dict[str, Any] = {
            "verdict": verdict,
            "exit_code": EXIT_OF[verdict],
            "run_dir": str(result.run_dir),
            **results_fields(result.results),
        }
        if result.error:
            out["error"] = result.error
        if result.interrupted:
            # What was checked before Ctrl-C: a violation stands, anything else reruns.
            out["interrupted"] = True
            if verdict != "invalid":
                out["verdict"] = None
        return out

    def exit_code(self) -> int:
        codes = [EXIT_OF[t["verdict"]] for t in self.tests if t.get("verdict") in EXIT_OF]
        if self.interrupted:
            codes.append(2)
        return combined_exit(codes)

    # -- display ----------------------------------------------------------------------
    def render(self) -> Group:
        c = counts(self.tests)
        head = Text(
            f"campaign {self.campaign.name}: {c['total'] - c['not run']}/{c['total']} done  "
            f"valid {c['valid']}  invalid {c['invalid']}  unknown {c['unknown']}  "
            f"crashed {c['crashed']}   {self.directory}"
        )
        table = Table(box=None, pad_edge=False, expand=True)
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("test", no_wrap=True, overflow="ellipsis", max_width=50)
        table.add_column("verdict", no_wrap=True, min_width=8)
        table.add_column("s", justify="right", no_wrap=True)
        table.add_column("note", no_wrap=True, overflow="ellipsis", ratio=1)
        for test in self._window():
            table.add_row(*self._row(test))
        return Group(head, table)

    def _window(self) -> list[dict[str, Any]]:
        """All rows of a small campaign; of a big one, the bad ones, the running one and
        its neighbours."""
        if len(self.tests) <= SHOWN_ROWS:
            return self.tests
        at = (self.current_index or 1) - 1
        near = set(range(max(0, at - 5), min(len(self.tests), at + 5)))
        bad = {i for i, t in enumerate(self.tests) if t.get("verdict") not in (None, "valid")}
        return [self.tests[i] for i in sorted(near | bad)][-SHOWN_ROWS:]

    def _row(self, test: dict[str, Any]) -> list[Any]:
        verdict = test.get("verdict")
        note = ""
        if test["index"] == self.current_index and self.current is not None:
            status = self.current.status()
            verdict_text = Text(status.phase, style="cyan")
            note = f"{status.elapsed_s:.0f}/{status.time_limit:g} s, ok {status.counters.ok}"
        elif verdict is None:
            verdict_text = Text(
                "interrupted" if test.get("interrupted") else "pending", style="dim"
            )
        else:
            verdict_text = Text(verdict, style=STYLE.get(verdict, ""))
            note = "" if verdict == "valid" else _short(test)
            if test.get("resumed"):
                note = ("(earlier run) " + note).strip()
        seconds = f"{test['duration_s']:.0f}" if test.get("duration_s") is not None else ""
        return [str(test["index"]), test["label"], verdict_text, seconds, note]

    def plain_line(self, test: dict[str, Any]) -> str:
        verdict = test.get("verdict") or ("interrupted" if test.get("interrupted") else "not run")
        c = counts(self.tests)
        return (
            f"[{c['total'] - c['not run']}/{c['total']}] {test['label']}: {verdict} "
            f"({test.get('duration_s') or 0:.0f} s) {'' if verdict == 'valid' else _short(test)}"
        ).rstrip()


def _short(test: dict[str, Any], limit: int = 120) -> str:
    from harness.campaign_report import failing_summary

    text = failing_summary(test)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def campaign_directory(campaign: Campaign, store: str) -> Path:
    """A fresh ``<store>/campaigns/<name>/<timestamp>/`` (``campaigns/latest`` points at it)."""
    run_dir = create_run(Path(store) / "campaigns", campaign.name)
    shutil.rmtree(run_dir.path / "nodes", ignore_errors=True)  # a campaign has runs, not nodes
    return run_dir.path


def fail(message: str) -> None:
    click.echo(f"splitbrain campaign: {message}", err=True)
    sys.exit(2)


@click.command(name="campaign")
@click.argument("spec_file", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    help="Campaign directory; if it holds campaign.json, finished cells are skipped.",
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False),
    help="Resume the campaign in DIR (its saved campaign.yaml unless SPEC_FILE is given).",
)
@click.option("--fail-fast", is_flag=True, help="Stop after the first test that is not valid.")
@click.option("--repeat", type=click.IntRange(min=1), help="Run every cell N times (default 1).")
@click.option(
    "--store", help="Where a new campaign directory goes (default: base.store or ./store)."
)
@click.option("--progress/--no-progress", default=True, help="Show the live table.")
def campaign_command(
    spec_file: str | None,
    directory: str | None,
    resume_dir: str | None,
    fail_fast: bool,
    repeat: int | None,
    store: str | None,
    progress: bool,
) -> None:
    """Run a matrix of tests (db x workload x nemesis x bugs x options x seeds) as a suite."""
    if resume_dir and directory and Path(resume_dir) != Path(directory):
        fail("--resume DIR and --dir DIR name different directories")
    target = resume_dir or directory
    if resume_dir:
        if not (Path(resume_dir) / CAMPAIGN_FILE).is_file():
            fail(f"--resume {resume_dir}: no {CAMPAIGN_FILE} there (not a campaign directory)")
        spec_file = spec_file or str(Path(resume_dir) / SPEC_COPY)
        if repeat is None:
            repeat = _recorded_repeat(Path(resume_dir))
    if spec_file is None:
        fail("missing SPEC_FILE (a campaign YAML), or --resume DIR")
        return
    try:
        campaign = load_campaign(spec_file, repeat=repeat or 1)
    except HarnessError as exc:
        fail(str(exc))
        return
    root = (
        Path(target)
        if target
        else campaign_directory(campaign, store or campaign.cells[0].spec.store)
    )
    root.mkdir(parents=True, exist_ok=True)
    copy = root / SPEC_COPY
    if Path(spec_file).resolve() != copy.resolve():
        shutil.copyfile(spec_file, copy)
    session = CampaignRun(campaign, root, fail_fast=fail_fast)
    try:
        reused = session.prepare()
    except HarnessError as exc:
        fail(str(exc))
        return
    console = Console(stderr=True)
    click.echo(
        f"campaign {campaign.name}: {len(campaign.cells)} tests"
        + (f" ({reused} already done)" if reused else "")
        + f" in {root}",
        err=True,
    )
    code = _run_with_display(session, console, progress)
    c = counts(session.tests)
    click.echo(
        f"campaign {campaign.name}: {c['valid']} valid, {c['invalid']} invalid, "
        f"{c['unknown']} unknown, {c['crashed']} crashed, {c['not run']} not run"
    )
    if session.interrupted:
        click.echo(f"interrupted: rerun with --resume {root} to go on", err=True)
    click.echo(f"index: {root / 'index.html'}  junit: {root / 'junit.xml'}")
    sys.exit(code)


def _recorded_repeat(directory: Path) -> int:
    try:
        tests = json.loads((directory / CAMPAIGN_FILE).read_text(encoding="utf-8"))["tests"]
        return max((t["params"].get("repeat", 1) for t in tests), default=1)
    except (OSError, ValueError, KeyError, TypeError):
        return 1


def _run_with_display(session: CampaignRun, console: Console, progress: bool) -> int:
    if progress and console.is_terminal:
        with Live(console=console, get_renderable=session.render, refresh_per_second=2):
            return _run(session)
    return _run(session, lambda test: console.file.write(session.plain_line(test) + "\n"))


def _run(session: CampaignRun, on_change: Any = None) -> int:
    try:
        return session.run(on_change)
    except KeyboardInterrupt:
        session.interrupted = True
        session.write()
        return session.exit_code()
