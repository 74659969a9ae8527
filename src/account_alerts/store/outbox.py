"""The delivery outbox: claiming due rows under a lease, and recording what happened."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.enums import AlertStatus, AlertType, DeliveryStatus, NotificationChannel
from account_alerts.store.alerts import AccountAlert, AlertDelivery
from account_alerts.store.audit_trail import AUDIT
from account_alerts.store.base import columns_of, on_postgresql, table_of
from account_alerts.store.customers import Device, MobileUser

DELIVERIES = table_of(AlertDelivery)
ALERTS = table_of(AccountAlert)
USERS = table_of(MobileUser)
DEVICES = table_of(Device)


def _one_of(session: AsyncSession, column: sa.ColumnElement[int], ids: Iterable[int]) -> Any:
    """``column IN ids``; on PostgreSQL as ``= ANY`` of one array parameter: a claim's 500
    ids as 500 parameters cost the worker more to render than the statement to run."""
    if on_postgresql(session):
        return column == sa.any_(
            sa.bindparam(None, list(ids), type_=postgresql.ARRAY(sa.Integer()))
        )
    return column.in_(list(ids))


async def claim_due(
    session: AsyncSession,
    *,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    skip_channels: Iterable[NotificationChannel] = (),
) -> list[Claim]:
    """Take up to ``limit`` due deliveries for this worker. On PostgreSQL, rows another
    worker is claiming are skipped (SKIP LOCKED); an expired lease — a worker that died —
    makes a row due again, and a send it had started without recording the outcome comes
    back with its ``send_started_at`` (a send in doubt)."""
    due = (
        select(AlertDelivery.id)
        .where(
            col(AlertDelivery.status) == DeliveryStatus.PENDING,
            col(AlertDelivery.next_attempt_at) <= now,
            sa.or_(
                col(AlertDelivery.lease_expires_at).is_(None),
                col(AlertDelivery.lease_expires_at) < now,
            ),
        )
        .order_by(col(AlertDelivery.next_attempt_at), col(AlertDelivery.id))
        .limit(limit)
    )
    skipped = list(skip_channels)
    if skipped:
        due = due.where(col(AlertDelivery.channel).not_in(skipped))
    if on_postgresql(session):
        due = due.with_for_update(skip_locked=True)
    result = await session.exec(
        sa.update(DELIVERIES)
        .where(DELIVERIES.c.id.in_(due.scalar_subquery()))
        .values(lease_owner=worker_id, lease_expires_at=now + lease, updated_at=now)
        .returning(DELIVERIES.c.id, DELIVERIES.c.send_started_at)
    )
    return sorted(Claim(*row) for row in result.all())


@dataclass(frozen=True, slots=True, order=True)
class Claim:
    id: int
    # Set: the previous owner started a send and recorded no outcome.
    send_started_at: datetime | None


@dataclass(frozen=True, slots=True)
class InDoubt:
    """A claimed delivery whose previous send is in doubt, as the audit log names it."""

    id: int
    alert_id: int
    channel: NotificationChannel
    attempts: int
    attempts_in_doubt: int
    send_started_at: datetime
    mobile_user_id: int


async def in_doubt(session: AsyncSession, delivery_ids: Sequence[int]) -> list[InDoubt]:
    connection = await session.connection()
    rows = await connection.execute(
        sa.select(
            DELIVERIES.c.id,
            DELIVERIES.c.alert_id,
            DELIVERIES.c.channel,
            DELIVERIES.c.attempts,
            DELIVERIES.c.attempts_in_doubt,
            DELIVERIES.c.send_started_at,
            ALERTS.c.mobile_user_id,
        )
        .select_from(DELIVERIES.join(ALERTS, ALERTS.c.id == DELIVERIES.c.alert_id))
        .where(DELIVERIES.c.id.in_(delivery_ids))
        .order_by(DELIVERIES.c.id)
    )
    return [InDoubt(*row) for row in rows.all()]


async def count_in_doubt(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Write each ``{"delivery_id", "attempts", "attempts_in_doubt"}``; the send mark is
    cleared: the delivery goes out again under its new owner."""
    await session.exec(
        sa.update(DELIVERIES)
        .where(DELIVERIES.c.id == sa.bindparam("delivery_id"))
        .values(
            attempts=sa.bindparam("attempts"),
            attempts_in_doubt=sa.bindparam("attempts_in_doubt"),
            send_started_at=None,
        ),
        params=list(rows),
    )


async def mark_started(
    connection: AsyncConnection, delivery_ids: Sequence[int], *, worker_id: str, now: datetime
) -> set[int]:
    """Mark sends as started, before they go out; the ids still this worker's to send (a
    row whose lease another worker took over is not)."""
    result = await connection.execute(
        sa.update(DELIVERIES)
        .where(
            DELIVERIES.c.id.in_(delivery_ids),
            DELIVERIES.c.lease_owner == worker_id,
            DELIVERIES.c.status == DeliveryStatus.PENDING,
        )
        .values(send_started_at=now)
        .returning(DELIVERIES.c.id)
    )
    return {row[0] for row in result.all()}


# What an attempt's outcome writes to its delivery row, besides clearing the lease and
# the send mark.
OUTCOME_COLUMNS = (
    "status",
    "attempts",
    "last_error",
    "next_attempt_at",
    "sent_at",
    "provider_message_id",
)
_CLEARED = {"lease_owner": None, "lease_expires_at": None, "send_started_at": None}
# On PostgreSQL a wave is one statement, the same text for every wave: the next sends are
# marked, the outcomes (a JSON document of rows) written to the rows still this worker's,
# and the audit entries of those rows appended. A row is found by id and lease alone: a row
# this worker leases is PENDING (claims take only those, and every outcome written clears
# the lease), and the due index on status must not be the planner's way in.
_WAVE_ON_POSTGRESQL = """
    WITH marked AS (
        UPDATE alert_deliveries SET send_started_at = %(now)s
        WHERE id = ANY(%(to_mark)s::integer[]) AND lease_owner = %(worker_id)s
        RETURNING id
    ), recorded AS (
        UPDATE alert_deliveries AS d SET
            status = v.status, attempts = v.attempts, last_error = v.last_error,
            next_attempt_at = v.next_attempt_at, sent_at = v.sent_at,
            provider_message_id = v.provider_message_id,
            lease_owner = NULL, lease_expires_at = NULL, send_started_at = NULL,
            updated_at = %(now)s
        FROM jsonb_to_recordset(%(outcomes)s::jsonb)
             AS v(id integer, status varchar, attempts integer, last_error varchar,
                  next_attempt_at timestamptz, sent_at timestamptz,
                  provider_message_id varchar)
        WHERE d.id = v.id AND d.id = ANY(%(delivery_id)s::integer[])
          AND d.lease_owner = %(worker_id)s
        RETURNING d.id
    ), audited AS (
        INSERT INTO audit_log (occurred_at, actor_role, actor_id, action, mobile_user_id,
                               subject_type, subject_id, details)
        SELECT a.occurred_at, a.actor_role, a.actor_id, a.action, a.mobile_user_id,
               a.subject_type, a.subject_id, a.details
        FROM jsonb_to_recordset(%(audit)s::jsonb)
             AS a(delivery_id integer, occurred_at timestamptz, actor_role varchar,
                  actor_id varchar, action varchar, mobile_user_id bigint,
                  subject_type varchar, subject_id varchar, details jsonb)
        JOIN recorded ON recorded.id = a.delivery_id
        ORDER BY a.delivery_id
    )
    SELECT true, id FROM marked UNION ALL SELECT false, id FROM recorded
"""
# A wave reads and writes a few dozen rows by key. On a young or freshly filled outbox,
# whose statistics are not yet gathered, the planner would rather scan whole tables: a
# cost that grows with the table and is paid by every wave. For the wave's transaction,
# keyed reads only.
_KEYED_ONLY = "SET LOCAL enable_seqscan = off"


@dataclass(frozen=True, slots=True)
class Wave:
    """What one write records: each row's outcome (``delivery_id`` and OUTCOME_COLUMNS),
    the audit rows (``audit_trail.row``) by delivery id, the alerts to refresh, and the
    sends to mark as started."""

    rows: Sequence[dict[str, Any]]
    to_mark: Sequence[int]
    audit_rows: Sequence[tuple[int, dict[str, Any]]]
    alert_ids: Sequence[int]
    worker_id: str
    now: datetime


async def record_outcomes(session: AsyncSession, wave: Wave) -> tuple[set[int], set[int]]:
    """Record a wave, in the caller's transaction: write each row's outcome to its delivery
    if it is still this worker's, clearing the lease and the send mark; append the audit
    rows of the deliveries written; refresh their alerts' status; and mark the sends of
    ``to_mark`` as started (``mark_started``). The ids written (a row whose lease another
    worker took over keeps that worker's record) and the ids marked.

    On PostgreSQL this is one round trip: the wave's statement, the lock of the alerts and
    their refresh go out together (psycopg's pipeline mode). The refresh covers every
    alert of ``alert_ids``: it only states what their deliveries say."""
    connection = await session.connection()
    if on_postgresql(session):
        return await _record_on_postgresql(connection, wave, commit=False)
    marked = (
        await mark_started(connection, wave.to_mark, worker_id=wave.worker_id, now=wave.now)
        if wave.to_mark
        else set()
    )
    # SQLite: the deliveries' write lock is the database's, held from the first statement.
    owned = set(
        (
            await connection.execute(
                sa.select(DELIVERIES.c.id).where(
                    DELIVERIES.c.id.in_([row["delivery_id"] for row in wave.rows]),
                    DELIVERIES.c.lease_owner == wave.worker_id,
                    DELIVERIES.c.status == DeliveryStatus.PENDING,
                )
            )
        ).scalars()
    )
    if not owned:
        return owned, marked
    await connection.execute(
        sa.update(DELIVERIES)
        .where(DELIVERIES.c.id == sa.bindparam("delivery_id"))
        .values(
            {name: sa.bindparam(name) for name in OUTCOME_COLUMNS}
            | {"lease_owner": None, "lease_expires_at": None, "send_started_at": None}
            | {"updated_at": wave.now}
        ),
        [row for row in wave.rows if row["delivery_id"] in owned],
    )
    audited = [audit for delivery_id, audit in wave.audit_rows if delivery_id in owned]
    if audited:
        await session.exec(sa.insert(AUDIT), params=audited)
    await refresh_alert_status(session, wave.alert_ids, wave.now)
    return owned, marked


async def record_wave(connection: AsyncConnection, wave: Wave) -> tuple[set[int], set[int]]:
    """``record_outcomes`` on PostgreSQL in a transaction of its own, committed in the same
    round trip: the statements and the COMMIT go out in one pipeline. ``connection`` is
    a pooled connection outside any transaction; on an error the transaction is rolled
    back when the connection goes back to the pool."""
    return await _record_on_postgresql(connection, wave, commit=True)


async def _record_on_postgresql(
    connection: AsyncConnection, wave: Wave, *, commit: bool
) -> tuple[set[int], set[int]]:
    # The rows go as two JSON documents: one parameter each, encoded in one call, rather
    # than an array a column whose every element is converted on its own.
    params: dict[str, Any] = {
        "delivery_id": [row["delivery_id"] for row in wave.rows],
        "outcomes": orjson.dumps(
            [
                {"id": row["delivery_id"], **{name: row[name] for name in OUTCOME_COLUMNS}}
                for row in wave.rows
            ]
        ).decode(),
        "audit": orjson.dumps(
            [{"delivery_id": delivery_id, **audit} for delivery_id, audit in wave.audit_rows]
        ).decode(),
        "to_mark": list(wave.to_mark),
        "worker_id": wave.worker_id,
        "now": wave.now,
    }
    ids = sorted(set(wave.alert_ids))
    raw = await connection.get_raw_connection()
    driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
    written_by, lock, refresh = driver.cursor(), driver.cursor(), driver.cursor()
    try:
        async with driver.pipeline():
            await driver.execute(_KEYED_ONLY)
            await written_by.execute(_WAVE_ON_POSTGRESQL, params)
            if ids:
                await lock.execute(_LOCK_ALERTS_SQL, {"ids": ids})
                await refresh.execute(_REFRESH_SQL, {"ids": ids, "now": wave.now})
            if commit:
                await driver.execute("COMMIT")
        written = await written_by.fetchall()
    except psycopg.Error as exc:
        # As SQLAlchemy would raise it: the worker waits out a database outage.
        raise sa.exc.DBAPIError.instance(_WAVE_ON_POSTGRESQL, params, exc, psycopg.Error) from exc
    by_kind: dict[bool, set[int]] = {True: set(), False: set()}
    for is_mark, delivery_id in written:
        by_kind[is_mark].add(delivery_id)
    return by_kind[False], by_kind[True]


async def release(
    session: AsyncSession, delivery_ids: Sequence[int], *, worker_id: str, now: datetime
) -> None:
    """Give claimed deliveries back, due at once, when none of their sends started."""
    await session.exec(
        sa.update(DELIVERIES)
        .where(
            DELIVERIES.c.id.in_(delivery_ids),
            DELIVERIES.c.lease_owner == worker_id,
            DELIVERIES.c.send_started_at.is_(None),
        )
        .values(lease_owner=None, lease_expires_at=None, updated_at=now)
    )


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """What sending one outbox row needs of it."""

    id: int
    alert_id: int
    channel: NotificationChannel
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    sent_at: datetime | None
    provider_message_id: str | None


@dataclass(frozen=True, slots=True)
class ClaimedAlert:
    """The alert a delivery carries, as the channels render it."""

    id: int
    mobile_user_id: int
    account_number: str | None
    alert_type: AlertType
    alert_data: dict[str, Any]
    title: str
    message: str
    is_test: bool
    triggered_at: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a customer can be reached."""

    id: int
    phone: str | None
    phone_verified_at: datetime | None
    email: str | None
    email_verified_at: datetime | None


@dataclass(frozen=True, slots=True)
class PushDevice:
    id: int
    device_id: str
    push_token: str | None


_CLAIMED = (
    (DELIVERIES, ClaimedDelivery),
    (ALERTS, ClaimedAlert),
    (USERS, Recipient),
)
_CLAIMED_COLUMNS = [columns_of(table, shape) for table, shape in _CLAIMED]


async def load_claimed(
    session: AsyncSession, delivery_ids: Sequence[int]
) -> list[tuple[ClaimedDelivery, ClaimedAlert, Recipient]]:
    """The claimed deliveries with their alerts and recipients: plain rows, not entities
    (a batch is hundreds of rows and nothing here is written back through the ORM)."""
    connection = await session.connection()
    rows = await connection.execute(
        sa.select(*(column for columns in _CLAIMED_COLUMNS for column in columns))
        .select_from(
            DELIVERIES.join(ALERTS, ALERTS.c.id == DELIVERIES.c.alert_id).join(
                USERS, USERS.c.id == ALERTS.c.mobile_user_id
            )
        )
        .where(_one_of(session, DELIVERIES.c.id, delivery_ids))
        .order_by(DELIVERIES.c.id)
    )
    cut = [len(columns) for columns in _CLAIMED_COLUMNS]
    claimed = []
    for row in rows.all():
        delivery = ClaimedDelivery(*row[: cut[0]])
        alert = ClaimedAlert(*row[cut[0] : cut[0] + cut[1]])
        user = Recipient(*row[cut[0] + cut[1] :])
        claimed.append((delivery, alert, user))
    return claimed


async def push_tokens(
    session: AsyncSession, user_ids: Iterable[int]
) -> dict[int, list[PushDevice]]:
    """Each customer's active push devices, the most recently updated first."""
    connection = await session.connection()
    devices = await connection.execute(
        sa.select(DEVICES.c.mobile_user_id, *columns_of(DEVICES, PushDevice))
        .where(
            _one_of(session, DEVICES.c.mobile_user_id, sorted(set(user_ids))),
            DEVICES.c.push_token_active,
        )
        .order_by(DEVICES.c.updated_at.desc())
    )
    by_user: dict[int, list[PushDevice]] = {}
    for user_id, *device in devices.all():
        by_user.setdefault(user_id, []).append(PushDevice(*device))
    return by_user


async def refresh_alert_status(
    session: AsyncSession, alert_ids: Iterable[int], now: datetime
) -> None:
    """SENT once any channel delivered; FAILED when none can any more and one failed.

    The alerts are locked first (in id order, so two workers finishing different channels
    of one alert wait for each other rather than each writing half of ``channels_sent``),
    then their deliveries are read and only the alerts whose status changed are written,
    in one statement."""
    ids = sorted(set(alert_ids))
    if not ids:
        return
    if on_postgresql(session):
        await _refresh_on_postgresql(session, ids, now)
        return
    # SQLite: the caller has written the deliveries in this transaction, so it holds the
    # database's single write lock; no other writer can change these alerts meanwhile.
    connection = await session.connection()
    alerts = (
        await connection.execute(
            sa.select(ALERTS.c.id, ALERTS.c.status, ALERTS.c.channels_sent, ALERTS.c.sent_at)
            .where(ALERTS.c.id.in_(ids))
            .order_by(ALERTS.c.id)
        )
    ).all()
    deliveries = (
        await connection.execute(
            sa.select(
                DELIVERIES.c.alert_id,
                DELIVERIES.c.channel,
                DELIVERIES.c.status,
                DELIVERIES.c.sent_at,
            )
            .where(DELIVERIES.c.alert_id.in_(ids))
            .order_by(DELIVERIES.c.id)
        )
    ).all()
    by_alert: dict[int, list[Any]] = {}
    for delivery in deliveries:
        by_alert.setdefault(delivery.alert_id, []).append(delivery)
    changes: list[dict[str, Any]] = []
    for alert in alerts:
        rows = by_alert.get(alert.id, [])
        sent = [d for d in rows if d.status is DeliveryStatus.SENT]
        pending = any(d.status is DeliveryStatus.PENDING for d in rows)
        failed = any(d.status is DeliveryStatus.FAILED for d in rows)
        channels = [d.channel.value for d in sent]
        sent_at = alert.sent_at or min((d.sent_at for d in sent if d.sent_at), default=None)
        status = alert.status
        if status is not AlertStatus.ACKNOWLEDGED:
            if sent:
                status = AlertStatus.SENT
            elif failed and not pending:
                status = AlertStatus.FAILED
        if (status, channels, sent_at) != (alert.status, alert.channels_sent, alert.sent_at):
            changes.append(
                {
                    "alert_id": alert.id,
                    "status": status,
                    "channels_sent": channels,
                    "sent_at": sent_at,
                    "updated_at": now,
                }
            )
    if changes:
        await session.exec(
            sa.update(ALERTS)
            .where(ALERTS.c.id == sa.bindparam("alert_id"))
            .values(
                status=sa.bindparam("status"),
                channels_sent=sa.bindparam("channels_sent"),
                sent_at=sa.bindparam("sent_at"),
                updated_at=sa.bindparam("updated_at"),
            ),
            params=changes,
        )


# The same rules as one statement: the deliveries aggregated per alert, every alert
# written in place. Run after the alerts are locked, so its snapshot includes what a
# worker that held them before us committed.
_LOCK_ALERTS = sa.text("SELECT id FROM account_alerts WHERE id = ANY(:ids) ORDER BY id FOR UPDATE")
_REFRESH = sa.text(
    """
    UPDATE account_alerts AS a SET
        status = CASE
            WHEN a.status = 'ACKNOWLEDGED' THEN a.status
            WHEN d.sent THEN 'SENT'
            WHEN d.failed AND NOT d.pending THEN 'FAILED'
            ELSE a.status END,
        channels_sent = d.channels,
        sent_at = coalesce(a.sent_at, d.first_sent),
        updated_at = :now
    FROM (
        SELECT alert_id,
               coalesce(jsonb_agg(channel ORDER BY id) FILTER (WHERE status = 'SENT'),
                        '[]'::jsonb) AS channels,
               min(sent_at) FILTER (WHERE status = 'SENT') AS first_sent,
               bool_or(status = 'SENT') AS sent,
               bool_or(status = 'PENDING') AS pending,
               bool_or(status = 'FAILED') AS failed
        FROM alert_deliveries WHERE alert_id = ANY(:ids) GROUP BY alert_id
    ) AS d
    WHERE a.id = d.alert_id AND a.id = ANY(:ids)
      AND (a.status IS DISTINCT FROM (CASE
               WHEN a.status = 'ACKNOWLEDGED' THEN a.status
               WHEN d.sent THEN 'SENT'
               WHEN d.failed AND NOT d.pending THEN 'FAILED'
               ELSE a.status END)
           OR a.channels_sent IS DISTINCT FROM d.channels
           OR a.sent_at IS DISTINCT FROM coalesce(a.sent_at, d.first_sent))
    """
)


# The same two statements for the driver directly (a wave's pipeline).
_LOCK_ALERTS_SQL = "SELECT id FROM account_alerts WHERE id = ANY(%(ids)s) ORDER BY id FOR UPDATE"
_REFRESH_SQL = str(_REFRESH.text).replace(":now", "%(now)s").replace(":ids", "%(ids)s")


async def _refresh_on_postgresql(session: AsyncSession, ids: list[int], now: datetime) -> None:
    connection = await session.connection()
    await connection.execute(_LOCK_ALERTS, {"ids": ids})
    await connection.execute(_REFRESH, {"ids": ids, "now": now})


async def pending_count(session: AsyncSession) -> int:
    total = (
        await session.exec(
            select(sa.func.count())
            .select_from(AlertDelivery)
            .where(col(AlertDelivery.status) == DeliveryStatus.PENDING)
        )
    ).one()
    return int(total)
