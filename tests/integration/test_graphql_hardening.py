"""Limits on what a GraphQL request may ask for, production lockdown, health and readiness."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import select

from account_alerts.api.app import create_app
from account_alerts.config import Settings
from account_alerts.domain.enums import AlertType, Role
from account_alerts.store.alerts import AccountAlert
from account_alerts.store.customers import Account
from account_alerts.store.database import Database
from tests.conftest import TEST_SECRET, Api, Clock, error_code
from tests.support.factories import make_account, make_alert

PRODUCTION_SECRET = "production-secret-for-hardening-tests-" + "z" * 30
UNREACHABLE_DATABASE = "postgresql+psycopg://x@127.0.0.1:1/none"
BADGE = "{ unacknowledgedAlertCount }"
DEEP_DETAILS = """
{ accountAlerts { items { details {
    ... on SuspiciousActivityDetails { location { label } }
} } } }"""
NESTED_INTROSPECTION = """
{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType {
    name
} } } } } } } } } } }"""

ApiFactory = Callable[..., Awaitable[Api]]


def upsert_field(number: str, selection: str = "accepted") -> str:
    return (
        f'upsertAccount(input: {{accountNumber: "{number}", mobileUserId: 7, currency: "MWK"}}) '
        f"{{ {selection} }}"
    )


@pytest.fixture
async def api_with(settings: Settings, db: Database, clock: Clock) -> AsyncIterator[ApiFactory]:
    """An app on the test's database, built from the test's settings plus ``overrides``."""
    async with AsyncExitStack() as stack:

        async def build(**overrides: Any) -> Api:
            custom = Settings(
                database_url=settings.database_url,
                jwt_secret=SecretStr(overrides.pop("jwt_secret", TEST_SECRET)),
                **overrides,
            )
            app = create_app(custom, database=db, clock=clock)
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://alerts.test"
                )
            )
            return Api(client, custom, clock)

        yield build


@pytest.fixture
async def production(api_with: ApiFactory) -> Api:
    return await api_with(env="production", jwt_secret=PRODUCTION_SECRET)


async def accounts(db: Database) -> list[Account]:
    async with db.session() as session:
        return list((await session.exec(select(Account))).all())


def assert_refused_before_running(body: dict[str, Any]) -> str:
    assert error_code(body) == "BAD_USER_INPUT", body
    assert body.get("data") is None
    message: str = body["errors"][0]["message"]
    return message


# Query depth


async def test_a_query_deeper_than_the_limit_is_refused(api_with: ApiFactory) -> None:
    shallow = await api_with(graphql_max_depth=3)
    body = await shallow.as_customer(7, DEEP_DETAILS)
    message = assert_refused_before_running(body)
    assert "maximum operation depth of 3" in message


async def test_a_query_exactly_at_the_depth_limit_runs(api_with: ApiFactory, db: Database) -> None:
    shallow = await api_with(graphql_max_depth=3)
    await make_account(db, user_id=7, account_number="1000000001")
    await make_alert(
        db,
        user_id=7,
        account_number="1000000001",
        alert_type=AlertType.LOW_BALANCE,
        triggered_at=shallow.clock.now - timedelta(minutes=1),
    )
    body = await shallow.as_customer(7, "{ accountAlerts { items { deliveries { channel } } } }")
    assert body == {"data": {"accountAlerts": {"items": [{"deliveries": [{"channel": "PUSH"}]}]}}}


async def test_fragments_do_not_hide_depth(api_with: ApiFactory) -> None:
    shallow = await api_with(graphql_max_depth=3)
    body = await shallow.as_customer(
        7,
        """
        query { ...Alerts }
        fragment Alerts on Query { accountAlerts { items { ...Details } } }
        fragment Details on AccountAlert {
          details { ... on AccountLoginDetails { location { ...Place } } }
        }
        fragment Place on GeoPoint { label }
        """,
    )
    assert "maximum operation depth" in assert_refused_before_running(body)


async def test_a_too_deep_mutation_writes_nothing(api_with: ApiFactory, db: Database) -> None:
    shallow = await api_with(graphql_max_depth=3)
    selection = "alerts { details { ... on SuspiciousActivityDetails { location { label } } } }"
    body = await shallow.as_service(f"mutation {{ {upsert_field('1000000001', selection)} }}")
    assert_refused_before_running(body)
    assert await accounts(db) == []


async def test_the_depth_limit_is_checked_before_authentication(api_with: ApiFactory) -> None:
    shallow = await api_with(graphql_max_depth=3)
    assert_refused_before_running(await shallow.post(DEEP_DETAILS))


# Aliases


async def test_too_many_aliases_are_refused_and_nothing_runs(api: Api, db: Database) -> None:
    limit = api.settings.graphql_max_aliases
    fields = " ".join(f"a{i}: {upsert_field(f'{1000000001 + i}')}" for i in range(limit + 1))
    body = await api.as_service(f"mutation {{ {fields} }}")
    message = assert_refused_before_running(body)
    assert f"{limit + 1} aliases" in message
    assert await accounts(db) == []


async def test_aliases_up_to_the_limit_are_answered(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    limit = api.settings.graphql_max_aliases
    fields = " ".join(f"c{i}: unacknowledgedAlertCount" for i in range(limit))
    body = await api.as_customer(7, f"{{ {fields} }}")
    assert body == {"data": {f"c{i}": 0 for i in range(limit)}}


async def test_a_lower_alias_limit_is_honoured(api_with: ApiFactory) -> None:
    strict = await api_with(graphql_max_aliases=2)
    body = await strict.as_customer(
        7, "{ a: unacknowledgedAlertCount b: unacknowledgedAlertCount c: unacknowledgedAlertCount }"
    )
    assert "3 aliases" in assert_refused_before_running(body)


# Tokens


async def test_too_many_tokens_are_refused_and_nothing_runs(api: Api, db: Database) -> None:
    padding = " ".join(["accepted"] * api.settings.graphql_max_tokens)
    body = await api.as_service(f"mutation {{ {upsert_field('1000000001', padding)} }}")
    message = assert_refused_before_running(body)
    assert f"more than {api.settings.graphql_max_tokens} tokens" in message
    assert await accounts(db) == []


async def test_a_malformed_query_is_reported_as_bad_input(api: Api) -> None:
    body = await api.as_customer(7, "{ unacknowledgedAlertCount")
    assert "Syntax Error" in assert_refused_before_running(body)


async def test_an_unknown_field_is_reported_as_bad_input(api: Api) -> None:
    body = await api.as_customer(7, "{ unacknowledgedAlertCount accountBalance }")
    assert "accountBalance" in assert_refused_before_running(body)


async def test_an_unknown_argument_is_reported_as_bad_input(api: Api) -> None:
    body = await api.as_customer(7, "{ accountAlerts(userId: 8) { totalCount } }")
    assert "userId" in assert_refused_before_running(body)


async def test_a_body_that_is_not_json_is_refused_with_400(api: Api) -> None:
    for body in (b"{not json", b'{"query": "{ unacknowledgedAlertCount }"', b"NaN"):
        response = await api.client.post(
            "/graphql",
            content=body,
            headers={
                "Authorization": f"Bearer {api.token(7)}",
                "Content-Type": "application/json",
            },
        )
        assert response.status_code == 400, body
        assert "Unable to parse request body as JSON" in response.text


async def test_text_beyond_ascii_crosses_the_wire_intact(api: Api, db: Database) -> None:
    await make_account(db, account_number="1000777001", user_id=7)
    alert_id = await make_alert(
        db,
        user_id=7,
        account_number="1000777001",
        alert_type=AlertType.LARGE_TRANSACTION,
        triggered_at=api.clock(),
    )
    async with db.transaction() as session:
        alert = await session.get(AccountAlert, alert_id)
        assert alert is not None
        alert.title = "Malipiro aakulu — K 75 000 ✓"
        alert.alert_data = {**alert.alert_data, "transactionDescription": "Café “Chez Léa” 🍽"}
    response = await api.client.post(
        "/graphql",
        json={
            "query": "{ accountAlerts { items { title details { ... on "
            "LargeTransactionDetails { transactionDescription } } } } }"
        },
        headers={"Authorization": f"Bearer {api.token(7)}"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    item = json.loads(response.content.decode("utf-8"))["data"]["accountAlerts"]["items"][0]
    assert item["title"] == "Malipiro aakulu — K 75 000 ✓"
    assert item["details"]["transactionDescription"] == "Café “Chez Léa” 🍽"


# Production lockdown


async def test_production_refuses_introspection(production: Api) -> None:
    body = await production.post("{ __schema { queryType { name } } }")
    assert "introspection" in assert_refused_before_running(body)


async def test_production_refuses_type_introspection_of_a_signed_in_customer(
    production: Api,
) -> None:
    body = await production.as_customer(7, '{ __type(name: "Query") { fields { name } } }')
    assert "introspection" in assert_refused_before_running(body)


async def test_production_refuses_deeply_nested_introspection(production: Api) -> None:
    assert_refused_before_running(await production.post(NESTED_INTROSPECTION))


async def test_production_does_not_serve_graphiql(production: Api) -> None:
    response = await production.client.get("/graphql", headers={"Accept": "text/html"})
    assert not (
        response.status_code == 200 and "text/html" in response.headers.get("content-type", "")
    )
    assert "graphiql" not in response.text.lower()


async def test_production_still_answers_a_signed_in_customer(production: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    assert await production.as_customer(7, BADGE) == {"data": {"unacknowledgedAlertCount": 0}}


async def test_production_refuses_tokens_signed_with_the_test_secret(
    production: Api, api: Api
) -> None:
    body = await production.post(BADGE, token=api.token(7))
    assert error_code(body) == "UNAUTHENTICATED"


async def test_development_serves_graphiql_to_a_browser(api: Api) -> None:
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "GraphiQL" in response.text


async def test_development_allows_introspection(api: Api) -> None:
    body = await api.post("{ __schema { queryType { name } mutationType { name } } }")
    assert body == {
        "data": {"__schema": {"queryType": {"name": "Query"}, "mutationType": {"name": "Mutation"}}}
    }


async def test_a_service_token_gains_nothing_from_introspection_in_production(
    production: Api,
) -> None:
    body = await production.post(
        "{ __schema { types { name } } }", token=production.token("core-banking", Role.SERVICE)
    )
    assert_refused_before_running(body)


# Health and readiness


async def test_healthz_reports_ok(api: Api) -> None:
    response = await api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_names_the_database_it_reached(api: Api, db: Database) -> None:
    response = await api.client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": db.dialect_name}
    assert db.dialect_name in ("sqlite", "postgresql")


async def test_readyz_is_unavailable_when_the_database_is_unreachable() -> None:
    settings = Settings(database_url=UNREACHABLE_DATABASE, jwt_secret=SecretStr(TEST_SECRET))
    database = Database(settings.database_url, pool_size=1)
    app = create_app(settings, database=database)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://alerts.test"
        ) as client:
            ready = await client.get("/readyz")
            health = await client.get("/healthz")
    finally:
        await database.dispose()
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "database": "unreachable"}
    assert "127.0.0.1" not in ready.text
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
