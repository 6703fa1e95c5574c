"""SshHost against real sshd servers started inside netns hosts."""

from __future__ import annotations

import signal
import socket
import sys

import pytest

from harness.cluster import open_cluster
from harness.core.protocols import Host, HostError
from harness.hosts.ssh import SshHost
from harness.hosts.ssh_config import SshHostConfig, load_hosts_file
from harness.sshd import SSHD, ssh_lab
from tests.conftest import requires_command, requires_netns
from tests.harness_hosts.conftest import wait_for

pytestmark = [
    requires_netns,
    requires_command(SSHD, "openssh-server"),
    requires_command("ssh-keygen", "openssh-client"),
    pytest.mark.root,
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with ssh_lab(["n1", "n2"], tmp_path_factory.mktemp("sshlab")) as made:
        yield made


@pytest.fixture
def host(lab):
    config = load_hosts_file(lab.hosts_file)[0]
    h = SshHost(config)
    yield h
    h.close()


def test_run_quotes_every_argument(host):
    assert isinstance(host, Host) and host.kind == "ssh"
    tricky = ["it's", "$HOME", "a b", "`id`", ";", "*"]
    result = host.run(["printf", "%s\\n", *tricky])
    assert result.stdout.splitlines() == tricky
    assert host.run(["sh", "-c", 'printf %s "$SB_V"'], env={"SB_V": "x y'z"}).stdout == "x y'z"
    assert host.run(["cat"], input=b"stdin data").stdout == "stdin data"


def test_failures_name_host_and_command(host):
    with pytest.raises(HostError) as info:
        host.run(["sh", "-c", "echo oops >&2; exit 4"])
    assert (
        "host n1" in str(info.value)
        and "exit code 4" in str(info.value)
        and "oops" in str(info.value)
    )
    with pytest.raises(HostError, match="timed out"):
        host.run(["sleep", "10"], timeout=0.5)


def test_daemon_signal_pause_and_files(host, lab, tmp_path):
    workdir = f"{host.config.workdir}/t"
    pid = host.start_daemon(
        ["sleep", "120"], log_path=f"{workdir}/s.log", pid_path=f"{workdir}/s.pid", cwd="/"
    )
    try:
        assert int(host.read_file(f"{workdir}/s.pid")) == pid
        assert host.is_alive(pid)
        host.signal(pid, signal.SIGSTOP)
        assert wait_for(lambda: host.process_state(pid) == "T")
        host.signal(pid, signal.SIGCONT)
        assert wait_for(lambda: host.process_state(pid) in ("S", "R"))
    finally:
        host.signal(pid, signal.SIGKILL)
    assert wait_for(lambda: not host.is_alive(pid))
    src = tmp_path / "up"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_bytes(b"sftp payload")
    host.upload(src, f"{workdir}/tree")
    assert host.read_file(f"{workdir}/tree/d/f") == b"sftp payload"
    host.download(f"{workdir}/tree", tmp_path / "down")
    assert (tmp_path / "down" / "d" / "f").read_bytes() == b"sftp payload"
    host.write_file(f"{workdir}/w", b"written")
    assert host.run(["cat", f"{workdir}/w"]).stdout == "written"


def test_unknown_host_key_rejected_then_accepted_when_allowed(lab, tmp_path):
    base = load_hosts_file(lab.hosts_file)[0]
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    strict = SshHostConfig(**{**base.__dict__, "known_hosts": str(empty)})
    with pytest.raises(HostError) as info:
        SshHost(strict)
    assert "unknown host key" in str(info.value) and "accept_new_host_keys" in str(info.value)
    assert "host n1" in str(info.value)
    relaxed = SshHostConfig(**{**strict.__dict__, "accept_new_host_keys": True})
    accepted = SshHost(relaxed)
    try:
        assert accepted.run(["echo", "ok"]).stdout.strip() == "ok"
    finally:
        accepted.close()
    assert base.address in empty.read_text()  # recorded, like OpenSSH's accept-new
    SshHost(strict).close()  # now known: strict checking passes


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_host_is_a_clear_error(lab):
    base = load_hosts_file(lab.hosts_file)[0]
    config = SshHostConfig(
        **{**base.__dict__, "address": "127.0.0.1", "port": _dead_port(), "connect_timeout": 3.0}
    )
    with pytest.raises(HostError) as info:
        SshHost(config)
    assert (
        "host n1" in str(info.value)
        and "unreachable" in str(info.value)
        and f":{config.port}" in str(info.value)
    )


def test_open_cluster_ssh_from_hosts_file(lab):
    cluster = open_cluster("ssh", ["n1", "n2"], ssh_hosts_file=lab.hosts_file)
    try:
        assert cluster.kind == "ssh" and set(cluster.hosts) == {"n1", "n2"}
        specs = cluster.node_specs()
        assert all(
            s.data_dir.startswith(load_hosts_file(lab.hosts_file)[0].workdir.rsplit("/", 1)[0])
            for s in specs
        )
        out = {
            n: h.run([sys.executable, "-c", "import socket; print(socket.gethostname())"]).exit_code
            for n, h in cluster.hosts.items()
        }
        assert out == {"n1": 0, "n2": 0}
    finally:
        cluster.close()


def test_open_cluster_with_an_unreachable_host_names_it(lab, tmp_path):
    import yaml

    doc = yaml.safe_load(lab.hosts_file.read_text())
    doc["hosts"][1].update(address="127.0.0.1", port=_dead_port(), connect_timeout=3)
    bad = tmp_path / "hosts.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(HostError) as info:
        open_cluster("ssh", ["n1", "n2"], ssh_hosts_file=bad)
    assert str(info.value).startswith("host n2: ssh root@127.0.0.1:") and "unreachable" in str(
        info.value
    )
