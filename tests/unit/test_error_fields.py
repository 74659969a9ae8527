"""extensions.field for the inputs GraphQL refuses before any resolver runs."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import build_schema, graphql_sync, parse

from account_alerts.api.error_fields import input_field

SCHEMA = build_schema(
    """
    enum Kind { DEBIT CREDIT }
    input Place { latitude: Float! longitude: Float! }
    input Event { kind: Kind! place: Place tags: [Kind!] }
    type Query { record(event: Event!, kinds: [Kind!]!): Int }
    """
)


def field_of(document: str, variables: dict[str, Any] | None = None) -> str | None:
    result = graphql_sync(SCHEMA, document, variable_values=variables)
    assert result.errors, "the input should have been refused"
    return input_field(result.errors[0], parse(document))


@pytest.mark.parametrize(
    ("document", "variables", "field"),
    [
        ("{ record(event: {kind: DEBIT}, kinds: [DEBIT, REFUND]) }", None, "kinds[1]"),
        ("{ record(event: {kind: SAVINGS}, kinds: []) }", None, "event.kind"),
        (
            '{ record(event: {kind: DEBIT, place: {latitude: "north", longitude: 1}}, kinds: []) }',
            None,
            "event.place.latitude",
        ),
        (
            "query($k: [Kind!]!) { record(event: {kind: DEBIT}, kinds: $k) }",
            {"k": ["CREDIT", "LOAN"]},
            "kinds[1]",
        ),
        (
            "query($e: Event!) { record(event: $e, kinds: []) }",
            {"e": {"kind": "DEBIT", "place": {"latitude": "north", "longitude": 1}}},
            "event.place.latitude",
        ),
        (
            "query($k: [Kind!]!) { record(event: {kind: DEBIT, tags: $k}, kinds: []) }",
            {"k": ["DEBIT", "LOAN"]},
            "event.tags[1]",
        ),
        ("query($k: [Kind!]!) { record(event: {kind: DEBIT}, kinds: $k) }", {}, "kinds"),
    ],
)
def test_the_refused_argument_is_named(
    document: str, variables: dict[str, Any] | None, field: str
) -> None:
    assert field_of(document, variables) == field


def test_an_error_about_no_argument_names_none() -> None:
    assert field_of("{ record(kinds: []) { nothing } }") is None
