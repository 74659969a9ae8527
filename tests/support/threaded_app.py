"""The app served by uvicorn in a thread of its own, with its own event loop: for tests
whose own thread is busy with something synchronous (a browser driven by Playwright).
Coroutines that need the app's database run on the app's loop through ``call``."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import TypeVar

import uvicorn

from account_alerts.api.app import create_app
from account_alerts.config import Settings
from account_alerts.store.database import Database
from tests.support.live_server import free_port

_T = TypeVar("_T")


class ThreadedApp:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.db: Database | None = None
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._run, name="console-app", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.db = Database(self.settings.database_url, pool_size=5)
        app = create_app(self.settings, database=self.db)
        self._server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
            )
        )
        self.loop.run_until_complete(self._server.serve())
        self.loop.run_until_complete(self.db.dispose())

    def start(self) -> ThreadedApp:
        self._thread.start()
        deadline = time.monotonic() + 20
        while self._server is None or not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.01)
        return self

    def call(self, work: Callable[[Database], Awaitable[_T]], timeout: float = 30) -> _T:
        assert self.db is not None
        future: Future[_T] = asyncio.run_coroutine_threadsafe(_awaited(work(self.db)), self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=15)


async def _awaited(awaitable: Awaitable[_T]) -> _T:
    return await awaitable
