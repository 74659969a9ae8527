"""The event path's baseline: a bare Starlette endpoint that inserts one row and commits,
through SQLAlchemy's async engine and psycopg on the same PostgreSQL, run by uvicorn
exactly as ``account-alerts serve`` runs the real app.

    POST /insert   the JSON body of a recordTransaction call; its eventId and the whole
                   event are inserted into bench_insert_events, one transaction per request.
    GET  /readyz   {"status": "ready"} once the table exists.

    python bench/baseline_insert_app.py --host 127.0.0.1 --port 8002 --database-url URL
                                        [--workers N]

The engine is the one account_alerts.store.database.Database builds (its pool size,
overflow and check of pooled connections, the default ALERTS_DB_POOL_SIZE), so the two
differ in what they do per request, not in how they reach PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from account_alerts.config import Settings
from account_alerts.serving import serve
from account_alerts.store.database import Database, sync_url

DATABASE_URL_ENV = "BENCH_BASELINE_DATABASE_URL"

METADATA = sa.MetaData()
EVENTS = sa.Table(
    "bench_insert_events",
    METADATA,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.String(128), nullable=False, unique=True),
    sa.Column("event", JSONB, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)


def build_app(database_url: str) -> Starlette:
    pool_size = Settings.model_fields["db_pool_size"].default
    engine = Database(database_url, pool_size=pool_size).engine

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with engine.begin() as conn:
            await conn.run_sync(METADATA.create_all)
        try:
            yield
        finally:
            await engine.dispose()

    async def insert(request: Request) -> Response:
        document = json.loads(await request.body())
        event = document["variables"]["input"]
        async with engine.begin() as conn:
            new_id = (
                await conn.execute(
                    sa.insert(EVENTS)
                    .values(event_id=event["eventId"], event=event, received_at=datetime.now(UTC))
                    .returning(EVENTS.c.id)
                )
            ).scalar_one()
        return JSONResponse({"eventId": event["eventId"], "id": new_id})

    async def readyz(_: Request) -> Response:
        return JSONResponse({"status": "ready"})

    return Starlette(
        routes=[Route("/insert", insert, methods=["POST"]), Route("/readyz", readyz)],
        lifespan=lifespan,
    )


def app_from_environment() -> Starlette:
    """Each uvicorn process builds the app from the environment, as serve's do."""
    return build_app(os.environ[DATABASE_URL_ENV])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=1, help="processes, as serve --workers")
    args = parser.parse_args()
    # The table first, once: processes starting together would race to create it.
    engine = sa.create_engine(sync_url(args.database_url))
    METADATA.create_all(engine)
    engine.dispose()
    os.environ[DATABASE_URL_ENV] = args.database_url
    # The same call as account_alerts.cli.cmd_serve.
    serve("baseline_insert_app:app_from_environment", args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
