"""EtcdClient against a real etcd member: encoding, missing keys, failed txns, the
gateway's integer strings, refusals and the ok/fail/info classification."""

from __future__ import annotations

import threading

import pytest

from harness.dbs.etcd import _port_open
from harness.dbs.etcd_client import EtcdClient, GatewayError, b64, decode_value, encode_value
from nemeses.base import wait_until
from tests.etcd.conftest import requires_etcd

pytestmark = [requires_etcd, pytest.mark.process]


def client(db, node, **kw) -> EtcdClient:
    spec = db._node(node).spec
    return EtcdClient(spec.host.address, spec.client_port, node=node, **kw)


@pytest.mark.parametrize(
    "value", [0, -7, 2**40, "text", "ünï", [1, 2, 3], {"from": "a", "amount": 3}, [[], {}], True]
)
def test_values_round_trip_through_etcd(single_etcd, value):
    db, node = single_etcd
    c = db.client(node)
    assert c.invoke("write", f"rt-{value!r}", value, 5.0).type == "ok"
    got = c.invoke("read", f"rt-{value!r}", None, 5.0)
    assert got.type == "ok" and got.value == value and type(got.value) is type(value)


def test_encoding_is_canonical_json_in_base64():
    assert encode_value({"b": 1, "a": [1, 2]}) == b64('{"a":[1,2],"b":1}')
    assert decode_value(b64("[1,2]")) == [1, 2]
    assert decode_value(b64("not json")) == "not json"  # written by something else


def test_missing_key_has_no_kvs_and_reads_as_none(single_etcd):
    db, node = single_etcd
    c = client(db, node)
    raw = c.call("/v3/kv/range", {"key": b64("never-written")}, 5.0)
    assert "kvs" not in raw and "count" not in raw  # zero fields are omitted
    assert c.invoke("read", "never-written", None, 5.0).value is None
    assert c.invoke("cas", "never-written", [1, 2], 5.0).error == "not-found"
    assert c.invoke("delete", "never-written", None, 5.0).error == "not-found"


def test_integers_come_back_as_strings(single_etcd):
    db, node = single_etcd
    c = client(db, node)
    c.invoke("write", "int-strings", 1, 5.0)
    kv = c.call("/v3/kv/range", {"key": b64("int-strings")}, 5.0)["kvs"][0]
    assert isinstance(kv["mod_revision"], str) and int(kv["mod_revision"]) > 0
    assert isinstance(kv["version"], str)


def test_failed_txn_has_no_succeeded_field(single_etcd):
    db, node = single_etcd
    c = client(db, node)
    assert c.invoke("write", "reg", 1, 5.0).type == "ok"
    body = {
        "compare": [
            {"key": b64("reg"), "target": "VALUE", "result": "EQUAL", "value": encode_value(2)}
        ],
        "success": [{"request_put": {"key": b64("reg"), "value": encode_value(3)}}],
    }
    assert "succeeded" not in c.call("/v3/kv/txn", body, 5.0)
    mismatch = c.invoke("cas", "reg", [2, 3], 5.0)
    assert (mismatch.type, mismatch.error) == ("fail", "precondition-failed")
    assert c.invoke("cas", "reg", [1, 3], 5.0).type == "ok"
    assert c.invoke("read", "reg", None, 5.0).value == 3


def test_bad_base64_is_a_definite_400(single_etcd):
    db, node = single_etcd
    c = client(db, node)
    with pytest.raises(GatewayError) as caught:
        c.call("/v3/kv/put", {"key": "!!", "value": "YmFy"}, 5.0)
    assert caught.value.status == 400 and caught.value.code == 3
    assert caught.value.definite and str(caught.value).startswith("bad-request: illegal base64")


def test_read_modify_write_ops(single_etcd):
    db, node = single_etcd
    c = db.client(node)
    assert c.invoke("incr", "ctr", 0, 5.0).type == "ok"
    assert c.invoke("incr", "ctr", 4, 5.0).type == "ok"
    assert c.invoke("read", "ctr", None, 5.0).value == 4
    for account in ("x", "y"):
        c.invoke("write", account, 10, 5.0)
    assert c.invoke("transfer", None, {"from": "x", "to": "y", "amount": 3}, 5.0).type == "ok"
    poor = c.invoke("transfer", None, {"from": "x", "to": "y", "amount": 50}, 5.0)
    assert poor.type == "fail" and poor.error.startswith("precondition-failed")
    assert [c.invoke("read", k, None, 5.0).value for k in ("x", "y")] == [7, 13]
    c.invoke("write", "scalar", 5, 5.0)
    assert c.invoke("append", "scalar", 1, 5.0).type == "fail"  # not a list: refused


def test_concurrent_appends_lose_nothing(single_etcd):
    """The mod_revision compare makes racing read-modify-writes retry, not overwrite."""
    db, node = single_etcd
    results: list[str] = []

    def worker(base: int) -> None:
        c = db.client(node)
        for i in range(15):
            results.append(c.invoke("append", "race", base + i, 10.0).type)

    threads = [threading.Thread(target=worker, args=(b,)) for b in (0, 100, 200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 45
    final = db.client(node).invoke("read", "race", None, 5.0).value
    assert sorted(final) == sorted(b + i for b in (0, 100, 200) for i in range(15))


def test_serializable_reads_are_sent_as_such(single_etcd):
    db, node = single_etcd
    c = client(db, node, serializable=True)
    c.invoke("write", "ser", 9, 5.0)
    assert c.invoke("read", "ser", None, 5.0).value == 9


def test_timeouts_are_info_for_writes_and_fail_for_reads(single_etcd):
    db, node = single_etcd
    c = db.client(node)
    assert c.invoke("write", "warm", 1, 5.0).type == "ok"  # connection open and idle
    db.pause(node)
    try:
        write = c.invoke("write", "paused", 1, 0.5)
        read = c.invoke("read", "paused", None, 0.5)
    finally:
        db.resume(node)
    assert (write.type, write.error) == ("info", "timeout")
    assert read.type == "fail"


def test_refused_connection_is_fail(single_etcd):
    db, node = single_etcd
    c = db.client(node)
    assert c.invoke("write", "kept", 42, 5.0).type == "ok"
    db.kill(node)
    spec = db._node(node).spec
    # A Go process's main thread is a zombie (is_alive: False) a moment before its last
    # thread has closed the listening socket: wait until connects are refused.
    assert wait_until(lambda: not _port_open(spec.host.address, spec.client_port), 10.0)
    try:
        result = c.invoke("write", "down", 1, 2.0)
        assert result.type == "fail" and result.error.startswith("connect")
    finally:
        db.start(node)
    assert db.probe(node).role == "leader"
    assert db.client(node).invoke("read", "kept", None, 5.0).value == 42
