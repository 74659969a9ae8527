"""Reading and changing alert settings through the customer API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select

from account_alerts.store.alerts import AccountAlertSettingsRow
from account_alerts.store.audit import AuditEntry
from account_alerts.store.database import Database
from tests.conftest import Api, error_code
from tests.support.factories import make_account

SETTINGS_FIELDS = """
  accountNumber lowBalanceEnabled lowBalanceThreshold lowBalanceChannels
  largeTransactionEnabled largeTransactionThreshold largeTransactionChannels
  largeTransactionDebitOnly alertUnusualLocation alertMultipleFailedAttempts
  alertNewDeviceTransaction suspiciousActivityChannels paymentDueEnabled
  paymentDueChannels paymentReminderInterval loginAlertMode loginAlertChannels
  quietHoursEnabled quietHoursStart quietHoursEnd updatedAt
"""
READ = f"query($a: String!) {{ accountAlertSettings(accountNumber: $a) {{ {SETTINGS_FIELDS} }} }}"
UPDATE = f"""
mutation($a: String!, $s: AccountAlertSettingsInput!) {{
  updateAccountAlertSettings(accountNumber: $a, settings: $s) {{ {SETTINGS_FIELDS} }}
}}"""


async def read(api: Api, user: int, account: str) -> dict[str, Any]:
    body = await api.as_customer(user, READ, {"a": account})
    assert "errors" not in body, body
    return body["data"]["accountAlertSettings"]  # type: ignore[no-any-return]


async def update(api: Api, user: int, account: str, change: dict[str, Any]) -> dict[str, Any]:
    return await api.as_customer(user, UPDATE, {"a": account, "s": change})


async def settings_rows(db: Database) -> list[AccountAlertSettingsRow]:
    async with db.session() as session:
        return list((await session.exec(select(AccountAlertSettingsRow))).all())


async def test_account_without_settings_reads_as_the_defaults(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    settings = await read(api, 7, "1000000001")
    assert settings == {
        "accountNumber": "1000000001",
        "lowBalanceEnabled": True,
        "lowBalanceThreshold": "5000.0000",
        "lowBalanceChannels": ["PUSH"],
        "largeTransactionEnabled": True,
        "largeTransactionThreshold": "50000.0000",
        "largeTransactionChannels": ["PUSH", "SMS"],
        "largeTransactionDebitOnly": True,
        "alertUnusualLocation": True,
        "alertMultipleFailedAttempts": True,
        "alertNewDeviceTransaction": True,
        "suspiciousActivityChannels": ["PUSH", "SMS", "EMAIL"],
        "paymentDueEnabled": True,
        "paymentDueChannels": ["PUSH", "SMS"],
        "paymentReminderInterval": "ONE_DAY",
        "loginAlertMode": "NEW_DEVICE",
        "loginAlertChannels": ["PUSH", "EMAIL"],
        "quietHoursEnabled": False,
        "quietHoursStart": None,
        "quietHoursEnd": None,
        "updatedAt": None,
    }
    assert await settings_rows(db) == []


async def test_defaults_follow_the_account_currency(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="2000000001", currency="USD")
    settings = await read(api, 7, "2000000001")
    assert (settings["lowBalanceThreshold"], settings["largeTransactionThreshold"]) == (
        "3.0000",
        "30.0000",
    )


async def test_partial_update_changes_only_the_given_fields(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    body = await update(
        api, 7, "1000000001", {"lowBalanceThreshold": "2500.50", "lowBalanceChannels": ["SMS"]}
    )
    assert "errors" not in body, body
    changed = body["data"]["updateAccountAlertSettings"]
    assert changed["lowBalanceThreshold"] == "2500.5000"
    assert changed["lowBalanceChannels"] == ["SMS"]
    assert changed["largeTransactionChannels"] == ["PUSH", "SMS"]
    assert changed["updatedAt"] is not None
    assert await read(api, 7, "1000000001") == changed


async def test_balance_settings_stay_with_their_account(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    await make_account(db, user_id=7, account_number="1000000002")
    await update(api, 7, "1000000001", {"lowBalanceEnabled": False})
    assert (await read(api, 7, "1000000002"))["lowBalanceEnabled"] is True


async def test_security_settings_apply_to_all_the_users_accounts(api: Api, db: Database) -> None:
    for number in ("1000000001", "1000000002", "1000000003"):
        await make_account(db, user_id=7, account_number=number)
    await make_account(db, user_id=8, account_number="1000000009")
    await update(api, 7, "1000000002", {"largeTransactionEnabled": False})
    body = await update(
        api,
        7,
        "1000000001",
        {
            "loginAlertMode": "EVERY_LOGIN",
            "alertUnusualLocation": False,
            "suspiciousActivityChannels": ["PUSH"],
        },
    )
    assert "errors" not in body, body
    for number in ("1000000001", "1000000002", "1000000003"):
        settings = await read(api, 7, number)
        assert settings["loginAlertMode"] == "EVERY_LOGIN"
        assert settings["alertUnusualLocation"] is False
        assert settings["suspiciousActivityChannels"] == ["PUSH"]
    assert (await read(api, 7, "1000000002"))["largeTransactionEnabled"] is False
    assert (await read(api, 8, "1000000009"))["loginAlertMode"] == "NEW_DEVICE"


async def test_quiet_hours_may_cross_midnight(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    body = await update(
        api,
        7,
        "1000000001",
        {"quietHoursEnabled": True, "quietHoursStart": "22:00:00", "quietHoursEnd": "06:30:00"},
    )
    assert "errors" not in body, body
    settings = body["data"]["updateAccountAlertSettings"]
    assert (settings["quietHoursStart"], settings["quietHoursEnd"]) == ("22:00:00", "06:30:00")


async def test_settings_change_is_audited_with_before_and_after(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    await update(api, 7, "1000000001", {"largeTransactionThreshold": "80000"})
    async with db.session() as session:
        entries = (await session.exec(select(AuditEntry))).all()
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.action, entry.actor_role, entry.actor_id) == ("settings.updated", "customer", "7")
    assert entry.subject_id == "1000000001"
    assert entry.before == {"large_transaction_threshold": "50000.0000"}
    assert entry.after == {"large_transaction_threshold": "80000.0000"}


async def test_change_without_recent_sign_in_needs_reauthentication(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    stale = api.token(7, signed_ago=timedelta(minutes=6))
    body = await api.post(
        UPDATE, {"a": "1000000001", "s": {"lowBalanceEnabled": False}}, token=stale
    )
    assert error_code(body) == "REAUTH_REQUIRED"
    assert "sign in again" in body["errors"][0]["message"]
    assert await settings_rows(db) == []
    fresh = api.token(7, signed_ago=timedelta(minutes=4))
    body = await api.post(
        UPDATE, {"a": "1000000001", "s": {"lowBalanceEnabled": False}}, token=fresh
    )
    assert "errors" not in body, body


INVALID_CHANGES = [
    ({"lowBalanceThreshold": "0"}, "lowBalanceThreshold", "greater than 0"),
    ({"lowBalanceThreshold": "-5"}, "lowBalanceThreshold", "greater than 0"),
    ({"largeTransactionThreshold": "100.12345"}, "largeTransactionThreshold", "4 decimal"),
    ({"largeTransactionThreshold": "1000000000001"}, "largeTransactionThreshold", "at most"),
    ({"lowBalanceChannels": []}, "lowBalanceChannels", "at least one channel"),
    ({"suspiciousActivityChannels": []}, "suspiciousActivityChannels", "at least one channel"),
    ({"loginAlertChannels": []}, "loginAlertChannels", "at least one channel"),
    (
        {"alertMultipleFailedAttempts": False},
        "alertMultipleFailedAttempts",
        "cannot be switched off",
    ),
    ({"quietHoursEnabled": True, "quietHoursStart": "22:00:00"}, "quietHoursStart", "both"),
    (
        {"quietHoursEnabled": True, "quietHoursStart": "22:00:00", "quietHoursEnd": "22:00:00"},
        "quietHoursEnd",
        "differ",
    ),
    ({"lowBalanceEnabled": None}, "lowBalanceEnabled", "cannot be null"),
    ({}, "settings", "at least one field"),
]


async def test_invalid_changes_are_refused_and_change_nothing(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    await update(api, 7, "1000000001", {"lowBalanceThreshold": "4000"})
    before = await read(api, 7, "1000000001")
    for change, field, phrase in INVALID_CHANGES:
        body = await update(api, 7, "1000000001", change)
        assert error_code(body) == "BAD_USER_INPUT", (change, body)
        error = body["errors"][0]
        assert error["extensions"]["field"] == field, (change, error)
        assert phrase in error["message"], (change, error)
        assert body["data"] is None
    assert await read(api, 7, "1000000001") == before
    async with db.session() as session:
        assert len((await session.exec(select(AuditEntry))).all()) == 1


async def test_malformed_amount_is_a_bad_user_input(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    body = await update(api, 7, "1000000001", {"lowBalanceThreshold": "a lot"})
    assert error_code(body) == "BAD_USER_INPUT"
    body = await update(api, 7, "1000000001", {"lowBalanceThreshold": 12.5})
    assert error_code(body) == "BAD_USER_INPUT"
    assert "decimal string" in body["errors"][0]["message"]


async def test_disabled_alert_may_have_no_channels(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    body = await update(
        api, 7, "1000000001", {"paymentDueEnabled": False, "paymentDueChannels": []}
    )
    assert "errors" not in body, body
    assert body["data"]["updateAccountAlertSettings"]["paymentDueChannels"] == []


async def test_another_customers_account_is_not_found(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    await make_account(db, user_id=8, account_number="1000000008")
    for account in ("1000000008", "9999999999"):
        body = await api.as_customer(7, READ, {"a": account})
        assert error_code(body) == "NOT_FOUND"
        body = await update(api, 7, account, {"lowBalanceEnabled": False})
        assert error_code(body) == "NOT_FOUND"
    # The messages for a foreign and a missing account are alike: existence is not revealed.
    assert await settings_rows(db) == []
