"""The receiver bench/webhooks.py posts to: 204 for any POST, read in full; under /hang
the answer never comes (an endpoint that accepts connections and then stalls); under
/slack, 200 "ok" as a Slack incoming webhook answers (bench/fraud_rules.py)."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def receive(request: Request) -> Response:
    await request.body()
    path = request.path_params["path"]
    if path.startswith("hang"):
        await asyncio.sleep(3600)
    if path.startswith("slack"):
        return Response("ok", status_code=200, media_type="text/plain")
    return Response(status_code=204)


app = Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])
