"""activity profiles: what the security checks need of each customer's past

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL at first: a customer's profile is built from their stored history when their
    # next event arrives.
    with op.batch_alter_table("mobile_users") as batch:
        batch.add_column(
            sa.Column(
                "activity_profile",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("mobile_users") as batch:
        batch.drop_column("activity_profile")
