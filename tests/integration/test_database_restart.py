"""A PostgreSQL restart costs the API nothing: pooled connections it closed are replaced
before use, not discovered by a failing request."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from account_alerts.store.database import Database
from tests.support.pg_cluster import PostgresCluster

pytestmark = pytest.mark.postgresql_only


async def _select_one(db: Database, hold: float = 0.0) -> int:
    async with db.session() as session:
        connection = await session.connection()
        value = (await connection.execute(sa.text("SELECT 1"))).scalar_one()
        await asyncio.sleep(hold)
        return int(value)


async def test_pooled_connections_closed_by_a_restart_are_replaced(
    pg_cluster: PostgresCluster, database_url_pg: str
) -> None:
    db = Database(database_url_pg, pool_size=3)
    try:
        # Three connections opened together, all returned to the pool.
        assert await asyncio.gather(*(_select_one(db, hold=0.2) for _ in range(3))) == [1, 1, 1]
        assert db.engine.sync_engine.pool.checkedin() == 3
        await asyncio.to_thread(pg_cluster.restart)
        # Every pooled connection is now closed by the server; none may fail a request.
        assert await asyncio.gather(*(_select_one(db, hold=0.2) for _ in range(3))) == [1, 1, 1]
        assert [await _select_one(db) for _ in range(6)] == [1] * 6
    finally:
        await db.engine.dispose()
