"""Reading histories: our JSONL, Jepsen EDN maps, Jepsen log lines; malformed input."""

from __future__ import annotations

import pytest

from checkers.formats import (
    EdnError,
    detect_format,
    load_history,
    parse_edn,
    parse_history,
)
from checkers.history import HistoryError, pair_history


def test_edn_scalars_and_collections():
    value = parse_edn(
        '{:a 1, :b -2.5, :c nil, :d true, :e "x\\"y\\n", :f [1 2 (3 4)], :g #{5}, '
        ":h :kw, :i sym, :j 7N ; comment\n #_ :skipped :k 1/2}"
    )
    assert value == {
        "a": 1,
        "b": -2.5,
        "c": None,
        "d": True,
        "e": 'x"y\n',
        "f": [1, 2, [3, 4]],
        "g": [5],
        "h": "kw",
        "i": "sym",
        "j": 7,
        "k": 0.5,
    }


def test_edn_tagged_literal_reads_the_inner_form():
    assert parse_edn('#inst "2020-01-01"') == "2020-01-01"
    assert parse_edn("#jepsen.history.Op{:f :read}") == {"f": "read"}


@pytest.mark.parametrize(
    "text, eof",
    [("{:a 1", True), ('"abc', True), ("[1 2}", False), ("{:a}", False), (")", False)],
)
def test_edn_errors(text, eof):
    with pytest.raises(EdnError) as info:
        parse_edn(text)
    assert info.value.eof is eof


def test_edn_history_with_keys_and_line_numbers():
    text = (
        '{:process 9, :type :invoke, :f :append, :key "0", :value "x 9 0 y"}\n'
        "\n"
        '{:process 9, :type :ok, :f :append, :key "0", :value "x 9 0 y"}\n'
    )
    read = parse_history(text)
    assert [op.type for op in read.ops] == ["invoke", "ok"]
    assert [op.line for op in read.ops] == [1, 3]
    assert read.ops[0].key == "0" and read.ops[0].value == "x 9 0 y"
    assert read.ops[0].process == 9


def test_edn_independent_tuples_become_key_and_value():
    text = (
        "{:process 0, :type :invoke, :f :cas, :value [3 [1 2]]}\n"
        "{:process 0, :type :ok, :f :cas, :value [3 [1 2]]}\n"
        "{:process 1, :type :invoke, :f :read, :value [4 nil]}\n"
        "{:process 1, :type :ok, :f :read, :value [4 2]}\n"
    )
    read = parse_history(text)
    assert [(op.key, op.value) for op in read.ops] == [
        (3, [1, 2]),
        (3, [1, 2]),
        (4, None),
        (4, 2),
    ]


def test_plain_cas_history_is_not_mistaken_for_independent_tuples():
    text = (
        "{:process 0, :type :invoke, :f :cas, :value [1 2]}\n"
        "{:process 0, :type :ok, :f :cas, :value [1 2]}\n"
        "{:process 1, :type :invoke, :f :read, :value nil}\n"
        "{:process 1, :type :ok, :f :read, :value 2}\n"
    )
    read = parse_history(text)
    assert read.ops[0].key is None and read.ops[0].value == [1, 2]


def test_edn_history_in_one_vector_and_nemesis_keyword_process():
    text = (
        "[{:process 0 :type :invoke :f :read :value nil}\n"
        " {:process :nemesis :type :info :f :start :value nil}\n"
        " {:process 0 :type :ok :f :read :value 3}]\n"
    )
    read = parse_history(text)
    assert [op.process for op in read.ops] == [0, "nemesis", 0]
    assert not read.ops[1].is_client


def test_jepsen_log_lines_tabs_and_spaces():
    text = (
        "some preamble that is not an op\n"
        "INFO  jepsen.util - 2\t:invoke\t:cas\t[3 0]\n"
        "INFO  jepsen.util - 1   :invoke :read   nil\n"
        "INFO  jepsen.util - 2\t:fail\t:cas\t[3 0]\n"
        "INFO  jepsen.util - 1   :ok :read   4\n"
        "INFO  jepsen.util - 3\t:invoke\t:write\t1\n"
        "INFO  jepsen.util - 3\t:info\t:write\t:timed-out\n"
    )
    assert detect_format(text) == "jepsen-log"
    read = parse_history(text)
    assert [(op.process, op.type, op.f, op.value) for op in read.ops] == [
        (2, "invoke", "cas", [3, 0]),
        (1, "invoke", "read", None),
        (2, "fail", "cas", [3, 0]),
        (1, "ok", "read", 4),
        (3, "invoke", "write", 1),
        (3, "info", "write", "timed-out"),
    ]
    assert read.ops[0].line == 2
    assert any("not operations" in w for w in read.warnings)


def test_detect_format_json_and_edn():
    assert detect_format('{"type": "invoke", "f": "read", "process": 0}\n') == "jsonl"
    assert detect_format("{:type :invoke, :f :read, :process 0}\n") == "edn"
    with pytest.raises(HistoryError):
        detect_format("hello world\n")


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"invoke","f":"read","process":0,"value":null}\n{"type":"ok","f":"rea',
        "{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f",
        "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:cas\t[1 ",
    ],
    ids=["jsonl", "edn", "jepsen-log"],
)
def test_truncated_last_line_is_dropped_with_a_warning(text):
    read = parse_history(text)
    assert len(read.ops) == 1
    assert any("truncated last line" in w and ":2:" in w for w in read.warnings)
    # the dangling invocation counts as info
    assert pair_history(read.ops).ops[0].status == "info"


@pytest.mark.parametrize(
    "text, line, words",
    [
        (
            '{"type":"invoke","f":"read","process":0}\n{"type":"done","f":"read","process":0}\n',
            2,
            "unknown op type",
        ),
        (
            "{:process 0, :type :invoke, :f :read}\n{:process 0, :type :weird, :f :read}\n",
            2,
            "unknown op type",
        ),
        (
            "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:oops\t:read\t1\n",
            2,
            "unknown op type",
        ),
        (
            '{"type":"invoke","f":"read","process":0}\n{"type":"ok","f":"read","process":1}\n',
            2,
            "without an invocation",
        ),
        (
            '{"type":"invoke","f":"read","process":0}\n{"type":"ok","f":"write","process":0}\n',
            2,
            "does not match",
        ),
        (
            '{"type":"invoke","f":"read","process":0}\n{"type":"invoke","f":"read","process":0}\n',
            2,
            "was not completed",
        ),
        (
            '{"type":"invoke","f":"read","process":0}\n{oops\n{"type":"ok","f":"read","process":0}\n',
            2,
            "invalid JSON",
        ),
        (
            "{:process 0, :type :invoke, :f :read}\n{:process 0 :type}\n{:process 0, :type :ok, :f :read}\n",
            2,
            "odd number",
        ),
        ("{:process 0, :type :invoke}\n", 1, "missing :f"),
    ],
)
def test_malformed_input_names_the_line(text, line, words):
    with pytest.raises(HistoryError) as info:
        parse_history(text, source="h.txt")
    assert info.value.line == line
    assert words in str(info.value)
    assert f"h.txt:{line}" in str(info.value)
    assert "\n" not in str(info.value)


def test_load_history_reports_missing_and_unreadable_files(tmp_path):
    with pytest.raises(HistoryError, match="no such file"):
        load_history(tmp_path / "nope.jsonl")
    with pytest.raises(HistoryError, match="directory"):
        load_history(tmp_path)
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(HistoryError, match="UTF-8"):
        load_history(binary)


def test_load_history_round_trips_our_jsonl(tmp_path):
    from checkers.history import write_jsonl

    from .helpers import build

    ops = build(("invoke", 0, "cas", [1, 2], "k1"), ("ok", 0, "cas", [1, 2], "k1"))
    path = tmp_path / "history.jsonl"
    write_jsonl(path, ops)
    read = load_history(path)
    assert [(o.type, o.f, o.key, o.value) for o in read.ops] == [
        ("invoke", "cas", "k1", [1, 2]),
        ("ok", "cas", "k1", [1, 2]),
    ]
