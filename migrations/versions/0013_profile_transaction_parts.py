"""activity profiles: the last day's transactions stored in parts

A customer's activity profile kept their last 25 hours of transactions (times and amounts)
in its document, and every unit of work wrote the whole document back. For a busy customer
that is tens of kilobytes per unit, in proportion to their day, not to what the unit saw:
with 50 customers taking 2 000 events a second, the profiles grew from 20 to 50 kB in half
a minute, and writing them was a fifth of the database's time per event. Now each unit
adds the transactions it saw as one row here; after a few dozen rows one replaces them.

Profiles stored before (format 4) keep their transactions in the document: they are read
as they are, and their first write-back moves them here.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "profile_transactions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("mobile_user_id", sa.BigInteger(), nullable=False),
        sa.Column("times", sa.Text(), nullable=False),
        sa.Column("amounts", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["mobile_user_id"], ["mobile_users.id"]),
    )
    op.create_index(
        "ix_profile_transactions_mobile_user_id", "profile_transactions", ["mobile_user_id"]
    )


def downgrade() -> None:
    # The profiles written since hold no transactions of their own: they are rebuilt from
    # the history (format 5 is not one the older code reads).
    op.drop_index("ix_profile_transactions_mobile_user_id", table_name="profile_transactions")
    op.drop_table("profile_transactions")
