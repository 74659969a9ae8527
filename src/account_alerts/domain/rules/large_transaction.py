"""LARGE_TRANSACTION: a single transaction above the threshold (debits only by default)."""

from __future__ import annotations

from account_alerts.domain.alert_settings import AlertPreferences
from account_alerts.domain.decisions import RaiseAlert, Suppressed, Verdict
from account_alerts.domain.enums import AlertType, TransactionType
from account_alerts.domain.events import TransactionEvent
from account_alerts.domain.money import to_money


def is_large(event: TransactionEvent, prefs: AlertPreferences) -> bool:
    if prefs.large_transaction_debit_only and event.transaction_type is not TransactionType.DEBIT:
        return False
    return event.amount > prefs.large_transaction_threshold


def large_transaction(event: TransactionEvent, prefs: AlertPreferences) -> Verdict:
    verdict = Verdict()
    if not is_large(event, prefs):
        return verdict
    if not prefs.large_transaction_enabled:
        verdict.suppressed.append(
            Suppressed(AlertType.LARGE_TRANSACTION, "disabled by the customer")
        )
        return verdict
    verdict.alerts.append(
        RaiseAlert(
            alert_type=AlertType.LARGE_TRANSACTION,
            account_number=event.account_number,
            triggered_at=event.occurred_at,
            data={
                "threshold": str(prefs.large_transaction_threshold),
                "transactionAmount": str(to_money(event.amount)),
                "transactionType": event.transaction_type.value,
                "transactionId": event.transaction_id,
                "transactionReference": event.transaction_reference,
                "transactionDescription": event.transaction_description,
                "currency": event.currency,
            },
            channels=prefs.large_transaction_channels,
        )
    )
    return verdict
