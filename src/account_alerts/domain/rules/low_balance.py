"""LOW_BALANCE: the balance fell below the customer's threshold — at most once in 24 hours."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from account_alerts.domain.alert_settings import AlertPreferences
from account_alerts.domain.decisions import RaiseAlert, Suppressed, Verdict
from account_alerts.domain.enums import AlertType
from account_alerts.domain.money import to_money

ONCE_PER = timedelta(hours=24)


def is_low(balance: Decimal, prefs: AlertPreferences) -> bool:
    return balance < prefs.low_balance_threshold


def low_balance(
    *,
    account_number: str,
    balance: Decimal,
    currency: str,
    at: datetime,
    prefs: AlertPreferences,
    earlier_alerts: Iterable[datetime],
) -> Verdict:
    """``earlier_alerts``: when this account's LOW_BALANCE alerts were triggered (event
    time). Any within 24 hours either side holds this one back, even if the balance
    recovered in between, so a late event cannot make a second alert in a day."""
    verdict = Verdict()
    if not is_low(balance, prefs):
        return verdict
    if not prefs.low_balance_enabled:
        verdict.suppressed.append(Suppressed(AlertType.LOW_BALANCE, "disabled by the customer"))
        return verdict
    near = [when for when in earlier_alerts if abs(when - at) < ONCE_PER]
    if near:
        verdict.suppressed.append(
            Suppressed(
                AlertType.LOW_BALANCE,
                "already alerted within 24 hours",
                {"previousAlertAt": min(near, key=lambda when: abs(when - at)).isoformat()},
            )
        )
        return verdict
    verdict.alerts.append(
        RaiseAlert(
            alert_type=AlertType.LOW_BALANCE,
            account_number=account_number,
            triggered_at=at,
            data={
                "threshold": str(prefs.low_balance_threshold),
                "currentBalance": str(to_money(balance)),
                "currency": currency,
            },
            channels=prefs.low_balance_channels,
        )
    )
    return verdict
