"""Who may call the API, as the mobile app and the bank's services see it."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from account_alerts.api.auth import issue_token
from account_alerts.config import Settings
from account_alerts.domain.enums import Role
from account_alerts.store.audit import AuditEntry
from account_alerts.store.customers import Account, MobileUser
from account_alerts.store.database import Database
from tests.conftest import TEST_SECRET, Api, error_code
from tests.support.factories import make_account

BADGE = "{ unacknowledgedAlertCount }"
UPSERT = """
mutation($input: AccountInput!) {
  upsertAccount(input: $input) { accepted duplicate }
}"""
ACCOUNT = {"accountNumber": "1000000001", "mobileUserId": 7, "currency": "MWK"}
UPSERT_LITERAL = """
mutation {
  upsertAccount(input: {accountNumber: "1000000001", mobileUserId: 7, currency: "MWK"}) {
    accepted
  }
}"""


def segment(document: dict[str, Any]) -> str:
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned_token(subject: str = "7") -> str:
    header = segment({"alg": "none", "typ": "JWT"})
    return f"{header}.{segment({'sub': subject, 'exp': 4102444800})}."


def first_error(body: dict[str, Any]) -> dict[str, Any]:
    errors = body.get("errors") or []
    assert errors, f"expected an error, got {body}"
    return errors[0]  # type: ignore[no-any-return]


def assert_refused(body: dict[str, Any], code: str) -> str:
    assert error_code(body) == code, body
    assert body["data"] is None
    message = first_error(body)["message"]
    assert isinstance(message, str) and len(message) > 10
    return message


async def post_with_header(api: Api, query: str, authorization: str) -> dict[str, Any]:
    response = await api.client.post(
        "/graphql", json={"query": query}, headers={"Authorization": authorization}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def accounts(db: Database) -> list[Account]:
    async with db.session() as session:
        return list((await session.exec(select(Account))).all())


async def mobile_users(db: Database) -> list[MobileUser]:
    async with db.session() as session:
        return list((await session.exec(select(MobileUser))).all())


async def audit_entries(db: Database) -> list[AuditEntry]:
    async with db.session() as session:
        return list((await session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))).all())


async def upsert(api: Api, **change: Any) -> dict[str, Any]:
    return await api.as_service(UPSERT, {"input": ACCOUNT | change})


# Signing in


async def test_a_customer_signed_in_sees_their_badge_count(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    body = await api.as_customer(7, BADGE)
    assert body == {"data": {"unacknowledgedAlertCount": 0}}


async def test_no_token_asks_the_customer_to_sign_in(api: Api) -> None:
    message = assert_refused(await api.post(BADGE), "UNAUTHENTICATED")
    assert "sign in" in message


@pytest.mark.parametrize(
    "authorization", ["Token abc.def.ghi", "Basic dXNlcjpwYXNz", "Bearer", "abc.def.ghi"]
)
async def test_a_malformed_authorization_header_is_unauthenticated(
    api: Api, authorization: str
) -> None:
    message = assert_refused(await post_with_header(api, BADGE, authorization), "UNAUTHENTICATED")
    assert "Bearer <token>" in message


async def test_an_expired_token_asks_the_customer_to_sign_in_again(api: Api) -> None:
    token = api.token(7, signed_ago=timedelta(hours=2), lifetime=timedelta(hours=1))
    message = assert_refused(await api.post(BADGE, token=token), "UNAUTHENTICATED")
    assert "expired" in message


async def test_a_token_with_a_bad_signature_is_unauthenticated(api: Api) -> None:
    forger = Settings(jwt_secret=SecretStr("a-different-secret-that-is-long-enough-0123456789"))
    token = issue_token(forger, subject="7")
    message = assert_refused(await api.post(BADGE, token=token), "UNAUTHENTICATED")
    assert "signature" in message


async def test_an_unsigned_alg_none_token_is_unauthenticated(api: Api) -> None:
    message = assert_refused(await api.post(BADGE, token=unsigned_token()), "UNAUTHENTICATED")
    assert "algorithm" in message


async def test_a_garbage_token_is_unauthenticated_without_being_echoed(api: Api) -> None:
    body = await api.post(BADGE, token="not-a-jwt-at-all")
    message = assert_refused(body, "UNAUTHENTICATED")
    assert "not-a-jwt-at-all" not in json.dumps(body)
    assert "not valid" in message


@pytest.mark.parametrize("subject", ["\u00b2", "9223372036854775808"])
async def test_a_signed_token_with_an_unusable_subject_is_unauthenticated(
    api: Api, subject: str
) -> None:
    assert_refused(await api.post(BADGE, token=api.token(subject)), "UNAUTHENTICATED")


async def test_a_signed_token_with_an_impossible_auth_time_is_unauthenticated(api: Api) -> None:
    claims = {"sub": "7", "exp": 4102444800, "auth_time": 10**20}
    token = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
    assert_refused(await api.post(BADGE, token=token), "UNAUTHENTICATED")


async def test_an_unauthenticated_mutation_writes_nothing(api: Api, db: Database) -> None:
    assert_refused(await api.post(UPSERT, {"input": ACCOUNT}), "UNAUTHENTICATED")
    assert await accounts(db) == []


# Roles


async def test_a_customer_cannot_register_accounts(api: Api, db: Database) -> None:
    body = await api.post(UPSERT_LITERAL, token=api.token(7))
    message = assert_refused(body, "FORBIDDEN")
    assert "service" in message
    assert await accounts(db) == []
    assert await mobile_users(db) == []


async def test_an_admin_cannot_register_accounts(api: Api, db: Database) -> None:
    assert_refused(await api.as_admin(UPSERT_LITERAL), "FORBIDDEN")
    assert await accounts(db) == []


async def test_a_service_cannot_read_a_customers_badge_count(api: Api) -> None:
    message = assert_refused(await api.as_service(BADGE), "FORBIDDEN")
    assert "customer" in message


async def test_a_customer_cannot_read_another_users_lock_status(api: Api, db: Database) -> None:
    await make_account(db, user_id=8, account_number="1000000008")
    body = await api.as_customer(7, "{ userStatus(mobileUserId: 8) { locked lockedReason } }")
    assert_refused(body, "FORBIDDEN")


async def test_a_service_reads_a_users_lock_status(api: Api, db: Database) -> None:
    await make_account(db, user_id=8, account_number="1000000008")
    body = await api.as_service("{ userStatus(mobileUserId: 8) { mobileUserId locked } }")
    assert body == {"data": {"userStatus": {"mobileUserId": 8, "locked": False}}}


async def test_an_admin_cannot_use_customer_queries(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    assert_refused(await api.as_admin(BADGE), "FORBIDDEN")
    body = await api.as_admin(
        'query { accountAlertSettings(accountNumber: "1000000001") { lowBalanceEnabled } }'
    )
    assert error_code(body) == "FORBIDDEN"
    assert body["data"] == {"accountAlertSettings": None}


# Registering accounts


async def test_a_service_registers_an_account(api: Api, db: Database) -> None:
    body = await api.as_service(UPSERT_LITERAL)
    assert body == {"data": {"upsertAccount": {"accepted": True}}}
    (account,) = await accounts(db)
    assert (account.account_number, account.mobile_user_id, account.currency) == (
        "1000000001",
        7,
        "MWK",
    )
    assert account.time_zone is None
    assert [user.id for user in await mobile_users(db)] == [7]


async def test_registering_an_account_is_audited(api: Api, db: Database) -> None:
    await upsert(api, timeZone="Africa/Blantyre")
    (entry,) = await audit_entries(db)
    assert (entry.action, entry.actor_role, entry.actor_id) == (
        "account.created",
        "service",
        "core-banking",
    )
    assert (entry.subject_type, entry.subject_id, entry.mobile_user_id) == (
        "account",
        "1000000001",
        7,
    )
    assert entry.before is None
    assert entry.after == {"currency": "MWK", "timeZone": "Africa/Blantyre"}


async def test_the_same_account_reported_twice_is_a_duplicate(api: Api, db: Database) -> None:
    first = await upsert(api)
    second = await upsert(api)
    assert first == {"data": {"upsertAccount": {"accepted": True, "duplicate": False}}}
    assert second == {"data": {"upsertAccount": {"accepted": True, "duplicate": True}}}
    assert len(await accounts(db)) == 1
    assert len(await audit_entries(db)) == 1


async def test_a_newly_registered_account_is_usable_by_its_owner(api: Api) -> None:
    await upsert(api, currency="USD")
    body = await api.as_customer(
        7, 'query { accountAlertSettings(accountNumber: "1000000001") { lowBalanceThreshold } }'
    )
    assert body == {"data": {"accountAlertSettings": {"lowBalanceThreshold": "3.0000"}}}


@pytest.mark.parametrize("currency", ["mwk", "XXX", "MW", "MWKK", ""])
async def test_an_unusable_currency_is_refused_and_nothing_is_written(
    api: Api, db: Database, currency: str
) -> None:
    body = await upsert(api, currency=currency)
    assert error_code(body) == "BAD_USER_INPUT"
    assert first_error(body)["extensions"]["field"] == "currency"
    assert body["data"] is None
    assert await accounts(db) == []
    assert await mobile_users(db) == []
    assert await audit_entries(db) == []


async def test_a_currency_without_thresholds_says_how_to_configure_them(api: Api) -> None:
    body = await upsert(api, currency="XXX")
    assert "ALERTS_DEFAULT_THRESHOLDS" in first_error(body)["message"]


@pytest.mark.parametrize("time_zone", ["Mars/Olympus", "", "UTC+2", "../../etc/passwd"])
async def test_an_unknown_time_zone_is_refused_and_nothing_is_written(
    api: Api, db: Database, time_zone: str
) -> None:
    body = await upsert(api, timeZone=time_zone)
    assert error_code(body) == "BAD_USER_INPUT"
    assert first_error(body)["extensions"]["field"] == "timeZone"
    assert await accounts(db) == []
    assert await audit_entries(db) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"accountNumber": "12-34"}, "accountNumber"),
        ({"accountNumber": "123"}, "accountNumber"),
        ({"mobileUserId": 0}, "mobileUserId"),
        ({"mobileUserId": -7}, "mobileUserId"),
    ],
)
async def test_an_invalid_account_or_owner_is_refused(
    api: Api, db: Database, change: dict[str, Any], field: str
) -> None:
    body = await upsert(api, **change)
    assert error_code(body) == "BAD_USER_INPUT"
    assert first_error(body)["extensions"]["field"] == field
    assert await accounts(db) == []


async def test_an_accounts_currency_cannot_change(api: Api, db: Database) -> None:
    await upsert(api)
    body = await upsert(api, currency="USD")
    assert error_code(body) == "BAD_USER_INPUT"
    assert first_error(body)["extensions"]["field"] == "currency"
    assert "MWK" in first_error(body)["message"]
    (account,) = await accounts(db)
    assert account.currency == "MWK"
    assert len(await audit_entries(db)) == 1


async def test_an_account_cannot_move_to_another_user(api: Api, db: Database) -> None:
    await upsert(api)
    body = await upsert(api, mobileUserId=8)
    assert error_code(body) == "BAD_USER_INPUT"
    assert first_error(body)["extensions"]["field"] == "mobileUserId"
    (account,) = await accounts(db)
    assert account.mobile_user_id == 7
    assert [user.id for user in await mobile_users(db)] == [7]
    assert len(await audit_entries(db)) == 1


async def test_an_accounts_time_zone_can_change_and_is_audited(api: Api, db: Database) -> None:
    await upsert(api)
    api.clock.advance(minutes=5)
    body = await upsert(api, timeZone="Africa/Johannesburg")
    assert body == {"data": {"upsertAccount": {"accepted": True, "duplicate": False}}}
    (account,) = await accounts(db)
    assert account.time_zone == "Africa/Johannesburg"
    created, updated = await audit_entries(db)
    assert created.action == "account.created"
    assert (updated.action, updated.actor_role, updated.actor_id) == (
        "account.updated",
        "service",
        "core-banking",
    )
    assert updated.subject_id == "1000000001"
    assert updated.before == {"timeZone": None}
    assert updated.after == {"currency": "MWK", "timeZone": "Africa/Johannesburg"}


async def test_an_accounts_time_zone_can_be_cleared(api: Api, db: Database) -> None:
    await upsert(api, timeZone="Africa/Blantyre")
    body = await upsert(api)
    assert body["data"]["upsertAccount"]["duplicate"] is False
    (account,) = await accounts(db)
    assert account.time_zone is None
    assert (await audit_entries(db))[-1].before == {"timeZone": "Africa/Blantyre"}


async def test_an_account_registered_by_the_test_factory_is_updated_in_place(
    api: Api, db: Database
) -> None:
    await make_account(db, user_id=7, account_number="1000000001", time_zone="Africa/Blantyre")
    body = await upsert(api, timeZone="Africa/Blantyre")
    assert body["data"]["upsertAccount"]["duplicate"] is True
    assert await audit_entries(db) == []


async def test_surrounding_spaces_in_account_number_and_currency_are_ignored(
    api: Api, db: Database
) -> None:
    await upsert(api)
    body = await upsert(api, accountNumber=" 1000000001 ", currency=" MWK ")
    assert body["data"]["upsertAccount"]["duplicate"] is True
    assert [a.account_number for a in await accounts(db)] == ["1000000001"]


async def test_role_of_a_service_token_is_checked_on_every_call(api: Api) -> None:
    service = api.token("core-banking", Role.SERVICE)
    assert "errors" not in await api.post(UPSERT, {"input": ACCOUNT}, token=service)
    assert error_code(await api.post(BADGE, token=service)) == "FORBIDDEN"
