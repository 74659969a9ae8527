"""Rows written as plain values hold what constructing their model would have set."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import SQLModel

from account_alerts.domain.enums import (
    AlertType,
    DeliveryStatus,
    NotificationChannel,
    SuspicionReason,
)
from account_alerts.store.alerts import AccountAlert, AlertDelivery, SuspiciousActivity
from account_alerts.store.base import new_row

WHEN = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)

CASES: list[tuple[type[SQLModel], dict[str, Any]]] = [
    (
        AccountAlert,
        {
            "mobile_user_id": 7,
            "account_number": "1000000001",
            "alert_type": AlertType.LOW_BALANCE,
            "alert_data": {"balance": "3.00"},
            "title": "Low balance",
            "message": "Your balance is low",
            "event_id": "e-1",
            "triggered_at": WHEN,
            "created_at": WHEN,
            "updated_at": WHEN,
        },
    ),
    (
        AlertDelivery,
        {
            "alert_id": 5,
            "channel": NotificationChannel.SMS,
            "status": DeliveryStatus.SKIPPED,
            "last_error": "rate limit",
            "next_attempt_at": WHEN,
            "created_at": WHEN,
            "updated_at": WHEN,
        },
    ),
    (
        SuspiciousActivity,
        {
            "alert_id": 5,
            "mobile_user_id": 7,
            "suspicion_reason": SuspicionReason.UNUSUAL_LOCATION,
            "risk_score": 40,
            "detection_details": {"distanceKm": 240.1},
            "detected_at": WHEN,
            "created_at": WHEN,
        },
    ),
]


@pytest.mark.parametrize(("model", "values"), CASES, ids=[m.__name__ for m, _ in CASES])
def test_a_new_row_holds_what_its_model_would(
    model: type[SQLModel], values: dict[str, Any]
) -> None:
    built = model(**values)
    expected = {
        c.name: getattr(built, c.name)
        for c in model.__table__.columns  # type: ignore[attr-defined]
        if c.name != "id"
    }
    row = new_row(model, **values)
    assert row == expected
    assert [type(v) for v in row.values()] == [type(v) for v in expected.values()]


def test_each_new_row_has_documents_of_its_own() -> None:
    first, second = (new_row(AccountAlert, **CASES[0][1]) for _ in range(2))
    assert first["channels_sent"] == [] and first["channels_sent"] is not second["channels_sent"]


def test_a_new_row_without_a_required_column_is_refused() -> None:
    values = dict(CASES[1][1])
    del values["channel"]
    with pytest.raises(TypeError, match="AlertDelivery needs channel"):
        new_row(AlertDelivery, **values)
