"""Issue 11 item 8: absurd numbers in a spec are errors, not tests that run forever.

`time_limit: .inf` or `1e308` used to be accepted (and then ran until killed); each
numeric field now has a maximum (harness.spec.MAXIMA) and the error names field and limit.
"""

from __future__ import annotations

import pytest

from harness.spec import MAXIMA, SpecError, build_spec, load_yaml

FIELDS = {
    "time_limit": "time_limit",
    "nemesis_interval": "nemesis_interval",
    "op_timeout": "op_timeout",
    "recovery_s": "recovery_s",
    "budget": "budget",
    "rate": "rate",
}


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("text", [".inf", "1e308", "1.0e+20"])
def test_yaml_infinity_and_huge_numbers_are_refused(tmp_path, field, text):
    path = tmp_path / "spec.yaml"
    path.write_text(f"{field}: {text}\n")
    with pytest.raises(SpecError) as info:
        load_yaml(path)
    limit = MAXIMA[field][1]
    assert str(info.value).startswith(f"{path}: {field}: expected at most {limit}, got ")


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_the_maximum_itself_is_accepted(field):
    spec = build_spec({field: MAXIMA[field][0]}, "command line")
    assert getattr(spec, field) == MAXIMA[field][0]


def test_nested_nemesis_interval_names_its_path(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("nemesis: {faults: [kill], interval: .inf}\n")
    with pytest.raises(SpecError, match=r"nemesis\.interval: expected at most 1 day"):
        load_yaml(path)


@pytest.mark.parametrize(
    "entry", ["{at: .inf, f: kill}", "{at: 1, f: start-pause, duration: 1e300}"]
)
def test_schedule_times_are_bounded(tmp_path, entry):
    path = tmp_path / "spec.yaml"
    path.write_text(f"nemesis: {{faults: [pause], schedule: [{entry}]}}\n")
    with pytest.raises(
        SpecError, match=r"nemesis\.schedule\[0\]\.(at|duration): expected at most 7 days"
    ):
        load_yaml(path)


@pytest.mark.parametrize(
    "field, value", [("concurrency", 10**6), ("keys", 10**9), ("test_count", 10**7)]
)
def test_counts_are_bounded(field, value):
    with pytest.raises(SpecError, match=rf"{field}: expected at most"):
        build_spec({field: value}, "command line")


def test_command_line_infinity_is_a_one_line_error(tmp_path):
    from tests.hardening.test_crash_exit_codes import one_line_error, splitbrain

    proc = splitbrain("test", "--db", "null", "--time-limit", "inf", "--store", str(tmp_path))
    assert one_line_error(proc) == (
        "splitbrain test: command line: --time-limit: expected at most 7 days (604800 s), got inf"
    )
    assert not any(tmp_path.iterdir())  # refused before any run directory was made
