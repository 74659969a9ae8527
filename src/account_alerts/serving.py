"""Several server processes on one port, each with its own listening socket.

uvicorn's ``--workers`` gives every process one shared listening socket: the kernel hands a
new connection to whichever process is waiting in ``accept``, so a client that opens a few
keep-alive connections at once (a mobile gateway, a load generator, a core-banking
connector) can end up with all of them on one process while the others idle. Here every
process gets a socket of its own, bound to the same address with ``SO_REUSEPORT``: the
kernel spreads connections over the sockets by their addresses, so over the processes.

The sockets are opened by the supervising process and kept open there: while a process
that died is being replaced, connections the kernel gives its socket wait in that socket's
queue for the replacement instead of being refused.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import uvicorn
from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from account_alerts.config import Settings

logger = logging.getLogger("uvicorn.error")

HEAD_TOO_LARGE = "the request line and headers are larger than the limit of {limit} bytes"


class HeadLimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request whose line and headers outgrow
    the limit with 431 while they arrive (httptools itself holds any size). The limit is
    the one uvicorn gives its h11 protocol, ``h11_max_incomplete_event_size``."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_head_bytes = config.h11_max_incomplete_event_size or 64 * 1024
        self.in_head = True
        self.head_bytes = 0
        self.refused = False

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        super().data_received(data)
        if self.in_head and self.parser is not None:
            self.head_bytes += len(data)
            if self.head_bytes > self.max_head_bytes:
                self.refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head, self.head_bytes = True, 0

    def on_headers_complete(self) -> None:
        self.in_head = False
        super().on_headers_complete()

    def refuse_head(self) -> None:
        self.refused = True
        body = HEAD_TOO_LARGE.format(limit=self.max_head_bytes).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()


def server_options(settings: Settings) -> dict[str, Any]:
    """The limits the server enforces before the app sees a request or a message."""
    return {
        "http": HeadLimitedHttpTools,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "ws_max_size": settings.max_websocket_message_bytes,
    }


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets bound to one address with SO_REUSEPORT (port 0: a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class SocketPerProcess(Multiprocess):
    """uvicorn's supervisor, with process ``i`` always serving socket ``i``."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        self.processes_num = len(sockets)

    def _process(self, index: int) -> Process:
        return Process(self.config, [self.sockets[index]])

    def init_processes(self) -> None:
        for index in range(self.processes_num):
            process = self._process(index)
            process.start()
            self.processes.append(process)

    def restart_all(self) -> None:
        # As uvicorn's: each replacement serves before the process it replaces stops.
        for index, old_process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new_process = self._process(index)
            new_process.start()
            if not new_process.wait_until_ready(
                self.config.timeout_worker_healthcheck, self.should_exit
            ):
                new_process.kill()
                new_process.join()
                if not self.should_exit.is_set():
                    logger.error(
                        "New child process [%s] was not ready in time; keeping [%s].",
                        new_process.pid,
                        old_process.pid,
                    )
                return
            old_process.terminate()
            old_process.join()
            self.processes[index] = new_process

    def keep_subprocess_alive(self) -> None:
        # As uvicorn's, but the replacement takes over the dead process's own socket.
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                logger.error(
                    "Child process [%s] failed to start, stopping the parent process.",
                    process.pid,
                )
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.info("Child process [%s] died", process.pid)
            replacement = self._process(index)
            replacement.start()
            self.processes[index] = replacement


def serve(app_factory: str, host: str, port: int, processes: int = 1, **limits: Any) -> None:
    """Serve the app ``app_factory`` builds ("module:function") from ``processes`` processes,
    with the ``limits`` of :func:`server_options`."""
    options: dict[str, Any] = {
        **limits,
        "factory": True,
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": False,
    }
    if processes == 1:
        uvicorn.run(app_factory, **options)
        return
    sockets = listening_sockets(host, port, processes)
    logger.info(
        "Uvicorn running on http://%s:%d in %d processes (Press CTRL+C to quit)",
        host,
        sockets[0].getsockname()[1],
        processes,
    )
    try:
        SocketPerProcess(Config(app_factory, workers=processes, **options), sockets).run()
    finally:
        for sock in sockets:
            sock.close()
