"""A local Slack incoming webhook: it accepts what Slack accepts and records it.

It checks a message against Block Kit's rules for the blocks we send (header, section
with fields, actions with link buttons) and answers as Slack does: ``ok`` with 200, or
400 ``invalid_blocks`` / ``invalid_payload``, 404 ``no_service`` for an unknown hook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.support.providers import _LocalPeer, _Recorder, _Script

HOOK_PATH = "/services/T0000000/B0000000/abcdefghijklmnopqrstuvwx"


def _text_object(value: Any, *, plain_only: bool, limit: int) -> list[str]:
    if not isinstance(value, dict):
        return ["a text object must be an object"]
    kinds = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    problems = []
    if value.get("type") not in kinds:
        problems.append(f"text type must be one of {kinds}")
    text = value.get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= limit:
        problems.append(f"text must have 1 to {limit} characters")
    return problems


def block_kit_problems(message: Any) -> list[str]:
    """What Slack would refuse in ``message`` (empty: it is a valid message)."""
    if not isinstance(message, dict):
        return ["the payload must be a JSON object"]
    problems = []
    if not isinstance(message.get("text"), str) or not message["text"]:
        problems.append("a top-level text is required as the notification's fallback")
    blocks = message.get("blocks")
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
        return [*problems, "blocks must be a list of 1 to 50 blocks"]
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "header":
            problems += _text_object(block.get("text"), plain_only=True, limit=150)
        elif kind == "section":
            fields = block.get("fields")
            if "text" in block:
                problems += _text_object(block["text"], plain_only=False, limit=3000)
            elif not isinstance(fields, list) or not 1 <= len(fields) <= 10:
                problems.append("a section needs text or 1 to 10 fields")
            for field in fields or []:
                problems += _text_object(field, plain_only=False, limit=2000)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                problems.append("actions need 1 to 25 elements")
            for element in elements or []:
                if element.get("type") != "button":
                    problems.append("only buttons are expected in actions")
                problems += _text_object(element.get("text"), plain_only=True, limit=75)
                url = element.get("url")
                if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                    problems.append("a button's url must be an http(s) URL")
                if len(str(element.get("action_id", ""))) > 255:
                    problems.append("action_id is at most 255 characters")
        else:
            problems.append(f"unexpected block type {kind!r}")
    return problems


class FakeSlack(_LocalPeer):
    def __init__(self) -> None:
        self._messages: _Recorder[dict[str, Any]] = _Recorder()
        self.refused: list[list[str]] = []
        self.script = _Script()
        super().__init__(
            Starlette(routes=[Route("/services/{rest:path}", self._post, methods=["POST"])])
        )

    @property
    def hook_url(self) -> str:
        return self.base_url + HOOK_PATH

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self._messages.snapshot()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        return self._messages.wait_for(count, timeout)

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        self.script.push(n, status, None)

    async def _post(self, request: Request) -> Response:
        if request.url.path != HOOK_PATH:
            return PlainTextResponse("no_service", status_code=404)
        failure = self.script.pop()
        if failure is not None:
            return PlainTextResponse("internal_error", status_code=failure[0])
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            return PlainTextResponse("invalid_payload", status_code=400)
        try:
            message = json.loads(await request.body())
        except ValueError:
            return PlainTextResponse("invalid_payload", status_code=400)
        problems = block_kit_problems(message)
        if problems:
            self.refused.append(problems)
            return PlainTextResponse("invalid_blocks", status_code=400)
        self._messages.add(message)
        return PlainTextResponse("ok")


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake
