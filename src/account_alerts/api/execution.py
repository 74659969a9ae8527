"""Executing a GraphQL document, with short paths for plain fields.

A history page is some 800 fields, and nearly all of them are read straight off the
objects the root resolver returned: scalars and enums (``title``, ``status``,
``sentAt`` ...), the ``details`` union, the ``deliveries`` list. graphql-core handles
each one the general way: a path entry, a resolve-info object, the resolver behind
Strawberry's wrapper, two awaitable checks and the value completion's dispatch on the
field's type. This context takes two short cuts where that general way comes to
"read the attribute and shape it for output":

- a *plain leaf* (no resolver of its own, no arguments, no field extensions, a scalar
  or enum type, no resolve hook) is read and coerced in place;
- a *plain subtree* (a field whose whole selection below it is plain: objects, lists,
  unions of Strawberry types and plain leaves, with no directives, no arguments and no
  resolvers anywhere in it) is completed by a completer compiled once per field of a
  document and kept across requests, one Python call per value; so is the value a root
  field's resolver returned (a batch's hundred results, a history page) when the
  selection below it is plain.

Both hand anything unusual — null on a non-null field, an error as a value, an
awaitable, a value of a class the scalar is not known to take as it is — back to
graphql-core's own path for that field, by explicit checks, and count it in
``alerts_graphql_short_path_handbacks_total``. Nothing on a short path has side effects
(they only read attributes), so the field is then executed again the general way, and
errors and their paths and locations are exactly what graphql-core gives. Any other
exception on a short path is a bug of its own and is reported as an error.

This reads graphql-core 3.3.2's executor internals (the loop of
``ExecutionContext.execute_fields``, ``complete_value``'s arguments, ``collect_subfields``,
``FieldDetails``, ``Path``)
and Strawberry's resolver markers: both are pinned exactly in pyproject.toml, and
``ALERTS_GRAPHQL_SHORT_PATH=false`` leaves every field to graphql-core. The request's
variables are coerced by api.variables while this context builds itself.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import EnumMeta
from math import isfinite
from operator import attrgetter
from typing import Any

from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    FieldNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLString,
    GraphQLUnionType,
    InlineFragmentNode,
    SelectionSetNode,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path, gather_with_cancel
from prometheus_client import Counter
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter as StrawberrySchemaConverter
from strawberry.types.base import StrawberryContainer
from strawberry.types.cast import get_strawberry_type_cast
from strawberry.types.field import StrawberryField

from account_alerts.api import variables
from account_alerts.delivery.metrics import REGISTRY

# A field's value -> its completed output; raises _NotPlain for graphql-core to handle.
Completer = Callable[[Any], Any]
# (read the value off the parent, complete it) for a plain leaf or subtree; None when
# the field takes graphql-core's general path.
Plan = tuple[Callable[[Any], Any], Completer] | None

HANDBACKS = Counter(
    "alerts_graphql_short_path_handbacks_total",
    "Fields the GraphQL short path handed back to graphql-core's general path for an"
    " unexpected value (a null, an error, a value of another class), by Type.field.",
    ["field"],
    registry=REGISTRY,
)

# Compiled subtrees of the documents seen lately, across requests. The key holds the
# ids of the field nodes; the entry keeps the nodes themselves, so that no id is reused
# while its entry lives, and a hit is checked against them.
_SUBTREE_PLANS: dict[tuple[Any, ...], tuple[tuple[FieldNode, ...], Plan]] = {}
_SUBTREE_PLANS_MAX = 2048

# The classes of the values of a JSON scalar, which outputs them as they are.
_JSON_VALUE_CLASSES = (dict, list, str, int, float, bool)


class _NotPlain(Exception):
    """A field or value the short path leaves to graphql-core."""


_NOT_PLAIN_SIGNAL = _NotPlain()
_ABSENT = object()


class LeafFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._leaf_plans: dict[tuple[GraphQLObjectType, str], Plan] = {}

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        """As graphql-core builds an executor, with the request's variables coerced by
        api.variables' coercers where they can."""
        variables.install()
        token = variables.COERCING.set(True)
        try:
            return super().build(*args, **kwargs)
        finally:
            variables.COERCING.reset(token)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        # graphql-core's loop (ExecutionContext.execute_fields), with plain leaves and
        # plain subtrees answered in place: no Path, no resolve info, no awaitable.
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
                if plan is None:
                    plan = self._subtree_plan(parent_type, field_details_list)
                if plan is not None:
                    read, complete = plan
                    try:
                        results[response_name] = complete(read(source_value))
                        continue
                    except _NotPlain:
                        HANDBACKS.labels(f"{parent_type.name}.{key[1]}").inc()
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

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        # A root field's resolved value (a batch's results, a page) whose whole selection
        # is plain: completed in one call, as a plain subtree is.
        if path.prev is None:
            plan = self._resolved_plan(info.parent_type, field_details_list)
            if plan is not None:
                try:
                    return plan[1](result)
                except _NotPlain:
                    HANDBACKS.labels(f"{info.parent_type.name}.{info.field_name}").inc()
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    # -- plain leaves ------------------------------------------------------------------

    def _leaf_plan(self, parent_type: GraphQLObjectType, field_name: str) -> Plan:
        field_def = self.schema.get_field(parent_type, field_name)
        if field_def is None or not self._is_plain(field_def):
            return None
        field_type = field_def.type
        non_null = isinstance(field_type, GraphQLNonNull)
        leaf = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        name = _attribute_name(field_def)
        if name is None or not isinstance(leaf, (GraphQLScalarType, GraphQLEnumType)):
            return None
        complete = _leaf_completer(leaf, non_null, _declared_class(field_def))
        if complete is None:
            return None
        return _present_attribute(name), complete

    def _is_plain(self, field_def: GraphQLField) -> bool:
        """No arguments, Strawberry's resolver for a field without one of its own, no
        field extensions (permissions) and no resolve hook around it."""
        if field_def.args:
            return False
        resolve = field_def.resolve
        # Strawberry marks the resolver of a field that has no resolver of its own.
        if resolve is None or not getattr(resolve, "_is_default", False):
            return False
        definition = field_def.extensions.get(StrawberrySchemaConverter.DEFINITION_BACKREF)
        if isinstance(definition, StrawberryField) and definition.extensions:
            return False
        return self.middleware_manager is None or (
            self.middleware_manager.get_field_resolver(resolve) is resolve
        )

    # -- plain subtrees ----------------------------------------------------------------

    def _subtree_plan(
        self, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Plan:
        return self._kept_plan("subtree", parent_type, field_details_list, self._compile_subtree)

    def _resolved_plan(
        self, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Plan:
        return self._kept_plan("resolved", parent_type, field_details_list, self._compile_resolved)

    def _kept_plan(
        self,
        kind: str,
        parent_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        compile_plan: Callable[[GraphQLObjectType, FieldDetailsList], Plan],
    ) -> Plan:
        """The plan of this kind for these fields of a document, compiled once and kept
        across requests (None where they are not plain)."""
        nodes = tuple(details.node for details in field_details_list)
        key = (kind, parent_type, self.middleware_manager is None, *map(id, nodes))
        cached = _SUBTREE_PLANS.get(key)
        if cached is not None and all(a is b for a, b in zip(cached[0], nodes, strict=True)):
            return cached[1]
        try:
            plan = compile_plan(parent_type, field_details_list)
        except _NotPlain:
            plan = None
        if len(_SUBTREE_PLANS) >= _SUBTREE_PLANS_MAX:
            _SUBTREE_PLANS.clear()
        _SUBTREE_PLANS[key] = (nodes, plan)
        return plan

    def _compile_resolved(
        self, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Plan:
        """For a field whose resolver gave its value: a plan for the value when the field
        returns objects (or lists of them) with a plain selection."""
        field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        if field_def is None or not self._plain_selection_below(field_details_list):
            return None
        inner: Any = field_def.type
        while isinstance(inner, (GraphQLNonNull, GraphQLList)):
            inner = inner.of_type
        if not isinstance(inner, (GraphQLObjectType, GraphQLUnionType)):
            return None
        complete = self._completer(field_def.type, field_details_list, _declared_class(field_def))
        return _identity, complete

    def _compile_subtree(
        self, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Plan:
        field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        if field_def is None or not self._is_plain(field_def):
            return None
        name = _attribute_name(field_def)
        if name is None or not self._plain_selection(field_details_list):
            return None
        complete = self._completer(field_def.type, field_details_list, _declared_class(field_def))
        return _present_attribute(name), complete

    def _plain_selection(self, field_details_list: FieldDetailsList) -> bool:
        """No directives (@skip, @include, @defer: they depend on the variables), no
        arguments and no fragment variables anywhere below these fields."""
        return all(
            not details.node.directives and not details.node.arguments
            for details in field_details_list
        ) and self._plain_selection_below(field_details_list)

    def _plain_selection_below(self, field_details_list: FieldDetailsList) -> bool:
        """``_plain_selection`` below fields that were executed already: their own
        arguments went to their resolver, their own directives let them run."""
        for details in field_details_list:
            if details.defer_usage is not None or details.fragment_variable_values:
                return False
            selection_set = details.node.selection_set
            if selection_set is not None and not self._plain_selection_set(selection_set, set()):
                return False
        return True

    def _plain_selection_set(self, selection_set: SelectionSetNode, seen: set[str]) -> bool:
        for selection in selection_set.selections:
            if selection.directives:
                return False
            if isinstance(selection, FieldNode):
                if selection.arguments:
                    return False
                inner = selection.selection_set
            elif isinstance(selection, InlineFragmentNode):
                inner = selection.selection_set
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                details = self.fragments.get(name)
                if details is None or details.variable_signatures:
                    return False
                fragment = details.definition
                if fragment.directives or fragment.variable_definitions:
                    return False
                if name in seen:
                    continue
                seen.add(name)
                inner = fragment.selection_set
            else:
                return False
            if inner is not None and not self._plain_selection_set(inner, seen):
                return False
        return True

    def _completer(
        self,
        field_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        declared: type | None,
    ) -> Completer:
        """A completer for values of ``field_type`` with this selection (``declared``: the
        class the field's leaves are declared with); raises _NotPlain when some part of it
        is not plain."""
        non_null = isinstance(field_type, GraphQLNonNull)
        inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        if isinstance(inner, GraphQLList):
            item = self._completer(inner.of_type, field_details_list, declared)
            return _list_completer(item, non_null)
        if isinstance(inner, (GraphQLScalarType, GraphQLEnumType)):
            leaf = _leaf_completer(inner, non_null, declared)
            if leaf is None:
                raise _NOT_PLAIN_SIGNAL
            return leaf
        if isinstance(inner, GraphQLObjectType):
            origin = _origin_of(inner)
            return _object_completer(
                origin, self._object_fields(inner, field_details_list), non_null
            )
        if isinstance(inner, GraphQLUnionType):
            members: dict[type, Completer] = {}
            for member in inner.types:
                origin = _origin_of(member)
                members[origin] = _object_completer(
                    origin, self._object_fields(member, field_details_list), True
                )
            return _union_completer(members, non_null)
        raise _NOT_PLAIN_SIGNAL  # interfaces and anything else: graphql-core's way

    def _object_fields(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> list[tuple[str, Callable[[Any], Any], Completer]]:
        if object_type.is_type_of is not None:
            raise _NOT_PLAIN_SIGNAL
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
            object_type, field_details_list
        )
        if new_defer_usages:
            raise _NOT_PLAIN_SIGNAL
        fields: list[tuple[str, Callable[[Any], Any], Completer]] = []
        for response_name, sub_details in grouped_field_set.items():
            name = sub_details[0].node.name.value
            if name == "__typename":
                fields.append((response_name, _constant(object_type.name), _identity))
                continue
            field_def = self.schema.get_field(object_type, name)
            if field_def is None or not self._is_plain(field_def):
                raise _NOT_PLAIN_SIGNAL
            attribute = _attribute_name(field_def)
            if attribute is None:
                raise _NOT_PLAIN_SIGNAL
            complete = self._completer(field_def.type, sub_details, _declared_class(field_def))
            # The object's class was checked: a Strawberry type has all its attributes.
            fields.append((response_name, attrgetter(attribute), complete))
        return fields


def _attribute_name(field_def: GraphQLField) -> str | None:
    """The attribute Strawberry's resolver of a basic field (one that _is_plain accepts)
    reads; None when the field is not a plain attribute of a Strawberry type."""
    definition = field_def.extensions.get(StrawberrySchemaConverter.DEFINITION_BACKREF)
    if (
        isinstance(definition, StrawberryField)
        and definition.base_resolver is None
        and definition.default_resolver is getattr
    ):
        return definition.python_name
    return None


def _present_attribute(name: str) -> Callable[[Any], Any]:
    """Reads ``name`` off a parent of any class; a parent without it is left to
    graphql-core, which reports the missing attribute at the field."""

    def read(source: Any) -> Any:
        value = getattr(source, name, _ABSENT)
        if value is _ABSENT:
            raise _NOT_PLAIN_SIGNAL
        return value

    return read


def _declared_class(field_def: GraphQLField) -> type | None:
    """The class a Strawberry field declares its values (or list items) to be: ``str``,
    ``Decimal``, ``datetime`` ...; ``object`` for JSON; None when it is not a class."""
    definition = field_def.extensions.get(StrawberrySchemaConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField):
        return None
    declared: Any = definition.type
    while isinstance(declared, StrawberryContainer):  # optional, list
        declared = declared.of_type
    declared = getattr(declared, "__supertype__", declared)  # NewType: JSON, ID
    return declared if isinstance(declared, type) else None


def _origin_of(object_type: GraphQLObjectType) -> type:
    definition = object_type.extensions.get(StrawberrySchemaConverter.DEFINITION_BACKREF)
    origin = getattr(definition, "origin", None)
    if not isinstance(origin, type):
        raise _NOT_PLAIN_SIGNAL
    return origin


def _constant(value: Any) -> Callable[[Any], Any]:
    def read(_source: Any) -> Any:
        return value

    return read


def _identity(value: Any) -> Any:
    return value


def _leaf_completer(
    leaf: GraphQLScalarType | GraphQLEnumType, non_null: bool, declared: type | None
) -> Completer | None:
    """A completer of the values the leaf's output coercion is known to take as they are
    or turn into output without refusing them; every other value is handed back, for
    graphql-core to coerce or refuse. None for a scalar the short path does not know."""
    if isinstance(leaf, GraphQLEnumType):
        return _enum_completer(leaf, non_null)
    coerce: Callable[[Any], Any] | None = None
    within: Callable[[Any], bool] | None = None
    if leaf is GraphQLString or leaf is GraphQLID:
        classes: tuple[type, ...] = (str,)
    elif leaf is GraphQLBoolean:
        classes = (bool,)
    elif leaf is GraphQLInt:
        classes, within = (int,), _is_graphql_int
    elif leaf is GraphQLFloat:
        classes, within = (float,), isfinite
    elif declared is None:
        return None
    else:
        # Strawberry's scalars and ours: written for the class the field declares.
        classes = _JSON_VALUE_CLASSES if declared is object else (declared,)
        coerce = leaf.coerce_output_value

    def complete(value: Any) -> Any:
        if value is None:
            if non_null:
                raise _NOT_PLAIN_SIGNAL
            return None
        if type(value) not in classes or (within is not None and not within(value)):
            raise _NOT_PLAIN_SIGNAL
        if coerce is None:
            return value
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise _NOT_PLAIN_SIGNAL
        return coerced

    return complete


def _is_graphql_int(value: int) -> bool:
    return GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT


def _enum_completer(leaf: GraphQLEnumType, non_null: bool) -> Completer | None:
    """Members of the enum's class, by their GraphQL names."""
    wrapped = getattr(leaf, "wrapped_cls", None)
    if not isinstance(wrapped, EnumMeta):
        return None
    by_value = {value.value: name for name, value in leaf.values.items()}
    members: list[Any] = list(wrapped)
    names = {member: by_value[member.value] for member in members if member.value in by_value}

    def complete(value: Any) -> Any:
        if value is None:
            if non_null:
                raise _NOT_PLAIN_SIGNAL
            return None
        name = names.get(value) if type(value) is wrapped else None
        if name is None:
            raise _NOT_PLAIN_SIGNAL
        return name

    return complete


def _object_completer(
    origin: type, fields: list[tuple[str, Callable[[Any], Any], Completer]], non_null: bool
) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            if non_null:
                raise _NOT_PLAIN_SIGNAL
            return None
        # Exactly the Strawberry type's class: not an error, an awaitable or a cast.
        if type(value) is not origin or get_strawberry_type_cast(value) is not None:
            raise _NOT_PLAIN_SIGNAL
        return {name: finish(read(value)) for name, read, finish in fields}

    return complete


def _list_completer(item: Completer, non_null: bool) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            if non_null:
                raise _NOT_PLAIN_SIGNAL
            return None
        kind = type(value)
        if kind is not list and kind is not tuple:
            raise _NOT_PLAIN_SIGNAL
        return [item(entry) for entry in value]

    return complete


def _union_completer(members: dict[type, Completer], non_null: bool) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            if non_null:
                raise _NOT_PLAIN_SIGNAL
            return None
        member = members.get(type(value))
        if member is None:
            raise _NOT_PLAIN_SIGNAL
        return member(value)

    return complete
