"""A receiver of webhooks on 127.0.0.1, as a bank system would run one: it records every
request it gets (headers and body bytes) and answers as a test scripts it, per path:
a status code, or hanging. Deliveries are checked with the Standard Webhooks
specification's own library (``standardwebhooks``), never with the project's code."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any, Self

from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.providers import _BackgroundServer, _free_port, _Recorder


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str) -> dict[str, Any]:
        """The payload, if the signature verifies under ``secret`` (raises otherwise)."""
        payload: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return payload


class WebhookReceiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.requests: _Recorder[Received] = _Recorder()
        self._answers: dict[str, int] = {}
        self._delays: dict[str, float] = {}
        self._lock = threading.Lock()
        self.in_progress = 0
        self._server = _BackgroundServer(
            Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])])
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def answer(self, path: str, status: int) -> None:
        with self._lock:
            self._answers[path] = status

    def hang(self, path: str) -> None:
        self.delay(path, 3600)

    def delay(self, path: str, seconds: float) -> None:
        """Answer requests to ``path`` only after ``seconds``."""
        with self._lock:
            self._delays[path] = seconds

    def received(self, path: str) -> list[Received]:
        return [r for r in self.requests.snapshot() if r.path == path]

    async def _receive(self, request: Request) -> Response:
        path = request.path_params["path"]
        body = await request.body()
        with self._lock:
            self.in_progress += 1
            status = self._answers.get(path, 200)
            delay = self._delays.get(path, 0.0)
        try:
            self.requests.add(Received(path, dict(request.headers), body))
            if delay:
                await asyncio.sleep(delay)
            return Response(f"answer {status}", status_code=status)
        finally:
            with self._lock:
                self.in_progress -= 1

    def start(self) -> Self:
        self._server.start(self.port)
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
