"""Engines and sessions. Built by the composition root, never at import time."""

from __future__ import annotations

import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import psycopg
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.store.announcements import (
    NOTIFY_ALL,
    Listener,
    notify_parameters,
    take_announced,
)
from account_alerts.store.direct import Direct
from account_alerts.store.types import json_bytes


def async_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    return url


def sync_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that
    # SAVEPOINT works (one bad event in a batch rolls back alone).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _drop_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Before a pooled PostgreSQL connection is used: refuse it if the server has closed
    it (a restart, a terminated backend, an idle timeout), so the pool opens a new one
    instead of the request failing. A server that ends a session says so and closes the
    socket, which makes it readable; an idle connection in good order has nothing to
    read. This costs no round trip, where a "SELECT 1" ping cost one per checkout."""
    connection = dbapi_connection.driver_connection
    if connection.closed or connection.broken:
        raise sa.exc.DisconnectionError("the connection is closed")
    # poll, not select: select refuses descriptors above 1023, which a busy server has.
    poller = select.poll()
    poller.register(connection.pgconn.socket, select.POLLIN)
    if poller.poll(0):
        raise sa.exc.DisconnectionError("the server closed the connection")


def _sqlite_begin(connection: sa.Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def configure_sqlite(engine: sa.Engine) -> None:
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)


class Database:
    """The async engine and its session factory for one database URL."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        target = async_url(url)
        self.dialect_name = make_url(target).get_backend_name()
        # SQLite: a ping costs nothing. PostgreSQL: see _drop_if_closed.
        kwargs: dict[str, Any] = {
            "echo": echo,
            "pool_pre_ping": self.dialect_name != "postgresql",
            # JSON columns (alert details, channels) are read with orjson: a history page
            # decodes a hundred documents.
            "json_deserializer": orjson.loads,
        }
        if self.dialect_name == "sqlite":
            # One connection: SQLite has a single writer, and queuing here beats
            # "database is locked" when a read transaction tries to become a write.
            kwargs.update(pool_size=1, max_overflow=0, pool_timeout=30)
        else:
            # No overflow: connections opened for a burst and closed after it cost more
            # than waiting a moment for a pooled one. JSON documents (an alert's details,
            # an audit entry's) are written with orjson too.
            kwargs.update(
                pool_size=pool_size, max_overflow=0, pool_timeout=10, json_serializer=json_bytes
            )
        self.engine: AsyncEngine = create_async_engine(target, **kwargs)
        if self.dialect_name == "sqlite":
            configure_sqlite(self.engine.sync_engine)
        else:
            event.listen(self.engine.sync_engine.pool, "checkout", _drop_if_closed)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        # Where committed alerts are announced in this process when the database cannot
        # (store.announcements); set by the composition root.
        self.local_listener: Listener | None = None

    @property
    def is_postgresql(self) -> bool:
        return self.dialect_name == "postgresql"

    @asynccontextmanager
    async def long_read(self) -> AsyncIterator[AsyncSession]:
        """A session for a long streaming read (a backtest's scan) beside the app's other
        work. PostgreSQL: a pooled connection. SQLite: a connection of its own, outside
        the one-connection pool, which its writers need meanwhile (in WAL mode a reader
        never blocks the writer)."""
        if self.dialect_name != "sqlite":
            async with self.session() as session:
                yield session
            return
        engine = create_async_engine(
            async_url(self.url), poolclass=NullPool, json_deserializer=orjson.loads
        )
        configure_sqlite(engine.sync_engine)
        try:
            async with AsyncSession(engine) as session:
                yield session
        finally:
            await engine.dispose()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, rolls back on any exception; the alerts
        it announced are announced once it has committed (store.announcements)."""
        async with self._sessions() as session:
            async with session.begin():
                yield session
                alerts = await self._announce(session, None)
            self._announce_here(alerts)

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one statement that commits by itself: on PostgreSQL in
        autocommit (one round trip, no BEGIN and COMMIT), on SQLite a transaction."""
        if not self.is_postgresql:
            async with self.engine.begin() as connection:
                yield connection
            return
        async with self.engine.connect() as connection:
            yield await connection.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def event_transaction(self) -> AsyncIterator[tuple[AsyncSession, Direct | None]]:
        """One unit of work for the event path: a session and, on PostgreSQL, the same
        transaction's driver connection (``store.direct``) for the statements every event
        runs. The transaction is the connection's; the session joins it and costs nothing
        until something uses it (what it holds is flushed before the commit). Commits on
        success, rolls back on any exception. Elsewhere it is ``transaction()``."""
        if not self.is_postgresql:
            async with self.transaction() as session:
                yield session, None
            return
        async with self.engine.connect() as connection, connection.begin():
            driver = (await connection.get_raw_connection()).driver_connection
            assert isinstance(driver, psycopg.AsyncConnection)
            session = self._sessions(bind=connection)
            direct = Direct(driver, self.engine.dialect)
            try:
                yield session, direct
                if session.new or session.dirty or session.deleted:
                    await session.flush()
                await self._announce(session, direct)
            finally:
                if session.identity_map or session.in_transaction():
                    await session.close()

    async def _announce(
        self, session: AsyncSession, direct: Direct | None
    ) -> list[tuple[int, int]]:
        """Before the commit: on PostgreSQL, NOTIFY for each alert the transaction
        announced (heard only if it commits); elsewhere they are kept for afterwards."""
        alerts = take_announced(session)
        if not alerts or not self.is_postgresql:
            return alerts
        if direct is not None:
            await direct.execute(NOTIFY_ALL, notify_parameters(alerts))
        else:
            await session.exec(NOTIFY_ALL, params=notify_parameters(alerts))  # type: ignore[call-overload]
        return []

    def _announce_here(self, alerts: list[tuple[int, int]]) -> None:
        """After the commit, where the database does not announce: this process's own."""
        if self.local_listener is not None:
            for mobile_user_id, alert_id in alerts:
                self.local_listener(mobile_user_id, alert_id)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
