"""`splitbrain serve`: browse a store's tests, reports and raw files over HTTP.

Why a server and not file:// links: a store holds hundreds of runs; the index lists them
all (newest first, filterable) with their verdicts, lists campaigns with their matrix,
and renders a report on the fly for a run that has none (a run cut short before its
report, or checked again with `splitbrain check`).

It serves only what is inside the store: a path with `..`, a backslash or an empty
segment is refused (403), and so is anything that resolves outside the store (a symlink
pointing out); a missing file is 404. It binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import html
import json
import mimetypes
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import click
import jinja2

from checkers.result import verdict_word
from harness.recorder import read_t0_wall_ns

RUN_MARKERS = ("test.yaml", "results.json", "history.jsonl")
CAMPAIGN_FILE = "campaign.json"
MAX_DEPTH = 6
TEXT_TYPES = {".jsonl": "text/plain", ".log": "text/plain", ".yaml": "text/plain"}
CELL_RUN_FIELDS = ("run_dir", "run", "path", "dir", "store_dir", "report")
CELL_VERDICT_FIELDS = ("verdict", "valid", "result")
CELL_CELL_FIELDS = ("tests", "cells", "runs", "matrix", "results")
CELL_HIDDEN_FIELDS = ("index", "key", "resumed", "label")  # bookkeeping, not parameters
VERDICT_WORDS = {"valid": "valid", "invalid": "INVALID", "INVALID": "INVALID"}


@dataclass
class RunEntry:
    """One test run in the store, as the index shows it."""

    path: str  # relative to the store, posix
    name: str
    started: float  # epoch seconds (for sorting and display)
    db: str
    workload: str
    nemesis: str
    verdict: str
    duration: str
    files: list[str]

    @property
    def started_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))


@dataclass
class CampaignCell:
    values: dict[str, str]
    verdict: str
    link: str | None


@dataclass
class CampaignEntry:
    path: str
    name: str
    columns: list[str]
    cells: list[CampaignCell] = field(default_factory=list)
    note: str = ""


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _started(run_dir: Path) -> float:
    wall = read_t0_wall_ns(run_dir)
    if wall is not None:
        return wall / 1e9
    try:
        return time.mktime(time.strptime(run_dir.name[:15], "%Y%m%dT%H%M%S"))
    except ValueError:
        return run_dir.stat().st_mtime


def _words(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return "—" if value in (None, "") else str(value)


class StoreIndex:
    """Scans the store; results.json summaries are cached by (mtime, size), so the index
    of a big store stays quick after the first request."""

    def __init__(self, store: Path):
        self.store = store
        self._cache: dict[Path, tuple[tuple[int, int], RunEntry]] = {}
        self._lock = threading.Lock()

    def scan(self) -> tuple[list[RunEntry], list[CampaignEntry]]:
        runs: list[RunEntry] = []
        campaigns: list[CampaignEntry] = []
        root_depth = len(self.store.parts)
        for dirpath, dirnames, filenames in os.walk(self.store, followlinks=False):
            here = Path(dirpath)
            dirnames[:] = sorted(
                d for d in dirnames if not d.startswith(".") and not (here / d).is_symlink()
            )
            if len(here.parts) - root_depth >= MAX_DEPTH:
                dirnames[:] = []
            if CAMPAIGN_FILE in filenames:
                campaigns.append(self._campaign(here))
            if any(marker in filenames for marker in RUN_MARKERS):
                runs.append(self._run(here, filenames))
                dirnames[:] = []  # a run's subdirectories (nodes/) are its files
        runs.sort(key=lambda r: r.started, reverse=True)
        campaigns.sort(key=lambda c: c.path)
        return runs, campaigns

    def relative(self, path: Path) -> str:
        return path.relative_to(self.store).as_posix()

    def _run(self, run_dir: Path, filenames: list[str]) -> RunEntry:
        results_path = run_dir / "results.json"
        try:
            stat = results_path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = (0, 0)
        with self._lock:
            cached = self._cache.get(run_dir)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        spec = _load_yaml(run_dir / "test.yaml")
        results = _load_json(results_path) if stamp != (0, 0) else None
        results = results if isinstance(results, dict) else {}
        stats = results.get("stats") if isinstance(results.get("stats"), dict) else {}
        duration = (stats.get("details") or {}).get("duration_s")
        name = spec.get("name") or f"{spec.get('db', '?')}-{spec.get('workload', '?')}"
        entry = RunEntry(
            path=self.relative(run_dir),
            name=str(name if spec else run_dir.parent.name),
            started=_started(run_dir),
            db=_words(spec.get("db")),
            workload=_words(spec.get("workload") or results.get("workload")),
            nemesis=_words(spec.get("nemesis")),
            verdict=verdict_word(results["valid"]) if "valid" in results else "no results",
            duration=f"{duration:.1f} s" if isinstance(duration, int | float) else "—",
            files=sorted(filenames),
        )
        with self._lock:
            self._cache[run_dir] = (stamp, entry)
        return entry

    def _campaign(self, directory: Path) -> CampaignEntry:
        """Whatever the campaign file holds: a name and a list (or mapping) of cells, each
        with some parameters, a verdict and maybe the run it points at."""
        data = _load_json(directory / CAMPAIGN_FILE)
        entry = CampaignEntry(self.relative(directory), directory.name, [])
        if not isinstance(data, dict):
            entry.note = "campaign.json is not a JSON object"
            return entry
        entry.name = str(data.get("name") or directory.name)
        raw = next((data[k] for k in CELL_CELL_FIELDS if k in data), [])
        if isinstance(raw, dict):
            raw = [{"cell": k, **v} if isinstance(v, dict) else {"cell": k, "verdict": v}
                   for k, v in raw.items()]  # fmt: skip
        cells = [c for c in raw if isinstance(c, dict)] if isinstance(raw, list) else []
        columns: list[str] = []
        for cell in cells:
            values: dict[str, str] = {}
            params = cell.get("params") if isinstance(cell.get("params"), dict) else {}
            for key, value in {**params, **cell}.items():
                if (
                    key in CELL_VERDICT_FIELDS
                    or key in CELL_RUN_FIELDS
                    or key in CELL_HIDDEN_FIELDS
                ):
                    continue
                if isinstance(value, str | int | float | bool | list) or value is None:
                    text = _words(value)
                    if len(text) <= 60:
                        values[key] = text
                        if key not in columns:
                            columns.append(key)
            verdict = next((cell[k] for k in CELL_VERDICT_FIELDS if k in cell), None)
            if isinstance(verdict, bool):
                verdict = verdict_word(verdict)
            verdict = VERDICT_WORDS.get(
                str(verdict), "not run" if verdict is None else str(verdict)
            )
            entry.cells.append(CampaignCell(values, verdict, self._cell_link(directory, cell)))
        entry.columns = columns
        if not cells:
            entry.note = "no cells listed yet"
        return entry

    def _cell_link(self, directory: Path, cell: dict[str, Any]) -> str | None:
        for key in CELL_RUN_FIELDS:
            value = cell.get(key)
            if not isinstance(value, str) or not value:
                continue
            for base in (directory, self.store, Path.cwd()):
                target = (base / value).resolve()
                if target.exists() and target.is_relative_to(self.store):
                    relative = self.relative(target)
                    return relative if target.is_file() else f"{relative}/report.html"
        return None


def safe_path(store: Path, url_path: str) -> tuple[HTTPStatus, Path | None]:
    """The file or directory a URL path names inside the store, or why not: 403 for a
    path that tries to leave it, 404 for one that does not exist."""
    decoded = unquote(url_path)
    if "\\" in decoded or "\x00" in decoded or not decoded.startswith("/"):
        return HTTPStatus.FORBIDDEN, None
    parts = decoded[1:].split("/")
    if parts and parts[-1] == "":
        parts = parts[:-1]  # a trailing slash
    if any(part in ("", ".", "..") for part in parts):
        return HTTPStatus.FORBIDDEN, None
    candidate = store.joinpath(*parts) if parts else store
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return HTTPStatus.NOT_FOUND, None
    if not resolved.is_relative_to(store):
        return HTTPStatus.FORBIDDEN, None
    return HTTPStatus.OK, resolved


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("harness", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )


def render_index(index: StoreIndex) -> str:
    runs, campaigns = index.scan()
    return (
        _environment()
        .get_template("serve_index.html.j2")
        .render(store=str(index.store), runs=runs, campaigns=campaigns)
    )


def _listing(index: StoreIndex, directory: Path) -> str:
    rel = index.relative(directory)
    items = sorted(directory.iterdir(), key=lambda p: (not p.is_dir(), p.name))
    rows = "".join(
        f'<li><a href="{html.escape(p.name)}{"/" if p.is_dir() else ""}">'
        f"{html.escape(p.name)}{'/' if p.is_dir() else ''}</a></li>"
        for p in items
        if not p.name.startswith(".")
    )
    return (
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(rel)}</title>"
        f"<p><a href='/'>all tests</a></p><h1>{html.escape(rel or 'store')}</h1><ul>{rows}</ul>"
    )


class StoreHandler(BaseHTTPRequestHandler):
    """GET only: the index, run files, directory listings, reports rendered on demand."""

    index: StoreIndex  # set on the subclass by make_server
    server_version = "splitbrain-serve"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        if not getattr(self.server, "quiet", False):
            super().log_message(format, *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        # Not urlsplit: it would read "//host/x" as a host; the path is all we take.
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, render_index(self.index).encode(), "text/html")
            return
        status, target = safe_path(self.index.store, path)
        if target is None and status is HTTPStatus.NOT_FOUND and path.endswith("/report.html"):
            page = self._render_missing_report(path)
            if page is not None:
                self._send(HTTPStatus.OK, page.encode(), "text/html")
                return
        if target is None:
            self._error(status)
        elif target.is_dir() and not path.endswith("/"):
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", path + "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif target.is_dir():
            self._send(HTTPStatus.OK, _listing(self.index, target).encode(), "text/html")
        else:
            kind = TEXT_TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
            self._send(HTTPStatus.OK, target.read_bytes(), kind or "application/octet-stream")

    def _render_missing_report(self, path: str) -> str | None:
        """A run without report.html (cut short, or checked again): render one in memory;
        the store is not written to."""
        _, run_dir = safe_path(self.index.store, path[: -len("report.html")])
        if run_dir is None or not run_dir.is_dir():
            return None
        results = _load_json(run_dir / "results.json")
        if not isinstance(results, dict) or not (run_dir / "history.jsonl").is_file():
            return None
        from harness.report import render_report

        return render_report(run_dir, None, results)

    def _error(self, status: HTTPStatus) -> None:
        message = {
            HTTPStatus.FORBIDDEN: "outside the store",
            HTTPStatus.NOT_FOUND: "no such file in the store",
        }.get(status, status.phrase)
        self._send(status, f"{status.value} {message}\n".encode(), "text/plain")

    def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        self.send_response(status)
        if kind.startswith("text/") or kind.endswith("json"):
            kind += "; charset=utf-8"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


def make_server(store: Path, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = False):
    """A ThreadingHTTPServer serving `store` (port 0: any free port; see server_port)."""
    root = store.resolve()
    handler = type("BoundStoreHandler", (StoreHandler,), {"index": StoreIndex(root)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    server.quiet = quiet  # type: ignore[attr-defined]
    return server


@click.command(name="serve")
@click.option("--store", default="store", show_default=True, help="The store directory.")
@click.option("--port", type=int, default=8080, show_default=True, help="Port (0: any free).")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind (loopback only by default).",
)
def serve_command(store: str, port: int, host: str) -> None:
    """Serve the store: every test with its verdict, reports and raw files."""
    root = Path(store)
    if not root.is_dir():
        click.echo(
            f"splitbrain serve: {store}: no such store directory (use --store DIR)", err=True
        )
        sys.exit(2)
    try:
        server = make_server(root, host, port)
    except OSError as exc:
        click.echo(
            f"splitbrain serve: cannot listen on {host}:{port} ({exc.strerror}); try --port N",
            err=True,
        )
        sys.exit(2)
    click.echo(f"serving {root} at http://{host}:{server.server_port}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
