"""`splitbrain campaign` against the null DB: a 2x2 matrix whose JUnit file a JUnit
parser reads, resume after --fail-fast and after Ctrl-C, validation before anything
runs, and the exit codes."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from harness.campaign import CampaignError, load_campaign
from harness.campaign_report import junit_xml
from nemeses.base import wait_until

CLI = [sys.executable, "-c", "from harness.cli import main; main()"]
BASE = {"db": "null", "nemesis": "none", "time_limit": 1, "recovery_s": 0, "nodes": 3, "rate": 200}
# register and kv, each with a correct null DB and one that answers reads from a stale
# snapshot: 2 valid, 2 invalid.
TWO_BY_TWO = {
    "name": "nulls",
    "base": BASE,
    "matrices": [{"workload": ["register", "kv"], "db_options": [{}, {"stale_reads": True}]}],
}


def write(tmp_path: Path, data: dict, name: str = "campaign.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def campaign(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*CLI, "campaign", *args, "--no-progress"],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc


def run_dirs(directory: Path) -> list[Path]:
    return sorted(p.parent for p in (directory / "runs").glob("*/*/history.jsonl"))


def test_two_by_two_junit_json_and_index(tmp_path):
    spec = {**TWO_BY_TWO, "matrices": [*TWO_BY_TWO["matrices"], {"nemesis": "partition"}]}
    directory = tmp_path / "camp"
    proc = campaign(str(write(tmp_path, spec)), "--dir", str(directory))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # invalid beats crashed

    suite = ET.parse(directory / "junit.xml").getroot()  # a JUnit parser reads it
    assert suite.tag == "testsuites"
    (ts,) = suite.findall("testsuite")
    assert (ts.get("tests"), ts.get("failures"), ts.get("errors")) == ("5", "2", "1")
    cases = ts.findall("testcase")
    assert [c.get("classname") for c in cases[:2]] == ["nulls.null.register"] * 2
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(failures) == 2 and all("stale_reads=True" in c.get("name") for c in failures)
    assert "NOT linearizable" in failures[0].find("failure").get("message")
    (errored,) = [c for c in cases if c.find("error") is not None]
    assert "no hosts to inject partition" in errored.find("error").get("message")

    data = json.loads((directory / "campaign.json").read_text())
    assert data["counts"] == {
        "total": 5, "valid": 2, "invalid": 2, "unknown": 0, "crashed": 1, "not run": 0
    }  # fmt: skip
    first = data["tests"][0]
    assert first["params"]["workload"] == "register" and first["seed"] == 1
    assert first["checkers"]["linearizability"]["valid"] is True
    assert first["duration_s"] > 0 and Path(first["run_dir"]).is_dir()
    index = (directory / "index.html").read_text()
    for test in data["tests"][:4]:
        report = Path(test["run_dir"]) / "report.html"
        assert report.is_file()
        assert str(report.relative_to(directory)) in index


def test_detection_field_is_passed_through():
    """results["detection"] (when the checkers put it there) lands in campaign.json."""
    from harness import campaign_run

    results = {"checkers": ["stats"], "stats": {"valid": True, "summary": "s"}}
    assert "detection" not in campaign_run.results_fields(results)
    results["detection"] = {"first_violation_s": 3.5}
    assert campaign_run.results_fields(results)["detection"] == {"first_violation_s": 3.5}


def test_resume_after_fail_fast_runs_only_what_is_left(tmp_path):
    path, directory = write(tmp_path, TWO_BY_TWO), tmp_path / "camp"
    first = campaign(str(path), "--dir", str(directory), "--fail-fast")
    assert first.returncode == 1
    data = json.loads((directory / "campaign.json").read_text())
    assert [t["verdict"] for t in data["tests"]] == ["valid", "invalid", None, None]
    assert len(run_dirs(directory)) == 2
    assert ET.parse(directory / "junit.xml").getroot().get("skipped") == "2"

    second = campaign("--resume", str(directory))
    assert second.returncode == 1, second.stdout + second.stderr
    assert "2 already done" in second.stderr
    data = json.loads((directory / "campaign.json").read_text())
    assert [t["verdict"] for t in data["tests"]] == ["valid", "invalid", "valid", "invalid"]
    assert [bool(t.get("resumed")) for t in data["tests"]] == [True, True, False, False]
    assert len(run_dirs(directory)) == 4  # the first two were not run again

    third = campaign(str(path), "--dir", str(directory))
    assert third.returncode == 1 and "4 already done" in third.stderr
    assert len(run_dirs(directory)) == 4


def test_ctrl_c_stops_after_healing_and_resume_finishes(tmp_path):
    spec = {**TWO_BY_TWO, "base": {**BASE, "time_limit": 30}}
    directory = tmp_path / "camp"
    proc = subprocess.Popen(
        [*CLI, "campaign", str(write(tmp_path, spec)), "--dir", str(directory), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert wait_until(lambda: bool(list((directory / "runs").glob("*/*/history.jsonl"))), 60)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, out + err
    assert "Traceback" not in out + err and "--resume" in err
    data = json.loads((directory / "campaign.json").read_text())
    assert data["interrupted"] is True
    assert data["tests"][0]["interrupted"] is True and data["tests"][0]["verdict"] is None
    assert (Path(data["tests"][0]["run_dir"]) / "results.json").is_file()  # it was checked
    assert all(t["verdict"] is None for t in data["tests"][1:])

    short = {**TWO_BY_TWO}
    write(directory, short, "campaign.yaml")  # the resumed run uses the saved spec
    resumed = campaign("--resume", str(directory))
    assert resumed.returncode == 1
    assert [t["verdict"] for t in json.loads((directory / "campaign.json").read_text())["tests"]] == [
        "valid", "invalid", "valid", "invalid"
    ]  # fmt: skip


def test_a_bad_cell_is_reported_before_anything_runs(tmp_path):
    spec = {
        **TWO_BY_TWO,
        "matrices": [*TWO_BY_TWO["matrices"], {"workload": "kv", "nemesis": ["kill", "pasue"]}],
    }
    store = tmp_path / "store"
    proc = campaign(str(write(tmp_path, spec)), "--store", str(store))
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert (
        "matrices[1] (workload=kv, nemesis=pasue, seed=1): nemesis: unknown fault 'pasue'" in line
    )
    assert not store.exists()


@pytest.mark.parametrize(
    ("group", "words"),
    [
        ({"workload": "register", "colour": "red"}, "matrices[0].colour: unknown field"),
        ({"seeds": 0}, "matrices[0].seeds: expected a count >= 1"),
        ({"db_options": ["x"]}, "matrices[0].db_options[0]: expected a mapping"),
        ({"overrides": {"time_limit": -1}}, "matrices[0].overrides: time_limit"),
        ({"db": "nosuchdb"}, "unknown db 'nosuchdb'"),
    ],
)
def test_validation_names_the_place(tmp_path, group, words):
    with pytest.raises(Exception) as caught:
        load_campaign(write(tmp_path, {"name": "x", "base": BASE, "matrices": [group]}))
    assert words in str(caught.value)


def test_expansion_seeds_repeat_and_versions(tmp_path):
    path = write(
        tmp_path,
        {
            "name": "grid",
            "base": BASE,
            "matrices": [
                {"workload": ["register", "kv"], "nemesis": ["kill", "kill,pause"], "seeds": 2,
                 "seed_base": 10},
                {"db_version": ["1.0", "2.0"], "bugs": [[]], "seeds": [7]},
            ],
        },
    )  # fmt: skip
    camp = load_campaign(path, repeat=2)
    assert len(camp.cells) == 2 * (2 * 2 * 2 + 2)
    first = camp.cells[:8]
    assert [c.seed for c in first[:2]] == [10, 11]
    assert first[2].spec.nemesis == ["kill", "pause"]
    versions = [c.spec.db_options.get("version") for c in camp.cells[8:10]]
    assert versions == ["1.0", "2.0"]
    assert len({c.key for c in camp.cells}) == len(camp.cells)  # repeats are distinct cells
    with pytest.raises(CampaignError, match="test_count"):
        load_campaign(write(tmp_path, {"base": {**BASE, "test_count": 2}, "matrices": [{}]}))


@pytest.mark.parametrize(
    ("workload", "db_options", "code"),
    [
        ("register", {}, 0),
        ("register", {"stale_reads": True}, 1),
        ("partition", {}, 2),  # the null DB has no hosts to partition: the test crashes
    ],
)
def test_exit_codes(tmp_path, workload, db_options, code):
    cell = {"workload": workload} if workload != "partition" else {"nemesis": "partition"}
    spec = {"name": "one", "base": BASE, "matrices": [{**cell, "db_options": db_options}]}
    proc = campaign(str(write(tmp_path, spec)), "--dir", str(tmp_path / "camp"))
    assert proc.returncode == code, proc.stdout + proc.stderr


def test_junit_maps_every_verdict():
    def test(i, verdict, **extra):
        params = {"db": "null", "workload": "register"}
        return {"index": i, "label": f"t{i}", "params": params, "verdict": verdict, **extra}

    tests = [
        test(1, "valid", duration_s=1.0),
        test(2, "invalid", checkers={"linearizability": {"valid": False, "summary": "bad\nmore"}}),
        test(3, "unknown", checkers={"set": {"valid": "unknown", "summary": "no ok reads"}}),
        test(4, "crashed", error="host n1: boom"),
        test(5, None),
    ]
    root = ET.fromstring(junit_xml("c", tests).split("\n", 1)[1])
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "5", "failures": "1", "errors": "2", "skipped": "1"
    }  # fmt: skip
    cases = root.find("testsuite").findall("testcase")
    assert cases[1].find("failure").get("message") == "linearizability: bad"
    assert cases[1].find("failure").text == "linearizability: bad\nmore"
    assert cases[2].find("error").get("type") == "unknown"
    assert cases[3].find("error").get("message") == "host n1: boom"
    assert cases[4].find("skipped") is not None


@pytest.mark.skipif(shutil.which("etcd") is None, reason="needs etcd (Debian package etcd-server)")
def test_the_documented_spec_validates(tmp_path):
    text = (Path(__file__).resolve().parents[2] / "docs" / "campaigns.md").read_text()
    (block,) = re.findall(r"```yaml\n(.*?)```", text, re.S)
    path = tmp_path / "nightly.yaml"
    path.write_text(block)
    camp = load_campaign(path)
    assert len(camp.cells) == 2 * 2 * 2 * 3 + 3 * 2 + 2
    assert camp.cells[-1].spec.db_options == {"serializable": True, "version": "3.4"}
