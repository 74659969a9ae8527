"""Core banking stamps events to the second: events of one customer with the same
``occurredAt`` are ordered by arrival, so one already stored counts as "before"."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from account_alerts.store.database import Database
from tests.conftest import Api
from tests.support.events import (
    BLANTYRE,
    LILONGWE,
    RECORD_LOGIN,
    RECORD_LOGINS,
    RECORD_TRANSACTION,
    login,
    transaction,
)
from tests.support.factories import make_account

ACCOUNT = "1000000001"


def second() -> datetime:
    """Yesterday morning, stamped to the second as core banking does."""
    at = datetime.now(UTC).replace(hour=7, minute=30, second=5, microsecond=0)
    return at - timedelta(days=1)


async def call(api: Api, document: str, variables: dict[str, Any]) -> Any:
    body = await api.as_service(document, variables)
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


def alert_types(result: dict[str, Any]) -> list[str]:
    return sorted(alert["alertType"] for alert in result["alerts"])


def reasons(result: dict[str, Any]) -> list[str]:
    return [
        alert["details"]["suspicionReason"]
        for alert in result["alerts"]
        if alert["alertType"] == "SUSPICIOUS_ACTIVITY"
    ]


async def test_second_sign_in_from_the_same_device_in_the_same_second_is_not_new(
    api: Api, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    at = second()
    first = await call(api, RECORD_LOGIN, {"input": login(7, at, device="phone-7")})
    assert alert_types(first) == ["ACCOUNT_LOGIN"]
    assert first["alerts"][0]["details"]["isNewDevice"] is True
    again = await call(api, RECORD_LOGIN, {"input": login(7, at, device="phone-7")})
    assert alert_types(again) == []


async def test_same_second_sign_ins_in_one_batch_are_judged_in_arrival_order(
    api: Api, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    at = second()
    results = await call(
        api,
        RECORD_LOGINS,
        {"inputs": [login(7, at, device="phone-7"), login(7, at, device="phone-7")]},
    )
    assert [alert_types(result) for result in results] == [["ACCOUNT_LOGIN"], []]


async def test_sign_in_then_payment_in_the_same_second_share_their_place(
    api: Api, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    at = second()
    sign_in = login(7, at, device="phone-7", location=BLANTYRE)
    assert alert_types(await call(api, RECORD_LOGIN, {"input": sign_in})) == ["ACCOUNT_LOGIN"]
    # About 240 km from the sign-in that arrived first, in the same second.
    payment = transaction(ACCOUNT, "1500", at, device="phone-7", location=LILONGWE)
    result = await call(api, RECORD_TRANSACTION, {"input": payment})
    assert reasons(result) == ["UNUSUAL_LOCATION"]
    # The device of that sign-in is known to the payment: no new-device pattern.
    details = result["alerts"][0]["details"]["suspicionDetails"]
    assert [pattern["reason"] for pattern in details["patterns"]] == ["UNUSUAL_LOCATION"]


async def test_payment_from_the_sign_in_device_in_the_same_second_is_not_a_new_device(
    api: Api, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    at = second()
    await call(api, RECORD_LOGIN, {"input": login(7, at - timedelta(days=3), device="phone-7")})
    await call(api, RECORD_LOGIN, {"input": login(7, at, device="tablet-7", location=BLANTYRE)})
    payment = transaction(ACCOUNT, "1500", at, device="tablet-7", location=BLANTYRE)
    assert alert_types(await call(api, RECORD_TRANSACTION, {"input": payment})) == []


async def test_simultaneous_same_second_sign_ins_alert_once(api: Api, db: Database) -> None:
    """Sent at once (a group commit puts them in one transaction): the first to arrive is
    the new device, the other is not."""
    await make_account(db, user_id=7, account_number=ACCOUNT)
    at = second()
    results = await asyncio.gather(
        *(call(api, RECORD_LOGIN, {"input": login(7, at, device="phone-7")}) for _ in range(4))
    )
    assert sorted(len(result["alerts"]) for result in results) == [0, 0, 0, 1]
