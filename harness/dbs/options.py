"""Typed reads of a DB's options (the spec's ``db_options`` merged into ``setup``'s options).

Why: the same option arrives typed from a YAML spec (``latency_ms: 5``) and as a string
from the command line (``--db-option latency_ms=5``); an adapter should accept both and
reject anything else with one line naming the option and what it wants.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from harness.core.protocols import HarnessError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class OptionError(HarnessError):
    """A db option with a value the adapter cannot use."""

    def __init__(self, db: str, name: str, problem: str) -> None:
        super().__init__(f"db {db}: option {name}: {problem}")


def opt_float(
    db: str, options: Mapping[str, Any], name: str, default: float, *, minimum: float = 0.0
) -> float:
    raw = options.get(name, default)
    try:
        value = float(raw) if not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        value = None
    if value is None or value != value or value < minimum:
        raise OptionError(db, name, f"expected a number >= {minimum:g}, got {raw!r}")
    return value


def opt_int(
    db: str, options: Mapping[str, Any], name: str, default: int, *, minimum: int = 0
) -> int:
    raw = options.get(name, default)
    value: Any = raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        value = int(raw)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise OptionError(db, name, f"expected an integer >= {minimum}, got {raw!r}")
    return value


def opt_bool(db: str, options: Mapping[str, Any], name: str, default: bool) -> bool:
    raw = options.get(name, default)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise OptionError(db, name, f"expected true or false, got {raw!r}")


def opt_choice(
    db: str, options: Mapping[str, Any], name: str, default: str, choices: tuple[str, ...]
) -> str:
    raw = options.get(name, default)
    if raw not in choices:
        raise OptionError(db, name, f"expected one of {', '.join(choices)}, got {raw!r}")
    return str(raw)


def opt_str(db: str, options: Mapping[str, Any], name: str) -> str | None:
    raw = options.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise OptionError(db, name, f"expected a non-empty string, got {raw!r}")
    return raw.strip()


def opt_args(db: str, options: Mapping[str, Any], name: str) -> list[str]:
    """A list of argument strings: a YAML list, or one string split like a shell would."""
    raw = options.get(name)
    if raw is None:
        return []
    if isinstance(raw, str):
        try:
            return shlex.split(raw)
        except ValueError as exc:
            raise OptionError(db, name, f"cannot split {raw!r} ({exc})") from None
    if isinstance(raw, list | tuple) and all(isinstance(a, str | int | float) for a in raw):
        return [str(a) for a in raw]
    raise OptionError(db, name, f"expected a list of strings, got {raw!r}")
