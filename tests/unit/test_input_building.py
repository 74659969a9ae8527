"""The service inputs are built directly from the request (api/types/input_building.py):
the result must be exactly what Strawberry's own conversion gives, for every shape."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLInputType, Undefined
from graphql.utilities import coerce_input_value
from strawberry.types.arguments import convert_argument

from account_alerts.api.schema import build_schema
from account_alerts.api.types.service import (
    AccountInput,
    BalanceSyncInput,
    LoginEventInput,
    ScheduledPaymentInput,
    TransactionEventInput,
)
from account_alerts.config import Settings

TRANSACTION = {
    "eventId": "evt-1",
    "accountNumber": "1000000001",
    "transactionId": "TX-1",
    "transactionType": "DEBIT",
    "amount": "60000.50",
    "currency": "MWK",
    "occurredAt": "2026-11-01T08:30:00+02:00",
}
CASES: list[tuple[type, str, dict[str, Any]]] = [
    (TransactionEventInput, "TransactionEventInput", TRANSACTION),
    (
        TransactionEventInput,
        "TransactionEventInput",
        {
            **TRANSACTION,
            "transactionReference": "FT1",
            "transactionDescription": "Rent",
            "balanceAfter": "12.3400",
            "deviceId": "phone-1",
            "ipAddress": "102.70.1.1",
            "location": {"latitude": -15.78, "longitude": 35.0, "label": "Blantyre"},
        },
    ),
    (
        TransactionEventInput,
        "TransactionEventInput",
        {**TRANSACTION, "location": None, "balanceAfter": None, "deviceId": None},
    ),
    (
        TransactionEventInput,
        "TransactionEventInput",
        {**TRANSACTION, "location": {"latitude": 1, "longitude": 2}},
    ),
    (
        BalanceSyncInput,
        "BalanceSyncInput",
        {
            "eventId": "b-1",
            "accountNumber": "1000000001",
            "balance": "10",
            "currency": "MWK",
            "asOf": "2026-11-01T06:00:00Z",
        },
    ),
    (
        LoginEventInput,
        "LoginEventInput",
        {
            "eventId": "l-1",
            "mobileUserId": 7,
            "successful": False,
            "occurredAt": "2026-11-01T06:00:00Z",
            "deviceId": "tablet",
            "loginMethod": "BIOMETRIC",
            "location": {"latitude": 51.5, "longitude": -0.12},
        },
    ),
    (
        ScheduledPaymentInput,
        "ScheduledPaymentInput",
        {
            "paymentId": "PAY-1",
            "accountNumber": "1000000001",
            "paymentType": "LOAN",
            "amountDue": "1500",
            "currency": "MWK",
            "dueDate": "2026-12-01",
        },
    ),
    (
        AccountInput,
        "AccountInput",
        {"accountNumber": "1000000001", "mobileUserId": 7, "currency": "MWK"},
    ),
]


@pytest.mark.parametrize(("cls", "graphql_name", "raw"), CASES)
def test_inputs_are_built_as_strawberry_builds_them(
    cls: type, graphql_name: str, raw: dict[str, Any]
) -> None:
    schema = build_schema(Settings())
    graphql_type = schema._schema.get_type(graphql_name)
    assert isinstance(graphql_type, GraphQLInputType)
    value = coerce_input_value(raw, graphql_type)
    assert value is not Undefined, "the sample input must be valid"
    registry = schema.schema_converter.scalar_registry
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    direct = convert_argument(value, cls, registry, schema.config)
    hook, definition.from_input = definition.from_input, None
    try:
        assert hook is not None  # the fast path is installed
        strawberry_built = convert_argument(value, cls, registry, schema.config)
    finally:
        definition.from_input = hook
    assert type(direct) is cls
    assert direct == strawberry_built
    assert vars(direct) == vars(strawberry_built)
