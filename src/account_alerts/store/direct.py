"""Statements of the event path sent straight to psycopg, on a connection SQLAlchemy checked
out of its pool (PostgreSQL only).

A lone event's transaction is a customer lock and one write. Through an ORM session each
of them costs several times what PostgreSQL needs to run it (the session's bookkeeping,
the execution context, ORM loading, a greenlet per call), which under load is the largest
part of the event's cost. Here a statement is compiled by SQLAlchemy once, and each run
converts its parameters and results with the same type processors SQLAlchemy would use,
then goes to the driver directly. The pool, the checkout's check of the connection and
the returning of it stay SQLAlchemy's.

The text goes with PostgreSQL's own placeholders ($1, $2, ...) through psycopg's raw-query
cursor, which sends it as it is: with named placeholders psycopg parses the text on every
call once it is longer than it caches (a unit's write is several kilobytes), and that
parsing had cost more than the rest of sending the statement."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

# The driver's errors for a violated constraint; the callers treat them as SQLAlchemy's.
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sa.exc.IntegrityError, psycopg.IntegrityError)

Processor = Callable[[Any], Any] | None
Model = TypeVar("Model", bound=SQLModel)


class BinaryArray(list[Any]):
    """A list psycopg sends in PostgreSQL's binary format: for an array of many values much
    cheaper than the text format, which quotes every text element."""


psycopg.adapters.register_dumper(
    BinaryArray, psycopg.adapters.get_dumper(list, psycopg.adapt.PyFormat.BINARY)
)

# A named placeholder of SQLAlchemy's psycopg dialect, and its escaped percent sign.
_PLACEHOLDER = re.compile(r"%\((?P<name>[^)]+)\)s|%%")


class DirectStatement:
    """One SQLAlchemy Core statement, compiled for a PostgreSQL dialect once."""

    def __init__(self, statement: sa.ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if compiled.insert_prefetch or compiled.update_prefetch:
            # Column defaults SQLAlchemy would compute at execution: not done here.
            raise ValueError("a statement with client-side defaults cannot run directly")
        escaped = getattr(compiled, "escaped_bind_names", None) or {}
        by_name = {escaped.get(key, key): key for key in compiled.binds}
        # Each parameter's position, in order of first use ($1 is the first).
        order: dict[str, int] = {}

        def positional(match: re.Match[str]) -> str:
            name = match.group("name")
            if name is None:
                return "%"
            if name not in by_name:
                raise ValueError(f"no parameter {name} in the compiled statement")
            return f"${order.setdefault(name, len(order) + 1)}"

        self.sql: str = _PLACEHOLDER.sub(positional, compiled.string)
        self._binds: list[tuple[str, Processor, bool]] = []
        for name in order:
            key = by_name[name]
            kind = compiled.binds[key].type
            self._binds.append(
                (key, kind._cached_bind_processor(dialect), getattr(kind, "sent_binary", False))
            )
        # A SELECT's columns, or an INSERT's RETURNING columns.
        self._columns = [column.type for column in getattr(statement, "exported_columns", [])]
        self._dialect = dialect
        self._results: list[Processor] | None = None

    def parameters(self, values: Mapping[str, Any]) -> list[Any]:
        """``values`` in placeholder order, converted as SQLAlchemy converts them."""
        out: list[Any] = []
        for key, process, binary in self._binds:
            value = values[key]
            if process is not None and value is not None:
                value = process(value)
            out.append(BinaryArray(value) if binary and value is not None else value)
        return out

    async def _run(
        self, connection: psycopg.AsyncConnection[Any], values: Mapping[str, Any]
    ) -> psycopg.AsyncRawCursor[Any]:
        cursor = psycopg.AsyncRawCursor(connection)
        await cursor.execute(self.sql, self.parameters(values))
        return cursor

    async def execute(
        self, connection: psycopg.AsyncConnection[Any], values: Mapping[str, Any]
    ) -> None:
        await self._run(connection, values)

    async def rows(
        self, connection: psycopg.AsyncConnection[Any], values: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """The statement's rows, each column converted to what SQLAlchemy would return."""
        cursor = await self._run(connection, values)
        rows = await cursor.fetchall()
        if self._results is None:
            description = cursor.description or []
            self._results = [
                kind._cached_result_processor(self._dialect, column.type_code)
                for kind, column in zip(self._columns, description, strict=True)
            ]
        processors = self._results
        if not any(processors):
            return rows
        return [
            tuple(
                value if process is None or value is None else process(value)
                for value, process in zip(row, processors, strict=True)
            )
            for row in rows
        ]


@functools.lru_cache(maxsize=512)
def compiled(statement: sa.ClauseElement, dialect: Dialect) -> DirectStatement:
    """``statement`` compiled for ``dialect``, once (statements are built once, too)."""
    return DirectStatement(statement, dialect)


@dataclass(frozen=True)
class Direct:
    """The driver connection of a transaction in progress, and its dialect."""

    connection: psycopg.AsyncConnection[Any]
    dialect: Dialect

    async def execute(self, statement: sa.ClauseElement, values: Mapping[str, Any]) -> None:
        await compiled(statement, self.dialect).execute(self.connection, values)

    async def rows(
        self, statement: sa.ClauseElement, values: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        return await compiled(statement, self.dialect).rows(self.connection, values)


async def rows_of(
    session: AsyncSession,
    direct: Direct | None,
    statement: sa.Select[Any],
    values: Mapping[str, Any],
) -> Sequence[Sequence[Any]]:
    """A Core statement's rows: straight to the driver where there is ``direct``
    (PostgreSQL), else through the session's connection."""
    if direct is not None:
        return await direct.rows(statement, values)
    connection = await session.connection()
    rows: Sequence[Sequence[Any]] = (await connection.execute(statement, values)).all()
    return rows


class Entities:
    """Rows of one table's columns (in table order) made into detached ORM objects: the
    objects an ORM query would have loaded, without the ORM's loading machinery. They
    behave as loaded objects of a closed session do; a session they are added to treats
    them as stored rows, not new ones."""

    def __init__(self, model: type[Model]) -> None:
        mapper = sa.inspect(model)
        table = model.__table__  # type: ignore[attr-defined]
        self._keys = [mapper.get_property_by_column(column).key for column in table.columns]
        self._new = mapper.class_manager.new_instance

    @property
    def width(self) -> int:
        return len(self._keys)

    def make(self, values: Sequence[Any]) -> Any:
        instance = self._new()
        instance.__dict__.update(zip(self._keys, values, strict=True))
        make_transient_to_detached(instance)
        return instance
