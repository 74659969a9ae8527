"""PostgreSQL's query plans, as ``EXPLAIN (FORMAT JSON)`` gives them, for tests that check
how a statement is run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The node and every node below it."""
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)
