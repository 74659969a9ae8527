"""A real browser for the tests of web pages: Debian's Chromium, driven by Playwright.

Playwright's own browser download is never used: the tests launch the system's Chromium
(``ALERTS_TEST_CHROMIUM``, else ``chromium`` on the PATH). Without it, or without the
playwright package, those tests are skipped on a developer machine and fail under
CI=true."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# As a headless test browser on a machine with no way out: nothing reaches for the network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"a browser is required in CI: {reason}", pytrace=False)
    pytest.skip(f"no browser: {reason}")


# Per module: Playwright's synchronous API runs an event loop of its own while it is
# open, which the suite's asynchronous tests must not find running.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    executable = os.environ.get("ALERTS_TEST_CHROMIUM") or shutil.which("chromium")
    if executable is None:
        _unavailable("chromium is not installed (Debian package: chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
