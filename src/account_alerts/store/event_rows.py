"""The rows an event leaves behind, added to its unit of work's buffer: the transaction,
the sign-in attempt, the balance snapshot, the account's newest balance, the device and
the customer's activity profile."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import orjson
import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.activity_profile import ActivityProfile, Seen
from account_alerts.domain.events import BalanceSync, LoginEvent, TransactionEvent
from account_alerts.domain.geo import GeoPoint
from account_alerts.store.base import new_row, table_of
from account_alerts.store.customers import Account, Device, MobileUser, ProfileTransactions
from account_alerts.store.direct import rows_of
from account_alerts.store.events import BalanceSnapshot, LoginAttempt, TransactionRecord
from account_alerts.store.row_buffer import RowBuffer
from account_alerts.store.types import json_bytes

ACCOUNTS = table_of(Account)
DEVICES = table_of(Device)
USERS = table_of(MobileUser)
PROFILE_TRANSACTIONS = table_of(ProfileTransactions)
TRANSACTIONS = table_of(TransactionRecord)
SNAPSHOTS = table_of(BalanceSnapshot)
LOGINS = table_of(LoginAttempt)


def _place(location: GeoPoint | None) -> dict[str, object]:
    """The location columns of a stored transaction or sign-in."""
    return {
        "latitude": location.latitude if location else None,
        "longitude": location.longitude if location else None,
        "location_label": location.label if location else None,
    }


def transaction(
    buffer: RowBuffer,
    event: TransactionEvent,
    *,
    mobile_user_id: int,
    now: datetime,
    anomaly_scores: tuple[float | None, float | None] = (None, None),
) -> None:
    buffer.add(
        TRANSACTIONS,
        {
            "event_id": event.event_id,
            "account_number": event.account_number,
            "mobile_user_id": mobile_user_id,
            "transaction_id": event.transaction_id,
            "transaction_reference": event.transaction_reference,
            "transaction_description": event.transaction_description,
            "transaction_type": event.transaction_type,
            "amount": event.amount,
            "currency": event.currency,
            "balance_after": event.balance_after,
            "device_id": event.device_id,
            "ip_address": event.ip_address,
            **_place(event.location),
            "occurred_at": event.occurred_at,
            "created_at": now,
            "anomaly_score": anomaly_scores[0],
            "anomaly_shadow_score": anomaly_scores[1],
        },
    )


def sign_in(buffer: RowBuffer, event: LoginEvent, *, mobile_user_id: int, now: datetime) -> None:
    buffer.add(
        LOGINS,
        {
            "event_id": event.event_id,
            "mobile_user_id": mobile_user_id,
            "successful": event.successful,
            "device_id": event.device_id,
            "ip_address": event.ip_address,
            **_place(event.location),
            "login_method": event.login_method,
            "occurred_at": event.occurred_at,
            "created_at": now,
        },
    )


def balance_snapshot(
    buffer: RowBuffer, event: BalanceSync, *, account_number: str, now: datetime
) -> None:
    buffer.add(
        SNAPSHOTS,
        {
            "event_id": event.event_id,
            "account_number": account_number,
            "balance": event.balance,
            "currency": event.currency,
            "as_of": event.as_of,
            "created_at": now,
        },
    )


def newest_balance(
    buffer: RowBuffer, account: Account, balance: Decimal | None, at: datetime, now: datetime
) -> None:
    """Out-of-order feeds: only a newer figure replaces the account's balance."""
    if balance is None or (account.balance_as_of is not None and at < account.balance_as_of):
        return
    values = {"balance": balance, "balance_as_of": at, "updated_at": now}
    # Written with the batch's other plain rows; the loaded account shows the new figures
    # to the rest of the batch without the session tracking a change.
    for name, value in values.items():
        set_committed_value(account, name, value)
    buffer.update(ACCOUNTS, account.account_number, values)


async def device(
    buffer: RowBuffer,
    session: AsyncSession,
    *,
    mobile_user_id: int,
    device_id: str,
    seen: Seen,
    known: bool,
    now: datetime,
) -> None:
    """The device's row follows the profile's sighting of it, written with the other rows:
    an update when the profile ``known`` it already; otherwise (rarely) the row is looked
    up (registered for push before it was seen in an event: its names are kept where the
    event gives none) and updated, or added. The buffer holds no row of a device its
    customer's profile does not know, so the look-up does not write the buffer first."""
    key = (mobile_user_id, device_id)
    if not known:
        stored = await _stored_names(session, buffer, mobile_user_id, device_id)
        if stored is None:
            row = new_row(
                Device,
                mobile_user_id=mobile_user_id,
                device_id=device_id,
                created_at=now,
                **_device_values(seen, now),
            )
            buffer.add(DEVICES, row, key=key)
            return
        newest = (seen.name, seen.model, seen.os)
        seen.name, seen.model, seen.os = stored
        seen.named(*newest)
    buffer.update(DEVICES, key, _device_values(seen, now), by=("mobile_user_id", "device_id"))


_NAMES = sa.select(DEVICES.c.device_name, DEVICES.c.device_model, DEVICES.c.device_os).where(
    DEVICES.c.mobile_user_id == sa.bindparam("user_id", type_=DEVICES.c.mobile_user_id.type),
    DEVICES.c.device_id == sa.bindparam("device_id", type_=DEVICES.c.device_id.type),
)


async def _stored_names(
    session: AsyncSession, buffer: RowBuffer, mobile_user_id: int, device_id: str
) -> tuple[str | None, str | None, str | None] | None:
    """The stored device's name, model and system, if it has a row."""
    values = {"user_id": mobile_user_id, "device_id": device_id}
    rows = await rows_of(session, buffer.direct, _NAMES, values)
    if not rows:
        return None
    name, model, system = rows[0]
    return name, model, system


def _device_values(seen: Seen, now: datetime) -> dict[str, object]:
    return {
        "first_seen_at": seen.first,
        "last_seen_at": seen.last,
        "device_name": seen.name,
        "device_model": seen.model,
        "device_os": seen.os,
        "updated_at": now,
    }


def activity_profile(
    buffer: RowBuffer, mobile_user_id: int, profile: ActivityProfile
) -> str | None:
    """On the customer's row: the lock's re-read of a row it waited for sees the newest.
    The transactions that came since it was last written go in a part of their own
    (domain.activity_profile.RecentAmounts.to_store). On PostgreSQL, where the document is
    kept as text, the text stored (written here, so that it is known exactly:
    engine.profile_cache); elsewhere None."""
    transactions = profile.transactions
    write = transactions.to_store()
    if write is not None:
        if write.replace:
            buffer.delete(PROFILE_TRANSACTIONS, "mobile_user_id", mobile_user_id)
        if write.times:
            buffer.add(
                PROFILE_TRANSACTIONS,
                {
                    "mobile_user_id": mobile_user_id,
                    "times": orjson.dumps(write.times).decode(),
                    "amounts": orjson.dumps(write.amounts).decode(),
                },
            )
        transactions.stored(write)
    document = profile.to_json()
    if buffer.direct is None:
        buffer.update(USERS, mobile_user_id, {"activity_profile": document})
        return None
    # A profile given as text is stored as that text (store.row_buffer sends it in a text
    # array, _update_documents), so the stored text is exactly this one.
    text = json_bytes(document).decode()
    buffer.update(USERS, mobile_user_id, {"activity_profile": text})
    return text
