"""sms opt-out: numbers that replied STOP, and the texts customers send back

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 02:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import account_alerts.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_opt_outs",
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column(
            "opted_out_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_sms_opt_outs")),
    )
    op.create_table(
        "sms_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("from_phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("to_phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("keyword", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column(
            "received_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_replies")),
        sa.UniqueConstraint("message_sid", name=op.f("uq_sms_replies_message_sid")),
    )
    with op.batch_alter_table("sms_replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_replies_from_phone"), ["from_phone"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sms_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_replies_from_phone"))
    op.drop_table("sms_replies")
    op.drop_table("sms_opt_outs")
