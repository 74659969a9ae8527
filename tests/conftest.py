"""Fixtures shared by the whole suite.

Database tests run twice, on SQLite and on a throwaway PostgreSQL cluster (each test in
a database of its own, cloned from a migrated template). Without PostgreSQL binaries the
PostgreSQL half is skipped on a developer machine and fails under CI=true."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from account_alerts.api.app import create_app
from account_alerts.api.auth import issue_token
from account_alerts.config import Settings
from account_alerts.domain.enums import Role
from account_alerts.store.database import Database
from account_alerts.store.migrate import upgrade
from account_alerts.store.tables import metadata
from tests.support.pg_cluster import PostgresCluster, PostgresUnavailable

TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    try:
        cluster = PostgresCluster().start()
    except PostgresUnavailable as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PostgresCluster) -> str:
    url = pg_cluster.create_database("alerts_template")
    upgrade(url)
    return "alerts_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


_db_counter = itertools.count(1)


@pytest.fixture(scope="session")
def pg_shared(pg_cluster: PostgresCluster, pg_template: str) -> str:
    return pg_cluster.create_database("alerts_shared", template=pg_template)


def _truncate_all(url: str) -> None:
    # TRUNCATE bypasses the audit log's row triggers: it is how tests start clean.
    names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database for this test: a fresh SQLite file, or the shared
    PostgreSQL test database emptied."""
    if request.param == "sqlite":
        if request.node.get_closest_marker("postgresql_only"):
            pytest.skip("PostgreSQL-only behaviour")
        path = tmp_path / "alerts.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_shared")
    _truncate_all(url)
    return url


@pytest.fixture
def database_url_pg(pg_shared: str) -> str:
    """The shared PostgreSQL test database, emptied: for tests of PostgreSQL-only behaviour."""
    _truncate_all(pg_shared)
    return pg_shared


@pytest.fixture(params=["sqlite", "postgresql"])
def own_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database of this test's own, for tests that change the schema."""
    if request.param == "sqlite":
        path = tmp_path / "alerts.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    template = request.getfixturevalue("pg_template")
    return cluster.create_database(f"test_{next(_db_counter)}", template=template)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, jwt_secret=TEST_SECRET)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url, pool_size=5)
    yield database
    await database.dispose()


class Clock:
    """The app's clock, movable by tests; it starts at the real time, since token expiry
    is checked against the real clock."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Api:
    """Posts GraphQL to the app, as the mobile app or a bank service would."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings, clock: Clock) -> None:
        self.client = client
        self.settings = settings
        self.clock = clock

    def token(
        self,
        subject: str | int,
        role: Role = Role.CUSTOMER,
        *,
        signed_ago: timedelta = timedelta(0),
        lifetime: timedelta = timedelta(hours=1),
    ) -> str:
        return issue_token(
            self.settings,
            subject=str(subject),
            role=role,
            # Expiry is checked against the real clock, so tokens are signed in real time.
            now=datetime.now(UTC) - signed_ago,
            lifetime=lifetime,
        )

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def as_customer(
        self, user_id: int, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return await self.post(query, variables, token=self.token(user_id))

    async def as_service(
        self, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return await self.post(query, variables, token=self.token("core-banking", Role.SERVICE))

    async def as_admin(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.post(query, variables, token=self.token("risk-analyst-1", Role.ADMIN))


@pytest.fixture
async def api(settings: Settings, db: Database, clock: Clock) -> AsyncIterator[Api]:
    app = create_app(settings, database=db, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://alerts.test") as client:
        yield Api(client, settings, clock)


def error_code(body: dict[str, Any]) -> str:
    errors = body.get("errors") or []
    assert errors, f"expected an error, got {body}"
    return str(errors[0]["extensions"]["code"])
