"""GraphiQL as a developer opens it from the README: in a real browser, from the demo
server, with no way out to the internet, running the README's query with the printed
token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_quickstart import demo_server
from tests.support.browser import chromium

__all__ = ["chromium", "demo_server"]

README_QUERY = (
    "{ unacknowledgedAlertCount accountAlerts(limit: 5) { totalCount "
    "items { id alertType title } } }"
)
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    remote: list[str] = []
    page.on(
        "request",
        lambda request: (
            remote.append(request.url)
            if not request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:"))
            else None
        ),
    )
    yield page
    context.close()
    assert remote == [], f"the page reached for other hosts: {remote}"


def test_graphiql_runs_the_readme_query_with_the_printed_token(
    demo_server: tuple[str, str, Path], page: Any
) -> None:
    base, token, _ = demo_server
    # What a developer types into GraphiQL's editors, as GraphiQL keeps them.
    headers = json.dumps({"Authorization": f"Bearer {token}"})
    page.add_init_script(
        f"localStorage.setItem('graphiql:query', {json.dumps(README_QUERY)});"
        f"localStorage.setItem('graphiql:headers', {json.dumps(headers)});"
    )
    page.goto(f"{base}/graphql")
    page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    result = page.locator(".result-window")
    result.get_by_text('"unacknowledgedAlertCount"').wait_for(timeout=15_000)
    text = result.inner_text()
    assert '"errors"' not in text, text
    assert '"LOW_BALANCE"' in text and '"totalCount"' in text
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "graphiql.png")


def test_graphiql_shows_a_clear_error_without_a_token(
    demo_server: tuple[str, str, Path], page: Any
) -> None:
    base, _, _ = demo_server
    page.add_init_script(f"localStorage.setItem('graphiql:query', {json.dumps(README_QUERY)});")
    page.goto(f"{base}/graphql")
    page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    page.locator(".result-window").get_by_text("UNAUTHENTICATED").wait_for(timeout=15_000)
