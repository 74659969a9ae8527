"""LARGE_TRANSACTION: a single transaction above the threshold, debits only by default."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from account_alerts.domain.alert_settings import (
    AlertPreferences,
    ThresholdDefaults,
    default_preferences,
)
from account_alerts.domain.decisions import Verdict
from account_alerts.domain.enums import AlertType, NotificationChannel, TransactionType
from account_alerts.domain.events import TransactionEvent
from account_alerts.domain.rules.large_transaction import large_transaction

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DEBIT, CREDIT = TransactionType.DEBIT, TransactionType.CREDIT


@pytest.fixture
def prefs() -> AlertPreferences:
    return default_preferences(ThresholdDefaults(Decimal(5000), Decimal(50000)))


def transaction(
    amount: str, kind: TransactionType = DEBIT, **overrides: object
) -> TransactionEvent:
    event = TransactionEvent(
        event_id="evt-1",
        account_number="1000123456",
        transaction_id="TX-1",
        transaction_type=kind,
        amount=Decimal(amount),
        currency="MWK",
        occurred_at=AT,
        transaction_reference="REF-9",
        transaction_description="Rent",
    )
    return replace(event, **overrides)  # type: ignore[arg-type]


def test_large_transaction_fires_above_the_threshold(prefs: AlertPreferences) -> None:
    verdict = large_transaction(transaction("50000.0001"), prefs)
    assert len(verdict.alerts) == 1
    assert verdict.alerts[0].alert_type is AlertType.LARGE_TRANSACTION
    assert verdict.suppressed == []
    assert verdict.skipped == []


@pytest.mark.parametrize("amount", ["50000", "50000.0000", "49999.9999", "1"])
def test_large_transaction_does_not_fire_at_or_below_the_threshold(
    prefs: AlertPreferences, amount: str
) -> None:
    assert large_transaction(transaction(amount), prefs) == Verdict()


def test_large_transaction_ignores_credits_when_debit_only(prefs: AlertPreferences) -> None:
    assert prefs.large_transaction_debit_only
    assert large_transaction(transaction("90000", CREDIT), prefs) == Verdict()


def test_large_transaction_fires_for_credits_when_not_debit_only(
    prefs: AlertPreferences,
) -> None:
    both = replace(prefs, large_transaction_debit_only=False)
    verdict = large_transaction(transaction("90000", CREDIT), both)
    assert len(verdict.alerts) == 1
    assert verdict.alerts[0].data["transactionType"] == "CREDIT"


def test_large_transaction_still_fires_for_debits_when_not_debit_only(
    prefs: AlertPreferences,
) -> None:
    both = replace(prefs, large_transaction_debit_only=False)
    assert len(large_transaction(transaction("90000", DEBIT), both).alerts) == 1


def test_large_transaction_credit_at_the_threshold_does_not_fire(
    prefs: AlertPreferences,
) -> None:
    both = replace(prefs, large_transaction_debit_only=False)
    assert large_transaction(transaction("50000", CREDIT), both) == Verdict()


def test_large_transaction_disabled_is_suppressed_not_alerted(prefs: AlertPreferences) -> None:
    verdict = large_transaction(
        transaction("90000"), replace(prefs, large_transaction_enabled=False)
    )
    assert verdict.alerts == []
    assert len(verdict.suppressed) == 1
    assert verdict.suppressed[0].alert_type is AlertType.LARGE_TRANSACTION
    assert verdict.suppressed[0].reason == "disabled by the customer"


def test_large_transaction_disabled_below_threshold_records_nothing(
    prefs: AlertPreferences,
) -> None:
    off = replace(prefs, large_transaction_enabled=False)
    assert large_transaction(transaction("10"), off) == Verdict()


def test_large_transaction_disabled_credit_when_debit_only_records_nothing(
    prefs: AlertPreferences,
) -> None:
    off = replace(prefs, large_transaction_enabled=False)
    assert large_transaction(transaction("90000", CREDIT), off) == Verdict()


def test_large_transaction_alert_carries_the_transaction_details(
    prefs: AlertPreferences,
) -> None:
    alert = large_transaction(transaction("75000.5"), prefs).alerts[0]
    assert alert.data == {
        "threshold": "50000.0000",
        "transactionAmount": "75000.5000",
        "transactionType": "DEBIT",
        "transactionId": "TX-1",
        "transactionReference": "REF-9",
        "transactionDescription": "Rent",
        "currency": "MWK",
    }
    assert alert.account_number == "1000123456"
    assert alert.triggered_at == AT
    assert alert.is_security


def test_large_transaction_alert_keeps_missing_reference_and_description_as_none(
    prefs: AlertPreferences,
) -> None:
    event = transaction("75000", transaction_reference=None, transaction_description=None)
    data = large_transaction(event, prefs).alerts[0].data
    assert data["transactionReference"] is None
    assert data["transactionDescription"] is None


def test_large_transaction_alert_goes_to_the_large_transaction_channels(
    prefs: AlertPreferences,
) -> None:
    alert = large_transaction(transaction("75000"), prefs).alerts[0]
    assert alert.channels == prefs.large_transaction_channels
    custom = replace(prefs, large_transaction_channels=(NotificationChannel.EMAIL,))
    assert large_transaction(transaction("75000"), custom).alerts[0].channels == (
        NotificationChannel.EMAIL,
    )


def test_large_transaction_uses_a_custom_threshold(prefs: AlertPreferences) -> None:
    custom = replace(prefs, large_transaction_threshold=Decimal("1000.0000"))
    assert large_transaction(transaction("1000"), custom) == Verdict()
    alert = large_transaction(transaction("1000.01"), custom).alerts[0]
    assert alert.data["threshold"] == "1000.0000"
