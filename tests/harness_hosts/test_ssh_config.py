"""The ssh hosts file: valid files load, every mistake is an error naming the field."""

from __future__ import annotations

import pytest

from harness.core.protocols import HarnessError
from harness.hosts.ssh_config import load_hosts_file, parse_hosts


@pytest.fixture
def key(tmp_path):
    path = tmp_path / "id"
    path.write_text("not really a key")
    return str(path)


def test_full_and_default_fields(tmp_path, key):
    path = tmp_path / "hosts.yaml"
    path.write_text(
        f"accept_new_host_keys: true\nhosts:\n"
        f"  - {{name: a, address: 10.0.0.1, key_file: {key}, port: 2222, user: bob, sudo: true, python: /usr/bin/python3.11, workdir: /srv/sb/}}\n"
        f"  - {{address: 10.0.0.2, key_file: {key}, accept_new_host_keys: false}}\n"
    )
    first, second = load_hosts_file(path)
    assert (first.name, first.port, first.user, first.sudo, first.workdir) == (
        "a",
        2222,
        "bob",
        True,
        "/srv/sb",
    )
    assert first.accept_new_host_keys is True
    assert (second.name, second.port, second.user, second.sudo) == ("n2", 22, "root", False)
    assert second.accept_new_host_keys is False  # per-host value wins over the default


def test_bare_list_is_accepted(key):
    (only,) = parse_hosts([{"address": "h", "key_file": key}])
    assert only.name == "n1" and only.python == "python3"


@pytest.mark.parametrize(
    ("doc", "field", "problem"),
    [
        ([{"key_file": "K"}], "hosts[0].address", "is required"),
        ([{"address": "h"}], "hosts[0].key_file", "is required"),
        ([{"address": "h", "key_file": "K", "port": "22"}], "hosts[0].port", "integer"),
        ([{"address": "h", "key_file": "K", "port": 70000}], "hosts[0].port", "1-65535"),
        ([{"address": "h", "key_file": "K", "sudo": "yes"}], "hosts[0].sudo", "true or false"),
        ([{"address": "h", "key_file": "K", "workdir": "rel"}], "hosts[0].workdir", "absolute"),
        ([{"address": "h", "key_file": "K", "colour": 1}], "hosts[0].colour", "unknown field"),
        (
            [
                {"address": "h", "key_file": "K", "name": "x"},
                {"address": "g", "key_file": "K", "name": "x"},
            ],
            "hosts[1].name",
            "duplicate",
        ),
        ({"hosts": []}, "hosts", "non-empty"),
        ({"servers": []}, "servers", "unknown field"),
        (["just a string"], "hosts[0]", "mapping"),
    ],
)
def test_errors_name_the_field(doc, field, problem, key):
    def fill(value):
        if isinstance(value, dict):
            return {k: (key if v == "K" else fill(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    with pytest.raises(HarnessError) as info:
        parse_hosts(fill(doc), "f.yaml")
    message = str(info.value)
    assert message.startswith(f"ssh hosts file f.yaml: {field}:")
    assert problem in message


def test_missing_key_file_and_bad_yaml(tmp_path):
    with pytest.raises(HarnessError, match=r"hosts\[0\]\.key_file: no such file"):
        parse_hosts([{"address": "h", "key_file": str(tmp_path / "nope")}])
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts: [unclosed")
    with pytest.raises(HarnessError, match="not valid YAML"):
        load_hosts_file(bad)
    with pytest.raises(HarnessError, match="no such file"):
        load_hosts_file(tmp_path / "absent.yaml")


def test_sudo_wraps_the_quoted_command_in_a_non_interactive_sudo(key):
    import shlex

    from harness.hosts.ssh import SshHost

    (config,) = parse_hosts([{"address": "h", "key_file": key, "sudo": True}])
    host = SshHost(config, connect=False)
    line = host._wrap("printf %s 'a b'")
    argv = shlex.split(line)
    assert argv[:4] == ["sudo", "-n", "--", "sh"] and argv[4:] == ["-c", "printf %s 'a b'"]
    (plain,) = parse_hosts([{"address": "h", "key_file": key}])
    assert SshHost(plain, connect=False)._wrap("true") == "true"
