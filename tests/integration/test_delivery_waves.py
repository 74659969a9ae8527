"""A wave's write on PostgreSQL: its statements and its COMMIT go out in one round trip
(outbox.record_wave). What it writes is committed, a failure leaves nothing of it, and the
pooled connection comes back as it was lent: no transaction open, no setting left over."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from account_alerts.domain.enums import DeliveryStatus
from account_alerts.store import audit_trail, outbox
from account_alerts.store.alerts import AccountAlert, AlertDelivery
from account_alerts.store.database import Database
from tests.conftest import Api, Clock
from tests.support.audit import audit_entries
from tests.support.delivery import reachable_customer
from tests.support.events import RECORD_TRANSACTION, transaction
from tests.support.factories import make_account

pytestmark = pytest.mark.postgresql_only

ACCOUNT = "1000000001"
WORKER = "wave-worker"


async def claimed(api: Api, db: Database, clock: Clock) -> list[outbox.ClaimedDelivery]:
    """A large debit's PUSH and SMS deliveries, claimed by WORKER."""
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    await api.as_service(
        RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "60000", clock() - timedelta(hours=1))}
    )
    async with db.transaction() as session:
        claims = await outbox.claim_due(
            session, worker_id=WORKER, now=clock(), lease=timedelta(seconds=60), limit=10
        )
        loaded = await outbox.load_claimed(session, [claim.id for claim in claims])
    assert len(loaded) == 2
    return [delivery for delivery, _, _ in loaded]


def sent_wave(
    deliveries: list[outbox.ClaimedDelivery], clock: Clock, *, actor_role: str = "system"
) -> outbox.Wave:
    now = clock()
    return outbox.Wave(
        rows=[
            {
                "delivery_id": d.id,
                "status": DeliveryStatus.SENT,
                "attempts": d.attempts + 1,
                "last_error": None,
                "next_attempt_at": d.next_attempt_at,
                "sent_at": now,
                "provider_message_id": f"msg-{d.id}",
            }
            for d in deliveries
        ],
        to_mark=[],
        audit_rows=[
            (
                d.id,
                audit_trail.row(
                    actor_role=actor_role,
                    actor_id=WORKER,
                    action="delivery.attempted",
                    occurred_at=now,
                    mobile_user_id=7,
                    subject_type="delivery",
                    subject_id=str(d.id),
                    details={"outcome": "sent"},
                ),
            )
            for d in deliveries
        ],
        alert_ids=[d.alert_id for d in deliveries],
        worker_id=WORKER,
        now=now,
    )


async def delivery_rows(db: Database) -> list[AlertDelivery]:
    async with db.session() as session:
        return list((await session.exec(select(AlertDelivery))).all())


async def test_a_wave_is_committed_in_its_round_trip_and_the_connection_comes_back_clean(
    api: Api, db: Database, clock: Clock
) -> None:
    deliveries = await claimed(api, db, clock)
    # One pooled connection: the one the wave used is the one looked at afterwards.
    own = Database(db.url, pool_size=1)
    try:
        async with own.engine.connect() as connection:
            owned, marked = await outbox.record_wave(connection, sent_wave(deliveries, clock))
        assert owned == {d.id for d in deliveries} and marked == set()

        # Seen from other connections: committed.
        rows = await delivery_rows(db)
        assert {(r.status, r.lease_owner, r.provider_message_id) for r in rows} == {
            (DeliveryStatus.SENT, None, f"msg-{d.id}") for d in deliveries
        }
        assert len(await audit_entries(db, "delivery.attempted")) == 2
        async with db.session() as session:
            alert = (await session.exec(select(AccountAlert))).one()
        assert (alert.status.value, sorted(alert.channels_sent)) == ("SENT", ["PUSH", "SMS"])

        async with own.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            assert raw.driver_connection.info.transaction_status.name == "IDLE"
            # The wave's planner setting ended with its transaction.
            setting = await connection.execute(sa.text("SHOW enable_seqscan"))
            assert setting.scalar_one() == "on"
    finally:
        await own.dispose()


async def test_a_wave_that_fails_leaves_nothing_and_the_connection_usable(
    api: Api, db: Database, clock: Clock
) -> None:
    deliveries = await claimed(api, db, clock)
    own = Database(db.url, pool_size=1)
    try:
        # The audit rows are the statement's last part: the deliveries were written first.
        too_long = sent_wave(deliveries, clock, actor_role="x" * 40)
        with pytest.raises(sa.exc.DBAPIError):
            async with own.engine.connect() as connection:
                await outbox.record_wave(connection, too_long)
        rows = await delivery_rows(db)
        assert {(r.status, r.lease_owner, r.attempts) for r in rows} == {
            (DeliveryStatus.PENDING, WORKER, 0)
        }
        assert await audit_entries(db, "delivery.attempted") == []

        # The same connection records the wave once it is right.
        async with own.engine.connect() as connection:
            owned, _ = await outbox.record_wave(connection, sent_wave(deliveries, clock))
        assert owned == {d.id for d in deliveries}
        assert {r.status for r in await delivery_rows(db)} == {DeliveryStatus.SENT}
    finally:
        await own.dispose()
