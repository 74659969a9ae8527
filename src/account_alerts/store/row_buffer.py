"""Rows an event writes and nothing reads back at once (the transaction record, the
balance snapshot, the sign-in attempt, the idempotency entry), kept as plain values and
sent in one statement per table: a batch of events writes each table once, not once per
event, and no ORM object is built for them. Whoever reads those tables in the same
transaction flushes the buffer first."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession


class RowBuffer:
    def __init__(self) -> None:
        self._rows: dict[sa.Table, list[dict[str, Any]]] = {}

    def add(self, table: sa.Table, row: dict[str, Any]) -> None:
        self._rows.setdefault(table, []).append(row)

    async def flush(self, session: AsyncSession) -> None:
        """Insert what is buffered, in the order the tables were first written to."""
        if not self._rows:
            return
        # ORM objects added before these rows (a customer first seen in this batch) must
        # exist before rows that refer to them.
        await session.flush()
        connection = await session.connection()
        pending, self._rows = self._rows, {}
        for table, rows in pending.items():
            await connection.execute(sa.insert(table), rows)
