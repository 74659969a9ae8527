"""Executing a GraphQL document, with a short path for plain leaf fields.

A history page is some 800 fields, and most of them are scalars and enums read straight
off a row (``title``, ``status``, ``sentAt`` ...). graphql-core handles each one the
general way: a resolve-info object, the resolver behind Strawberry's wrapper, two
awaitable checks and the value completion's dispatch on the field's type. For a field
that has no resolver of its own, no arguments, a scalar or enum type and no middleware,
all of that comes to "read the attribute, coerce it for output": this context does just
that, and hands anything else — or anything unusual about the value (null on a
non-null field, an error, an awaitable, a value the scalar refuses) — to graphql-core's
own path, so errors and their locations are exactly what graphql-core would give.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
)
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter as StrawberrySchemaConverter
from strawberry.types.field import StrawberryField

# (read the value, coerce it for output, non-null) for a plain leaf field; None otherwise.
LeafPlan = tuple[Callable[[Any], Any], Callable[[Any], Any], bool] | None


class LeafFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._leaf_plans: dict[tuple[GraphQLObjectType, str], LeafPlan] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        # graphql-core's loop (ExecutionContext.execute_fields), with plain leaf fields
        # answered in place: no Path, no resolve info, no awaitable to wait for.
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        plans = self._leaf_plans
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list in grouped_field_set.items():
                key = (parent_type, field_details_list[0].node.name.value)
                try:
                    plan = plans[key]
                except KeyError:
                    plan = plans[key] = self._leaf_plan(*key)
                if plan is not None:
                    value = _plain_leaf_value(plan, source_value, is_awaitable)
                    if value is not _NOT_PLAIN:
                        results[response_name] = value
                        continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def _leaf_plan(self, parent_type: GraphQLObjectType, field_name: str) -> LeafPlan:
        field_def = self.schema.get_field(parent_type, field_name)
        if field_def is None or field_def.args:
            return None
        resolve = field_def.resolve
        # Strawberry marks the resolver of a field that has no resolver of its own.
        if resolve is None or not getattr(resolve, "_is_default", False):
            return None
        if self.middleware_manager is not None and (
            self.middleware_manager.get_field_resolver(resolve) is not resolve
        ):
            return None
        field_type = field_def.type
        non_null = isinstance(field_type, GraphQLNonNull)
        leaf = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        if not isinstance(leaf, (GraphQLScalarType, GraphQLEnumType)):
            return None
        definition = field_def.extensions.get(StrawberrySchemaConverter.DEFINITION_BACKREF)
        if (
            isinstance(definition, StrawberryField)
            and definition.base_resolver is None
            and definition.default_resolver is getattr
        ):
            # What Strawberry's resolver would do, without its two calls around it.
            read: Callable[[Any], Any] = attrgetter(definition.python_name)
        else:

            def read(source: Any) -> Any:
                return resolve(source, None)

        return read, leaf.coerce_output_value, non_null


_NOT_PLAIN = object()


def _plain_leaf_value(
    plan: tuple[Callable[[Any], Any], Callable[[Any], Any], bool],
    source: Any,
    is_awaitable: Callable[[Any], bool],
) -> Any:
    """The field's output value, or _NOT_PLAIN when graphql-core must complete it."""
    read, coerce, non_null = plan
    try:
        value = read(source)
        if value is None:
            return _NOT_PLAIN if non_null else None
        if isinstance(value, Exception) or is_awaitable(value):
            return _NOT_PLAIN
        coerced = coerce(value)
    except Exception:  # graphql-core's path reports it, with its location
        return _NOT_PLAIN
    if coerced is None or coerced is Undefined:
        return _NOT_PLAIN
    return coerced
