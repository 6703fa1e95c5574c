"""open_cluster: the hosts one test runs its nodes on, whatever their kind.

A Cluster maps node names to `Host`s and knows how to place nodes on them
(`node_specs`: ports and directories). `close()` undoes what `open_cluster` did —
for `netns` it removes the lab it created — and is also registered to run at exit or
on SIGTERM, so an escaping error cannot leak namespaces. `local` and `netns` clusters
also keep a run record (harness.hosts.local_state) of their daemons, node directories
and lab, from which `splitbrain cleanup` undoes it all after a controller's SIGKILL.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.core.protocols import HarnessError, Host, NodeSpec
from harness.hosts import cleanup
from harness.hosts.lab_state import validate_node_names
from harness.hosts.local import LocalHost
from harness.hosts.local_state import NodeFiles, RunSession
from harness.hosts.netns import LabHandle, attach_lab, can_admin_network, create_lab, hosts_for
from harness.hosts.ssh import SshHost
from harness.hosts.ssh_config import SshHostConfig, load_hosts_file

KINDS = ("local", "netns", "ssh")
PEER_PORT = 7001
CLIENT_PORT = 8001


def default_cluster_kind() -> tuple[str, str]:
    """("netns", why) when this process may administer the network, else ("local", why)."""
    ok, reason = can_admin_network()
    if ok:
        return "netns", f"netns: {reason}"
    return "local", f"local: netns unavailable ({reason})"


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports that were free a moment ago (all held open while choosing)."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
        return ports


@dataclass
class Cluster:
    """Hosts by node name. Use `node_specs` to place a DB's nodes on them."""

    kind: str
    hosts: dict[str, Host]
    lab: str | None = None
    _lab_handle: LabHandle | None = None
    _session: RunSession | None = None
    _tmpdirs: list[str] = field(default_factory=list)
    _cleanup_token: int | None = None
    _closed: bool = False

    @property
    def nodes(self) -> list[str]:
        return list(self.hosts)

    def node_specs(self, base_dir: str | Path | None = None) -> list[NodeSpec]:
        """One NodeSpec per node: ports (free ones on loopback, 7001/8001 elsewhere) and
        `<base>/<node>/{data,node.log}`. `base_dir` defaults to a temporary directory
        removed by close() (local/netns) or to the host's workdir (ssh)."""
        if self.kind == "local":
            ports = free_ports(2 * len(self.hosts))
            pairs = [(ports[2 * i], ports[2 * i + 1]) for i in range(len(self.hosts))]
        else:
            pairs = [(PEER_PORT, CLIENT_PORT)] * len(self.hosts)
        specs = []
        for (name, host), (peer, client) in zip(self.hosts.items(), pairs, strict=True):
            if self.kind == "ssh":
                base = str(getattr(host, "workdir", "/tmp/splitbrain"))
            else:
                if base_dir is None:
                    base_dir = tempfile.mkdtemp(prefix="splitbrain-nodes-")
                    self._tmpdirs.append(str(base_dir))
                    if self._session is not None:
                        self._session.add_tmpdir(str(base_dir))
                base = str(base_dir)
            node_dir = f"{base.rstrip('/')}/{name}"
            spec = NodeSpec(
                name=name,
                host=host,
                peer_port=peer,
                client_port=client,
                data_dir=f"{node_dir}/data",
                log_path=f"{node_dir}/node.log",
                extra={"node_dir": node_dir},
            )
            if self._session is not None:
                self._session.add_node(name, NodeFiles(node_dir, spec.data_dir, spec.log_path))
            specs.append(spec)
        return specs

    def close(self) -> None:
        """Close host sessions and remove what open_cluster created (a netns lab, leftover
        local daemons, temporary node dirs); idempotent."""
        if self._closed:
            return
        self._closed = True
        errors = []
        for host in self.hosts.values():
            try:
                host.close()
            except Exception as exc:  # noqa: BLE001 - keep tearing down the rest
                errors.append(exc)
        if self._session is not None:
            self._session.kill_daemons()  # nodes the DB failed to stop die with the cluster
        if self._lab_handle is not None:
            self._lab_handle.close()
        for path in self._tmpdirs:
            shutil.rmtree(path, ignore_errors=True)
        if self._session is not None:
            self._session.close()  # the record goes last: until here a crash is cleanable
        if self._cleanup_token is not None:
            cleanup.unregister(self._cleanup_token)
        if errors:
            raise HarnessError(f"closing cluster: {errors[0]}")

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def choose_ssh_hosts(
    node_names: Sequence[str], ssh_hosts_file: str | Path | None
) -> list[SshHostConfig]:
    """The host entry for each node, in order: by name when the file names every node,
    else the first N. Reads the file only; a HarnessError says what is wrong with it."""
    if ssh_hosts_file is None:
        raise HarnessError("cluster kind ssh needs --ssh-hosts FILE (a YAML list of hosts)")
    configs = load_hosts_file(ssh_hosts_file)
    by_name = {c.name: c for c in configs}
    if all(n in by_name for n in node_names):
        return [by_name[n] for n in node_names]
    if len(configs) >= len(node_names):
        return configs[: len(node_names)]
    raise HarnessError(
        f"ssh hosts file {ssh_hosts_file}: {len(configs)} hosts for {len(node_names)} nodes"
    )


def _ssh_hosts(node_names: Sequence[str], ssh_hosts_file: str | Path | None) -> dict[str, Host]:
    chosen = choose_ssh_hosts(node_names, ssh_hosts_file)
    hosts: dict[str, Host] = {}
    try:
        for node, config in zip(node_names, chosen, strict=True):
            if config.name != node:
                config = replace(config, name=node)
            hosts[node] = SshHost(config)
    except BaseException:
        for host in hosts.values():
            host.close()
        raise
    return hosts


def open_cluster(
    kind: str,
    node_names: Sequence[str],
    *,
    ssh_hosts_file: str | Path | None = None,
    lab: str | None = None,
    run_dir: str | Path | None = None,
) -> Cluster:
    """Bring up the hosts for `node_names`. netns: a fresh lab (or the existing lab
    `lab`, which is then left in place); ssh: the hosts of `ssh_hosts_file`. `run_dir`
    (the test's store directory) is where `splitbrain cleanup` puts the nodes' logs if
    this controller dies."""
    names = list(node_names)
    validate_node_names(names)
    if kind == "local":
        session = RunSession("local", run_dir=run_dir)
        hosts: dict[str, Host] = {
            n: LocalHost(n, on_daemon=lambda pid, n=n: session.add_pid(pid, n)) for n in names
        }
        cluster = Cluster("local", hosts, _session=session)
        cluster._cleanup_token = cleanup.register(cluster.close)
        return cluster
    if kind == "netns":
        ok, reason = can_admin_network()
        if not ok:
            raise HarnessError(f"cluster kind netns unavailable: {reason} (use --cluster local)")
        session = RunSession("netns", run_dir=run_dir)
        try:
            handle = attach_lab(lab, names) if lab else LabHandle(create_lab(names), owned=True)
        except BaseException:
            session.close()
            raise
        if handle.owned:
            session.set_lab(handle.record.name)
        cluster = Cluster("netns", {}, lab=handle.record.name, _lab_handle=handle, _session=session)
        cluster._cleanup_token = cleanup.register(cluster.close)
        all_hosts = hosts_for(handle.record, on_daemon=lambda node, pid: session.add_pid(pid, node))
        cluster.hosts = {n: all_hosts[n] for n in names}
        return cluster
    if kind == "ssh":
        return Cluster("ssh", _ssh_hosts(names, ssh_hosts_file))
    raise HarnessError(f"unknown cluster kind {kind!r} (choose one of {', '.join(KINDS)})")
