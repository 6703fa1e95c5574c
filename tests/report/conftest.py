"""Fixtures: the three synthetic runs (valid, invalid linearizability, safety violation),
built once per module with their reports rendered."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.report import write_report
from tests.report.builders import SyntheticRun, make_run


def _rendered(root: Path, kind: str) -> SyntheticRun:
    run = make_run(root, kind)
    write_report(run.path, run.spec, run.results, run.ops)
    return run


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store")


@pytest.fixture(scope="module")
def valid_run(store: Path) -> SyntheticRun:
    return _rendered(store, "valid")


@pytest.fixture(scope="module")
def lin_run(store: Path) -> SyntheticRun:
    return _rendered(store, "linearizability")


@pytest.fixture(scope="module")
def safety_run(store: Path) -> SyntheticRun:
    return _rendered(store, "safety")
