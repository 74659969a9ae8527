"""Clients others wrote, run with node from tests/conformance (packages pinned by its
package-lock.json; `make test` and CI install them). Without node or the packages the
tests that need them are skipped on a developer machine and fail under CI=true."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import IN_CI

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"
PACKAGES = ("graphql", "graphql-http", "graphql-ws", "ws")


def node_command(script: str) -> list[str]:
    """The command that runs ``script`` of tests/conformance."""
    node = shutil.which("node")
    missing = [name for name in PACKAGES if not (CONFORMANCE / "node_modules" / name).is_dir()]
    problem = None
    if node is None:
        problem = "node is not installed"
    elif missing:
        problem = f"run `npm ci` in tests/conformance (missing: {', '.join(missing)})"
    if problem is not None:
        if IN_CI:
            pytest.fail(f"required in CI: {problem}", pytrace=False)
        pytest.skip(problem)
    assert node is not None
    return [node, str(CONFORMANCE / script)]
