"""The GraphQL schema: the customer, service and admin operations, hardened."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from account_alerts.api.admin import AdminMutation, AdminQuery
from account_alerts.api.customer import CustomerMutation, CustomerQuery, CustomerSubscription
from account_alerts.api.execution import LeafFieldsExecutionContext
from account_alerts.api.scalars import DecimalScalar
from account_alerts.api.service import ServiceMutation, ServiceQuery
from account_alerts.config import Settings
from account_alerts.errors import ApiError

logger = logging.getLogger("account_alerts.api")

Query = merge_types("Query", (CustomerQuery, ServiceQuery, AdminQuery))
Mutation = merge_types("Mutation", (CustomerMutation, ServiceMutation, AdminMutation))
Subscription = merge_types("Subscription", (CustomerSubscription,))


def _is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    # No original error: the request itself was malformed (syntax, validation, variables).
    return original is None or isinstance(original, (ApiError, GraphQLError, ValueError))


class ErrorCodes(SchemaExtension):
    """Every error carries an ``extensions.code``; internals never reach the client."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in (result.errors if result else None) or []:
            extensions = error.extensions if error.extensions is not None else {}
            if "code" in extensions:
                continue
            if _is_expected(error):
                extensions["code"] = "BAD_USER_INPUT"
            else:
                extensions["code"] = "INTERNAL_SERVER_ERROR"
                error.message = "internal server error; it has been logged"
            error.extensions = extensions


class CachedParse(ParserCache):
    """Parses through the cache, but leaves a document that fails to parse to Strawberry,
    so syntax errors (and the token limit) are reported like any other bad request."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with contextlib.suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        yield


class AlertsSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if not _is_expected(error):
                logger.error("unexpected error in %s", error.path, exc_info=error.original_error)


def build_schema(settings: Settings) -> strawberry.Schema:
    # The limit rules are built once: a new rule class per request would make every
    # request miss the validation cache.
    limits = [
        *QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
    ]
    extensions: list[Any] = [
        ErrorCodes,
        lambda: CachedParse(maxsize=256),
        lambda: AddValidationRules(limits),
        lambda: ValidationCache(maxsize=256),
        lambda: MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
    ]
    if settings.is_production:
        extensions.append(DisableIntrospection)
    return AlertsSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=LeafFieldsExecutionContext,
        scalar_overrides={Decimal: DecimalScalar},
    )


def export_sdl() -> str:
    return build_schema(Settings()).as_str() + "\n"
