"""load_db: built-in raftnode and third-party DBs through the splitbrain.dbs entry points."""

from __future__ import annotations

import sys
import textwrap

import pytest

from harness.core.protocols import DB, HarnessError, is_hostless
from harness.dbs.registry import available_dbs, load_db


def test_raftnode_is_available():
    db = load_db("raftnode")
    assert isinstance(db, DB) and db.name == "raftnode"
    assert "raftnode" in available_dbs()


def test_null_is_registered_like_any_db():
    db = load_db("null")
    assert isinstance(db, DB) and is_hostless(db) and not is_hostless(load_db("raftnode"))
    assert {"null", "raftnode"} <= set(available_dbs())


def test_unknown_db_lists_the_choices():
    with pytest.raises(HarnessError) as info:
        load_db("no-such-db")
    assert "no-such-db" in str(info.value) and "raftnode" in str(info.value)


@pytest.fixture
def plugin_dist(tmp_path, monkeypatch):
    """An installed-looking third-party distribution declaring two splitbrain.dbs entries."""
    pkg = tmp_path / "sbplugin_demo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        textwrap.dedent(
            """
            class DemoDB:
                name = "demo"
                def setup(self, nodes, options): pass
                def start(self, node): pass
                def kill(self, node): pass
                def pause(self, node): pass
                def resume(self, node): pass
                def is_running(self, node): return False
                def probe(self, node, timeout=1.0): return None
                def teardown(self): pass
                def log_files(self, node): return {}
                def client(self, node): return None
                def data_dir(self, node): return "/tmp"

            class NotADB:
                name = "broken"
            """
        )
    )
    info = tmp_path / "sbplugin_demo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sbplugin-demo\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[splitbrain.dbs]\ndemo = sbplugin_demo:DemoDB\nbroken = sbplugin_demo:NotADB\nmissing = sbplugin_demo:Nope\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("sbplugin_demo", None)


def test_third_party_db_is_found_by_entry_point(plugin_dist):
    assert {"demo", "broken", "raftnode"} <= set(available_dbs())
    db = load_db("demo")
    assert type(db).__name__ == "DemoDB" and db.name == "demo"


def test_malformed_plugins_are_clear_errors(plugin_dist):
    with pytest.raises(HarnessError, match="lacks setup, start"):
        load_db("broken")
    with pytest.raises(HarnessError, match="cannot load sbplugin_demo:Nope"):
        load_db("missing")
