"""One cached virtual environment per PySyncObj version: ``~/.cache/splitbrain/pysyncobj-<v>``.

Why per version: the point of ``--db-option version=…`` is to regression-test one release
against another, so each release gets its own interpreter environment, built once with
pip and reused (``$SPLITBRAIN_CACHE`` moves the cache). splitbrain itself never depends
on pysyncobj. A build happens under a file lock (parallel test runs share the cache) and
is marked complete only at the end, so a half-built environment is never reused.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.core.protocols import HarnessError

PACKAGE = "pysyncobj"
DEFAULT_VERSION = "0.3.12"
_VERSION_RE = re.compile(r"^[0-9][0-9A-Za-z.+!-]{0,40}$")
_MISSING = ("No matching distribution found", "Could not find a version that satisfies")
READY_MARK = ".splitbrain-ready"
PIP_TIMEOUT_S = 600.0
LIST_HINT = f"list the available ones with: pip index versions {PACKAGE}"


@dataclass(frozen=True)
class Venv:
    """A ready environment: its interpreter and the directory holding the package."""

    root: Path
    version: str

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def package_dir(self) -> Path:
        """site-packages/pysyncobj (pure Python: uploaded as is to ssh hosts)."""
        found = sorted(self.root.glob(f"lib/python*/site-packages/{PACKAGE}"))
        if not found:
            raise HarnessError(f"db pysyncobj: {self.root} has no {PACKAGE} package; remove it")
        return found[0]


def cache_dir() -> Path:
    return Path(os.environ.get("SPLITBRAIN_CACHE") or "~/.cache/splitbrain").expanduser()


def check_version(version: str) -> str:
    """A version string pip can be asked for; HarnessError otherwise (spec-time check)."""
    if not isinstance(version, str) or not _VERSION_RE.match(version.strip()):
        raise HarnessError(
            f"db pysyncobj: option version: {version!r} is not a version number ({LIST_HINT})"
        )
    return version.strip()


def _installed_version(python: Path) -> str | None:
    probe = "import importlib.metadata as m; print(m.version('pysyncobj'))"
    try:
        out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def ensure_venv(version: str, *, base: Path | None = None) -> Venv:
    """The environment for `version`, built with pip if not cached yet."""
    version = check_version(version)
    root = (base or cache_dir()) / f"{PACKAGE}-{version}"
    venv = Venv(root, version)
    if (root / READY_MARK).is_file():
        return venv
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{PACKAGE}-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be building the same version
        if (root / READY_MARK).is_file():
            return venv
        shutil.rmtree(root, ignore_errors=True)
        _build(venv)
        (root / READY_MARK).write_text(version + "\n")
    return venv


def _build(venv: Venv) -> None:
    spec = f"{PACKAGE}=={venv.version}"
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(venv.root)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(venv.python), "install",
             "--no-input", "--disable-pip-version-check", "--quiet", spec],
            capture_output=True, text=True, timeout=PIP_TIMEOUT_S,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(venv.root, ignore_errors=True)
        raise HarnessError(f"db pysyncobj: cannot build {venv.root}: {exc}") from None
    if pip.returncode != 0:
        shutil.rmtree(venv.root, ignore_errors=True)
        output = pip.stderr + pip.stdout
        if any(marker in output for marker in _MISSING):
            raise HarnessError(
                f"db pysyncobj: version {venv.version} does not exist on the package index "
                f"({LIST_HINT})"
            )
        lines = [line for line in output.splitlines() if line.strip() and "WARNING" not in line]
        last = lines[-1].strip() if lines else f"exit code {pip.returncode}"
        raise HarnessError(f"db pysyncobj: pip install {spec} failed: {last}")
    installed = _installed_version(venv.python)
    if installed != venv.version:
        shutil.rmtree(venv.root, ignore_errors=True)
        raise HarnessError(
            f"db pysyncobj: pip installed {installed or 'nothing importable'} for {spec}"
        )
