"""Host implementations, one per cluster kind (docs/cluster-kinds.md).

- `local.LocalHost`: a node slot on 127.0.0.1 of this machine.
- `netns.NetnsHost`: a node in its own network namespace of a lab (`netns` builds and
  removes labs; `lab_state` records them so any process can clean up).
- `ssh.SshHost`: a real machine over SSH (paramiko), configured by `ssh_config`.
"""
