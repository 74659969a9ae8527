"""The event path's statements sent to psycopg directly (PostgreSQL) read and write exactly
what the same statements through SQLAlchemy's ORM do."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import psycopg
import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from account_alerts.domain.activity_profile import ActivityProfile
from account_alerts.domain.enums import (
    AlertType,
    LoginAlertMode,
    PaymentReminderInterval,
    TransactionType,
)
from account_alerts.domain.events import LoginEvent, TransactionEvent
from account_alerts.domain.geo import GeoPoint
from account_alerts.store import audit_trail, event_log
from account_alerts.store.alerts import AccountAlert, AccountAlertSettingsRow
from account_alerts.store.audit import AuditEntry
from account_alerts.store.base import table_of
from account_alerts.store.customers import Account, Device, MobileUser, ProfileTransactions
from account_alerts.store.database import Database
from account_alerts.store.direct import Direct, compiled
from account_alerts.store.event_unit import lock_customers, profile_version
from account_alerts.store.events import IngestedEvent, TransactionRecord
from account_alerts.store.new_alerts import NewAlerts
from account_alerts.store.row_buffer import RowBuffer
from tests.support.factories import make_account, make_alert
from tests.support.plans import plan_nodes

WHEN = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
PROFILE = ActivityProfile()
PROFILE.saw_device("phone-41", WHEN)
PROFILE.saw_place(GeoPoint(-15.7861, 35.0058), WHEN, login=True)


@pytest.fixture
async def pg(database_url_pg: str) -> AsyncIterator[Database]:
    db = Database(database_url_pg)
    yield db
    await db.dispose()


async def _customer(db: Database) -> None:
    await make_account(db, user_id=41, account_number="4100000001", time_zone="Africa/Blantyre")
    await make_account(db, user_id=41, account_number="4100000002")
    await make_account(db, user_id=42, account_number="4200000001")
    async with db.transaction() as session:
        user = await session.get(MobileUser, 41)
        assert user is not None
        user.phone, user.phone_verified_at, user.locked_reason = "+265991234567", WHEN, None
        user.activity_profile = PROFILE.to_json()
        account = await session.get(Account, "4100000001")
        assert account is not None
        account.balance, account.balance_as_of = Decimal("1234.5600"), WHEN
        session.add(
            AccountAlertSettingsRow(
                mobile_user_id=41,
                account_number="4100000001",
                low_balance_threshold=Decimal("150.2500"),
                low_balance_channels=["SMS", "PUSH"],
                large_transaction_enabled=False,
                payment_reminder_interval=PaymentReminderInterval.THREE_DAYS,
                login_alert_mode=LoginAlertMode.EVERY_LOGIN,
                quiet_hours_enabled=True,
                quiet_hours_start=time(22, 30),
                quiet_hours_end=time(6, 15),
            )
        )
        session.add(
            AccountAlertSettingsRow(
                mobile_user_id=41, account_number="4100000002", suspicious_activity_channels=[]
            )
        )


def _events() -> list[TransactionEvent | LoginEvent]:
    debit = TransactionEvent(
        event_id="e1",
        account_number="4100000001",
        transaction_id="t1",
        transaction_type=TransactionType.DEBIT,
        amount=Decimal("10"),
        currency="MWK",
        occurred_at=WHEN,
    )
    other = replace(debit, event_id="e2", account_number="4200000001")
    sign_in = LoginEvent(event_id="e3", mobile_user_id=41, successful=True, occurred_at=WHEN)
    return [debit, other, sign_in]


def _values(objects: object) -> object:
    """Every column of every object, with its Python type."""
    if isinstance(objects, dict):
        return {key: _values(value) for key, value in sorted(objects.items())}
    if isinstance(objects, list):
        return [_values(value) for value in objects]
    model = type(objects)
    return {
        column.name: (getattr(objects, column.name), type(getattr(objects, column.name)))
        for column in model.__table__.columns  # type: ignore[attr-defined]
    }


async def test_the_customer_lock_reads_what_the_orm_reads(pg: Database) -> None:
    await _customer(pg)
    async with pg.event_transaction() as (session, direct):
        assert direct is not None
        straight = await lock_customers(session, direct, _events())
    async with pg.event_transaction() as (session, _):
        through_orm = await lock_customers(session, None, _events())
    parts = ("accounts", "users", "settings")
    assert [_values(getattr(straight, part)) for part in parts] == [
        _values(getattr(through_orm, part)) for part in parts
    ]
    accounts, users, rows = straight.accounts, straight.users, straight.settings
    # The profile as its stored text straight from the driver, decoded through the ORM.
    assert isinstance(straight.profiles[41], str)
    assert orjson.loads(straight.profiles[41]) == through_orm.profiles[41] == PROFILE.to_json()
    assert straight.profiles[42] is None and through_orm.profiles[42] is None
    assert users[41].activity_profile is None
    assert sorted(accounts) == ["4100000001", "4200000001"]
    assert accounts["4100000001"].balance == Decimal("1234.5600")
    assert accounts["4100000001"].balance_as_of == WHEN
    assert users[41].phone_verified_at == WHEN and users[42].phone is None
    first = rows[41][0]
    assert first.payment_reminder_interval is PaymentReminderInterval.THREE_DAYS
    assert first.login_alert_mode is LoginAlertMode.EVERY_LOGIN
    assert first.low_balance_channels == ["SMS", "PUSH"]
    assert (first.quiet_hours_start, first.quiet_hours_end) == (time(22, 30), time(6, 15))
    assert [row.account_number for row in rows[41]] == ["4100000001", "4100000002"]
    assert 42 not in rows


async def test_the_lock_leaves_out_only_the_profiles_whose_stored_version_is_known(
    pg: Database,
) -> None:
    """A profile written in a transaction has that transaction's version; the lock leaves
    it out when the caller names that version, sends it when the caller names another (a
    later writer), and names the version either way."""
    await _customer(pg)
    text = orjson.dumps(PROFILE.to_json()).decode()
    users = MobileUser.__table__  # type: ignore[attr-defined]
    async with pg.event_transaction() as (session, direct):
        first = await lock_customers(session, direct, _events())
        buffer = RowBuffer(direct)
        buffer.update(users, 41, {"activity_profile": text})
        await buffer.flush(session)
    assert first.transaction is not None
    written = profile_version(41, first.transaction, text)

    async def lock(*known: str) -> Any:
        async with pg.event_transaction() as (session, direct):
            return await lock_customers(
                session, direct, _events(), lambda accounts, users: list(known)
            )

    left_out = await lock(written, "42/1/5")
    assert left_out.profiles == {41: None, 42: None}
    assert left_out.versions[41] == written and left_out.versions[42].endswith("/-1")
    assert left_out.transaction != first.transaction
    sent = await lock(profile_version(41, str(int(first.transaction) - 1), text))
    assert sent.profiles == {41: text, 42: None} and sent.versions == left_out.versions
    # Another transaction writes the row (even the same text): a new version.
    async with pg.transaction() as session:
        await session.exec(  # type: ignore[call-overload]
            sa.text("UPDATE mobile_users SET activity_profile = activity_profile WHERE id = 41")
        )
    again = await lock(written)
    assert again.profiles[41] == text and again.versions[41] != written


async def test_rows_written_directly_read_back_as_written(pg: Database) -> None:
    await _customer(pg)
    async with pg.event_transaction() as (session, direct):
        buffer = RowBuffer(direct)
        buffer.add(
            TransactionRecord.__table__,  # type: ignore[attr-defined]
            {
                "event_id": "w1",
                "account_number": "4100000001",
                "mobile_user_id": 41,
                "transaction_id": "T-1",
                "transaction_type": TransactionType.CREDIT,
                # More places than the column keeps: rounded as the ORM rounds (half to even).
                "amount": Decimal("12.34565"),
                "currency": "MWK",
                "latitude": -13.9626,
                "longitude": 33.7741,
                # Another offset: the same instant.
                "occurred_at": WHEN.astimezone(timezone(timedelta(hours=2))),
                "created_at": WHEN,
            },
        )
        buffer.update(
            Account.__table__,  # type: ignore[attr-defined]
            "4100000002",
            {"balance": Decimal("99.5"), "balance_as_of": WHEN, "updated_at": WHEN},
        )
        buffer.update(
            MobileUser.__table__,  # type: ignore[attr-defined]
            42,
            {"activity_profile": PROFILE.to_json(), "updated_at": WHEN},
        )
        await buffer.flush(session)
    async with pg.session() as session:
        record = (await session.exec(select(TransactionRecord))).one()
        account = await session.get(Account, "4100000002")
        user = await session.get(MobileUser, 42)
    assert record.transaction_type is TransactionType.CREDIT
    assert record.amount == Decimal("12.3456") and record.occurred_at == WHEN
    assert (record.latitude, record.longitude) == (-13.9626, 33.7741)
    assert account is not None and account.balance == Decimal("99.5000")
    assert account.balance_as_of == WHEN
    assert user is not None and user.activity_profile == PROFILE.to_json()
    assert ActivityProfile.from_json(user.activity_profile, []) == PROFILE


async def test_a_write_deletes_the_rows_stored_before_it_not_those_it_inserts(
    db: Database,
) -> None:
    """A customer's transactions' parts replaced in one write (store.event_rows): the
    parts stored before go, the one the same write inserts stays (the ORM's statements on
    SQLite, one combined statement on PostgreSQL)."""
    await _customer(db)
    await make_account(db, user_id=43, account_number="4300000001")
    parts = ProfileTransactions.__table__  # type: ignore[attr-defined]
    for n in range(3):
        async with db.event_transaction() as (session, direct):
            buffer = RowBuffer(direct)
            if n > 0:
                buffer.delete(parts, "mobile_user_id", 41)
            for user in (41, 43):
                buffer.add(parts, {"mobile_user_id": user, "times": f"[{n}]", "amounts": "[1.5]"})
            await buffer.flush(session)
    async with db.session() as session:
        rows = (
            await session.exec(select(ProfileTransactions).order_by(col(ProfileTransactions.id)))
        ).all()
    assert [(row.mobile_user_id, row.times) for row in rows] == [
        (43, "[0]"),
        (43, "[1]"),
        (41, "[2]"),
        (43, "[2]"),
    ]


async def test_a_failed_direct_statement_rolls_back_and_the_connection_is_reused(
    pg: Database,
) -> None:
    await _customer(pg)
    row = {"event_id": "w1", "account_number": "4100000001", "mobile_user_id": 41}
    row |= {"transaction_id": "T-1", "transaction_type": TransactionType.DEBIT}
    row |= {"amount": Decimal(1), "currency": "MWK", "occurred_at": WHEN, "created_at": WHEN}
    table = TransactionRecord.__table__  # type: ignore[attr-defined]
    accounts = Account.__table__  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="duplicate key"):
        async with pg.event_transaction() as (session, direct):
            buffer = RowBuffer(direct)
            buffer.update(accounts, "4100000001", {"balance": Decimal(5)})
            buffer.add(table, row)
            buffer.add(table, {**row, "event_id": "w2"})  # the same transaction id again
            await buffer.flush(session)
    async with pg.event_transaction() as (session, direct):
        assert direct is not None
        buffer = RowBuffer(direct)
        buffer.add(table, row)
        await buffer.flush(session)
    async with pg.session() as session:
        assert [r.event_id for r in (await session.exec(select(TransactionRecord))).all()] == ["w1"]
        account = await session.get(Account, "4100000001")
        assert account is not None and account.balance == Decimal("1234.5600")


async def test_profiles_written_as_a_text_array_are_stored_as_the_text_given(
    pg: Database,
) -> None:
    """Profiles (documents kept as text) go as an array beside the other rows' document:
    each customer's stored text is exactly the text given (what the profile cache keeps),
    whatever it holds, and a profile given as values is stored as it writes out. The other
    updates of the same write land too."""
    await _customer(pg)
    awkward = ActivityProfile()
    awkward.saw_device('say "hi" \\ {x}, Zomba — Malaŵi\n😀', WHEN)
    texts = {41: orjson.dumps(awkward.to_json()).decode(), 42: orjson.dumps({}).decode()}
    users = MobileUser.__table__  # type: ignore[attr-defined]
    accounts = Account.__table__  # type: ignore[attr-defined]
    async with pg.event_transaction() as (session, direct):
        buffer = RowBuffer(direct)
        buffer.update(users, 41, {"activity_profile": "stale"})
        for user, text in texts.items():
            buffer.update(users, user, {"activity_profile": text})
        buffer.update(accounts, "4100000001", {"balance": Decimal("7")})
        await buffer.flush(session)
        buffer.update(users, 41, {"activity_profile": PROFILE.to_json()})
        await buffer.flush(session)
    async with pg.session() as session:
        stored = dict(
            (await session.exec(sa.text("SELECT id, activity_profile FROM mobile_users"))).all()
        )
        account = await session.get(Account, "4100000001")
    assert stored == {41: orjson.dumps(PROFILE.to_json()).decode(), 42: texts[42]}
    assert account is not None and account.balance == Decimal("7.0000")

    async with pg.event_transaction() as (session, direct):
        buffer = RowBuffer(direct)
        buffer.update(users, 41, {"activity_profile": texts[41]})
        await buffer.flush(session)
    async with pg.session() as session:
        user = await session.get(MobileUser, 41)
        text = (
            await session.exec(sa.text("SELECT activity_profile FROM mobile_users WHERE id = 41"))
        ).one()[0]
    assert text == texts[41]
    assert user is not None and ActivityProfile.from_json(user.activity_profile, []) == awkward


async def test_many_rows_of_awkward_values_written_as_one_document_read_back_as_given(
    pg: Database,
) -> None:
    """A buffered table's rows go as one JSON document (``json_to_recordset``): text that
    needs escaping in JSON, a column with no value in any row, integers of every size,
    JSON documents that are lists, empty or nested, all read back as given, and in the
    order they were added."""
    await _customer(pg)
    texts = ['say "hi", {x}', "back\\slash, comma", "NULL", "", "Zomba — Malaŵi", "a\nb\t😀"]
    documents: list[object] = [[], ["a", 1], {"k": [None, {"z": []}]}, {}, [[1], [2]], "text"]
    users = [1, 41, 2**40, None, 7, 3_000_000_000]
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    async with pg.event_transaction() as (session, direct):
        buffer = RowBuffer(direct)
        for n, (text, document, user) in enumerate(zip(texts, documents, users, strict=True)):
            buffer.add(
                table,
                audit_trail.row(
                    occurred_at=WHEN + timedelta(seconds=n),
                    actor_role="service",
                    actor_id=text,
                    action="test.arrays",
                    mobile_user_id=user,
                    subject_type=None,
                    subject_id=text,
                    details={"document": document},
                ),
            )
        await buffer.flush(session)
    async with pg.session() as session:
        stored = (await session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))).all()
    assert [entry.actor_id for entry in stored] == texts
    assert [entry.subject_id for entry in stored] == texts
    assert [entry.mobile_user_id for entry in stored] == users
    assert [entry.details for entry in stored] == [{"document": d} for d in documents]
    assert [entry.subject_type for entry in stored] == [None] * len(texts)
    assert [entry.occurred_at for entry in stored] == [
        WHEN + timedelta(seconds=n) for n in range(len(texts))
    ]


async def test_a_units_alerts_take_their_ids_and_hourly_counts_in_one_statement(
    pg: Database,
) -> None:
    """The ids come from the table's sequence a block at a time; each count is the
    customer's alerts (not tests) in the hour up to the alert, stored before the unit or
    raised in it, read once for every customer of the unit."""
    await _customer(pg)
    stored = {
        41: [WHEN - timedelta(minutes=m) for m in (1, 30, 59, 61, 120)],
        42: [WHEN - timedelta(minutes=5)],
    }
    for user_id, times in stored.items():
        for at in times:
            await make_alert(
                pg,
                user_id=user_id,
                account_number=None,
                alert_type=AlertType.LARGE_TRANSACTION,
                triggered_at=at,
            )
    test_id = await make_alert(
        pg, user_id=41, account_number=None, alert_type=AlertType.LOW_BALANCE, triggered_at=WHEN
    )
    async with pg.transaction() as session:
        test_alert = await session.get(AccountAlert, test_id)
        assert test_alert is not None
        test_alert.is_test = True
    later = WHEN + timedelta(minutes=10)
    async with pg.event_transaction() as (_, direct):
        assert direct is not None
        alerts = NewAlerts(direct)
        alerts.expect([(41, WHEN), (42, WHEN), (41, later)])
        alerts.events_left = 10  # a block of 2 + 3 ids
        taken = [
            await alerts.take(41, WHEN, counting=True, ahead=2),
            await alerts.take(41, WHEN, counting=True, ahead=1),
            await alerts.take(42, WHEN, counting=True),
            await alerts.take(41, later, counting=False),
            await alerts.take(41, later, counting=True),
        ]
        assert alerts.reads == 1
        # Five hours on: neither an id nor that hour is at hand.
        far = await alerts.take(41, WHEN + timedelta(hours=5), counting=True)
        assert alerts.reads == 2
    ids = [alert_id for alert_id, _ in [*taken, far]]
    assert ids == sorted(set(ids)) and min(ids) > test_id
    # 41: three stored in the hour (the test alert not counted), then the unit's own;
    # ten minutes on, the one stored 59 minutes before WHEN has left the hour, and the
    # unit's three are in it.
    assert [recent for _, recent in taken] == [3, 4, 1, 0, 5]
    assert far[1] == 0


async def test_repeats_are_looked_up_directly_as_through_the_orm(pg: Database) -> None:
    await _customer(pg)
    async with pg.event_transaction() as (session, direct):
        buffer = RowBuffer(direct)
        event_log.record(
            buffer,
            event_id="seen-1",
            kind="TransactionEvent",
            fingerprint="f" * 64,
            mobile_user_id=41,
            alert_ids=[3, 4],
            outcome={"alerts": 2, "note": "100% sure"},
            now=WHEN,
        )
        buffer.add(
            TransactionRecord.__table__,  # type: ignore[attr-defined]
            {
                "event_id": "seen-1",
                "account_number": "4100000001",
                "mobile_user_id": 41,
                "transaction_id": "T-9",
                "transaction_type": TransactionType.DEBIT,
                "amount": Decimal("1"),
                "currency": "MWK",
                "occurred_at": WHEN,
                "created_at": WHEN,
            },
        )
        await buffer.flush(session)
    ids = ["seen-1", "new-1", "seen-1"]
    pairs = [("4100000001", "T-9"), ("4100000001", "T-10"), ("4200000001", "T-9")]
    found: dict[str, tuple[Any, set[tuple[str, str]]]] = {}
    for way in ("direct", "orm"):
        async with pg.event_transaction() as (session, direct):
            used = direct if way == "direct" else None
            found[way] = (
                _values(list(await event_log.find_many(session, used, ids))),
                await event_log.recorded_transactions(session, used, pairs),
            )
    assert found["direct"] == found["orm"]
    events, transactions = found["direct"]
    assert events == _values(await _stored_events(pg))
    assert transactions == {("4100000001", "T-9")}


async def _stored_events(db: Database) -> list[IngestedEvent]:
    async with db.session() as session:
        return list((await session.exec(select(IngestedEvent))).all())


async def test_a_direct_statement_keeps_literal_percent_signs_and_repeated_parameters(
    pg: Database,
) -> None:
    """PostgreSQL's own placeholders replace SQLAlchemy's: a parameter used twice is one
    placeholder; a percent sign in the text stays one."""
    x = sa.bindparam("x", type_=sa.Integer)
    statement: Any = sa.select(
        sa.literal_column("'100%'").label("text"),
        (x + x).label("twice"),
        sa.literal_column("'a%%b' LIKE 'a%'").label("like"),
        sa.bindparam("y", type_=sa.String).label("y"),
    )
    async with pg.event_transaction() as (_, direct):
        assert direct is not None
        assert await direct.rows(statement, {"x": 21, "y": "$1 %(x)s"}) == [
            ("100%", 42, True, "$1 %(x)s")
        ]


@dataclass(frozen=True)
class _Explained(Direct):
    """Runs each statement under EXPLAIN ANALYZE (which runs it) and keeps the plans."""

    plans: list[dict[str, Any]] = field(default_factory=list)

    async def execute(self, statement: sa.ClauseElement, values: Mapping[str, Any]) -> None:
        direct = compiled(statement, self.dialect)
        cursor = psycopg.AsyncRawCursor(self.connection)
        explain = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + direct.sql
        await cursor.execute(explain, direct.parameters(values))
        [[[plan]]] = await cursor.fetchall()
        self.plans.append(plan["Plan"])


async def test_a_writes_updates_find_their_rows_by_key_however_many_the_bank_has(
    pg: Database,
) -> None:
    """A write updates a few accounts and devices among thousands: PostgreSQL looks each up
    by its key rather than reading the whole table, so that a write costs the same in a
    large bank as in a small one."""
    users, accounts, devices = (
        table_of(MobileUser),
        table_of(Account),
        table_of(Device),
    )
    customers = range(1, 3_001)
    async with pg.transaction() as session:
        connection = await session.connection()
        await connection.execute(
            sa.insert(users), [{"id": n, "created_at": WHEN} for n in customers]
        )
        await connection.execute(
            sa.insert(accounts),
            [
                {"account_number": f"{n:010d}", "mobile_user_id": n, "currency": "MWK"}
                for n in customers
            ],
        )
        await connection.execute(
            sa.insert(devices),
            [
                {"mobile_user_id": n, "device_id": f"phone-{n}-{k}", "created_at": WHEN}
                for n in customers
                for k in range(4)
            ],
        )
    async with pg.session() as session:
        await (await session.connection()).exec_driver_sql("ANALYZE")
    async with pg.event_transaction() as (session, direct):
        assert direct is not None
        explained = _Explained(direct.connection, direct.dialect)
        buffer = RowBuffer(explained)
        for n in (17, 2_900):
            buffer.update(accounts, f"{n:010d}", {"balance": Decimal(n), "balance_as_of": WHEN})
        for n, k in ((17, 1), (17, 3), (451, 0)):
            buffer.update(
                devices,
                (n, f"phone-{n}-{k}"),
                {"last_seen_at": WHEN},
                by=("mobile_user_id", "device_id"),
            )
        await buffer.flush(session)
    [plan] = explained.plans
    scanned = {
        node.get("Relation Name") for node in plan_nodes(plan) if node["Node Type"] == "Seq Scan"
    }
    assert scanned.isdisjoint({"accounts", "devices"})
    async with pg.session() as session:
        balances = (
            await session.exec(select(Account.balance).where(col(Account.balance).isnot(None)))
        ).all()
        seen = (
            await session.exec(
                select(Device.device_id)
                .where(col(Device.last_seen_at).isnot(None))
                .order_by(col(Device.device_id))
            )
        ).all()
    assert sorted(balances) == [Decimal(17), Decimal(2_900)]
    assert seen == ["phone-17-1", "phone-17-3", "phone-451-0"]
