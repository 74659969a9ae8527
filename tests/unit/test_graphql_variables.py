"""The variables' coercers (api.variables) coerce as graphql-core does, or leave it to it.

The real schema's event documents, with variables as the bank's services send them (the
real mix: devices, places, amounts, times in several forms) and then broken one way at a
time, go through graphql-core's own ``get_variable_values`` and through the coercers:
where graphql-core accepts them the coercers give the same values or leave them to it,
and where it refuses them the coercers leave them to it, so that its errors are the ones
the caller sees. The variables of the real mix must be coerced by the coercers."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from graphql import GraphQLSchema, OperationDefinitionNode, parse
from graphql.execution.values import get_variable_values

from account_alerts.api import variables
from account_alerts.api.schema import build_schema
from account_alerts.config import Settings
from tests.support.events import (
    BLANTYRE,
    LILONGWE,
    RECORD_LOGIN,
    RECORD_LOGINS,
    RECORD_TRANSACTION,
    RECORD_TRANSACTIONS,
    SYNC_BALANCE,
    SYNC_BALANCES,
    balance,
    login,
    transaction,
)

AT = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
TIMES = [
    AT.isoformat(),
    "2026-11-30T09:15:00Z",
    "2026-11-30T11:15:00.123456+02:00",
    "2026-11-30T09:15:00.5Z",
]


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(Settings())._schema


def _definitions(document: str) -> Any:
    [operation] = [d for d in parse(document).definitions if isinstance(d, OperationDefinitionNode)]
    return operation.variable_definitions


def _real_mix(rng: random.Random, n: int) -> list[tuple[str, dict[str, Any]]]:
    """Requests as the services send them: single events and batches of each kind."""
    requests: list[tuple[str, dict[str, Any]]] = []
    for _ in range(n):
        at = AT - timedelta(seconds=rng.randrange(86_400))
        tx = transaction(
            f"10001{rng.randrange(10**5):05d}",
            f"{rng.randrange(1, 900_000)}.{rng.randrange(100):02d}",
            at,
            kind=rng.choice(["DEBIT", "CREDIT"]),
            balance_after=rng.choice([None, f"{rng.randrange(10**6)}.00"]),
            device=rng.choice([None, "phone-1", "phone-2"]),
            location=rng.choice([None, BLANTYRE, LILONGWE]),
        )
        tx["occurredAt"] = rng.choice(TIMES)
        sign_in = login(
            rng.randrange(1, 10**6),
            at,
            successful=rng.random() < 0.8,
            device=rng.choice([None, "phone-1"]),
            location=rng.choice([None, BLANTYRE]),
        )
        synced = balance("1000123456", f"{rng.randrange(10**6)}.00", at)
        requests += [
            (RECORD_TRANSACTION, {"input": tx}),
            (RECORD_LOGIN, {"input": sign_in}),
            (SYNC_BALANCE, {"input": synced}),
        ]
    batch = [request[1]["input"] for request in requests]
    requests += [
        (RECORD_TRANSACTIONS, {"inputs": batch[0::3]}),
        (RECORD_LOGINS, {"inputs": batch[1::3]}),
        (SYNC_BALANCES, {"inputs": batch[2::3]}),
    ]
    return requests


def _broken(rng: random.Random, request: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The request with one thing wrong (or, now and then, unusual but valid)."""
    document, given = request
    values = copy.deepcopy(given)
    name = next(iter(values))
    event = values[name][0] if isinstance(values[name], list) and values[name] else values[name]
    field = rng.choice(sorted(event))
    match rng.randrange(10):
        case 0:
            del event[field]
        case 1:
            event[field] = None
        case 2:
            event["noSuchField"] = 1
        case 3:
            event[field] = {"nested": [1, 2]}
        case 4:
            event[field] = 12.5
        case 5:
            event[field] = "not what it should be"
        case 6:
            values[name] = None
        case 7:
            del values[name]
        case 8:  # a single event where a list is expected is a list of one
            values[name] = event
        case _:
            event["location"] = {"latitude": "south", "longitude": 35.0}
    return document, values


def _same(schema: GraphQLSchema, document: str, values: dict[str, Any]) -> bool:
    """Whether the coercers took the variables (True) or left them (False); either way
    what comes out is graphql-core's."""
    definitions = _definitions(document)
    expected = get_variable_values(schema, definitions, values)
    coerced = variables.coerced_cleanly(schema, definitions, values)
    if isinstance(expected, list):  # refused: graphql-core must be the one to say why
        assert coerced is None, [error.message for error in expected]
        return False
    if coerced is None:
        return False
    assert coerced.coerced == expected.coerced
    assert {k: s.value for k, s in coerced.sources.items()} == {
        k: s.value for k, s in expected.sources.items()
    }
    assert {k: str(s.signature.type) for k, s in coerced.sources.items()} == {
        k: str(s.signature.type) for k, s in expected.sources.items()
    }
    return True


@pytest.mark.parametrize("seed", range(3))
def test_the_real_mix_is_coerced_by_the_coercers_as_graphql_core_does(
    schema: GraphQLSchema, seed: int
) -> None:
    requests = _real_mix(random.Random(seed), 40)
    assert all(_same(schema, document, values) for document, values in requests)


@pytest.mark.parametrize("seed", range(3))
def test_broken_variables_are_left_to_graphql_core(schema: GraphQLSchema, seed: int) -> None:
    rng = random.Random(1000 + seed)
    requests = _real_mix(rng, 10)
    taken = [_same(schema, *_broken(rng, request)) for request in requests for _ in range(20)]
    assert not all(taken) and any(taken)  # some breakages are still valid (a list of one)


def test_a_type_that_contains_itself_is_left_to_graphql_core() -> None:
    from graphql import build_schema as build_sdl

    recursive = build_sdl(
        """
        input Node { name: String, next: Node }
        type Query { walk(node: Node): String }
        """
    )
    definitions = _definitions("query($node: Node) { walk(node: $node) }")
    deep: dict[str, Any] = {"name": "end"}
    for _ in range(5):
        deep = {"name": "link", "next": deep}
    assert variables.coerced_cleanly(recursive, definitions, {"node": deep}) is None
    assert not isinstance(get_variable_values(recursive, definitions, {"node": deep}), list)


def test_the_coercers_are_used_only_while_the_short_path_builds(
    schema: GraphQLSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    import graphql.execution.executor as graphql_executor

    variables.install()
    calls: list[str] = []
    clean = variables.coerced_cleanly

    def counting(*args: Any) -> Any:
        calls.append("coercers")
        return clean(*args)

    monkeypatch.setattr(variables, "coerced_cleanly", counting)
    document, values = _real_mix(random.Random(7), 1)[0]
    definitions = _definitions(document)
    get = graphql_executor.get_variable_values
    assert not isinstance(get(schema, definitions, values), list)
    assert calls == []
    token = variables.COERCING.set(True)
    try:
        assert not isinstance(get(schema, definitions, values), list)
    finally:
        variables.COERCING.reset(token)
    assert calls == ["coercers"]
