"""Fraud-rule conditions: the grammar, the refusals with their paths, null handling."""

from __future__ import annotations

import json
from typing import Any

import pytest

from account_alerts.domain.fraud_features import EventKind
from account_alerts.domain.rule_conditions import MAX_NODES, ConditionError, parse

TX = [EventKind.TRANSACTION]


def feature(name: str) -> dict[str, str]:
    return {"feature": name}


def op(name: str, *args: Any) -> dict[str, Any]:
    return {"op": name, "args": list(args)}


LARGE_ON_NEW_DEVICE = op(
    "and",
    op(">=", feature("amount"), 5000),
    op("==", feature("deviceKnown"), False),
    op("not", op("in", feature("transactionType"), ["CREDIT"])),
)


@pytest.mark.parametrize(
    ("features", "holds", "nulls"),
    [
        ({"amount": 5000.0, "deviceKnown": False, "transactionType": "DEBIT"}, True, []),
        ({"amount": 4999.99, "deviceKnown": False, "transactionType": "DEBIT"}, False, []),
        ({"amount": 9000.0, "deviceKnown": True, "transactionType": "DEBIT"}, False, []),
        ({"amount": 9000.0, "deviceKnown": False, "transactionType": "CREDIT"}, False, []),
        # A comparison with a null feature is false, and says which feature was null.
        (
            {"amount": 9000.0, "deviceKnown": None, "transactionType": "DEBIT"},
            False,
            ["deviceKnown"],
        ),
    ],
)
def test_a_condition_holds_or_not_and_names_null_features(
    features: dict[str, Any], holds: bool, nulls: list[str]
) -> None:
    condition = parse(LARGE_ON_NEW_DEVICE, TX)
    assert condition.features == {"amount", "deviceKnown", "transactionType"}
    assert condition.evaluate(features) == (holds, nulls)


def test_between_or_and_text_are_accepted() -> None:
    condition = parse(
        json.dumps(
            op("or", op("between", feature("hourLocal"), 0, 5), op(">", feature("txCount1h"), 10))
        ),
        TX,
    )
    assert condition.evaluate({"hourLocal": 3, "txCount1h": 1}) == (True, [])
    assert condition.evaluate({"hourLocal": 5, "txCount1h": 1}) == (True, [])
    assert condition.evaluate({"hourLocal": 6, "txCount1h": 11}) == (True, [])
    assert condition.evaluate({"hourLocal": 6, "txCount1h": 10}) == (False, [])


@pytest.mark.parametrize(
    ("document", "kinds", "path", "message"),
    [
        ("{not json", TX, "condition", "is not valid JSON"),
        ([], TX, "condition", "must be an object"),
        ({"op": "xor", "args": []}, TX, "condition.op", "unknown op 'xor'"),
        ({"op": "and", "args": [], "extra": 1}, TX, "condition", "unknown keys ['extra']"),
        (op("and"), TX, "condition.args", "at least one condition"),
        (
            op("and", op(">", feature("amount"), 1), op("<", feature("nope"), 1)),
            TX,
            "condition.args[1].args[0].feature",
            "unknown feature 'nope'",
        ),
        (
            op("and", op(">", feature("amount"), 1), op("==", feature("amount"), "big")),
            TX,
            "condition.args[1].args[1]",
            "compares a number with a string",
        ),
        (op("<", feature("currency"), "USD"), TX, "condition", "< compares numbers"),
        (op("==", feature("amount")), TX, "condition.args", "== takes 2 arguments, not 1"),
        (op("in", feature("currency"), []), TX, "condition.args[1]", "non-empty list"),
        (
            op("in", feature("currency"), ["MWK", 3]),
            TX,
            "condition.args[1][1]",
            "compares a string with a number",
        ),
        (
            op("between", feature("amount"), 1, "9"),
            TX,
            "condition.args[2]",
            "between takes numbers",
        ),
        (
            op(">", feature("amount"), 1),
            [EventKind.LOGIN],
            "condition.args[0].feature",
            "amount is not defined for LOGIN events",
        ),
        (op(">", {"feature": "amount", "x": 1}, 1), TX, "condition.args[0]", "an operand is"),
        (op(">", feature("amount"), None), TX, "condition.args[1]", 'must be {"feature"'),
        (
            op("and", op(">", feature("amount"), float("inf"))),
            TX,
            "condition.args[0].args[1]",
            "finite",
        ),
    ],
)
def test_bad_conditions_are_refused_naming_the_path(
    document: Any, kinds: list[EventKind], path: str, message: str
) -> None:
    with pytest.raises(ConditionError) as refused:
        parse(document, kinds)
    assert refused.value.path == path
    assert message in refused.value.message


def test_a_huge_or_deep_condition_is_refused() -> None:
    huge = op("or", *[op(">", feature("amount"), i) for i in range(10_000)])
    with pytest.raises(ConditionError, match=f"more than {MAX_NODES} nodes"):
        parse(huge, TX)
    deep: dict[str, Any] = op(">", feature("amount"), 1)
    for _ in range(50):
        deep = op("not", deep)
    with pytest.raises(ConditionError, match="nested deeper"):
        parse(deep, TX)
    with pytest.raises(ConditionError, match="longer than"):
        parse(json.dumps(huge), TX)
