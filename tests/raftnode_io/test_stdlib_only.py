"""raftnode is uploaded to bare hosts and run with their python3: standard library only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from raftnode.testing import REPO_ROOT


def test_raftnode_imports_only_stdlib_and_itself() -> None:
    offenders = []
    files = sorted((REPO_ROOT / "raftnode").rglob("*.py"))
    assert len(files) > 10
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("raftnode", "__future__"):
                    offenders.append(f"{Path(path).relative_to(REPO_ROOT)}: {name}")
    assert offenders == []
