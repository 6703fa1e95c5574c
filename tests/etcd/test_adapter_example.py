"""The complete adapter example in docs/adapters.md runs as written: installed through
its entry point, it passes `splitbrain test` under kills and pauses, with the status
poller's evidence and its own "not checkable" reasons in the results."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.dbs.registry import available_dbs
from harness.runner import Runner
from harness.spec import build_spec
from tests.harness_hosts.test_plugin_example import install_doc_plugin

DOC = Path(__file__).resolve().parents[2] / "docs" / "adapters.md"

pytestmark = pytest.mark.process


@pytest.fixture
def primarykv_installed(tmp_path, monkeypatch):
    (tmp_path / "plugin").mkdir()
    install_doc_plugin(DOC, "class PrimaryKVDB", "primarykv", tmp_path / "plugin", monkeypatch)
    yield
    sys.modules.pop("primarykv", None)


def test_documented_adapter_is_valid_under_kill_and_pause(primarykv_installed, tmp_path):
    assert "primarykv" in available_dbs()
    spec = build_spec(
        {
            "db": "primarykv", "cluster": "local", "nodes": 3, "nemesis": "kill,pause",
            "time_limit": 5, "nemesis_interval": 1, "recovery_s": 1, "seed": 4,
            "store": str(tmp_path / "store"),
        },
        "test",
    )  # fmt: skip
    result = Runner(spec).run()
    results = result.results
    assert result.exit_code == 0, results
    assert results["linearizability"]["valid"] is True
    assert results["db_version"] == "0.1"
    assert results["safety"]["checked"] == ["election-safety"]
    assert set(results["safety"]["not_checked"].values()) == {"primarykv has no replicated log"}
    nemesis = (result.run_dir / "history.jsonl").read_text()
    assert '"start-kill"' in nemesis or '"start-pause"' in nemesis
