"""Rows an event writes and nothing reads back at once (the transaction record, the
balance snapshot, the sign-in attempt, the idempotency entry, the account's new balance),
kept as plain values and sent in one statement per table: a batch of events writes each
table once, not once per event, and no ORM object is built or tracked for them. Whoever
reads those tables in the same transaction flushes the buffer first."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.store.direct import Direct


class RowBuffer:
    def __init__(self, direct: Direct | None = None) -> None:
        # On PostgreSQL, the transaction's driver connection: a few events' rows go to it
        # directly (store.direct).
        self.direct = direct
        self._rows: dict[sa.Table, list[dict[str, Any]]] = {}
        # (table, updated columns, key columns) -> key -> the latest values for that row.
        self._updates: dict[_UpdateShape, dict[Any, dict[str, Any]]] = {}

    def add(self, table: sa.Table, row: dict[str, Any]) -> None:
        self._rows.setdefault(table, []).append(row)

    def update(
        self, table: sa.Table, key: Any, values: dict[str, Any], *, by: tuple[str, ...] = ()
    ) -> None:
        """Set ``values`` on the row whose (single-column) primary key is ``key``, or, with
        ``by``, whose columns ``by`` hold the values of the tuple ``key`` (a unique key); a
        later update of the same row with the same columns replaces an earlier one."""
        self._updates.setdefault((table, tuple(sorted(values)), by), {})[key] = values

    async def flush(self, session: AsyncSession) -> None:
        """Write what is buffered: the inserts in the order their tables were first
        written to, then the updates (a few events' rows: all in one statement)."""
        if not self._rows and not self._updates:
            return
        # ORM objects added before these rows (a customer first seen in this batch) must
        # exist before rows that refer to them.
        if session.new or session.dirty or session.deleted:
            await session.flush()
        pending, self._rows = self._rows, {}
        updates, self._updates = self._updates, {}
        direct = self.direct
        if direct is not None and _fits_one_statement(pending, updates):
            # A few events' rows: one statement, one round trip (PostgreSQL runs the
            # data-modifying parts of a WITH together; none of them reads another's rows,
            # and no row is updated twice).
            shape: list[tuple[Any, ...]] = []
            parameters: dict[str, Any] = {}
            for table, rows in pending.items():
                # One multi-row INSERT per table: its rows take their ids in the order
                # they were added (the parts of a WITH run in no set order).
                columns = tuple(sorted(rows[0]))
                for n, row in enumerate(rows):
                    parameters.update(_named(f"w{len(shape)}_{n}_", row))
                shape.append(("insert", table, columns, len(rows)))
            for (table, columns, by), by_key in updates.items():
                for key, values in by_key.items():
                    parameters.update(_named(f"w{len(shape)}_", {**values, **_keys(key, by)}))
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


# Beyond this many rows (about 20 events: a large batch), one statement per table: a
# statement of its own shape for every mix of rows would fill the statement caches.
ONE_STATEMENT_ROWS = 64


_UpdateShape = tuple[sa.Table, tuple[str, ...], tuple[str, ...]]


def _keys(key: Any, by: tuple[str, ...]) -> dict[str, Any]:
    """The parameters naming an updated row: ``key``, or ``key0``… for a unique key ``by``."""
    if not by:
        return {"key": key}
    return {f"key{n}": part for n, part in enumerate(key)}


def _fits_one_statement(
    rows: dict[sa.Table, list[dict[str, Any]]],
    updates: dict[_UpdateShape, dict[Any, dict[str, Any]]],
) -> bool:
    count = sum(map(len, rows.values())) + sum(map(len, updates.values()))
    return count <= ONE_STATEMENT_ROWS


# The statements are built once per shape: building one (its parameters, its cache key)
# costs more than running it.


def _named(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    """Parameters named with a prefix: never a column's own name, which an UPDATE's SET
    reserves, nor the same name in two parts of one statement."""
    return {f"{prefix}{name}": value for name, value in values.items()}


def _insert(table: sa.Table, columns: tuple[str, ...], prefix: str, count: int) -> sa.Insert:
    """``count`` rows of ``columns``, the n-th row's parameters named ``{prefix}{n}_``."""
    return sa.insert(table).values(
        [
            {c: sa.bindparam(f"{prefix}{n}_{c}", type_=table.c[c].type) for c in columns}
            for n in range(count)
        ]
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
    """``shape``: ("insert", table, columns, row count) and ("update", table, columns, key
    columns)."""
    parts: list[Any] = [
        (_insert if kind == "insert" else _update)(table, columns, f"w{n}_", *rest)
        for n, (kind, table, columns, *rest) in enumerate(shape)
    ]
    *first, last = parts
    return last.add_cte(*(part.cte(f"write_{n}") for n, part in enumerate(first)))
