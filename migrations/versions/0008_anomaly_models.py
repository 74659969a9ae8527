"""anomaly models: fitted IsolationForests as versioned records; scores on transactions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import account_alerts.store.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    op.create_table(
        "anomaly_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "trained_from", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "trained_to", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("feature_names", json_type, nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("score_distribution", json_type, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "ACTIVE",
                "SHADOW",
                "INACTIVE",
                name="anomaly_model_status_enum",
                native_enum=False,
                create_constraint=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly_models")),
    )
    for status in ("ACTIVE", "SHADOW"):
        only = sa.text(f"status = '{status}'")
        op.create_index(
            f"uq_anomaly_models_one_{status.lower()}",
            "anomaly_models",
            ["status"],
            unique=True,
            postgresql_where=only,
            sqlite_where=only,
        )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anomaly_score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("anomaly_shadow_score", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_column("anomaly_shadow_score")
        batch_op.drop_column("anomaly_score")
    op.drop_index("uq_anomaly_models_one_shadow", table_name="anomaly_models")
    op.drop_index("uq_anomaly_models_one_active", table_name="anomaly_models")
    op.drop_table("anomaly_models")
