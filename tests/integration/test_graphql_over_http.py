"""GraphQL over HTTP as the specification has it: application/graphql-response+json for
clients that ask for it, application/json unchanged for the others, queries by GET."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlmodel import select

from account_alerts.domain.enums import Role
from account_alerts.store.customers import Account
from account_alerts.store.database import Database
from tests.conftest import Api
from tests.support.factories import make_account

GRAPHQL_RESPONSE = "application/graphql-response+json"
BADGE = "{ unacknowledgedAlertCount }"
UPSERT = """mutation($n: String!) {
  upsertAccount(input: {accountNumber: $n, mobileUserId: 7, currency: "MWK"}) { accepted }
}"""


async def post(
    api: Api, body: dict[str, Any], *, accept: str | None, token: str | None = None
) -> httpx.Response:
    headers = {"Accept": accept} if accept else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return await api.client.post("/graphql", json=body, headers=headers)


def assert_request_error(response: httpx.Response) -> str:
    """400, the GraphQL response media type, errors with a code and no data entry."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = response.json()
    assert "data" not in body, body
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    message: str = body["errors"][0]["message"]
    return message


async def test_a_client_asking_for_graphql_responses_gets_them(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    response = await post(
        api, {"query": BADGE}, accept=f"{GRAPHQL_RESPONSE}, application/json", token=api.token(7)
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert response.json() == {"data": {"unacknowledgedAlertCount": 0}}


async def test_a_syntax_error_is_a_400_without_data(api: Api) -> None:
    message = assert_request_error(
        await post(api, {"query": "{ unacknowledgedAlertCount"}, accept=GRAPHQL_RESPONSE)
    )
    assert "Syntax Error" in message


async def test_a_named_operation_that_does_not_parse_reports_the_syntax_error(api: Api) -> None:
    body = {"query": "query Badge { unacknowledgedAlertCount", "operationName": "Badge"}
    assert "Syntax Error" in assert_request_error(await post(api, body, accept=GRAPHQL_RESPONSE))


async def test_a_validation_error_is_a_400_without_data(api: Api) -> None:
    message = assert_request_error(
        await post(api, {"query": "{ accountBalance }"}, accept=GRAPHQL_RESPONSE)
    )
    assert "accountBalance" in message


async def test_a_variable_of_the_wrong_type_is_a_400_and_writes_nothing(
    api: Api, db: Database
) -> None:
    response = await post(
        api,
        {"query": UPSERT, "variables": {"n": {"not": "a string"}}},
        accept=GRAPHQL_RESPONSE,
        token=api.token("core-banking", role=Role.SERVICE),
    )
    assert "$n" in assert_request_error(response)
    assert await _accounts(db) == []


async def test_a_field_error_keeps_200_and_the_data_entry(api: Api) -> None:
    response = await post(api, {"query": BADGE}, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_application_json_clients_keep_200_and_a_null_data_entry(api: Api) -> None:
    for accept in ("application/json", None, "*/*"):
        response = await post(api, {"query": "{ accountBalance }"}, accept=accept)
        assert response.status_code == 200, accept
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_json_is_answered_when_ranked_above_graphql_responses(api: Api) -> None:
    response = await post(
        api, {"query": "{ x }"}, accept=f"{GRAPHQL_RESPONSE};q=0.5, application/json"
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"


async def test_a_document_longer_than_the_limit_is_refused_comments_included(api: Api) -> None:
    limit = api.settings.graphql_max_document_chars
    query = "#" + "x" * limit + "\n" + BADGE
    message = assert_request_error(await post(api, {"query": query}, accept=GRAPHQL_RESPONSE))
    assert f"the limit is {limit}" in message
    legacy = await post(api, {"query": query}, accept="application/json")
    assert legacy.status_code == 200
    assert f"the limit is {limit}" in legacy.json()["errors"][0]["message"]


async def test_a_query_can_be_sent_with_get_and_url_encoded_variables(
    api: Api, db: Database
) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    response = await api.client.get(
        "/graphql",
        params={
            "query": "query($n: String!) { accountAlertSettings(accountNumber: $n) "
            "{ loginAlertMode } }",
            "variables": json.dumps({"n": "1000000001"}),
        },
        headers={"Authorization": f"Bearer {api.token(7)}", "Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"accountAlertSettings": {"loginAlertMode": "NEW_DEVICE"}}}


async def test_a_mutation_sent_with_get_is_refused_with_405_and_writes_nothing(
    api: Api, db: Database
) -> None:
    response = await api.client.get(
        "/graphql",
        params={"query": UPSERT, "variables": json.dumps({"n": "1000000001"})},
        headers={
            "Authorization": f"Bearer {api.token('core-banking', role=Role.SERVICE)}",
            "Accept": GRAPHQL_RESPONSE,
        },
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "POST" in response.text
    assert await _accounts(db) == []


async def _accounts(db: Database) -> list[Account]:
    async with db.session() as session:
        return list((await session.exec(select(Account))).all())
