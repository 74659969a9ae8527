"""outbox pages keep room for their rows' updates

A delivery row is updated two or three times within moments of its insert: the claim (its
lease), the mark of a send started, the outcome. The first two change no indexed column,
so PostgreSQL can write the new row version beside the old one on the same page without a
new entry in any of the table's four indexes (a heap-only tuple update) when the page has
room. Pages filled to the brim, as inserts leave them, have none. A fill factor of 70
leaves that room on every page written from now on (PostgreSQL only; SQLite has no such
setting).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 15:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE alert_deliveries SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE alert_deliveries RESET (fillfactor)")
