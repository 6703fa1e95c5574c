"""Every history shipped in ../shared/data/porcupine gets Porcupine's expected verdict."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from checkers.formats import load_history
from checkers.history import pair_history
from checkers.linearizability import check

DATA = Path("/work/shared/data/porcupine")
EXPECTED = DATA / "expected.tsv"


def _rows() -> list[dict[str, str]]:
    if not EXPECTED.exists():
        return []
    with open(EXPECTED, encoding="utf-8") as stream:
        return list(csv.DictReader(stream, delimiter="\t"))


ROWS = _rows()
pytestmark = pytest.mark.skipif(not ROWS, reason=f"needs the shared Porcupine data in {DATA}")


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_expected_verdict_and_op_count(row):
    read = load_history(DATA / row["file"])
    assert len(pair_history(read.ops).ops) == int(row["n_operations"])
    model = "cas-register" if row["file"].startswith("jepsen/") else "porcupine-kv"
    result = check(read.ops, model, budget_s=120)
    expected = {"ok": True, "illegal": False}[row["expected"]]
    assert result.valid is expected, result.summary()
