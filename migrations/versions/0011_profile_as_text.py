"""activity profiles kept as compressed text on PostgreSQL

A customer's activity profile (a few kilobytes of JSON) is written and read on every event
and never queried inside. As jsonb, PostgreSQL parsed every document written and rendered
every one read, and compressed it with pglz: about 100 us per profile written and 20-25 us
per profile read, a third of the database's time in the event path's write. As text it is
stored as the application writes it (22 us, and under 3 us to read), compressed with lz4
where the server was built with it (pglz otherwise). The change rewrites mobile_users
once. SQLite keeps its JSON text.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 20:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A server built without lz4 refuses the method (feature_not_supported): it keeps pglz.
_COMPRESS_WITH_LZ4 = """
DO $$
BEGIN
    ALTER TABLE mobile_users ALTER COLUMN activity_profile SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available: activity profiles are compressed with pglz';
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE mobile_users ALTER COLUMN activity_profile TYPE text "
            "USING activity_profile::text"
        )
        op.execute(_COMPRESS_WITH_LZ4)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE mobile_users ALTER COLUMN activity_profile SET COMPRESSION default")
        op.execute(
            "ALTER TABLE mobile_users ALTER COLUMN activity_profile TYPE jsonb "
            "USING activity_profile::jsonb"
        )
