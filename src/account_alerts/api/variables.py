"""A request's variables coerced by code made once per input type.

A batch of a hundred events is a variable of some 1 300 values. graphql-core coerces it
the general way: at each value it asks again what kind of type it has (non-null, list,
input object, scalar), looks up each absent field's default, and before that walks the
whole value once more to make sure it is not nested too deeply. Here each input type of
the schema gets its coercer once, a function that knows its fields, their coercers and
defaults; and a variable whose type cannot nest deeper than graphql-core allows is not
walked for depth (it cannot be too deep).

The coercers follow graphql-core 3.3.2's ``coerce_input_value`` step for step, and give
up (``Undefined``) where it would: then, and for anything else unusual (a variable not
given, whose default applies; a type that could nest too deeply), the variables are
coerced by graphql-core's own ``get_variable_values``, which says what is wrong exactly
as it always does. Only a request whose every variable coerces cleanly is answered here.

graphql-core's executor builds itself with its module's ``get_variable_values``; the
short path's executor (api.execution) sets ``COERCING`` while it builds, and the function
installed there (``install``) then tries these coercers first. graphql-core is pinned
exactly in pyproject.toml, and ``ALERTS_GRAPHQL_SHORT_PATH=false`` leaves the variables,
as every field, to graphql-core."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any
from weakref import WeakKeyDictionary

import graphql.execution.executor as graphql_executor
from graphql import (
    GraphQLError,
    GraphQLInputField,
    GraphQLInputType,
    GraphQLSchema,
    Undefined,
    assert_leaf_type,
    is_input_object_type,
    is_list_type,
    is_non_null_type,
    is_required_input_field,
)
from graphql.execution import values as graphql_values
from graphql.execution.get_variable_signature import get_variable_signature
from graphql.execution.values import VariableValues, VariableValueSource
from graphql.language.parser import MAX_NESTING_DEPTH
from graphql.pyutils import is_iterable
from graphql.utilities.coerce_input_value import coerce_default_value

# A value -> its coerced value, or Undefined where graphql-core would refuse it.
Coercer = Callable[[Any], Any]

# Set while the short path's executor builds itself (api.execution).
COERCING: ContextVar[bool] = ContextVar("coercing_variables", default=False)

_ORIGINAL = graphql_values.get_variable_values
_NO_DEFAULT = object()


def install() -> None:
    """Puts ``get_variable_values`` in graphql-core's executor module (each build of
    the short path's executor says so again: an assignment of the same function)."""
    graphql_executor.get_variable_values = get_variable_values  # type: ignore[attr-defined]


def get_variable_values(
    schema: GraphQLSchema,
    var_def_nodes: Any,
    inputs: dict[str, Any],
    max_errors: int | None = None,
    hide_suggestions: bool = False,
) -> VariableValues | list[GraphQLError]:
    """graphql-core's ``get_variable_values``, through the coercers when ``COERCING``."""
    if COERCING.get():
        coerced = coerced_cleanly(schema, var_def_nodes, inputs)
        if coerced is not None:
            return coerced
    return _ORIGINAL(
        schema, var_def_nodes, inputs, max_errors=max_errors, hide_suggestions=hide_suggestions
    )


def coerced_cleanly(
    schema: GraphQLSchema, var_def_nodes: Any, inputs: dict[str, Any]
) -> VariableValues | None:
    """The variables, as graphql-core would coerce them; None where any of them is not
    given, could nest too deeply, or would be refused (graphql-core's way says why)."""
    coercers = _COERCERS.get(schema)
    if coercers is None:
        coercers = _COERCERS[schema] = _Coercers()
    sources: dict[str, VariableValueSource] = {}
    coerced: dict[str, Any] = {}
    for node in var_def_nodes:
        signature = get_variable_signature(schema, node)
        if isinstance(signature, GraphQLError):
            return None
        name = signature.name
        value = inputs.get(name, Undefined)
        if value is Undefined:
            return None
        coerce = coercers.shallow(signature.type)
        if coerce is None:
            return None
        result = coerce(value)
        if result is Undefined:
            return None
        sources[name] = VariableValueSource(signature, value)
        coerced[name] = result
    return VariableValues(sources, coerced)


class _Coercers:
    """One schema's coercers, by type (as printed: wrapping types are made anew for each
    variable definition, named types are one per name)."""

    def __init__(self) -> None:
        self._by_type: dict[str, Coercer] = {}
        # A variable's type: its coercer, or None where a value could nest too deeply.
        self._shallow: dict[str, Coercer | None] = {}

    def shallow(self, type_: GraphQLInputType) -> Coercer | None:
        """The type's coercer, if no value of it can nest deeper than graphql-core allows."""
        key = str(type_)
        if key not in self._shallow:
            depth = _deepest(type_, set())
            bounded = depth is not None and depth <= MAX_NESTING_DEPTH
            self._shallow[key] = self.of(type_) if bounded else None
        return self._shallow[key]

    def of(self, type_: GraphQLInputType) -> Coercer:
        key = str(type_)
        coerce = self._by_type.get(key)
        if coerce is None:
            coerce = self._make(type_, key)
        return coerce

    def _make(self, type_: GraphQLInputType, key: str) -> Coercer:
        if is_non_null_type(type_):
            inner = self.of(type_.of_type)

            def non_null(value: Any) -> Any:
                if value is None or value is Undefined:
                    return Undefined
                return inner(value)

            coerce: Coercer = non_null
        elif is_list_type(type_):
            item = self.of(type_.of_type)

            def list_of(value: Any) -> Any:
                if value is None or value is Undefined:
                    return None
                if not is_iterable(value):  # a value on its own is a list of one
                    one = item(value)
                    return Undefined if one is Undefined else [one]
                items = []
                for each in value:
                    one = item(each)
                    if one is Undefined:
                        return Undefined
                    items.append(one)
                return items

            coerce = list_of
        elif is_input_object_type(type_):
            object_type = type_
            names = frozenset(type_.fields)
            one_of = type_.is_one_of
            out_type = type_.out_type
            # Per field: its name, out name, definition, whether it is required and its
            # coercer; made on first use (an input type may contain itself).
            fields: list[tuple[str, str, GraphQLInputField, bool, Coercer]] = []
            defaults: dict[str, Any] = {}

            def input_object(value: Any) -> Any:
                if value is None or value is Undefined:
                    return None
                if not isinstance(value, dict):
                    return Undefined
                if not fields:
                    fields.extend(
                        (n, f.out_name or n, f, is_required_input_field(f), self.of(f.type))
                        for n, f in object_type.fields.items()
                    )
                defined = 0
                for name, given in value.items():
                    if given is Undefined:
                        continue
                    defined += 1
                    if name not in names:
                        return Undefined
                coerced: dict[str, Any] = {}
                for name, out_name, field, required, coerce_field in fields:
                    given = value.get(name, Undefined)
                    if given is Undefined:
                        if required:
                            return Undefined
                        default = defaults.get(name, _NO_DEFAULT)
                        if default is _NO_DEFAULT:
                            default = defaults[name] = coerce_default_value(field)
                        if default is not Undefined:
                            coerced[out_name] = default
                    else:
                        result = coerce_field(given)
                        if result is Undefined:
                            return Undefined
                        coerced[out_name] = result
                if one_of:
                    keys = list(coerced)
                    if defined != 1 or len(keys) != 1 or coerced[keys[0]] is None:
                        return Undefined
                return out_type(coerced)

            coerce = input_object
        else:
            parse = assert_leaf_type(type_).coerce_input_value

            def leaf(value: Any) -> Any:
                if value is None or value is Undefined:
                    return None
                try:
                    return parse(value)
                except Exception:
                    # Refused: graphql-core coerces the variables again and reports it.
                    return Undefined

            coerce = leaf
        self._by_type[key] = coerce
        return coerce


def _deepest(type_: GraphQLInputType, within: set[str]) -> int | None:
    """How deep graphql-core's depth check (``input_is_nested_too_deeply``) can go in a
    value of the type: a list's items and an object's fields are one level down; None
    where there is no bound (an input type that contains itself)."""
    if is_non_null_type(type_):
        return _deepest(type_.of_type, within)
    if is_list_type(type_):
        below = _deepest(type_.of_type, within)
        return None if below is None else below + 1
    if is_input_object_type(type_):
        if type_.name in within:
            return None
        deepest = 0
        for field in type_.fields.values():
            below = _deepest(field.type, within | {type_.name})
            if below is None:
                return None
            deepest = max(deepest, below + 1)
        return deepest
    return 0


_COERCERS: WeakKeyDictionary[GraphQLSchema, _Coercers] = WeakKeyDictionary()
