"""The event path's unit of work: one transaction that owns the customer lock, the rows
buffered for one write, the choice between direct statements (PostgreSQL) and the ORM,
and the translation of a concurrent writer's conflict. The alerts written in it are
announced once it has committed (store.announcements, through the Database)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.activity_profile import Part
from account_alerts.domain.events import BalanceSync, Event, LoginEvent, TransactionEvent
from account_alerts.store.alerts import AccountAlertSettingsRow
from account_alerts.store.base import table_of
from account_alerts.store.customers import Account, MobileUser, ProfileTransactions
from account_alerts.store.database import Database
from account_alerts.store.direct import INTEGRITY_ERRORS, Direct, Entities, rows_of
from account_alerts.store.new_alerts import NewAlerts
from account_alerts.store.row_buffer import RowBuffer

ACCOUNTS = table_of(Account)


class Conflict(Exception):
    """A concurrent transaction stored one of the same unique keys (an eventId, a
    transaction) at the same moment: nothing of this unit was kept."""


@dataclass
class EventUnit:
    session: AsyncSession
    direct: Direct | None
    buffer: RowBuffer
    # On PostgreSQL, the ids and hourly counts of the alerts it raises (store.new_alerts).
    alerts: NewAlerts | None = None

    async def written(self) -> AsyncSession:
        """The session, with the buffered rows in the database: for reading them back."""
        await self.buffer.flush(self.session)
        return self.session

    async def lock_customers(self, events: Sequence[Event], known: Known | None = None) -> Locked:
        return await lock_customers(self.session, self.direct, events, known)


@dataclass
class Locked:
    """The locked customers' rows. Their activity profiles come apart from their users:
    on PostgreSQL as the text stored (a process that wrote that text knows the profile
    without decoding it: engine.profile_cache), elsewhere as the decoded document; None
    where there is none. The users' own ``activity_profile`` is left None."""

    accounts: dict[str, Account] = field(default_factory=dict)
    users: dict[int, MobileUser] = field(default_factory=dict)
    # Per customer, their alert settings rows in id order.
    settings: dict[int, list[AccountAlertSettingsRow]] = field(default_factory=dict)
    profiles: dict[int, str | dict[str, Any] | None] = field(default_factory=dict)
    # PostgreSQL: per customer, the version of their stored profile (profile_version); the
    # profile itself is None where it was one of the versions ``known`` to the caller.
    versions: dict[int, str] = field(default_factory=dict)
    # PostgreSQL: the id of this transaction, which the profiles it writes are stored with.
    transaction: str | None = None


# Given the account numbers and customers about to be locked, the versions of their
# profiles the caller already has (profile_version): those are not sent again.
Known = Callable[[Sequence[str], Sequence[int]], list[str]]


def profile_version(mobile_user_id: int, transaction: str, text: str) -> str:
    """A stored profile's version: the customer, the transaction that last wrote their row
    (PostgreSQL's ``xmin``, which no other transaction can give a row version) and the
    profile's length in bytes. A process that stored ``text`` in ``transaction`` and sees
    this version again knows the stored profile is still ``text`` without reading it."""
    return f"{mobile_user_id}/{transaction}/{len(text.encode())}"


def none_stored(version: str) -> bool:
    """Whether a version the lock read is that of a customer with no profile stored."""
    return version.endswith("/-1")


@asynccontextmanager
async def event_unit(db: Database) -> AsyncIterator[EventUnit]:
    """Commits what the unit wrote (its buffered rows last) on success; rolls back on any
    exception, and raises Conflict for a violated unique key."""
    try:
        async with db.event_transaction() as (session, direct):
            alerts = NewAlerts(direct) if direct is not None else None
            unit = EventUnit(session, direct, RowBuffer(direct), alerts)
            yield unit
            await unit.buffer.flush(session)
    except INTEGRITY_ERRORS as exc:
        raise Conflict(str(exc)) from exc


# The customer locks, built once. NO KEY UPDATE serialises a customer's events but, unlike
# FOR UPDATE, does not wait for transactions that merely reference the customer (the
# reminder job inserting thousands of alerts). Only the customer row is locked, not the
# outer-joined settings rows. Each row holds an account's columns (by account), the
# customer's and one settings row's (NULL when there is none), in table order.
_ACCOUNTS = Entities(Account)
_USERS = Entities(MobileUser)
_SETTINGS = Entities(AccountAlertSettingsRow)
USERS = table_of(MobileUser)
SETTINGS = table_of(AccountAlertSettingsRow)
PROFILE = USERS.c.activity_profile
# Where the profile is among a user's columns.
_PROFILE_AT = list(USERS.c).index(PROFILE)


# profile_version, as the lock reads it (the length without decompressing the profile).
_VERSION = sa.func.concat_ws(
    sa.literal_column("'/'"),
    USERS.c.id,
    sa.literal_column(f"{USERS.name}.xmin"),
    sa.func.coalesce(
        sa.func.octet_length(sa.type_coerce(PROFILE, sa.Text())), sa.literal_column("-1")
    ),
)


def _unless_known(version: Any, profile: Any) -> Any:
    known = sa.bindparam("known", type_=postgresql.ARRAY(sa.Text()))
    return sa.case((version == sa.any_(known), sa.null()), else_=profile)


_PROFILE_UNLESS_KNOWN = _unless_known(_VERSION, sa.type_coerce(PROFILE, sa.Text())).label(
    PROFILE.name
)
# The 32-bit transaction id a row version this transaction writes has as its xmin.
_TRANSACTION = sa.literal_column("pg_current_xact_id()::xid::text", sa.Text())


def _among_keys(column: sa.Column[Any], *, as_array: bool) -> sa.ColumnElement[bool]:
    """``column`` among the parameter ``keys``: one array (PostgreSQL, one statement for
    any number of keys), or an expanding IN list."""
    if as_array:
        return column == sa.any_(sa.bindparam("keys", type_=postgresql.ARRAY(column.type)))
    return column.in_(sa.bindparam("keys", expanding=True))


def _lock_statement(by_account: bool, *, as_array: bool) -> sa.Select[Any]:
    """``as_array``: the keys as one array parameter and the activity profile as its text
    (PostgreSQL, one statement for any number of keys); otherwise an expanding IN list."""
    keys = _among_keys(ACCOUNTS.c.account_number if by_account else USERS.c.id, as_array=as_array)
    with_settings = USERS.outerjoin(SETTINGS, SETTINGS.c.mobile_user_id == USERS.c.id)
    source = (
        ACCOUNTS.join(with_settings, USERS.c.id == ACCOUNTS.c.mobile_user_id)
        if by_account
        else with_settings
    )
    users = [
        _PROFILE_UNLESS_KNOWN if column is PROFILE and as_array else column for column in USERS.c
    ]
    columns = [*(ACCOUNTS.c if by_account else []), *users, *SETTINGS.c]
    if as_array:
        columns += [_VERSION.label("profile_version"), _TRANSACTION.label("transaction")]
    return (
        sa.select(*columns)
        .select_from(source)
        .where(keys)
        .order_by(USERS.c.id, SETTINGS.c.id)
        .with_for_update(of=USERS, key_share=True)
    )


_PROFILE_TEXT = sa.select(sa.type_coerce(PROFILE, sa.Text())).where(
    USERS.c.id == sa.bindparam("user_id", type_=USERS.c.id.type)
)


async def stored_profile(unit: EventUnit, mobile_user_id: int) -> str | None:
    """A locked customer's profile as stored (PostgreSQL), for one the lock left out."""
    assert unit.direct is not None
    rows = await unit.direct.rows(_PROFILE_TEXT, {"user_id": mobile_user_id})
    return rows[0][0] if rows else None


_PARTS = table_of(ProfileTransactions)


def _parts_statement(*, as_array: bool) -> sa.Select[Any]:
    customer = _PARTS.c.mobile_user_id
    return (
        sa.select(customer, _PARTS.c.times, _PARTS.c.amounts)
        .where(_among_keys(customer, as_array=as_array))
        .order_by(customer, _PARTS.c.id)
    )


_PARTS_OF = {as_array: _parts_statement(as_array=as_array) for as_array in (True, False)}


async def stored_transactions(
    unit: EventUnit, mobile_user_ids: Collection[int]
) -> dict[int, list[Part]]:
    """The stored parts of locked customers' recent transactions (their activity
    profiles'), each customer's in the order they were written (none: an empty list)."""
    parts: dict[int, list[Part]] = {user: [] for user in mobile_user_ids}
    if not parts:
        return parts
    statement = _PARTS_OF[unit.direct is not None]
    rows = await rows_of(unit.session, unit.direct, statement, {"keys": sorted(mobile_user_ids)})
    for mobile_user_id, times, amounts in rows:
        parts[mobile_user_id].append((orjson.loads(times), orjson.loads(amounts)))
    return parts


_LOCKS = {
    (by_account, as_array): _lock_statement(by_account, as_array=as_array)
    for by_account in (True, False)
    for as_array in (True, False)
}


async def lock_customers(
    session: AsyncSession,
    direct: Direct | None,
    events: Sequence[Event],
    known: Known | None = None,
) -> Locked:
    """Load and lock the events' customers (and accounts) in id order: concurrent batches
    cannot deadlock, and no other event of theirs is judged until this one commits. Their
    alert settings rows and activity profiles come in the same statement, on PostgreSQL
    without the profiles whose versions are ``known`` (a profile of tens of kilobytes
    costs more to read and send than the rest of the customer's rows)."""
    account_numbers = sorted(
        {e.account_number for e in events if isinstance(e, (TransactionEvent, BalanceSync))}
    )
    login_users = sorted({e.mobile_user_id for e in events if isinstance(e, LoginEvent)})
    locked = Locked()
    accounts, users, profiles = locked.accounts, locked.users, locked.profiles
    # Per customer, their settings rows by id (a customer comes once per account).
    settings: dict[int, dict[int, AccountAlertSettingsRow]] = {}

    versions = locked.versions
    parameters: dict[str, Any] = {}
    if direct is not None:
        parameters["known"] = known(account_numbers, login_users) if known is not None else []

    async def lock(by_account: bool, keys: Sequence[Any]) -> Sequence[Sequence[Any]]:
        statement = _LOCKS[(by_account, direct is not None)]
        return await rows_of(session, direct, statement, {**parameters, "keys": list(keys)})

    def keep(row: Sequence[Any]) -> None:
        user_id = row[0]
        if user_id not in users:
            user = list(row[: _USERS.width])
            profiles[user_id], user[_PROFILE_AT] = user[_PROFILE_AT], None
            users[user_id] = _USERS.make(user)
            if direct is not None:
                versions[user_id], locked.transaction = row[-2], row[-1]
        mine = settings.setdefault(user_id, {})
        values = row[_USERS.width : _USERS.width + _SETTINGS.width]
        settings_id = values[0]
        if settings_id is not None and settings_id not in mine:
            mine[settings_id] = _SETTINGS.make(values)

    if account_numbers:
        for row in await lock(True, account_numbers):
            number = row[0]
            if number not in accounts:
                accounts[number] = _ACCOUNTS.make(row[: _ACCOUNTS.width])
            keep(row[_ACCOUNTS.width :])
    if login_users:
        for row in await lock(False, login_users):
            keep(row)
    # In settings id order, as the statements order them.
    locked.settings = {
        user_id: list(by_id.values()) for user_id, by_id in settings.items() if by_id
    }
    return locked
