"""`--db maelstrom`: any Maelstrom-protocol node binary as a splitbrain DB (docs/maelstrom.md).

`protocol` (message shape, op mapping, reply classification), `shim` (runs on the hosts),
`network` (the controller routes every message), `client`, `db` (the DB adapter).
"""

from harness.dbs.maelstrom.db import MaelstromDB

__all__ = ["MaelstromDB"]
