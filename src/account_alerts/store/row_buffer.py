"""Rows an event writes and nothing reads back at once (the transaction record, the
balance snapshot, the sign-in attempt, the idempotency entry, the account's new balance),
kept as plain values and sent in one statement per table: a batch of events writes each
table once, not once per event, and no ORM object is built or tracked for them. Whoever
reads those tables in the same transaction flushes the buffer first."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.store.direct import Direct
from account_alerts.store.types import UTCDateTime, WholeDocument, json_bytes


class RowBuffer:
    def __init__(self, direct: Direct | None = None) -> None:
        # On PostgreSQL, the transaction's driver connection: a few events' rows go to it
        # directly (store.direct).
        self.direct = direct
        self._rows: dict[sa.Table, list[dict[str, Any]]] = {}
        # Every row added, written since or not.
        self._added: dict[sa.Table, list[dict[str, Any]]] = {}
        # (table, updated columns, key columns) -> key -> the latest values for that row.
        self._updates: dict[_UpdateShape, dict[Any, dict[str, Any]]] = {}
        # Rows added with a key and not written yet, by (table, key): their updates.
        self._keyed: dict[tuple[sa.Table, Any], dict[str, Any]] = {}
        # (table, column) -> the values whose rows are deleted.
        self._deletes: dict[tuple[sa.Table, str], list[Any]] = {}

    def add(self, table: sa.Table, row: dict[str, Any], *, key: Any = None) -> None:
        """``key``: the row's key as ``update`` would name it; an update of the row before
        it is written then changes the row to be inserted (the parts of one write all see
        the tables as they were before it, so a separate update would miss the row)."""
        self._rows.setdefault(table, []).append(row)
        self._added.setdefault(table, []).append(row)
        if key is not None:
            self._keyed[(table, key)] = row

    def added(self, *tables: sa.Table) -> list[dict[str, Any]]:
        """Every row added to ``tables`` in this unit, whether written yet or not."""
        return [row for table in tables for row in self._added.get(table, [])]

    def update(
        self, table: sa.Table, key: Any, values: dict[str, Any], *, by: tuple[str, ...] = ()
    ) -> None:
        """Set ``values`` on the row whose (single-column) primary key is ``key``, or, with
        ``by``, whose columns ``by`` hold the values of the tuple ``key`` (a unique key); a
        later update of the same row with the same columns replaces an earlier one."""
        added = self._keyed.get((table, key))
        if added is not None:
            added.update(values)
            return
        self._updates.setdefault((table, tuple(sorted(values)), by), {})[key] = values

    def delete(self, table: sa.Table, column: str, value: Any) -> None:
        """Delete the rows of ``table`` whose ``column`` holds ``value``: those stored before
        the write that deletes them, not the rows that write inserts."""
        self._deletes.setdefault((table, column), []).append(value)

    async def flush(self, session: AsyncSession) -> None:
        """Write what is buffered: the deletes, each table's inserts in the order they
        were added, and the updates."""
        if not self._rows and not self._updates and not self._deletes:
            return
        # ORM objects added before these rows (a customer first seen in this batch) must
        # exist before rows that refer to them.
        if session.new or session.dirty or session.deleted:
            await session.flush()
        pending, self._rows = self._rows, {}
        updates, self._updates = self._updates, {}
        deletes, self._deletes = self._deletes, {}
        self._keyed = {}
        direct = self.direct
        if direct is not None:
            # One statement, one round trip, whatever the number of rows (PostgreSQL runs
            # the data-modifying parts of a WITH together; none of them reads another's
            # rows, and no row is updated twice). Each part's rows go as one JSON document
            # (RowsDocument), or as arrays for documents kept as text (_update_documents),
            # so the statement's text depends on which tables and columns are written, not
            # on how many rows: it is compiled once and PostgreSQL
            # prepares it once.
            # The parts in a set order (they run together: the order is not the writes'),
            # so that the same tables and columns always make the same text.
            shape: list[tuple[Any, ...]] = []
            parameters: dict[str, Any] = {}
            dialect = direct.dialect
            for table, rows in sorted(pending.items(), key=lambda item: item[0].name):
                columns = tuple(sorted(rows[0]))
                convert = _converters(table, columns, dialect)
                documents = []
                for position, row in enumerate(rows):
                    if len(row) != len(columns):
                        raise ValueError(f"rows of {table.name} with different columns")
                    documents.append(_document(row, convert, n=position))
                parameters[f"w{len(shape)}_rows"] = documents
                shape.append(("insert", table, columns))
            for (table, columns, by), by_key in sorted(
                updates.items(), key=lambda item: (item[0][0].name, *item[0][1:])
            ):
                prefix = f"w{len(shape)}_"
                if _whole_documents(table, columns):
                    parameters.update(_arrays(prefix, by_key, columns, by))
                    shape.append(("documents", table, columns, by))
                    continue
                convert = _converters(table, columns, dialect)
                parameters[f"{prefix}rows"] = [
                    _document(values, convert, **_keys(key, by)) for key, values in by_key.items()
                ]
                shape.append(("update", table, columns, by))
            for (table, column), values in sorted(
                deletes.items(), key=lambda item: (item[0][0].name, item[0][1])
            ):
                parameters[f"w{len(shape)}_keys"] = values
                shape.append(("delete", table, (column,)))
            await direct.execute(_combined(tuple(shape)), parameters)
            return
        connection = await session.connection()
        for (table, column), values in deletes.items():
            await connection.execute(sa.delete(table).where(table.c[column].in_(values)))
        for table, rows in pending.items():
            await connection.execute(sa.insert(table), rows)
        for (table, columns, by), by_key in updates.items():
            await connection.execute(
                _update(table, columns, "w_", by),
                [_named("w_", {**values, **_keys(key, by)}) for key, values in by_key.items()],
            )


_UpdateShape = tuple[sa.Table, tuple[str, ...], tuple[str, ...]]


def _keys(key: Any, by: tuple[str, ...]) -> dict[str, Any]:
    """The parameters naming an updated row: ``key``, or ``key0``… for a unique key ``by``."""
    if not by:
        return {"key": key}
    return {f"key{n}": part for n, part in enumerate(key)}


def _whole_documents(table: sa.Table, columns: tuple[str, ...]) -> bool:
    """Whether every column of an update is a document kept as text (a customer's activity
    profile): those go as a text array, each document as it is. Inside the JSON document
    of the other rows, each would be a string that orjson escapes and PostgreSQL unescapes
    again, which for profiles of tens of kilobytes was a quarter of a batch's write."""
    return all(isinstance(table.c[name].type, WholeDocument) for name in columns)


def _arrays(
    prefix: str, by_key: dict[Any, dict[str, Any]], columns: tuple[str, ...], by: tuple[str, ...]
) -> dict[str, list[Any]]:
    """The parameters of a ``documents`` part: each key column's values and each column's
    documents as one array, in the same order. A document given as text is stored as that
    text (as in the JSON document of other rows); one given as values is written out."""
    arrays: dict[str, list[Any]] = {}
    for key, values in by_key.items():
        for name, part in _keys(key, by).items():
            arrays.setdefault(f"{prefix}{name}", []).append(part)
        for name in columns:
            value = values[name]
            if value is not None and not isinstance(value, str):
                value = json_bytes(value).decode()
            arrays.setdefault(f"{prefix}{name}", []).append(value)
    return arrays


def _document(
    values: dict[str, Any], convert: tuple[tuple[str, Callable[[Any], Any]], ...], **more: Any
) -> dict[str, Any]:
    """A row as ``json_to_recordset`` reads it: its values (those ``convert`` names
    converted first), and ``more`` (its position, its key)."""
    document = {**values, **more}
    for name, process in convert:
        value = document[name]
        if value is not None:
            document[name] = process(value)
    return document


# The statements are built once per shape: building one (its parameters, its cache key)
# costs more than running it.


def _named(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    """Parameters named with a prefix: never a column's own name, which an UPDATE's SET
    reserves, nor the same name in two parts of one statement."""
    return {f"{prefix}{name}": value for name, value in values.items()}


class ColumnValues(sa.TypeDecorator[list[Any]]):
    """A column's values as one PostgreSQL array (``item[]``), each converted as the column
    converts it. SQLAlchemy's ARRAY would take a JSON document that is a list (or a dict)
    for a further dimension of the array."""

    impl = postgresql.ARRAY
    cache_ok = True
    # Sent in binary by store.direct: psycopg quotes every text element of an array in
    # the text format, which cost more than the rest of the write.
    sent_binary = True

    def __init__(self, item: sa.types.TypeEngine[Any]) -> None:
        super().__init__(item)
        self.item = item

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        process = self.item._cached_bind_processor(dialect)
        if process is None:
            return None

        def each(values: list[Any]) -> list[Any]:
            return [None if value is None else process(value) for value in values]

        return each


class RowsDocument(sa.TypeDecorator[list[dict[str, Any]]]):
    """Rows (one object per row, by column name) as one JSON document, which PostgreSQL's
    ``json_to_recordset`` turns back into typed rows: orjson writes the whole document in
    one call, where sending each column as an array converted every value one by one in
    Python (a tenth of a batch's server time); PostgreSQL converts each value with its
    column type's own input. Times are written with their offset, numbers exactly
    (``Decimal`` as its text), JSON columns as nested documents."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        try:
            return orjson.dumps(value, default=_json_value).decode()
        except TypeError:  # an integer beyond 64 bits, as the standard library writes it
            return json.dumps(value, default=_json_value)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


# Column types whose values orjson writes as PostgreSQL reads them: the rest (Money, which
# rounds to its scale as Python does) go through the column's own conversion first.
_AS_THEY_ARE = (UTCDateTime, WholeDocument, sa.Enum, sa.JSON)


@functools.lru_cache(maxsize=256)
def _converters(
    table: sa.Table, columns: tuple[str, ...], dialect: Dialect
) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    converters = []
    for name in columns:
        kind = table.c[name].type
        if isinstance(kind, _AS_THEY_ARE) or isinstance(
            kind.dialect_impl(dialect), (sa.JSON, postgresql.JSONB)
        ):
            continue
        process = kind._cached_bind_processor(dialect)
        if process is not None:
            converters.append((name, process))
    return tuple(converters)


def _rows(
    table: sa.Table,
    names: dict[str, sa.Column[Any]],
    prefix: str,
    *extra: str,
    counted: bool = False,
) -> Any:
    """The parameter ``{prefix}rows`` (a RowsDocument) as a table ``{prefix}rows`` with the
    columns ``names`` (of the types of the columns they name) and ``extra`` (bigint).

    ``counted``: the table tells PostgreSQL's planner how many rows it has. Of a function's
    rows it knows nothing and assumes 100; joined to the rows to update (a customer's
    device, an account), that made it read the whole table and hash it rather than look
    up the few rows by key: a cost that grows with the bank, paid by every write. A limit
    of the document's own length keeps every row and lets the planner count them."""
    columns = [sa.column(name, column.type) for name, column in names.items()]
    columns += [sa.column(name, sa.BigInteger()) for name in extra]
    document = sa.cast(sa.bindparam(f"{prefix}rows", type_=RowsDocument()), postgresql.JSON)
    rows = sa.func.json_to_recordset(document).table_valued(*columns)
    if not counted:
        return rows.render_derived(name=f"{prefix}rows", with_types=True)
    return (
        sa.select(rows.render_derived(name=f"{prefix}given", with_types=True))
        .limit(sa.func.json_array_length(document))
        .subquery(f"{prefix}rows")
    )


def _insert_rows(table: sa.Table, columns: tuple[str, ...], prefix: str) -> sa.Insert:
    """The rows ``{prefix}rows`` inserted in the order they were added, ``n`` (their ids
    follow that order)."""
    rows = _rows(table, {c: table.c[c] for c in columns}, prefix, "n")
    select = sa.select(*(rows.c[c] for c in columns)).order_by(rows.c.n)
    return sa.insert(table).from_select(list(columns), select)


def _update_rows(
    table: sa.Table, columns: tuple[str, ...], prefix: str, by: tuple[str, ...] = ()
) -> sa.Update:
    """Set ``columns`` of the rows ``{prefix}rows`` on the rows whose primary key is their
    ``key`` (with ``by``: whose columns ``by`` are their ``key0``…)."""
    keys = dict(_key_columns(table, by))
    rows = _rows(table, {**keys, **{c: table.c[c] for c in columns}}, prefix, counted=True)
    return (
        sa.update(table)
        .where(*(column == rows.c[name] for name, column in keys.items()))
        .values({c: rows.c[c] for c in columns})
    )


def _update_documents(
    table: sa.Table, columns: tuple[str, ...], prefix: str, by: tuple[str, ...] = ()
) -> sa.Update:
    """Set the document columns ``columns`` (kept as text on PostgreSQL) from the arrays
    ``{prefix}key`` (with ``by``: ``{prefix}key0``…) and ``{prefix}{column}``, which name the
    rows and hold their new documents in the same order."""
    keys = _key_columns(table, by)
    arrays = (
        sa.func.unnest(
            *(sa.bindparam(f"{prefix}{name}", type_=ColumnValues(c.type)) for name, c in keys),
            *(sa.bindparam(f"{prefix}{c}", type_=ColumnValues(sa.Text())) for c in columns),
        )
        .table_valued(*(name for name, _ in keys), *columns)
        .render_derived(name=f"{prefix}rows")
    )
    return (
        sa.update(table)
        .where(*(column == arrays.c[name] for name, column in keys))
        .values({c: arrays.c[c] for c in columns})
    )


def _key_columns(table: sa.Table, by: tuple[str, ...]) -> list[tuple[str, sa.Column[Any]]]:
    """The key parameters' names (store.row_buffer._keys) and the columns they name."""
    if by:
        return [(f"key{n}", table.c[name]) for n, name in enumerate(by)]
    [key_column] = table.primary_key.columns
    return [("key", key_column)]


def _delete_rows(table: sa.Table, columns: tuple[str, ...], prefix: str) -> sa.Delete:
    """Delete the rows whose column ``columns[0]`` holds one of the array ``{prefix}keys``.
    As a part of the combined statement it sees the table as it was before the statement,
    so it deletes none of the rows the statement inserts."""
    [name] = columns
    column = table.c[name]
    keys = sa.bindparam(f"{prefix}keys", type_=ColumnValues(column.type))
    return sa.delete(table).where(column == sa.any_(keys))


@functools.lru_cache(maxsize=64)
def _update(
    table: sa.Table, columns: tuple[str, ...], prefix: str, by: tuple[str, ...] = ()
) -> sa.Update:
    """Set ``columns`` on the row whose primary key is the parameter ``{prefix}key`` (with
    ``by``: whose columns ``by`` are the parameters ``{prefix}key0``…)."""
    where = [
        column == sa.bindparam(f"{prefix}{name}", type_=column.type)
        for name, column in _key_columns(table, by)
    ]
    return (
        sa.update(table)
        .where(*where)
        .values({c: sa.bindparam(f"{prefix}{c}", type_=table.c[c].type) for c in columns})
    )


@functools.lru_cache(maxsize=256)
def _combined(shape: tuple[tuple[Any, ...], ...]) -> Any:
    """``shape``: ("insert", table, columns), ("update" or "documents", table, columns,
    key columns) and ("delete", table, (column,))."""
    build: dict[str, Callable[..., Any]] = {
        "insert": _insert_rows,
        "update": _update_rows,
        "documents": _update_documents,
        "delete": _delete_rows,
    }
    parts: list[Any] = [
        build[kind](table, columns, f"w{n}_", *rest)
        for n, (kind, table, columns, *rest) in enumerate(shape)
    ]
    *first, last = parts
    return last.add_cte(*(part.cte(f"write_{n}") for n, part in enumerate(first)))
