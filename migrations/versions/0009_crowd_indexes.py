"""crowd index: customers on one device found without reading the event's own customer's

The cross-customer feature deviceCustomers24h asks which other customers used a device in
the last 24 hours. Keyed by (device, customer, time), each side of the event's own
customer is one index range: a busy customer's own rows on their phone are never read.
(An address is shared by many customers behind one carrier's gateway and asked about for
one hour only: its index stays (address, time).)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 09:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("transactions", "login_attempts")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(
                f"idx_{table}_device_user_time",
                ["device_id", "mobile_user_id", "occurred_at"],
                unique=False,
            )
            batch_op.drop_index(f"idx_{table}_device_time")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(
                f"idx_{table}_device_time", ["device_id", "occurred_at"], unique=False
            )
            batch_op.drop_index(f"idx_{table}_device_user_time")
