"""Rows an event writes and nothing reads back at once (the transaction record, the
balance snapshot, the sign-in attempt, the idempotency entry, the account's new balance),
kept as plain values and sent in one statement per table: a batch of events writes each
table once, not once per event, and no ORM object is built or tracked for them. Whoever
reads those tables in the same transaction flushes the buffer first."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.store.direct import Direct


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

    async def flush(self, session: AsyncSession) -> None:
        """Write what is buffered: each table's inserts in the order they were added, and
        the updates."""
        if not self._rows and not self._updates:
            return
        # ORM objects added before these rows (a customer first seen in this batch) must
        # exist before rows that refer to them.
        if session.new or session.dirty or session.deleted:
            await session.flush()
        pending, self._rows = self._rows, {}
        updates, self._updates = self._updates, {}
        self._keyed = {}
        direct = self.direct
        if direct is not None:
            # One statement, one round trip, whatever the number of rows (PostgreSQL runs
            # the data-modifying parts of a WITH together; none of them reads another's
            # rows, and no row is updated twice). Each column's values go as one array, so
            # the statement's text depends on which tables and columns are written, not on
            # how many rows: it is compiled once and PostgreSQL prepares it once.
            # The parts in a set order (they run together: the order is not the writes'),
            # so that the same tables and columns always make the same text.
            shape: list[tuple[Any, ...]] = []
            parameters: dict[str, Any] = {}
            for table, rows in sorted(pending.items(), key=lambda item: item[0].name):
                columns = tuple(sorted(rows[0]))
                prefix = f"w{len(shape)}_"
                for column in columns:
                    parameters[f"{prefix}{column}"] = [row[column] for row in rows]
                shape.append(("insert", table, columns))
            for (table, columns, by), by_key in sorted(
                updates.items(), key=lambda item: (item[0][0].name, *item[0][1:])
            ):
                prefix = f"w{len(shape)}_"
                keys = list(by_key)
                for name, values in _keys_as_arrays(keys, by).items():
                    parameters[f"{prefix}{name}"] = values
                for column in columns:
                    parameters[f"{prefix}{column}"] = [by_key[key][column] for key in keys]
                shape.append(("update", table, columns, by))
            await direct.execute(_combined(tuple(shape)), parameters)
            return
        connection = await session.connection()
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


def _keys_as_arrays(keys: list[Any], by: tuple[str, ...]) -> dict[str, list[Any]]:
    """The updated rows' keys, one array per key column: ``key``, or ``key0``… for ``by``."""
    if not by:
        return {"key": keys}
    return {f"key{n}": [key[n] for key in keys] for n in range(len(by))}


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


def _arrays(table: sa.Table, names: dict[str, sa.Column[Any]], prefix: str, alias: str) -> Any:
    """``unnest`` of one array parameter ``{prefix}{name}`` per entry of ``names`` (of the
    type of the column it names), as a table ``alias`` with those column names and
    ``n``, each row's position."""
    arrays = [
        sa.bindparam(f"{prefix}{name}", type_=ColumnValues(column.type))
        for name, column in names.items()
    ]
    return (
        sa.func.unnest(*arrays).table_valued(*names, with_ordinality="n").render_derived(name=alias)
    )


def _insert_arrays(table: sa.Table, columns: tuple[str, ...], prefix: str) -> sa.Insert:
    """The rows of ``columns`` given as arrays ``{prefix}{column}``, inserted in array order
    (their ids follow the order the rows were added)."""
    rows = _arrays(table, {c: table.c[c] for c in columns}, prefix, f"{prefix}rows")
    select = sa.select(*(rows.c[c] for c in columns)).order_by(rows.c.n)
    return sa.insert(table).from_select(list(columns), select)


def _update_arrays(
    table: sa.Table, columns: tuple[str, ...], prefix: str, by: tuple[str, ...] = ()
) -> sa.Update:
    """Set ``columns`` (arrays ``{prefix}{column}``) on the rows whose primary key is in the
    array ``{prefix}key`` (with ``by``: whose columns ``by`` are in ``{prefix}key0``…)."""
    if by:
        keys = {f"key{n}": table.c[name] for n, name in enumerate(by)}
    else:
        [key_column] = table.primary_key.columns
        keys = {"key": key_column}
    rows = _arrays(table, {**keys, **{c: table.c[c] for c in columns}}, prefix, f"{prefix}rows")
    return (
        sa.update(table)
        .where(*(column == rows.c[name] for name, column in keys.items()))
        .values({c: rows.c[c] for c in columns})
    )


@functools.lru_cache(maxsize=64)
def _update(
    table: sa.Table, columns: tuple[str, ...], prefix: str, by: tuple[str, ...] = ()
) -> sa.Update:
    """Set ``columns`` on the row whose primary key is the parameter ``{prefix}key`` (with
    ``by``: whose columns ``by`` are the parameters ``{prefix}key0``…)."""
    if by:
        where = [
            table.c[name] == sa.bindparam(f"{prefix}key{n}", type_=table.c[name].type)
            for n, name in enumerate(by)
        ]
    else:
        [key_column] = table.primary_key.columns
        where = [key_column == sa.bindparam(f"{prefix}key", type_=key_column.type)]
    return (
        sa.update(table)
        .where(*where)
        .values({c: sa.bindparam(f"{prefix}{c}", type_=table.c[c].type) for c in columns})
    )


@functools.lru_cache(maxsize=256)
def _combined(shape: tuple[tuple[Any, ...], ...]) -> Any:
    """``shape``: ("insert", table, columns) and ("update", table, columns, key columns)."""
    parts: list[Any] = [
        (_insert_arrays if kind == "insert" else _update_arrays)(table, columns, f"w{n}_", *rest)
        for n, (kind, table, columns, *rest) in enumerate(shape)
    ]
    *first, last = parts
    return last.add_cte(*(part.cte(f"write_{n}") for n, part in enumerate(first)))
