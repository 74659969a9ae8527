"""What the customer reads: the title and text of each alert, account numbers masked."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from account_alerts.domain.enums import AlertType
from account_alerts.domain.masking import mask_account_number
from account_alerts.domain.money import format_money


def _money(data: dict[str, Any], key: str) -> str:
    return format_money(Decimal(str(data[key])), data["currency"])


def render(
    alert_type: AlertType, data: dict[str, Any], account_number: str | None
) -> tuple[str, str]:
    account = mask_account_number(account_number) if account_number else "your account"
    if alert_type is AlertType.LOW_BALANCE:
        return (
            "Low balance",
            f"Your account {account} balance is below {_money(data, 'threshold')}. "
            f"Current: {_money(data, 'currentBalance')}.",
        )
    if alert_type is AlertType.LARGE_TRANSACTION:
        direction = "debited from" if data["transactionType"] == "DEBIT" else "credited to"
        return (
            "Large transaction",
            f"{_money(data, 'transactionAmount')} was {direction} your account {account}"
            + (f" ({data['transactionDescription']})" if data.get("transactionDescription") else "")
            + ". Not you? Report it now.",
        )
    if alert_type is AlertType.SUSPICIOUS_ACTIVITY:
        reason = {
            "UNUSUAL_LOCATION": "activity from an unusual location",
            "MULTIPLE_FAILED_ATTEMPTS": "several failed sign-in attempts",
            "NEW_DEVICE_TRANSACTION": "a transaction from a new device",
            "RULE_MATCH": "activity our fraud checks stopped, and locked access",
        }[data["suspicionReason"]]
        return (
            "Suspicious activity",
            f"We noticed {reason} on {account}. Was this you?",
        )
    if alert_type is AlertType.PAYMENT_DUE:
        what = data.get("paymentDescription") or data["paymentType"].lower()
        return (
            "Payment due",
            f"{what} of {_money(data, 'amountDue')} is due on {str(data['dueDate'])[:10]} "
            f"from {account}.",
        )
    device = data.get("deviceName") or data.get("deviceModel") or "a device"
    return ("New sign-in", f"Your banking app was signed in on {device}. Not you? Lock access now.")
