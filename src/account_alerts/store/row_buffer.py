"""Rows an event writes and nothing reads back at once (the transaction record, the
balance snapshot, the sign-in attempt, the idempotency entry, the account's new balance),
kept as plain values and sent in one statement per table: a batch of events writes each
table once, not once per event, and no ORM object is built or tracked for them. Whoever
reads those tables in the same transaction flushes the buffer first."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession


class RowBuffer:
    def __init__(self) -> None:
        self._rows: dict[sa.Table, list[dict[str, Any]]] = {}
        # (table, updated columns) -> primary key -> the latest values for that row.
        self._updates: dict[tuple[sa.Table, tuple[str, ...]], dict[Any, dict[str, Any]]] = {}

    def add(self, table: sa.Table, row: dict[str, Any]) -> None:
        self._rows.setdefault(table, []).append(row)

    def update(self, table: sa.Table, key: Any, values: dict[str, Any]) -> None:
        """Set ``values`` on the row whose (single-column) primary key is ``key``; a later
        update of the same row in this buffer replaces an earlier one."""
        self._updates.setdefault((table, tuple(sorted(values))), {})[key] = values

    async def flush(self, session: AsyncSession) -> None:
        """Insert what is buffered, in the order the tables were first written to."""
        if not self._rows and not self._updates:
            return
        # ORM objects added before these rows (a customer first seen in this batch) must
        # exist before rows that refer to them.
        await session.flush()
        connection = await session.connection()
        pending, self._rows = self._rows, {}
        updates, self._updates = self._updates, {}
        if connection.dialect.name == "postgresql" and _one_row_each(pending, updates):
            # A single event's rows: one statement, one round trip (PostgreSQL runs the
            # data-modifying parts of a WITH together; none of them reads another's rows).
            parts: list[Any] = [sa.insert(table).values(rows[0]) for table, rows in pending.items()]
            for (table, _), by_key in updates.items():
                [(key, values)] = by_key.items()
                [key_column] = table.primary_key.columns
                parts.append(sa.update(table).where(key_column == key).values(values))
            *first, last = parts
            combined = last.add_cte(*(part.cte(f"write_{n}") for n, part in enumerate(first)))
            await connection.execute(combined)
            return
        for table, rows in pending.items():
            await connection.execute(sa.insert(table), rows)
        for (table, columns), by_key in updates.items():
            [key_column] = table.primary_key.columns
            # Parameters may not be named like the columns they set.
            statement = (
                sa.update(table)
                .where(key_column == sa.bindparam("key_", type_=key_column.type))
                .values({c: sa.bindparam(f"{c}_", type_=table.c[c].type) for c in columns})
            )
            await connection.execute(
                statement,
                [
                    {"key_": key, **{f"{c}_": value for c, value in values.items()}}
                    for key, values in by_key.items()
                ],
            )


def _one_row_each(
    rows: dict[sa.Table, list[dict[str, Any]]],
    updates: dict[tuple[sa.Table, tuple[str, ...]], dict[Any, dict[str, Any]]],
) -> bool:
    return (
        len(rows) + len(updates) > 1
        and all(len(table_rows) == 1 for table_rows in rows.values())
        and all(len(by_key) == 1 for by_key in updates.values())
    )
