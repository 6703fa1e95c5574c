"""`splitbrain serve`: the index lists every run and campaign, reports and raw files are
served (a missing report is rendered on demand), and nothing outside the store is."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.serve import make_server, safe_path
from tests.conftest import requires_command
from tests.report.browser import CHROMIUM, load
from tests.report.builders import SyntheticRun


@pytest.fixture(scope="module")
def served(
    store: Path, valid_run: SyntheticRun, lin_run: SyntheticRun, safety_run: SyntheticRun
) -> Iterator[tuple[str, int]]:
    campaign = store / "campaigns" / "nightly"
    campaign.mkdir(parents=True)
    written = store / "campaigns" / "written"  # as `splitbrain campaign` writes it
    written.mkdir()
    (written / "campaign.json").write_text(
        json.dumps(
            {"name": "etcd-vs-raftnode", "tests": [
                {"index": 0, "key": "a1", "label": "raftnode register", "seed": 3,
                 "params": {"db": "raftnode", "workload": "register", "nemesis": ["kill"]},
                 "verdict": "invalid", "run_dir": str(safety_run.path)},
                {"index": 1, "key": "b2", "label": "etcd register", "seed": 3,
                 "params": {"db": "etcd", "workload": "register", "nemesis": ["kill"]},
                 "verdict": None},
            ]}
        )
    )  # fmt: skip
    (campaign / "campaign.json").write_text(
        json.dumps(
            {
                "name": "nightly",
                "cells": [
                    {"workload": "register", "nemesis": ["partition"], "verdict": "INVALID",
                     "run_dir": str(lin_run.path)},
                    {"workload": "kv", "nemesis": "kill", "valid": True},
                ],
            }
        )
    )  # fmt: skip
    (store / "outside").symlink_to("/etc")
    no_report = store / "cut-short" / "20261201T130000"
    shutil.copytree(valid_run.path, no_report)
    (no_report / "report.html").unlink()
    server = make_server(store, "127.0.0.1", 0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def get(served: tuple[str, int], path: str) -> tuple[int, str, str]:
    """(status, content type, body); the path is sent exactly as given."""
    connection = http.client.HTTPConnection(*served, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read().decode()
    finally:
        connection.close()


def test_index_lists_runs_newest_first_and_campaigns(served: tuple[str, int]) -> None:
    status, kind, body = get(served, "/")
    assert status == 200 and kind.startswith("text/html")
    runs = body[body.index('<table id="runs">') :]
    for name in ("synthetic-valid", "synthetic-linearizability", "synthetic-safety"):
        assert f"{name}/20261201T120000/report.html" in runs
    assert 'data-verdict="INVALID"' in runs and 'data-verdict="valid"' in runs
    assert "10.0 s" in runs and "partition, kill" in runs  # duration, nemesis
    campaigns = body[: body.index('<table id="runs">')]
    written = campaigns[campaigns.index("etcd-vs-raftnode") :]
    assert "<th>db</th>" in written and "<td>etcd</td>" in written and "<th>key</th>" not in written
    assert ">INVALID</span></a>" in written and ">not run</span>" in written
    assert "synthetic-safety/20261201T120000/report.html" in written
    assert (
        "nightly" in campaigns
        and "synthetic-linearizability/20261201T120000/report.html" in campaigns
    )
    nightly = campaigns[campaigns.index("nightly") : campaigns.index("etcd-vs-raftnode")]
    assert nightly.count("<tr>") == 3  # header + two cells


def test_reports_and_raw_files_are_served(served: tuple[str, int]) -> None:
    status, kind, body = get(served, "/synthetic-linearizability/20261201T120000/report.html")
    assert status == 200 and 'id="counterexample-view"' in body
    status, kind, body = get(served, "/synthetic-valid/20261201T120000/results.json")
    assert status == 200 and kind.startswith("application/json") and json.loads(body)["valid"]
    status, kind, _ = get(served, "/synthetic-valid/20261201T120000/history.jsonl")
    assert status == 200 and kind.startswith("text/plain")
    status, _, body = get(served, "/synthetic-valid/20261201T120000/nodes/")
    assert status == 200 and 'href="n1/"' in body


def test_a_missing_report_is_rendered_on_demand(served: tuple[str, int], store: Path) -> None:
    status, _, body = get(served, "/cut-short/20261201T130000/report.html")
    assert status == 200 and "Valid: all 5 checkers passed." in body
    assert not (store / "cut-short" / "20261201T130000" / "report.html").exists()


@pytest.mark.parametrize(
    "path",
    ["/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/synthetic-valid/../../x",
     "/outside/passwd", "/a\\..\\b", "/synthetic-valid/./20261201T120000/test.yaml"],
)  # fmt: skip
def test_paths_leaving_the_store_are_refused(served: tuple[str, int], path: str) -> None:
    status, _, body = get(served, path)
    assert status == 403, (path, status, body)


@pytest.mark.parametrize("path", ["//etc/passwd", "/etc/passwd", "/%2Fetc/passwd"])
def test_absolute_paths_are_not_the_filesystem(served: tuple[str, int], path: str) -> None:
    status, _, body = get(served, path)  # http.server folds "//" to "/": then 404 in the store
    assert status in (403, 404) and "root:" not in body, (path, status)


def test_missing_files_are_404(served: tuple[str, int]) -> None:
    assert get(served, "/no-such-test/report.html")[0] == 404
    assert get(served, "/synthetic-valid/20261201T120000/nope.json")[0] == 404


def test_safe_path_stays_in_the_store(store: Path) -> None:
    root = store.resolve()
    assert safe_path(root, "/")[1] == root
    assert safe_path(root, "/synthetic-valid")[1] == root / "synthetic-valid"
    assert safe_path(root, "/outside")[0] == 403


@requires_command(CHROMIUM, "chromium")
def test_index_runs_its_filter_script_cleanly(served: tuple[str, int], tmp_path: Path) -> None:
    page = load(f"http://{served[0]}:{served[1]}/?q=linearizability", tmp_path, height=900)
    assert page.console == [] and "3 of 3 shown" not in page.dom
    assert "1 of 4 shown" in page.dom  # three synthetic runs and the cut-short copy


def test_serve_command_refuses_a_missing_store_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "serve", "--store", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "no such store directory" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_serve_command_serves_until_interrupted(store: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "serve", "--store", str(store), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = process.stdout.readline()  # "serving STORE at http://127.0.0.1:PORT/ …"
        assert "http://127.0.0.1:" in line, line
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        deadline = time.monotonic() + 30
        while True:
            try:
                assert get(("127.0.0.1", port), "/")[0] == 200
                break
            except ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        process.send_signal(2)  # SIGINT: Ctrl-C
        try:
            process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0
