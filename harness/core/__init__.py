"""The harness kernel: what every layer above it shares and nothing below it needs.

Generators (``harness.core.generators``), the DB/Client/Host/Nemesis protocols and the
errors (``harness.core.protocols``), and how a DB starts a node under libfaketime
(``harness.core.faketime``). Nothing in this package imports ``nemeses``, ``workloads``,
``checkers`` or the rest of ``harness``: those import it (docs/interfaces.md, "Layers").
"""
