"""The baseline: a bare Starlette app returning fixed JSON documents, run by uvicorn exactly
as ``account-alerts serve`` runs the real app (one process, same loop, HTTP parser and
logging settings).

    GET /small    {"status": "ok"}
    GET /payload  the document in --payload (a captured query response, so the bytes on
                  the wire match the real query's); serialised on every request, as a
                  JSONResponse endpoint would.

    python bench/baseline_app.py --host 127.0.0.1 --port 8001 --payload body.json [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from account_alerts.serving import serve

PAYLOAD_ENV = "BENCH_BASELINE_PAYLOAD"


def build_app(payload: Any) -> Starlette:
    async def small(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def document(_: Request) -> Response:
        return JSONResponse(payload)

    return Starlette(routes=[Route("/small", small), Route("/payload", document)])


def app_from_environment() -> Starlette:
    """Each uvicorn process builds the app from the environment, as serve's do."""
    path = os.environ.get(PAYLOAD_ENV)
    return build_app(json.loads(Path(path).read_text()) if path else {"status": "ok"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--payload", type=Path, help="JSON document served at /payload")
    parser.add_argument("--workers", type=int, default=1, help="processes, as serve --workers")
    args = parser.parse_args()
    if args.payload:
        os.environ[PAYLOAD_ENV] = str(args.payload)
    # The same call as account_alerts.cli.cmd_serve.
    serve("baseline_app:app_from_environment", args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
