"""Features replayed from events in arrival order: what each event saw when it arrived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from account_alerts.domain.enums import TransactionType
from account_alerts.domain.events import LoginEvent, TransactionEvent
from account_alerts.domain.feature_replay import FeatureReplay
from account_alerts.domain.fraud_features import FEATURES
from account_alerts.domain.geo import GeoPoint

ZONE = ZoneInfo("Africa/Blantyre")
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
BLANTYRE = GeoPoint(-15.7861, 35.0058)
LILONGWE = GeoPoint(-13.9626, 33.7741)


def debit(n: int, at: datetime, amount: str = "100", **kw: object) -> TransactionEvent:
    return TransactionEvent(
        event_id=f"e{n}",
        account_number="1001",
        transaction_id=f"t{n}",
        transaction_type=TransactionType.DEBIT,
        amount=Decimal(amount),
        currency="MWK",
        occurred_at=at,
        **kw,  # type: ignore[arg-type]
    )


def test_each_event_sees_only_what_arrived_before_it() -> None:
    replay = FeatureReplay(frozenset(FEATURES))
    first = replay.observe(7, debit(1, T0, device_id="d1", location=BLANTYRE), ZONE)
    assert first is not None
    assert first["deviceKnown"] is False
    assert first["distanceKm"] is None  # no usual place yet
    assert first["amountToTypical"] is None  # no earlier transaction
    assert (first["txCount1h"], first["txSum24h"]) == (1, 100.0)
    assert first["hourLocal"] == 10  # 08:00 UTC is 10:00 in Blantyre
    # The same second, arrived second: the device is known and Blantyre is usual.
    second = replay.observe(7, debit(2, T0, "300", device_id="d1", location=LILONGWE), ZONE)
    assert second is not None
    assert second["deviceKnown"] is True
    assert second["distanceKm"] is not None and 200 < float(second["distanceKm"]) < 260
    assert second["amountToTypical"] == 3.0
    assert (second["txCount1h"], second["txSum24h"]) == (2, 400.0)
    # An event of the hour before, arriving late, does not see what came after it.
    late = replay.observe(7, debit(3, T0 - timedelta(hours=1, seconds=1), device_id="d1"), ZONE)
    assert late is not None
    assert late["deviceKnown"] is False
    assert late["txCount1h"] == 1


def test_failed_sign_ins_and_customers_sharing_a_device_or_address() -> None:
    replay = FeatureReplay(frozenset({"failedLogins10m", "deviceCustomers24h", "ipCustomers1h"}))
    for customer in (1, 2, 3):
        login = LoginEvent(
            event_id=f"l{customer}",
            mobile_user_id=customer,
            successful=False,
            occurred_at=T0 + timedelta(minutes=customer),
            device_id="mule",
            ip_address="203.0.113.9",
        )
        features = replay.observe(customer, login, ZONE)
        assert features == {
            "failedLogins10m": 1,
            "deviceCustomers24h": customer,
            "ipCustomers1h": customer,
        }
    # A day and a minute on, the device's window has emptied; one customer fails again.
    again = LoginEvent(
        event_id="l9",
        mobile_user_id=3,
        successful=False,
        occurred_at=T0 + timedelta(days=1, minutes=4),
        device_id="mule",
        ip_address="198.51.100.1",
    )
    assert replay.observe(3, again, ZONE) == {
        "failedLogins10m": 1,
        "deviceCustomers24h": 1,
        "ipCustomers1h": 1,
    }
