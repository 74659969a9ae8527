"""Parsing and validating GraphQL documents without holding up the event loop.

A document seen before is answered from memory, in place. A new one is parsed and
validated on a worker thread: a 100 000-character document takes some 70 ms to lex,
and a few hundred repeated fields with sub-selections take graphql-core's overlap
check seconds to validate, time in which the loop would answer nobody else. The one
worker thread queues such documents behind each other; the loop takes its turn on the
interpreter between them and keeps serving everyone else."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from graphql import DocumentNode, GraphQLError, GraphQLSchema
from graphql.language.parser import parse
from graphql.validation import ASTValidationRule
from strawberry.schema.schema import validate_document

NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")

T = TypeVar("T")
K = TypeVar("K")


class _Recent(OrderedDict[K, T]):
    """The ``size`` entries used last."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: K, value: T) -> T:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value

    def recall(self, key: K) -> T | None:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value


def stand_in(operation_name: str | None) -> DocumentNode:
    """What a refused request holds in place of its document (nothing of it runs): one
    query, with the operation name the request asked for."""
    name = operation_name if operation_name and NAME.fullmatch(operation_name) else ""
    return parse(f"query {name} {{ __typename }}")


def _yield_to_the_loop() -> None:
    # The worker thread runs at a lower priority than the event loop's: when both are
    # ready to run on a busy machine, the loop goes first.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def too_long(document: str, max_chars: int) -> GraphQLError | None:
    if len(document) <= max_chars:
        return None
    return GraphQLError(
        f"the document is {len(document)} characters long; the limit is {max_chars} "
        "(comments and whitespace count)",
        extensions={"code": "BAD_USER_INPUT"},
    )


class DocumentChecks:
    def __init__(self, *, max_chars: int, max_tokens: int, size: int = 256) -> None:
        self.max_chars = max_chars
        self.max_tokens = max_tokens
        self._parsed: _Recent[str, DocumentNode] = _Recent(size)
        # Keyed by the document's identity: the parsed documents above are the keys'
        # owners, and each entry keeps its document so that no identity is reused.
        self._validated: _Recent[tuple[int, Any], tuple[DocumentNode, list[GraphQLError]]] = (
            _Recent(size)
        )
        self._in_progress: dict[tuple[Any, ...], asyncio.Future[Any]] = {}
        self._worker = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="graphql-documents", initializer=_yield_to_the_loop
        )

    async def parse(self, query: str) -> DocumentNode:
        """The document; GraphQLError (with its code) when it is too long or malformed."""
        known = self._parsed.recall(query)
        if known is not None:
            return known
        error = too_long(query, self.max_chars)
        if error is not None:
            raise error
        return await self._once(("parse", query), lambda: self._parse_new(query))

    async def _parse_new(self, query: str) -> DocumentNode:
        try:
            document = await self._off_loop(parse, query, max_tokens=self.max_tokens)
        except GraphQLError as exc:
            exc.extensions = {**(exc.extensions or {}), "code": "BAD_USER_INPUT"}
            raise
        return self._parsed.remember(query, document)

    async def validate(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: Sequence[type[ASTValidationRule]],
    ) -> list[GraphQLError]:
        key = (id(document), tuple(rules))
        known = self._validated.recall(key)
        if known is not None and known[0] is document:
            return known[1]
        return await self._once(
            ("validate", *key), lambda: self._validate_new(schema, document, key)
        )

    async def _validate_new(
        self, schema: GraphQLSchema, document: DocumentNode, key: tuple[int, Any]
    ) -> list[GraphQLError]:
        errors = await self._off_loop(validate_document, schema, document, key[1])
        self._validated.remember(key, (document, errors))
        return errors

    async def _once(self, key: tuple[Any, ...], compute: Callable[[], Awaitable[T]]) -> T:
        """``compute``'s result, computed once for all the requests that ask for it
        meanwhile: a new document sent by many callers at once (a bank service's first
        burst of events) is checked once, and they all go on together, as they came."""
        task = self._in_progress.get(key)
        if task is None:
            task = self._in_progress[key] = asyncio.ensure_future(compute())
            task.add_done_callback(lambda _: self._in_progress.pop(key, None))
        return cast(T, await asyncio.shield(task))

    async def _off_loop(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, lambda: function(*args, **kwargs))
