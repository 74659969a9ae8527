"""GraphQL over HTTP's response media types: which one a client asked for, and what a
request error looks like in it."""

from __future__ import annotations

from strawberry.types import ExecutionResult

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"


def response_media_type(accept: str | None) -> str:
    """``application/graphql-response+json`` when the client ranks it at least as high as
    ``application/json``; otherwise, and with no Accept header or only ``*/*``, JSON."""
    if not accept or GRAPHQL_RESPONSE_JSON not in accept:
        return JSON
    ranks = {GRAPHQL_RESPONSE_JSON: 0.0, JSON: 0.0}
    for entry in accept.split(","):
        media_type, *parameters = (part.strip() for part in entry.split(";"))
        if media_type.lower() in ranks:
            ranks[media_type.lower()] = max(ranks[media_type.lower()], _quality(parameters))
    preferred = ranks[GRAPHQL_RESPONSE_JSON]
    return GRAPHQL_RESPONSE_JSON if preferred > 0 and preferred >= ranks[JSON] else JSON


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def is_request_error(result: ExecutionResult) -> bool:
    """The request never ran (a syntax or validation error, a variable that does not fit
    its type): no data, and no error belongs to a field."""
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or ())
    )
