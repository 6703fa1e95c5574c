"""MaelstromClient: one of the controller's own Maelstrom clients (`c1`, `c2`, …).

A client is bound to one node and sends it lin-kv requests through the network; the
reply is classified by `protocol.classify_reply`. A request that could not be sent
(the node is down) certainly did not happen: `fail`.
"""

from __future__ import annotations

from typing import Any

from harness.core.protocols import ClientResult
from harness.dbs.maelstrom.network import MaelstromNetwork
from harness.dbs.maelstrom.protocol import classify_reply, request_body


class MaelstromClient:
    """A Maelstrom client id talking to one node. invoke() never raises."""

    def __init__(self, network: MaelstromNetwork, node: str, client_id: str) -> None:
        self.network = network
        self.node = node
        self.client_id = client_id

    def open(self) -> None:
        """Nothing to open: the network already holds the node's connection."""

    def close(self) -> None:
        pass

    def invoke(self, f: str, key: Any, value: Any, timeout: float) -> ClientResult:
        try:
            body = request_body(f, key, value)
        except ValueError as exc:
            return ClientResult("fail", value, f"bad-request: {exc}")
        reply, why = self.network.rpc(self.client_id, self.node, body, timeout)
        if reply is None and why == "not connected":
            return ClientResult("fail", value, "connect: node is down")
        return classify_reply(f, value, reply, why)
