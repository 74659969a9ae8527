"""The Starlette application: /graphql, health and readiness."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from cross_web import HTTPException
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from account_alerts.admin.pages import console_routes
from account_alerts.api.auth import Caller, InvalidToken, TokenVerifier, bearer_token
from account_alerts.api.context import Context, Services
from account_alerts.api.graphiql import graphiql_assets, graphiql_page
from account_alerts.api.limits import BodyLimit
from account_alerts.api.live_socket import CustomerSocket
from account_alerts.api.media_types import (
    GRAPHQL_RESPONSE_JSON,
    is_request_error,
    response_media_type,
)
from account_alerts.api.schema import build_schema
from account_alerts.api.webhooks import (
    TWILIO_INBOUND_PATH,
    TWILIO_STATUS_PATH,
    twilio_inbound_endpoint,
    twilio_status_endpoint,
)
from account_alerts.config import Settings
from account_alerts.delivery import metrics
from account_alerts.delivery.channels.base import Channel
from account_alerts.delivery.channels.factory import build_channels
from account_alerts.delivery.in_app import AlertBroker, listen_for_alerts
from account_alerts.delivery.team.runner import CaseNotifier
from account_alerts.delivery.webhooks.dispatcher import WebhookDispatcher
from account_alerts.delivery.worker import DeliveryWorker
from account_alerts.domain.enums import NotificationChannel
from account_alerts.engine.backtests import Backtests
from account_alerts.engine.ingest import Ingestor
from account_alerts.gc_tuning import tune_garbage_collector
from account_alerts.scheduling import build_scheduler
from account_alerts.store import case_queries, outbox
from account_alerts.store.database import Database

logger = logging.getLogger("account_alerts.api")

# How `account-alerts serve` tells its server process(es) what else to run.
SERVE_WORKER_ENV = "ALERTS_SERVE_RUN_WORKER"
SERVE_SCHEDULER_ENV = "ALERTS_SERVE_RUN_SCHEDULER"


def _authenticate(header: str | None, tokens: TokenVerifier) -> tuple[Caller | None, str | None]:
    try:
        token = bearer_token(header)
        return (tokens.verify(token), None) if token else (None, None)
    except InvalidToken as exc:
        return None, str(exc)


class AlertsGraphQL(GraphQL[Context, None]):
    def __init__(self, services: Services) -> None:
        super().__init__(
            build_schema(services.settings),
            graphql_ide=None if services.settings.is_production else "graphiql",
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.services = services
        self.tokens = TokenVerifier(services.settings)
        self.graphql_transport_ws_handler_class = type(
            "CustomerSocket", (CustomerSocket,), {"tokens": self.tokens}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            response = PlainTextResponse(exc.reason, status_code=exc.status_code)
            if exc.status_code == 405:
                response.headers["allow"] = "POST"
        await response(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        # orjson's decode error is a json.JSONDecodeError: Strawberry answers it with 400.
        return orjson.loads(data)

    def encode_json(self, data: object) -> str:
        """The response document, with orjson (a history page is some 20 KB). Text, not
        bytes: a websocket message must go out as a text frame. What orjson refuses
        (an integer beyond 64 bits in a JSON value) goes through the standard library."""
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            return json.dumps(data, separators=(",", ":"))

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        if isinstance(request, WebSocket):
            # The token comes in connection_init (CustomerSocket).
            return Context(services=self.services, caller=None, auth_error=None)
        caller, error = _authenticate(request.headers.get("authorization"), self.tokens)
        return Context(services=self.services, caller=caller, auth_error=error)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = response_media_type(request.headers.get("accept"))
        request.state.sub_response = sub_response
        return sub_response

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                # Only queries are read with GET: they change nothing.
                raise HTTPException(405, "mutations must be sent with POST") from exc
            raise

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        sub_response: Response = request.state.sub_response
        if sub_response.media_type == GRAPHQL_RESPONSE_JSON and is_request_error(result):
            # A request that never ran: no data entry, and 400 (application/json keeps 200).
            response.pop("data", None)
            sub_response.status_code = 400
        return response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if sub_response.media_type == GRAPHQL_RESPONSE_JSON:
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_page()


class InFlight:
    """An ASGI app's HTTP requests in progress, counted (group commit asks)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.count -= 1


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    clock: Callable[[], datetime] | None = None,
    run_worker: bool = False,
    run_scheduler: bool = False,
    listen: bool = False,
    channels: dict[NotificationChannel, Channel] | None = None,
) -> Starlette:
    """The application. ``run_worker`` runs the delivery worker and the webhook dispatcher
    in this process; ``listen``
    follows other processes' new alerts (PostgreSQL NOTIFY) for live subscriptions."""
    db = database or Database(settings.database_url, pool_size=settings.db_pool_size)
    now = clock or (lambda: datetime.now(UTC))
    broker = AlertBroker()
    services = Services(
        settings=settings,
        db=db,
        broker=broker,
        clock=now,
        ingestor=Ingestor(db=db, settings=settings, clock=now),
        channels=channels or build_channels(settings, now),
        backtests=Backtests(db, settings, now),
    )
    # Where the database cannot announce new alerts (SQLite), they reach this process's
    # live subscriptions (and wake its worker) after their commit.
    db.local_listener = broker.publish
    graphql = AlertsGraphQL(services)
    graphql_http = InFlight(graphql)
    services.ingestor.group_commit.in_progress = lambda: graphql_http.count

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        try:
            await db.ping()
        except Exception as exc:  # any failure means "not ready", reported, not raised
            logger.warning("readiness check failed: %s", type(exc).__name__)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ready", "database": db.dialect_name})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = []
        # Backtests whose server stopped mid-run are marked FAILED, never left running.
        try:
            await services.backtests.sweep()
        except Exception as exc:  # the database may still be starting; reads sweep too
            logger.warning("backtest sweep failed: %s", type(exc).__name__)
        if run_worker:
            worker = DeliveryWorker(db=db, settings=settings, channels=services.channels, clock=now)
            broker.on_publish(worker.wake.set)
            tasks.append(asyncio.create_task(worker.run(stop), name="delivery-worker"))
            notifier = CaseNotifier(
                db=db,
                settings=settings,
                email=services.channels[NotificationChannel.EMAIL],
                clock=now,
            )
            tasks.append(asyncio.create_task(notifier.run(stop), name="case-notifier"))
            dispatcher = WebhookDispatcher(db=db, settings=settings, clock=now)
            broker.on_publish(dispatcher.wake.set)
            tasks.append(asyncio.create_task(dispatcher.run(stop), name="webhook-dispatcher"))
        scheduler = build_scheduler(db, settings) if run_scheduler else None
        if scheduler is not None:
            scheduler.start()
        if listen and db.is_postgresql:
            tasks.append(
                asyncio.create_task(
                    listen_for_alerts(settings.database_url, broker, stop), name="alert-listener"
                )
            )
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            stop.set()
            await services.backtests.close()
            await asyncio.gather(*tasks, return_exceptions=True)
            for channel in services.channels.values():
                await channel.close()
            if database is None:
                await db.dispose()

    async def metrics_endpoint(_: Request) -> Response:
        try:
            async with db.session() as session:
                metrics.QUEUE_DEPTH.set(await outbox.pending_count(session))
                waiting, overdue = await case_queries.open_and_overdue(session, now())
                metrics.CASES_OPEN.set(waiting)
                metrics.CASES_OVERDUE.set(overdue)
        except Exception as exc:  # metrics must answer even while the database does not
            logger.warning("queue depth unavailable: %s", type(exc).__name__)
        return Response(generate_latest(metrics.registry()), media_type=CONTENT_TYPE_LATEST)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
        Route(TWILIO_STATUS_PATH, twilio_status_endpoint(services), methods=["POST"]),
        Route(TWILIO_INBOUND_PATH, twilio_inbound_endpoint(services), methods=["POST"]),
        Route("/graphql", graphql_http, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        console_routes(services),
    ]
    if not settings.is_production:
        routes.append(graphiql_assets())
    app = Starlette(
        routes=routes,
        middleware=[Middleware(BodyLimit, max_bytes=settings.max_request_bytes)],
        lifespan=lifespan,
    )
    app.state.services = services
    return app


def app_from_environment() -> Starlette:
    """What `account-alerts serve` runs, in each of its processes: settings from the
    environment, migrations already applied by the command."""
    app = create_app(
        Settings(),
        run_worker=os.environ.get(SERVE_WORKER_ENV, "1") == "1",
        run_scheduler=os.environ.get(SERVE_SCHEDULER_ENV, "1") == "1",
        listen=True,
    )
    tune_garbage_collector()
    return app
