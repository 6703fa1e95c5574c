"""Issue 11 item 5: a crash must never exit 1 ("invalid").

Each hostile input below used to end in a Python traceback and exit 1 (RecursionError,
TypeError, OverflowError, MemoryError, NotADirectoryError...). Now the readers turn the
bad inputs into one line naming the file and line, and the click group turns anything
else unexpected into one line and exit 2, with the traceback saved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from harness.cli_errors import GuardedGroup

ROOT = Path(__file__).resolve().parents[2]


def splitbrain(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real command line, as CI runs it (exit code and stderr exactly as a user sees)."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """Exit 2 with exactly one line on stderr and no traceback; returns that line."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def _op(type_: str, **fields: object) -> str:
    return json.dumps({"type": type_, "f": "write", "process": 0, "value": 1, **fields})


@pytest.mark.parametrize(
    "name, text, expected",
    [
        (
            "deep.jsonl",
            '{"type":"invoke","f":"write","process":0,"value":'
            + "[" * 50_000
            + "]" * 50_000
            + "}\n",
            ":1: nested more than 100 levels deep",
        ),
        (
            "dictkey.jsonl",
            _op("invoke", key={"a": 1}) + "\n" + _op("ok", key={"a": 1}) + "\n",
            ":1: field 'key' must be a string, number or list, not an object",
        ),
        (
            "overflow.jsonl",
            _op("invoke")
            + "\n"
            + _op("ok").replace('"value": 1', '"value": 1, "time": 1.5e400')
            + "\n",
            ":2: number 1.5e400 is out of range",
        ),
        (
            "infinity.jsonl",
            _op("invoke").replace('"value": 1', '"value": Infinity') + "\n",
            ":1: Infinity is not a number a history can hold",
        ),
        (
            "overflow.edn",
            "{:type :invoke, :f :write, :process 0, :value 1, :time 1.5e400}\n",
            ":1: malformed EDN: number 1.5e400 is out of range",
        ),
        (
            "inf.edn",
            "{:type :invoke, :f :write, :process 0, :value 1}\n"
            "{:type :ok, :f :write, :process 0, :value ##Inf}\n",
            ":2: malformed EDN: ##Inf is not a number a history can hold",
        ),
        (
            "deep.edn",
            "{:type :invoke, :f :write, :process 0, :value " + "[" * 50_000 + "]" * 50_000 + "}\n",
            ":1: malformed EDN: nested more than 100 levels deep",
        ),
        (
            "tagged.edn",
            "{:type :invoke, :f :write, :process 0, :value " + "#x " * 50_000 + "1}\n",
            ":1: malformed EDN: nested more than 100 levels deep",
        ),
        (
            "dictkey.edn",
            "{:type :invoke, :f :write, :process 0, :key {:a 1}, :value 1}\n"
            "{:type :ok, :f :write, :process 0, :key {:a 1}, :value 1}\n",
            None,  # EDN map keys are made hashable, as map keys always were: checked fine
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 20 else "",
)
def test_hostile_history_is_a_line_numbered_error(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    proc = splitbrain("check", str(path))
    if expected is None:
        assert proc.returncode == 0, proc.stderr
        return
    line = one_line_error(proc)
    assert line == f"error: {path}{expected}" or line.startswith(f"error: {path}{expected}")


def test_dev_zero_is_refused_without_reading_it_all():
    line = one_line_error(splitbrain("check", "/dev/zero"))
    assert line == "error: /dev/zero:1: line longer than 64 MiB: not a history file"


def test_bad_utf8_names_its_line(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_bytes(_op("invoke").encode() + b"\n" + b'{"type": "ok\xff"}\n')
    assert one_line_error(splitbrain("check", str(path))).startswith(
        f"error: {path}:2: not UTF-8 text"
    )


def store_error(store: Path | str) -> str:
    """The one-line error of a null-DB test run with this --store."""
    args = ["--db", "null", "--time-limit", "0.2", "--no-progress", "--store", str(store)]
    return one_line_error(splitbrain("test", *args))


def test_store_that_is_a_file(tmp_path):
    store = tmp_path / "store"
    store.write_text("not a directory")
    line = store_error(store)
    assert line == f"splitbrain test: cannot use {store}/null-kv_append: Not a directory"


def test_store_where_nothing_may_be_created():
    line = store_error("/sys/sbstore")
    assert line.startswith("splitbrain test: cannot use /sys/sbstore: ")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only tmpfs needs root")
def test_store_on_a_read_only_file_system(tmp_path):
    mount = tmp_path / "ro"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        line = store_error(str(mount))
    finally:
        subprocess.run(["umount", str(mount)], check=True)
    assert line == f"splitbrain test: cannot use {mount}/null-kv_append: Read-only file system"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a mode-0500 directory")
def test_store_in_an_unwritable_directory(tmp_path):
    store = tmp_path / "store"
    store.mkdir(mode=0o500)
    line = store_error(store)
    assert line == f"splitbrain test: cannot use {store}/null-kv_append: Permission denied"


# --- the wrapper itself, for whatever a future subcommand might raise -----------------


def _group(exc: BaseException) -> click.Group:
    @click.group(cls=GuardedGroup)
    @click.option("--debug", is_flag=True)
    def main(debug: bool) -> None:
        pass

    @main.command("boom")
    def boom() -> None:
        raise exc

    return main


@pytest.mark.parametrize(
    "exc, expected",
    [
        (RecursionError("maximum recursion depth exceeded"), "internal error: RecursionError"),
        (TypeError("unhashable type: 'dict'"), "internal error: TypeError"),
        (MemoryError(), "internal error: MemoryError"),
        (KeyboardInterrupt(), "splitbrain boom: interrupted"),
    ],
)
def test_any_unexpected_error_exits_2_with_one_line(tmp_path, monkeypatch, exc, expected):
    log = tmp_path / "crash.log"
    monkeypatch.setenv("SPLITBRAIN_CRASH_LOG", str(log))
    monkeypatch.delenv("SPLITBRAIN_DEBUG", raising=False)
    result = CliRunner().invoke(_group(exc), ["boom"])
    assert result.exit_code == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    if not isinstance(exc, KeyboardInterrupt):
        assert f"traceback in {log}" in result.stderr
        assert "Traceback (most recent call last)" in log.read_text()
        assert type(exc).__name__ in log.read_text()


def test_debug_flag_prints_the_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("SPLITBRAIN_CRASH_LOG", str(tmp_path / "crash.log"))
    result = CliRunner().invoke(_group(ValueError("x")), ["--debug", "boom"])
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr


def test_traceback_goes_to_the_runs_controller_log(tmp_path):
    """An error escaping a run after its directory exists: the traceback lands in that
    run's controller.log, the user gets one line."""
    script = (
        "import sys\n"
        "from harness.runner import Runner\n"
        "def broken(self, *args): raise RuntimeError('results cannot be written')\n"
        "Runner._check = broken\n"
        "from harness.cli import main\n"
        "sys.argv = ['splitbrain', 'test', '--db', 'null', '--time-limit', '0.2',\n"
        f"            '--no-progress', '--store', {str(tmp_path / 'store')!r}]\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    line = one_line_error(proc)
    (log,) = (tmp_path / "store").glob("*/*/controller.log")
    assert line == (
        "splitbrain test: internal error: RuntimeError: results cannot be written "
        f"(exit 2: the verdict is unknown; traceback in {log})"
    )
    assert "RuntimeError: results cannot be written" in log.read_text()


def test_deeply_nested_spec_is_a_spec_error(tmp_path):
    spec = tmp_path / "deep.yaml"
    spec.write_text("db_options: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert one_line_error(splitbrain("test", "-f", str(spec), "--db", "null")) == (
        f"splitbrain test: {spec}: yaml: nested too deeply to be a test spec"
    )
