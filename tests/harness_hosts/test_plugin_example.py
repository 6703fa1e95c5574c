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


def install_doc_plugin(doc: Path, marker: str, name: str, tmp_path: Path, monkeypatch) -> None:
    """Install the ```python block of `doc` that contains `marker` as module `name`, with
    the `splitbrain.dbs` entry point the doc's pyproject snippet declares (also used by
    tests/etcd/test_adapter_example.py for docs/adapters.md)."""
    text = doc.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    (source,) = [b for b in blocks if marker in b]
    (tmp_path / f"{name}.py").write_text(source)
    info = tmp_path / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    entry = re.search(rf'\[project\.entry-points\."splitbrain\.dbs"\]\n({name} = "[^"]+")', text)
    assert entry is not None, f"the pyproject snippet in {doc.name} changed"
    (info / "entry_points.txt").write_text(
        "[splitbrain.dbs]\n" + entry.group(1).replace('"', "") + "\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.fixture
def toykv_installed(tmp_path, monkeypatch):
    install_doc_plugin(DOC, "class ToyKVDB", "toykv", tmp_path, monkeypatch)
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
