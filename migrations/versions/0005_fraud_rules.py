"""fraud rules: versions, hits, snoozes, decision thresholds, backtests; and the indexes
that count customers on one device or IP address

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 05:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import account_alerts.store.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fraud_decision_thresholds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review", sa.Integer(), nullable=False),
        sa.Column("block", sa.Integer(), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column(
            "updated_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_decision_thresholds")),
    )
    op.create_table(
        "fraud_rule_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("event_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("mobile_user_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("shadow", sa.Boolean(), nullable=False),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column(
            "null_features",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "features",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "occurred_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "evaluated_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_rule_hits")),
        sa.UniqueConstraint("event_id", "version_id", name=op.f("uq_fraud_rule_hits_event_id")),
    )
    with op.batch_alter_table("fraud_rule_hits", schema=None) as batch_op:
        batch_op.create_index(
            "idx_fraud_rule_hits_version_time", ["version_id", "evaluated_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_fraud_rule_hits_event_id"), ["event_id"], unique=False)

    op.create_table(
        "fraud_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_fraud_rules_name")),
    )
    op.create_table(
        "fraud_rule_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column(
            "condition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column(
            "event_kinds",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("approver", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "shadow_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("live_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "retired_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["fraud_rules.id"], name=op.f("fk_fraud_rule_versions_rule_id_fraud_rules")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_rule_versions")),
        sa.UniqueConstraint("rule_id", "version", name=op.f("uq_fraud_rule_versions_rule_id")),
    )
    with op.batch_alter_table("fraud_rule_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fraud_rule_versions_rule_id"), ["rule_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_fraud_rule_versions_status"), ["status"], unique=False)

    op.create_table(
        "fraud_snoozes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("scope_value", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("until", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "lifted_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("lifted_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["fraud_rules.id"], name=op.f("fk_fraud_snoozes_rule_id_fraud_rules")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_snoozes")),
    )
    with op.batch_alter_table("fraud_snoozes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fraud_snoozes_rule_id"), ["rule_id"], unique=False)

    op.create_table(
        "fraud_backtests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column(
            "window_start", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "window_end", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("started_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "finished_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "heartbeat_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column(
            "report",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["fraud_rule_versions.id"],
            name=op.f("fk_fraud_backtests_version_id_fraud_rule_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_backtests")),
    )
    with op.batch_alter_table("fraud_backtests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fraud_backtests_version_id"), ["version_id"], unique=False
        )

    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "idx_login_attempts_device_time", ["device_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "idx_login_attempts_ip_time", ["ip_address", "occurred_at"], unique=False
        )

    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index(
            "idx_transactions_device_time", ["device_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "idx_transactions_ip_time", ["ip_address", "occurred_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index("idx_transactions_ip_time")
        batch_op.drop_index("idx_transactions_device_time")

    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("idx_login_attempts_ip_time")
        batch_op.drop_index("idx_login_attempts_device_time")

    with op.batch_alter_table("fraud_backtests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fraud_backtests_version_id"))

    op.drop_table("fraud_backtests")
    with op.batch_alter_table("fraud_snoozes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fraud_snoozes_rule_id"))

    op.drop_table("fraud_snoozes")
    with op.batch_alter_table("fraud_rule_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fraud_rule_versions_status"))
        batch_op.drop_index(batch_op.f("ix_fraud_rule_versions_rule_id"))

    op.drop_table("fraud_rule_versions")
    op.drop_table("fraud_rules")
    with op.batch_alter_table("fraud_rule_hits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fraud_rule_hits_event_id"))
        batch_op.drop_index("idx_fraud_rule_hits_version_time")

    op.drop_table("fraud_rule_hits")
    op.drop_table("fraud_decision_thresholds")
