"""The migrations produce exactly the models, on both databases; the audit log is
append-only at the database level."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from account_alerts.store.database import Database, configure_sqlite, sync_url
from account_alerts.store.migrate import alembic_config
from account_alerts.store.tables import metadata


def test_upgrade_head_matches_the_models(own_database_url: str) -> None:
    database_url = own_database_url
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "render_as_batch": True}
            )
            differences = compare_metadata(context, metadata)
            version = connection.execute(
                sa.text("SELECT version_num FROM alembic_version")
            ).scalar()
    finally:
        engine.dispose()
    assert differences == []
    assert version is not None


def test_downgrade_and_upgrade_again(own_database_url: str) -> None:
    database_url = own_database_url
    config = alembic_config(database_url)
    command.downgrade(config, "base")
    engine = sa.create_engine(sync_url(database_url))
    if engine.dialect.name == "sqlite":
        configure_sqlite(engine)
    try:
        assert "account_alerts" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
    command.upgrade(config, "head")
    engine = sa.create_engine(sync_url(database_url))
    try:
        assert {"account_alerts", "audit_log", "alert_deliveries"} <= set(
            sa.inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()


async def test_audit_log_rows_cannot_be_changed_or_deleted(db: Database) -> None:
    async with db.transaction() as session:
        await session.exec(  # type: ignore[call-overload]
            sa.text(
                "INSERT INTO audit_log (occurred_at, actor_role, action, details) "
                "VALUES (CURRENT_TIMESTAMP, 'system', 'test.entry', '{}')"
            )
        )
    for statement in ("UPDATE audit_log SET action = 'rewritten'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            async with db.transaction() as session:
                await session.exec(sa.text(statement))  # type: ignore[call-overload]
    async with db.session() as session:
        actions = (await session.exec(sa.text("SELECT action FROM audit_log"))).all()  # type: ignore[call-overload]
    assert [row[0] for row in actions] == ["test.entry"]


def test_outbox_pages_keep_room_for_the_updates_of_their_rows(database_url_pg: str) -> None:
    """A delivery's claim and send mark change no indexed column: with room left on its
    page, PostgreSQL writes them beside the old row, with no new index entries."""
    engine = sa.create_engine(sync_url(database_url_pg), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            options = connection.execute(
                sa.text("SELECT reloptions FROM pg_class WHERE relname = 'alert_deliveries'")
            ).scalar()
    finally:
        engine.dispose()
    assert options == ["fillfactor=70"]


def test_activity_profiles_are_compressed_text_on_postgresql(database_url_pg: str) -> None:
    """The profile is read and written whole on every event: kept as text, PostgreSQL
    neither parses it on write nor renders it on read, and lz4 (where the server has it)
    compresses it several times faster than the default."""
    engine = sa.create_engine(sync_url(database_url_pg), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            kind, compression = connection.execute(
                sa.text(
                    "SELECT format_type(atttypid, atttypmod), attcompression FROM pg_attribute "
                    "WHERE attrelid = 'mobile_users'::regclass AND attname = 'activity_profile'"
                )
            ).one()
            has_lz4 = connection.execute(
                sa.text(
                    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                    "WHERE name = 'default_toast_compression'"
                )
            ).scalar()
    finally:
        engine.dispose()
    assert kind == "text"
    assert compression == ("l" if has_lz4 else "")
