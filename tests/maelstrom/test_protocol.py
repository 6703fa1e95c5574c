"""Maelstrom lin-kv: request bodies, line parsing, and the ok/fail/info classification."""

from __future__ import annotations

import pytest

from harness.dbs.maelstrom.protocol import ProtocolError, classify_reply, parse_line, request_body


def test_request_bodies_map_the_workload_ops() -> None:
    assert request_body("read", "r", None) == {"type": "read", "key": "r"}
    assert request_body("write", "k1", 3) == {"type": "write", "key": "k1", "value": 3}
    assert request_body("cas", "r", [1, 2]) == {"type": "cas", "key": "r", "from": 1, "to": 2}
    with pytest.raises(ValueError, match="not supported by the Maelstrom lin-kv protocol"):
        request_body("append", "a0", 1)
    with pytest.raises(ValueError, match=r"\[old, new\]"):
        request_body("cas", "r", 5)


@pytest.mark.parametrize(
    ("f", "reply", "expected"),
    [
        ("read", {"type": "read_ok", "value": 4}, ("ok", 4)),
        ("read", {"type": "error", "code": 20}, ("ok", None)),  # missing key reads as nil
        ("write", {"type": "write_ok"}, ("ok", 7)),
        ("cas", {"type": "cas_ok"}, ("ok", 7)),
        ("write", {"type": "error", "code": 11}, ("fail", 7)),
        ("cas", {"type": "error", "code": 20}, ("fail", 7)),
        ("cas", {"type": "error", "code": 22}, ("fail", 7)),
        ("write", {"type": "error", "code": 0}, ("info", 7)),  # timeout: indefinite
        ("write", {"type": "error", "code": 13}, ("info", 7)),  # crash: indefinite
        ("cas", {"type": "error", "code": 1001}, ("info", 7)),  # custom codes: indefinite
        ("read", {"type": "error", "code": 0}, ("fail", 7)),  # a read changes nothing
        ("write", {"type": "read_ok"}, ("info", 7)),  # nonsense answer: unknown outcome
    ],
)
def test_replies_are_classified_by_definiteness(f: str, reply: dict, expected: tuple) -> None:
    result = classify_reply(f, 7, reply, "")
    assert (result.type, result.value) == expected


def test_no_reply_is_info_except_for_reads() -> None:
    assert classify_reply("write", 1, None, "timeout").type == "info"
    assert classify_reply("cas", [1, 2], None, "connection lost").error == "connection lost"
    assert classify_reply("read", None, None, "timeout").type == "fail"


def test_error_text_names_code_and_message_once() -> None:
    reply = {"type": "error", "code": 22, "text": "precondition-failed"}
    assert classify_reply("cas", [1, 2], reply, "").error == "precondition-failed"
    reply = {"type": "error", "code": 11, "text": "no leader"}
    assert classify_reply("cas", [1, 2], reply, "").error == "temporarily-unavailable: no leader"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"hello world\n", "not JSON"),
        (b"[1, 2]\n", "not an object"),
        (b'{"src": "n1", "body": {"type": "x"}}\n', "src and dest"),
        (b'{"src": "n1", "dest": "n2", "body": {}}\n', "string type"),
    ],
)
def test_lines_that_are_not_messages_are_protocol_errors(line: bytes, problem: str) -> None:
    with pytest.raises(ProtocolError, match=problem):
        parse_line(line)


def test_a_message_parses() -> None:
    env = parse_line(b'{"src":"n1","dest":"c3","body":{"type":"read_ok","in_reply_to":9}}\n')
    assert (env.src, env.dest, env.type, env.in_reply_to) == ("n1", "c3", "read_ok", 9)
