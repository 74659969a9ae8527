"""What the bank's services report is checked before anything is stored."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from account_alerts.domain.enums import LoginMethod, TransactionType
from account_alerts.domain.events import (
    FINGERPRINT_PREFIX,
    MAX_CLOCK_SKEW,
    BalanceSync,
    Event,
    EventError,
    LoginEvent,
    TransactionEvent,
    check_balance_sync,
    check_login,
    check_transaction,
    fingerprint,
    fingerprint_v1,
    same_event,
)
from account_alerts.domain.geo import GeoPoint

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def transaction(**overrides: object) -> TransactionEvent:
    event = TransactionEvent(
        event_id="evt-2025.06.01:0001",
        account_number="1000123456",
        transaction_id="TX-1",
        transaction_type=TransactionType.DEBIT,
        amount=Decimal("1500.25"),
        currency="MWK",
        occurred_at=NOW - timedelta(minutes=1),
        transaction_reference="REF-9",
        transaction_description="Groceries",
        balance_after=Decimal("8000.00"),
        device_id="device-1",
        ip_address="203.0.113.7",
        location=GeoPoint(-15.7861, 35.0058, "Blantyre"),
    )
    return replace(event, **overrides)  # type: ignore[arg-type]


def login(**overrides: object) -> LoginEvent:
    event = LoginEvent(
        event_id="login-1",
        mobile_user_id=42,
        successful=True,
        occurred_at=NOW - timedelta(minutes=1),
        device_id="device-1",
        device_name="Phone",
        device_model="Pixel 8",
        device_os="Android 15",
        ip_address="203.0.113.7",
        location=GeoPoint(-15.7861, 35.0058),
        login_method=LoginMethod.PASSWORD,
    )
    return replace(event, **overrides)  # type: ignore[arg-type]


def refused_transaction(event: TransactionEvent, account_currency: str = "MWK") -> EventError:
    with pytest.raises(EventError) as caught:
        check_transaction(event, account_currency=account_currency, now=NOW)
    return caught.value


def refused_login(event: LoginEvent) -> EventError:
    with pytest.raises(EventError) as caught:
        check_login(event, now=NOW)
    return caught.value


# Transactions


def test_transaction_valid_event_is_accepted() -> None:
    check_transaction(transaction(), account_currency="MWK", now=NOW)


def test_transaction_with_only_required_fields_is_accepted() -> None:
    bare = transaction(
        transaction_reference=None,
        transaction_description=None,
        balance_after=None,
        device_id=None,
        ip_address=None,
        location=None,
    )
    check_transaction(bare, account_currency="MWK", now=NOW)


@pytest.mark.parametrize("amount", ["0", "0.0000", "-0.01", "-100"])
def test_transaction_refuses_an_amount_that_is_not_positive(amount: str) -> None:
    error = refused_transaction(transaction(amount=Decimal(amount)))
    assert error.field == "amount"
    assert "greater than 0" in str(error)


def test_transaction_refuses_an_amount_with_five_decimal_places() -> None:
    error = refused_transaction(transaction(amount=Decimal("10.00001")))
    assert error.field == "amount"
    assert "decimal places" in str(error)


@pytest.mark.parametrize("amount", ["0.0001", "10.1234", "10.12340", "1E+3"])
def test_transaction_accepts_up_to_four_significant_decimal_places(amount: str) -> None:
    check_transaction(transaction(amount=Decimal(amount)), account_currency="MWK", now=NOW)


def test_transaction_refuses_an_amount_too_large_for_storage() -> None:
    error = refused_transaction(transaction(amount=Decimal("1000000000000000")))
    assert error.field == "amount"
    assert "too large" in str(error)


def test_transaction_refuses_a_balance_after_with_five_decimal_places() -> None:
    error = refused_transaction(transaction(balance_after=Decimal("1.00001")))
    assert error.field == "balanceAfter"


def test_transaction_accepts_a_negative_balance_after() -> None:
    event = transaction(balance_after=Decimal("-250.00"))
    check_transaction(event, account_currency="MWK", now=NOW)


@pytest.mark.parametrize("currency", ["mwk", "Mwk", "MW", "MWKK", "M1K", ""])
def test_transaction_refuses_a_currency_that_is_not_an_iso_code(currency: str) -> None:
    error = refused_transaction(transaction(currency=currency))
    assert error.field == "currency"
    assert "ISO 4217" in str(error)


def test_transaction_refuses_a_currency_other_than_the_accounts() -> None:
    error = refused_transaction(transaction(currency="USD"), account_currency="MWK")
    assert error.field == "currency"
    assert "does not match" in str(error)


def test_transaction_more_than_five_minutes_in_the_future_is_refused() -> None:
    ahead = NOW + MAX_CLOCK_SKEW + timedelta(microseconds=1)
    error = refused_transaction(transaction(occurred_at=ahead))
    assert error.field == "occurredAt"
    assert "future" in str(error)


def test_transaction_exactly_at_the_clock_skew_boundary_is_accepted() -> None:
    assert timedelta(minutes=5) == MAX_CLOCK_SKEW
    event = transaction(occurred_at=NOW + MAX_CLOCK_SKEW)
    check_transaction(event, account_currency="MWK", now=NOW)


def test_transaction_clock_skew_compares_instants_across_offsets() -> None:
    plus_two = timezone(timedelta(hours=2))
    inside = (NOW + timedelta(minutes=4)).astimezone(plus_two)
    check_transaction(transaction(occurred_at=inside), account_currency="MWK", now=NOW)
    outside = (NOW + timedelta(minutes=6)).astimezone(plus_two)
    assert refused_transaction(transaction(occurred_at=outside)).field == "occurredAt"


def test_transaction_from_long_ago_is_accepted() -> None:
    event = transaction(occurred_at=NOW - timedelta(days=400))
    check_transaction(event, account_currency="MWK", now=NOW)


def test_transaction_refuses_a_naive_datetime() -> None:
    error = refused_transaction(transaction(occurred_at=datetime(2025, 6, 1, 11, 0)))
    assert error.field == "occurredAt"
    assert "time zone" in str(error)


@pytest.mark.parametrize(
    "event_id",
    ["evt 1", " evt-1", "evt-1 ", "", "evt/1", "évt-1", "a" * 129],
)
def test_transaction_refuses_a_malformed_event_id(event_id: str) -> None:
    assert refused_transaction(transaction(event_id=event_id)).field == "eventId"


@pytest.mark.parametrize("event_id", ["a", "a" * 128, "core-bank:2025.06.01_0001"])
def test_transaction_accepts_an_event_id_of_1_to_128_allowed_characters(event_id: str) -> None:
    check_transaction(transaction(event_id=event_id), account_currency="MWK", now=NOW)


def test_transaction_refuses_a_description_over_255_characters() -> None:
    error = refused_transaction(transaction(transaction_description="x" * 256))
    assert error.field == "transactionDescription"
    assert "255" in str(error)


def test_transaction_accepts_a_description_of_255_characters() -> None:
    event = transaction(transaction_description="x" * 255)
    check_transaction(event, account_currency="MWK", now=NOW)


@pytest.mark.parametrize(
    ("name", "field", "limit"),
    [
        ("transaction_id", "transactionId", 64),
        ("transaction_reference", "transactionReference", 64),
        ("device_id", "deviceId", 255),
        ("ip_address", "ipAddress", 45),
    ],
)
def test_transaction_refuses_text_over_its_limit(name: str, field: str, limit: int) -> None:
    check_transaction(transaction(**{name: "x" * limit}), account_currency="MWK", now=NOW)
    assert refused_transaction(transaction(**{name: "x" * (limit + 1)})).field == field


def test_transaction_refuses_an_empty_transaction_id() -> None:
    assert refused_transaction(transaction(transaction_id="")).field == "transactionId"


# Balance syncs


def test_balance_sync_accepts_a_negative_balance_and_refuses_a_naive_time() -> None:
    sync = BalanceSync("sync-1", "1000123456", Decimal("-5.5"), "MWK", NOW)
    check_balance_sync(sync, account_currency="MWK", now=NOW)
    with pytest.raises(EventError) as caught:
        check_balance_sync(
            replace(sync, as_of=datetime(2025, 6, 1, 12, 0)), account_currency="MWK", now=NOW
        )
    assert caught.value.field == "asOf"


# Logins


def test_login_valid_event_is_accepted() -> None:
    check_login(login(), now=NOW)
    check_login(login(successful=False, device_id=None, location=None), now=NOW)


@pytest.mark.parametrize("user", [0, -1])
def test_login_refuses_a_user_id_that_is_not_positive(user: int) -> None:
    error = refused_login(login(mobile_user_id=user))
    assert error.field == "mobileUserId"


def test_login_refuses_a_naive_datetime() -> None:
    assert refused_login(login(occurred_at=datetime(2025, 6, 1, 11, 0))).field == "occurredAt"


def test_login_refuses_the_future_beyond_the_skew() -> None:
    check_login(login(occurred_at=NOW + MAX_CLOCK_SKEW), now=NOW)
    later = NOW + MAX_CLOCK_SKEW + timedelta(seconds=1)
    assert refused_login(login(occurred_at=later)).field == "occurredAt"


def test_login_refuses_a_malformed_event_id() -> None:
    assert refused_login(login(event_id="login 1")).field == "eventId"


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("device_id", "deviceId"),
        ("device_name", "deviceName"),
        ("device_model", "deviceModel"),
        ("device_os", "deviceOs"),
    ],
)
def test_login_refuses_device_text_over_255_characters(name: str, field: str) -> None:
    assert refused_login(login(**{name: "x" * 256})).field == field


# Fingerprints


def test_fingerprint_is_equal_for_identical_events() -> None:
    assert fingerprint(transaction()) == fingerprint(transaction())
    assert fingerprint(login()) == fingerprint(login())


def test_a_kept_fingerprint_is_the_events_own_and_changes_nothing_else() -> None:
    event, twin = transaction(), transaction()
    digest = fingerprint(event)
    assert fingerprint(event) is digest  # kept on the event, not worked out again
    assert digest == fingerprint(twin)
    assert event == twin and hash(event) == hash(twin) and repr(event) == repr(twin)
    assert dataclasses.asdict(event) == dataclasses.asdict(twin)
    changed = dataclasses.replace(event, amount=event.amount + 1)
    assert fingerprint(changed) != digest


def test_fingerprint_is_a_versioned_sha256_digest_that_fits_its_column() -> None:
    digest = fingerprint(transaction())
    assert digest.startswith(FINGERPRINT_PREFIX) and len(digest) <= 64
    raw = base64.urlsafe_b64decode(digest.removeprefix(FINGERPRINT_PREFIX) + "=")
    assert len(raw) == 32


@pytest.mark.parametrize("make", [transaction, login])
def test_a_stored_fingerprint_of_either_format_tells_a_retry_from_a_reuse(
    make: Callable[..., Event],
) -> None:
    event, other = make(), make(occurred_at=datetime(2026, 1, 1, tzinfo=UTC))
    for stored in (fingerprint(event), fingerprint_v1(event)):
        assert same_event(stored, event, fingerprint(event))
        assert not same_event(stored, other, fingerprint(other))
    assert len(fingerprint_v1(event)) == 64 and int(fingerprint_v1(event), 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        {"event_id": "evt-other"},
        {"account_number": "1000999999"},
        {"transaction_id": "TX-2"},
        {"transaction_type": TransactionType.CREDIT},
        {"amount": Decimal("1500.26")},
        {"currency": "USD"},
        {"occurred_at": NOW - timedelta(minutes=2)},
        {"transaction_reference": "REF-10"},
        {"transaction_reference": None},
        {"transaction_description": "Fuel"},
        {"balance_after": Decimal("8000.01")},
        {"balance_after": None},
        {"device_id": "device-2"},
        {"ip_address": "203.0.113.8"},
        {"location": GeoPoint(-15.7861, 35.0059, "Blantyre")},
        {"location": GeoPoint(-15.7861, 35.0058, "Limbe")},
        {"location": None},
    ],
    ids=lambda change: "-".join(f"{k}={v}" for k, v in change.items()),
)
def test_fingerprint_differs_when_any_transaction_field_differs(change: dict[str, object]) -> None:
    assert fingerprint(transaction(**change)) != fingerprint(transaction())


@pytest.mark.parametrize(
    "change",
    [
        {"event_id": "login-2"},
        {"mobile_user_id": 43},
        {"successful": False},
        {"occurred_at": NOW - timedelta(minutes=2)},
        {"device_id": "device-2"},
        {"device_name": "Tablet"},
        {"device_model": "Pixel 9"},
        {"device_os": "Android 16"},
        {"ip_address": "198.51.100.1"},
        {"location": None},
        {"login_method": LoginMethod.OTP},
        {"login_method": None},
    ],
    ids=lambda change: "-".join(f"{k}={v}" for k, v in change.items()),
)
def test_fingerprint_differs_when_any_login_field_differs(change: dict[str, object]) -> None:
    assert fingerprint(login(**change)) != fingerprint(login())


def test_fingerprint_treats_equal_amounts_at_different_scales_as_the_same() -> None:
    # Pinned: amounts are normalised before hashing, so a retry that sends "10.00" where
    # the first attempt sent "10" is the same event, not a conflicting reuse of the id.
    tens = [Decimal("10"), Decimal("10.00"), Decimal("10.0000"), Decimal("1E+1")]
    digests = {fingerprint(transaction(amount=amount)) for amount in tens}
    assert len(digests) == 1
    hundreds = {Decimal("100"), Decimal("100.0")}
    assert len({fingerprint(transaction(amount=amount)) for amount in hundreds}) == 1


def test_fingerprint_tells_10_from_100() -> None:
    assert fingerprint(transaction(amount=Decimal("10"))) != fingerprint(
        transaction(amount=Decimal("100"))
    )


def test_fingerprint_keeps_the_written_offset_of_occurred_at() -> None:
    # Pinned: the same instant written with another offset is a different payload.
    plus_two = (NOW - timedelta(minutes=1)).astimezone(timezone(timedelta(hours=2)))
    assert transaction(occurred_at=plus_two).occurred_at == transaction().occurred_at
    assert fingerprint(transaction(occurred_at=plus_two)) != fingerprint(transaction())


def test_fingerprint_tells_event_kinds_apart() -> None:
    sync = BalanceSync("evt-1", "1000123456", Decimal(10), "MWK", NOW)
    assert fingerprint(sync) != fingerprint(replace(sync, balance=Decimal(11)))
    assert fingerprint(sync) == fingerprint(replace(sync, balance=Decimal("10.00")))


def test_fingerprint_tells_none_from_the_text_none() -> None:
    assert fingerprint(transaction(transaction_reference=None)) != fingerprint(
        transaction(transaction_reference="None")
    )


def test_a_stored_fingerprint_stays_valid() -> None:
    """Fingerprints are stored with each eventId: a retry sent after an upgrade must still
    be recognised as the same event, so the digest of a given event never changes."""
    event = TransactionEvent(
        "evt-1",
        "1000000001",
        "TX-1",
        TransactionType.DEBIT,
        Decimal("10.50"),
        "MWK",
        datetime(2026, 11, 1, 8, 30, tzinfo=UTC),
        balance_after=Decimal("3.0000"),
        device_id="phone-1",
        location=GeoPoint(-15.78, 35.0, "Blantyre"),
    )
    first = "cfdfb7eade1bda6564a0a997ec51019bf9c8eb9945f157655a321652207c2572"
    assert fingerprint_v1(event) == first
    assert same_event(first, event, fingerprint(event))
    assert fingerprint(event) == "v2:nTfapyboPDl5WkWIvhKvfyHk2go5lyuvmR3Ia-uBO40"


_AT = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone(timedelta(hours=2)))


@pytest.mark.parametrize(
    ("event", "first", "digest"),
    [
        (
            TransactionEvent(
                event_id="e-1",
                account_number="1000000001",
                transaction_id="T-1",
                transaction_type=TransactionType.DEBIT,
                amount=Decimal("60000.50"),
                currency="MWK",
                occurred_at=_AT,
                transaction_reference="ref",
                transaction_description="Groceries \u2013 Chipiku",  # not ASCII
                balance_after=Decimal("3.000"),
                device_id="phone-1",
                ip_address="10.0.0.1",
                location=GeoPoint(-15.7861, 35.0058, "Blantyre"),
            ),
            "20129372fad4a8758b199829c9e5e18d5e81794d2be6177e500d9fc3ef316a54",
            "v2:lGxXhmO_HtFRe3ODbMOiQd-iXw5kVfAXXQ4nIUbr7KY",
        ),
        (
            TransactionEvent(
                event_id="e-2",
                account_number="1000000001",
                transaction_id="T-2",
                transaction_type=TransactionType.CREDIT,
                amount=Decimal("1E+3"),
                currency="MWK",
                occurred_at=_AT.astimezone(UTC),
            ),
            "cebfd550579a0baad652a08363bd120fca01d68306dba42695c8f15c05d9f1ba",
            "v2:zr_VUFeaC6rWUqCDY70SD8oB1oMG26QmlcjxXAXZ8bo",
        ),
        (
            LoginEvent(
                event_id="l-1",
                mobile_user_id=7,
                successful=False,
                occurred_at=_AT,
                device_id="phone-1",
                device_name="Ada's phone",
                device_model="X",
                device_os="Android 15",
                ip_address="::1",
                location=GeoPoint(-13.9626, 33.7741),
                login_method=LoginMethod.BIOMETRIC,
            ),
            "86f0aaeffcff1b68190f20701513da6bb011fa5a87bdb443f3ab8e6d9105b4cc",
            "v2:IKxJqyozBX1RDBhQduUP6xsJ7cyEADaL-rfyINQfFqw",
        ),
        (
            BalanceSync(
                event_id="b-1",
                account_number="1000000001",
                balance=Decimal("-12.3400"),
                currency="MWK",
                as_of=_AT,
            ),
            "831f796ee1ca406f0c8bd596a091e3ae38d2a0aef7dd7fbf4219cfc8c20cb7b9",
            "v2:gx95buHKQG8Mi9WWoJHjrjjSoK733X-_QhnPyMIMt7k",
        ),
    ],
    ids=["transaction", "bare transaction", "sign-in", "balance"],
)
def test_a_fingerprint_stays_what_it_was_when_the_event_was_stored(
    event: TransactionEvent | LoginEvent | BalanceSync, first: str, digest: str
) -> None:
    """A repeat is told from a conflicting reuse by the fingerprint stored with the first
    event, perhaps by an earlier version (``first``, the format before the prefix): the
    digest of the same event in either format never changes."""
    assert fingerprint_v1(event) == first
    assert fingerprint(event) == digest
    assert same_event(first, event, digest) and same_event(digest, event, digest)
