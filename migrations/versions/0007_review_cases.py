"""review cases: the risk team's cases, their timeline, the team's notifications, and
the console's sessions

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 05:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import account_alerts.store.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_sessions",
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("staff", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("csrf_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "expires_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("ended_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_admin_sessions")),
    )
    with op.batch_alter_table("admin_sessions", schema=None) as batch_op:
        batch_op.create_index("idx_admin_sessions_expiry", ["expires_at"], unique=False)

    op.create_table(
        "review_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mobile_user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "DECISION_REVIEW",
                "DECISION_BLOCK",
                "REPORT_FRAUD",
                name="case_source",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("event_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column(
            "decision",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "OPEN", "ACKNOWLEDGED", "RESOLVED", name="case_status", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "CONFIRMED_FRAUD",
                "FALSE_POSITIVE",
                name="case_outcome",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "opened_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "ack_due_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "acknowledged_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("acknowledged_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("assignee", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column(
            "resolved_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("resolved_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("resolution_notes", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("next_step", sa.Integer(), nullable=False),
        sa.Column(
            "next_step_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "updated_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["mobile_user_id"],
            ["mobile_users.id"],
            name=op.f("fk_review_cases_mobile_user_id_mobile_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_cases")),
    )
    with op.batch_alter_table("review_cases", schema=None) as batch_op:
        batch_op.create_index("idx_review_cases_event", ["event_id"], unique=False)
        batch_op.create_index("idx_review_cases_next_step", ["next_step_at"], unique=False)
        batch_op.create_index(
            "idx_review_cases_queue", ["status", "ack_due_at", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_review_cases_assignee"), ["assignee"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_review_cases_mobile_user_id"), ["mobile_user_id"], unique=False
        )

    op.create_table(
        "case_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "CASE_OPENED",
                "CASE_ESCALATED",
                name="team_message_kind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum("EMAIL", "SLACK", name="team_channel", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("destination", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "SENT",
                "FAILED",
                "CANCELLED",
                name="team_notification_status",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column(
            "lease_expires_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("sent_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["review_cases.id"],
            name=op.f("fk_case_notifications_case_id_review_cases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notifications")),
        sa.UniqueConstraint(
            "case_id", "step", "channel", "destination", name="uq_case_notifications_step"
        ),
    )
    with op.batch_alter_table("case_notifications", schema=None) as batch_op:
        batch_op.create_index(
            "idx_case_notifications_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_case_notifications_case_id"), ["case_id"], unique=False
        )

    op.create_table(
        "review_case_timeline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "OPENED",
                "NOTIFIED",
                "ESCALATED",
                "ACKNOWLEDGED",
                "ASSIGNED",
                "COMMENTED",
                "RESOLVED",
                name="case_event_kind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "occurred_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["review_cases.id"],
            name=op.f("fk_review_case_timeline_case_id_review_cases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_case_timeline")),
    )
    with op.batch_alter_table("review_case_timeline", schema=None) as batch_op:
        batch_op.create_index("idx_case_timeline_case", ["case_id", "id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("review_case_timeline", schema=None) as batch_op:
        batch_op.drop_index("idx_case_timeline_case")

    op.drop_table("review_case_timeline")
    with op.batch_alter_table("case_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_notifications_case_id"))
        batch_op.drop_index("idx_case_notifications_due")

    op.drop_table("case_notifications")
    with op.batch_alter_table("review_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_cases_mobile_user_id"))
        batch_op.drop_index(batch_op.f("ix_review_cases_assignee"))
        batch_op.drop_index("idx_review_cases_queue")
        batch_op.drop_index("idx_review_cases_next_step")
        batch_op.drop_index("idx_review_cases_event")

    op.drop_table("review_cases")
    with op.batch_alter_table("admin_sessions", schema=None) as batch_op:
        batch_op.drop_index("idx_admin_sessions_expiry")
    op.drop_table("admin_sessions")
