"""The plug-in example in docs/plugins.md works as written: entry point, load_db, a run."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from harness.cluster import open_cluster
from harness.core.protocols import DB
from harness.dbs.registry import available_dbs, load_db

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


@pytest.fixture
def toykv_installed(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    (source,) = [b for b in blocks if "class ToyKVDB" in b]
    (tmp_path / "toykv.py").write_text(source)
    info = tmp_path / "toykv-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toykv\nVersion: 0.1\n")
    entry = re.search(
        r'\[project\.entry-points\."splitbrain\.dbs"\]\n(toykv = "[^"]+")', DOC.read_text()
    )
    assert entry is not None, "the pyproject snippet in docs/plugins.md changed"
    (info / "entry_points.txt").write_text(
        "[splitbrain.dbs]\n" + entry.group(1).replace('"', "") + "\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("toykv", None)


def test_documented_plugin_runs_on_a_local_cluster(toykv_installed):
    assert "toykv" in available_dbs()
    db = load_db("toykv")
    assert isinstance(db, DB)
    with open_cluster("local", ["n1"]) as cluster:
        try:
            db.setup(cluster.node_specs(), {})
            db.start("n1")
            assert db.probe("n1").role == "leader"
            client = db.client("n1")
            assert client.invoke("write", "k", 5, 5.0).type == "ok"
            assert client.invoke("read", "k", None, 5.0).value == 5
            db.kill("n1")
            assert not db.is_running("n1")
            assert client.invoke("read", "k", None, 2.0).type == "fail"  # refused: did not happen
        finally:
            db.teardown()
