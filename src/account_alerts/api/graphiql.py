"""GraphiQL, for developers outside production: the page and its browser files, served
by this process (vendored by tools/graphiql/vendor.sh), so it works with no way out to
the internet."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).parent / "graphiql"
ASSETS_PATH = "/graphiql"


@cache
def _page() -> str:
    return (HERE / "index.html").read_text(encoding="utf-8").replace("{assets}", ASSETS_PATH)


def graphiql_page() -> HTMLResponse:
    return HTMLResponse(_page())


def graphiql_assets() -> Mount:
    return Mount(ASSETS_PATH, app=StaticFiles(directory=HERE / "assets"), name="graphiql")
