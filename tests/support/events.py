"""Service-side GraphQL documents and event builders for tests."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

RESULT_FIELDS = """
  eventId accepted duplicate userLocked
  error { code message field }
  alerts {
    id alertType accountNumber title message status triggeredAt
    deliveries { channel status lastError }
    details {
      __typename
      ... on LowBalanceDetails { threshold currentBalance currency }
      ... on LargeTransactionDetails { transactionAmount transactionType transactionId }
      ... on SuspiciousActivityDetails {
        suspicionReason suspicionDetails riskScore relatedTransactionIds deviceId
      }
      ... on AccountLoginDetails { deviceId isNewDevice isNewLocation loginMethod }
    }
  }
"""
RECORD_TRANSACTION = f"""mutation($input: TransactionEventInput!) {{
  recordTransaction(input: $input) {{ {RESULT_FIELDS} }} }}"""
RECORD_TRANSACTIONS = f"""mutation($inputs: [TransactionEventInput!]!) {{
  recordTransactions(inputs: $inputs) {{ {RESULT_FIELDS} }} }}"""
SYNC_BALANCE = f"""mutation($input: BalanceSyncInput!) {{
  syncBalance(input: $input) {{ {RESULT_FIELDS} }} }}"""
SYNC_BALANCES = f"""mutation($inputs: [BalanceSyncInput!]!) {{
  syncBalances(inputs: $inputs) {{ {RESULT_FIELDS} }} }}"""
RECORD_LOGIN = f"""mutation($input: LoginEventInput!) {{
  recordLogin(input: $input) {{ {RESULT_FIELDS} }} }}"""
RECORD_LOGINS = f"""mutation($inputs: [LoginEventInput!]!) {{
  recordLogins(inputs: $inputs) {{ {RESULT_FIELDS} }} }}"""

BLANTYRE = {"latitude": -15.7861, "longitude": 35.0058, "label": "Blantyre"}
ZOMBA = {"latitude": -15.3850, "longitude": 35.3188, "label": "Zomba"}  # about 55 km away
LILONGWE = {"latitude": -13.9626, "longitude": 33.7741, "label": "Lilongwe"}  # about 240 km

_ids = itertools.count(1)


def transaction(
    account: str,
    amount: str,
    at: datetime,
    *,
    kind: str = "DEBIT",
    balance_after: str | None = None,
    device: str | None = None,
    location: dict[str, Any] | None = None,
    currency: str = "MWK",
    event_id: str | None = None,
) -> dict[str, Any]:
    n = next(_ids)
    return {
        "eventId": event_id or f"tx-event-{n}",
        "accountNumber": account,
        "transactionId": f"TX{n}",
        "transactionReference": f"FT{n}",
        "transactionDescription": "Payment",
        "transactionType": kind,
        "amount": amount,
        "currency": currency,
        "balanceAfter": balance_after,
        "deviceId": device,
        "ipAddress": "102.70.1.1",
        "location": location,
        "occurredAt": at.isoformat(),
    }


def balance(
    account: str, amount: str, at: datetime, *, event_id: str | None = None
) -> dict[str, Any]:
    return {
        "eventId": event_id or f"bal-event-{next(_ids)}",
        "accountNumber": account,
        "balance": amount,
        "currency": "MWK",
        "asOf": at.isoformat(),
    }


def login(
    user: int,
    at: datetime,
    *,
    successful: bool = True,
    device: str | None = "phone-1",
    location: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "eventId": event_id or f"login-event-{next(_ids)}",
        "mobileUserId": user,
        "successful": successful,
        "deviceId": device,
        "deviceName": "Pixel 8",
        "deviceModel": "Google Pixel 8",
        "deviceOs": "Android 15",
        "ipAddress": "102.70.1.1",
        "location": location,
        "loginMethod": "PASSWORD",
        "occurredAt": at.isoformat(),
    }
