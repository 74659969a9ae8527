"""activity profiles: what the security checks need of each customer's past

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import account_alerts.store.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty at first: a customer's profile is built from their stored history when their
    # next event arrives.
    op.create_table(
        "activity_profiles",
        sa.Column("mobile_user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "profile",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "updated_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["mobile_user_id"],
            ["mobile_users.id"],
            name=op.f("fk_activity_profiles_mobile_user_id_mobile_users"),
        ),
        sa.PrimaryKeyConstraint("mobile_user_id", name=op.f("pk_activity_profiles")),
    )


def downgrade() -> None:
    op.drop_table("activity_profiles")
