"""initial schema: alerts, settings, outbox, events, audit

Revision ID: 0001
Revises:
Create Date: 2026-11-22 01:29:11.615910
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import account_alerts.store.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The audit log is append-only: the database itself refuses to change or delete a row.
_PG_AUDIT_GUARD = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
"""
_SQLITE_AUDIT_GUARD = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)


def _guard_audit_log() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_AUDIT_GUARD)
    else:
        for statement in _SQLITE_AUDIT_GUARD:
            op.execute(statement)


def _unguard_audit_log() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "occurred_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("actor_role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("actor_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("mobile_user_id", sa.BigInteger(), nullable=True),
        sa.Column("subject_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("subject_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column(
            "before",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "after",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("idx_audit_action", ["action"], unique=False)
        batch_op.create_index(
            "idx_audit_user_time", ["mobile_user_id", "occurred_at"], unique=False
        )

    op.create_table(
        "ingested_events",
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("mobile_user_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "alert_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "received_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_ingested_events")),
    )
    with op.batch_alter_table("ingested_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ingested_events_mobile_user_id"), ["mobile_user_id"], unique=False
        )

    op.create_table(
        "mobile_users",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column(
            "email_verified_at",
            account_alerts.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column(
            "phone_verified_at",
            account_alerts.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column(
            "locked_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("locked_reason", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mobile_users")),
    )
    op.create_table(
        "account_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mobile_user_id", sa.BigInteger(), nullable=False),
        sa.Column("account_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column(
            "alert_type",
            sa.Enum(
                "LOW_BALANCE",
                "LARGE_TRANSACTION",
                "SUSPICIOUS_ACTIVITY",
                "PAYMENT_DUE",
                "ACCOUNT_LOGIN",
                name="alert_type_enum",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "alert_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "SENT",
                "FAILED",
                "ACKNOWLEDGED",
                name="alert_status_enum",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "channels_sent",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("sent_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "acknowledged_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "user_action",
            sa.Enum(
                "DISMISSED",
                "THIS_WAS_ME",
                "REPORT_FRAUD",
                "QUICK_PAY",
                name="user_action_enum",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("is_test", sa.Boolean(), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column(
            "triggered_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["mobile_user_id"],
            ["mobile_users.id"],
            name=op.f("fk_account_alerts_mobile_user_id_mobile_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_alerts")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_account_alerts_dedupe_key")),
    )
    with op.batch_alter_table("account_alerts", schema=None) as batch_op:
        batch_op.create_index("idx_alerts_account", ["account_number"], unique=False)
        batch_op.create_index("idx_alerts_status", ["status"], unique=False)
        batch_op.create_index("idx_alerts_triggered_at", ["triggered_at"], unique=False)
        batch_op.create_index("idx_alerts_type", ["alert_type"], unique=False)
        batch_op.create_index("idx_alerts_user", ["mobile_user_id"], unique=False)
        batch_op.create_index(
            "idx_alerts_user_history", ["mobile_user_id", "triggered_at", "id"], unique=False
        )
        batch_op.create_index(
            "idx_alerts_user_unacknowledged", ["mobile_user_id", "acknowledged_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_account_alerts_event_id"), ["event_id"], unique=False)

    op.create_table(
        "accounts",
        sa.Column("account_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("mobile_user_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("time_zone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column(
            "balance", account_alerts.store.types.Money(precision=19, scale=4), nullable=True
        ),
        sa.Column(
            "balance_as_of", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["mobile_user_id"],
            ["mobile_users.id"],
            name=op.f("fk_accounts_mobile_user_id_mobile_users"),
        ),
        sa.PrimaryKeyConstraint("account_number", name=op.f("pk_accounts")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_accounts_mobile_user_id"), ["mobile_user_id"], unique=False
        )

    op.create_table(
        "channel_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mobile_user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum("PUSH", "SMS", "EMAIL", name="alert_channel", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("destination", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "expires_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "verified_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["mobile_user_id"],
            ["mobile_users.id"],
            name=op.f("fk_channel_verifications_mobile_user_id_mobile_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_verifications")),
    )
    with op.batch_alter_table("channel_verifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_channel_verifications_mobile_user_id"), ["mobile_user_id"], unique=False
        )

    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mobile_user_id", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("device_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("device_model", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("device_os", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("push_token", sqlmodel.sql.sqltypes.AutoString(length=4096), nullable=True),
        sa.Column("push_platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("push_token_active", sa.Boolean(), nullable=False),
        sa.Column(
            "first_seen_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "last_seen_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["mobile_user_id"],
            ["mobile_users.id"],
            name=op.f("fk_devices_mobile_user_id_mobile_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("mobile_user_id", "device_id", name=op.f("uq_devices_mobile_user_id")),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("mobile_user_id", sa.BigInteger(), nullable=False),
        sa.Column("successful", sa.Boolean(), nullable=False),
        sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("ip_address", sqlmodel.sql.sqltypes.AutoString(length=45), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("location_label", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column(
            "login_method",
            sa.Enum(
                "PASSWORD",
                "BIOMETRIC",
                "PASSKEY",
                "OTP",
                name="login_method_enum",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "occurred_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["mobile_user_id"],
            ["mobile_users.id"],
            name=op.f("fk_login_attempts_mobile_user_id_mobile_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "idx_login_attempts_user_time", ["mobile_user_id", "occurred_at"], unique=False
        )

    op.create_table(
        "account_alert_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mobile_user_id", sa.BigInteger(), nullable=False),
        sa.Column("account_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("low_balance_enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "low_balance_threshold",
            account_alerts.store.types.Money(precision=19, scale=4),
            nullable=True,
        ),
        sa.Column(
            "low_balance_channels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("large_transaction_enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "large_transaction_threshold",
            account_alerts.store.types.Money(precision=19, scale=4),
            nullable=True,
        ),
        sa.Column(
            "large_transaction_channels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("large_transaction_debit_only", sa.Boolean(), nullable=False),
        sa.Column("alert_unusual_location", sa.Boolean(), nullable=False),
        sa.Column("alert_multiple_failed_attempts", sa.Boolean(), nullable=False),
        sa.Column("alert_new_device_transaction", sa.Boolean(), nullable=False),
        sa.Column(
            "suspicious_activity_channels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("payment_due_enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "payment_due_channels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "payment_reminder_interval",
            sa.Enum(
                "ONE_WEEK",
                "THREE_DAYS",
                "ONE_DAY",
                name="payment_reminder_interval_enum",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "login_alert_mode",
            sa.Enum(
                "EVERY_LOGIN",
                "NEW_DEVICE",
                "NEW_LOCATION",
                name="login_alert_mode_enum",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "login_alert_channels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("quiet_hours_enabled", sa.Boolean(), nullable=False),
        sa.Column("quiet_hours_start", sa.Time(), nullable=True),
        sa.Column("quiet_hours_end", sa.Time(), nullable=True),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_number"],
            ["accounts.account_number"],
            name=op.f("fk_account_alert_settings_account_number_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["mobile_user_id"],
            ["mobile_users.id"],
            name=op.f("fk_account_alert_settings_mobile_user_id_mobile_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_alert_settings")),
        sa.UniqueConstraint(
            "mobile_user_id",
            "account_number",
            name=op.f("uq_account_alert_settings_mobile_user_id"),
        ),
    )
    with op.batch_alter_table("account_alert_settings", schema=None) as batch_op:
        batch_op.create_index("idx_alert_settings_account", ["account_number"], unique=False)
        batch_op.create_index("idx_alert_settings_user", ["mobile_user_id"], unique=False)

    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum("PUSH", "SMS", "EMAIL", name="alert_channel", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "SENT",
                "FAILED",
                "SKIPPED",
                name="delivery_status_enum",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column(
            "next_attempt_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column(
            "lease_expires_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("sent_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "provider_message_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True
        ),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["account_alerts.id"],
            name=op.f("fk_alert_deliveries_alert_id_account_alerts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
        sa.UniqueConstraint("alert_id", "channel", name=op.f("uq_alert_deliveries_alert_id")),
    )
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.create_index("idx_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_alert_deliveries_alert_id"), ["alert_id"], unique=False
        )

    op.create_table(
        "balance_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("account_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column(
            "balance", account_alerts.store.types.Money(precision=19, scale=4), nullable=False
        ),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("as_of", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_number"],
            ["accounts.account_number"],
            name=op.f("fk_balance_snapshots_account_number_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_balance_snapshots")),
    )
    with op.batch_alter_table("balance_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            "idx_balance_snapshots_account_time", ["account_number", "as_of"], unique=False
        )

    op.create_table(
        "scheduled_payments",
        sa.Column("payment_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("account_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column(
            "payment_type",
            sa.Enum(
                "BILL",
                "LOAN",
                "SUBSCRIPTION",
                "RECURRING",
                name="payment_type_enum",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "payment_description", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True
        ),
        sa.Column(
            "amount_due", account_alerts.store.types.Money(precision=19, scale=4), nullable=False
        ),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("beneficiary_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column(
            "beneficiary_reference", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column(
            "status",
            sa.Enum(
                "ACTIVE",
                "PAID",
                "CANCELLED",
                name="payment_status_enum",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_number"],
            ["accounts.account_number"],
            name=op.f("fk_scheduled_payments_account_number_accounts"),
        ),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_scheduled_payments")),
    )
    with op.batch_alter_table("scheduled_payments", schema=None) as batch_op:
        batch_op.create_index("idx_scheduled_payments_due", ["status", "due_date"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_scheduled_payments_account_number"), ["account_number"], unique=False
        )

    op.create_table(
        "suspicious_activity_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("mobile_user_id", sa.BigInteger(), nullable=False),
        sa.Column("account_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column(
            "suspicion_reason",
            sa.Enum(
                "UNUSUAL_LOCATION",
                "MULTIPLE_FAILED_ATTEMPTS",
                "NEW_DEVICE_TRANSACTION",
                name="suspicion_reason_enum",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("risk_score", sa.Integer(), nullable=False),
        sa.Column(
            "detection_details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "related_transaction_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("ip_address", sqlmodel.sql.sqltypes.AutoString(length=45), nullable=True),
        sa.Column("location", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("is_resolved", sa.Boolean(), nullable=False),
        sa.Column(
            "resolved_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "resolution_action",
            sa.Enum(
                "CONFIRMED_LEGITIMATE",
                "FRAUD_REPORTED",
                "ACCOUNT_LOCKED",
                name="resolution_action_enum",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("admin_notes", sa.Text(), nullable=True),
        sa.Column(
            "detected_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["account_alerts.id"],
            name=op.f("fk_suspicious_activity_log_alert_id_account_alerts"),
        ),
        sa.ForeignKeyConstraint(
            ["mobile_user_id"],
            ["mobile_users.id"],
            name=op.f("fk_suspicious_activity_log_mobile_user_id_mobile_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suspicious_activity_log")),
    )
    with op.batch_alter_table("suspicious_activity_log", schema=None) as batch_op:
        batch_op.create_index("idx_suspicious_resolved", ["is_resolved"], unique=False)
        batch_op.create_index("idx_suspicious_risk", ["risk_score"], unique=False)
        batch_op.create_index("idx_suspicious_user", ["mobile_user_id"], unique=False)

    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("account_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("mobile_user_id", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "transaction_reference", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column(
            "transaction_description", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True
        ),
        sa.Column(
            "transaction_type",
            sa.Enum("DEBIT", "CREDIT", name="transaction_type_enum", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "amount", account_alerts.store.types.Money(precision=19, scale=4), nullable=False
        ),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column(
            "balance_after", account_alerts.store.types.Money(precision=19, scale=4), nullable=True
        ),
        sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("ip_address", sqlmodel.sql.sqltypes.AutoString(length=45), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("location_label", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column(
            "occurred_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "created_at", account_alerts.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_number"],
            ["accounts.account_number"],
            name=op.f("fk_transactions_account_number_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["mobile_user_id"],
            ["mobile_users.id"],
            name=op.f("fk_transactions_mobile_user_id_mobile_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
        sa.UniqueConstraint(
            "account_number", "transaction_id", name=op.f("uq_transactions_account_number")
        ),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index(
            "idx_transactions_user_time", ["mobile_user_id", "occurred_at"], unique=False
        )
    _guard_audit_log()


def downgrade() -> None:
    _unguard_audit_log()
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index("idx_transactions_user_time")

    op.drop_table("transactions")
    with op.batch_alter_table("suspicious_activity_log", schema=None) as batch_op:
        batch_op.drop_index("idx_suspicious_user")
        batch_op.drop_index("idx_suspicious_risk")
        batch_op.drop_index("idx_suspicious_resolved")

    op.drop_table("suspicious_activity_log")
    with op.batch_alter_table("scheduled_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheduled_payments_account_number"))
        batch_op.drop_index("idx_scheduled_payments_due")

    op.drop_table("scheduled_payments")
    with op.batch_alter_table("balance_snapshots", schema=None) as batch_op:
        batch_op.drop_index("idx_balance_snapshots_account_time")

    op.drop_table("balance_snapshots")
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_deliveries_alert_id"))
        batch_op.drop_index("idx_deliveries_due")

    op.drop_table("alert_deliveries")
    with op.batch_alter_table("account_alert_settings", schema=None) as batch_op:
        batch_op.drop_index("idx_alert_settings_user")
        batch_op.drop_index("idx_alert_settings_account")

    op.drop_table("account_alert_settings")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("idx_login_attempts_user_time")

    op.drop_table("login_attempts")
    op.drop_table("devices")
    with op.batch_alter_table("channel_verifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_verifications_mobile_user_id"))

    op.drop_table("channel_verifications")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_mobile_user_id"))

    op.drop_table("accounts")
    with op.batch_alter_table("account_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_alerts_event_id"))
        batch_op.drop_index("idx_alerts_user_unacknowledged")
        batch_op.drop_index("idx_alerts_user_history")
        batch_op.drop_index("idx_alerts_user")
        batch_op.drop_index("idx_alerts_type")
        batch_op.drop_index("idx_alerts_triggered_at")
        batch_op.drop_index("idx_alerts_status")
        batch_op.drop_index("idx_alerts_account")

    op.drop_table("account_alerts")
    op.drop_table("mobile_users")
    with op.batch_alter_table("ingested_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingested_events_mobile_user_id"))

    op.drop_table("ingested_events")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("idx_audit_user_time")
        batch_op.drop_index("idx_audit_action")

    op.drop_table("audit_log")
