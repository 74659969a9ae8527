"""GraphiQL outside production: the page and every file it loads come from this server
(vendored at pinned versions), so it works on a network that reaches nothing else."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from account_alerts.api.app import create_app
from account_alerts.config import Settings
from tests.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "src/account_alerts/api/graphiql/assets"
# A script or style sheet another host would serve.
REMOTE_ASSET = re.compile(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/[^\s\"'`)]*\.(?:m?js|css)\b")

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def client(tmp_path: Path) -> Client:
    @asynccontextmanager
    async def build(**overrides: str) -> AsyncIterator[httpx.AsyncClient]:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'unused.db'}",
            jwt_secret=SecretStr(TEST_SECRET + "-" * 20),
            **overrides,
        )
        transport = httpx.ASGITransport(app=create_app(settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://alerts.test") as c:
            yield c

    return build


def loaded_files(page: str) -> list[str]:
    return re.findall(r'<(?:script|link)[^>]*\b(?:src|href)="([^"]+)"', page)


async def test_graphiql_loads_every_file_from_this_server(client: Client) -> None:
    async with client() as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        files = loaded_files(page.text)
        assert sorted(files) == [
            "/graphiql/graphiql.min.css",
            "/graphiql/graphiql.min.js",
            "/graphiql/react-dom.production.min.js",
            "/graphiql/react.production.min.js",
        ]
        assert "http://" not in page.text and "https://" not in page.text
        for path in files:
            response = await http.get(path)
            assert response.status_code == 200, path
            kind = "text/css" if path.endswith(".css") else "javascript"
            assert kind in response.headers["content-type"], path
            assert response.content == (ASSETS / Path(path).name).read_bytes()


def test_the_vendored_files_name_no_remote_script_and_load_no_source_maps() -> None:
    for file in ASSETS.iterdir():
        text = file.read_text(encoding="utf-8").lower()
        # Links to a library's source in comments ("…/blob/…") are text, not loaded.
        remote = [url for url in REMOTE_ASSET.findall(text) if "/blob/" not in url]
        assert remote == [], file.name
        assert "sourcemappingurl" not in text, file.name


def test_the_vendored_files_are_the_versions_the_lock_file_pins() -> None:
    lock = json.loads((ROOT / "tools/graphiql/package-lock.json").read_text())["packages"]
    vendored = json.loads((ASSETS / "VERSIONS.json").read_text())
    assert vendored == {name: lock[f"node_modules/{name}"]["version"] for name in vendored}
    for name in ("react", "react-dom"):
        bundle = (ASSETS / f"{name}.production.min.js").read_text(encoding="utf-8")
        assert f'"{vendored[name]}"' in bundle, name


async def test_production_serves_neither_graphiql_nor_its_files(client: Client) -> None:
    async with client(env="production") as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 404
        assert (await http.get("/graphiql/graphiql.min.js")).status_code == 404
