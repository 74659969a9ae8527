"""A PostgreSQL restart costs the API nothing: pooled connections it closed are replaced
before use, not discovered by a failing request."""

from __future__ import annotations

import asyncio
import os
import resource

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


async def test_connections_on_high_descriptors_are_checked_too(database_url_pg: str) -> None:
    # A busy server has many files and sockets open: the check must work above 1023.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the open-files limit ({hard}) is below what this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    db = Database(database_url_pg, pool_size=1)
    try:
        async with db.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            assert raw.driver_connection.pgconn.socket > 1023
        # Checked out again from the pool: the check looks at that descriptor.
        assert [await _select_one(db) for _ in range(3)] == [1, 1, 1]
    finally:
        await db.engine.dispose()
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
