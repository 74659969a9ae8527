"""The GraphQL schema: the customer, service and admin operations, hardened."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry
from graphql import DocumentNode, GraphQLError
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from account_alerts.api.admin import AdminMutation, AdminQuery
from account_alerts.api.anomaly import AnomalyMutation, AnomalyQuery
from account_alerts.api.cases import CaseMutation, CaseQuery
from account_alerts.api.customer import CustomerMutation, CustomerQuery, CustomerSubscription
from account_alerts.api.customer_admin import CustomerAdminQuery
from account_alerts.api.documents import DocumentChecks, stand_in
from account_alerts.api.error_fields import input_field
from account_alerts.api.execution import LeafFieldsExecutionContext
from account_alerts.api.fraud import FraudMutation, FraudQuery
from account_alerts.api.scalars import DateTimeScalar, DecimalScalar
from account_alerts.api.service import ServiceMutation, ServiceQuery
from account_alerts.api.webhook_admin import WebhookMutation, WebhookQuery
from account_alerts.config import Settings
from account_alerts.errors import ApiError

logger = logging.getLogger("account_alerts.api")

Query = merge_types(
    "Query",
    (
        CustomerQuery,
        ServiceQuery,
        AdminQuery,
        FraudQuery,
        CaseQuery,
        CustomerAdminQuery,
        WebhookQuery,
        AnomalyQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        CustomerMutation,
        ServiceMutation,
        AdminMutation,
        FraudMutation,
        CaseMutation,
        WebhookMutation,
        AnomalyMutation,
    ),
)
Subscription = merge_types("Subscription", (CustomerSubscription,))


def _is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    # No original error: the request itself was malformed (syntax, validation, variables).
    # A ValueError is the caller's only where GraphQL raised it reading the request (a
    # scalar's parsing: no field's path); in a resolver it is a fault of the server's.
    return (
        original is None
        or isinstance(original, (ApiError, GraphQLError))
        or (isinstance(original, ValueError) and not error.path)
    )


def _with_error_codes(result: Any, document: DocumentNode | None) -> None:
    """Every error carries an ``extensions.code``; internals never reach the client. An
    input GraphQL itself refused also names its argument in ``extensions.field``."""
    for error in (result.errors if result else None) or []:
        extensions = error.extensions if error.extensions is not None else {}
        if "code" in extensions:
            continue
        if _is_expected(error):
            extensions["code"] = "BAD_USER_INPUT"
            if not isinstance(error.original_error, ApiError):
                field = input_field(error, document)
                if field is not None:
                    extensions["field"] = field
        else:
            extensions["code"] = "INTERNAL_SERVER_ERROR"
            error.message = "internal server error; it has been logged"
        error.extensions = extensions


class Hardening(SchemaExtension):
    """The request's limits, caches and error codes, as one extension (Strawberry runs
    every hook of every extension for every request, so five of its own cost more than
    the work they do):

    - the document's length and token limits on parsing; parsing and validation off the
      event loop for a new document, remembered by its text (``DocumentChecks``); a
      document refused there is reported like any other bad request;
    - the depth and alias limits (and, in production, no introspection) as validation
      rules;
    - an ``extensions.code`` on every error, internals never shown."""

    rules: tuple[type[ASTValidationRule], ...] = ()
    documents: DocumentChecks
    refusal: GraphQLError | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = (*context.validation_rules, *self.rules)
        yield
        _with_error_codes(self.execution_context.result, self.execution_context.graphql_document)

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.query is not None:
            try:
                context.graphql_document = await self.documents.parse(context.query)
            except GraphQLError as error:
                # Reported as the validation's only error: left without a document,
                # Strawberry would parse it again, here on the event loop.
                self.refusal = error
                context.graphql_document = stand_in(context.operation_name)
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        if self.refusal is not None:
            context.pre_execution_errors = [self.refusal]
        else:
            context.pre_execution_errors = await self.documents.validate(
                context.schema._schema, context.graphql_document, context.validation_rules
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
    # The rules are built once: a new rule class per request would make every request
    # miss the validation cache.
    rules: list[type[ASTValidationRule]] = [
        *QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
    ]
    if settings.is_production:
        rules.append(NoSchemaIntrospectionCustomRule)
    documents = DocumentChecks(
        max_chars=settings.graphql_max_document_chars, max_tokens=settings.graphql_max_tokens
    )
    hardening = type("Hardening", (Hardening,), {"rules": tuple(rules), "documents": documents})
    return AlertsSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[hardening],
        execution_context_class=(
            LeafFieldsExecutionContext if settings.graphql_short_path else None
        ),
        scalar_overrides={Decimal: DecimalScalar, datetime: DateTimeScalar},
    )


def export_sdl() -> str:
    return build_schema(Settings()).as_str() + "\n"
