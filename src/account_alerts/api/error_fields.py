"""Which argument a refused input was: ``extensions.field`` for the errors GraphQL itself
raises before a resolver runs (an unknown enum value, a wrong type, a missing field), as
the resolvers' own BAD_USER_INPUT errors carry it.

The path starts at the argument's name and follows lists and input objects:
``eventTypes[1]``, ``input.location.latitude``. For a variable, the argument (or input
field) the variable is passed as, then where inside the variable's value the bad part is.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLError,
    ListValueNode,
    ObjectValueNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    visit,
)
from graphql.language import Visitor

# graphql-core: "Variable '$x' has invalid value at [1]: ..." / "... at .location.latitude: ..."
_INSIDE_VARIABLE = re.compile(r"^Variable '\$\w+' has invalid value at ((?:\[\d+\]|\.\w+)+):")

_Matcher = Callable[[ValueNode], bool]


def input_field(error: GraphQLError, document: DocumentNode | None) -> str | None:
    """The argument path of an input GraphQL refused, or None when the error is not about
    one argument."""
    if document is None or not error.nodes:
        return None
    node = error.nodes[0]
    if isinstance(node, VariableDefinitionNode):
        name = node.variable.name.value
        where = _argument_path(document, lambda value: _is_variable(value, name))
        if where is None:
            return None
        inside = _INSIDE_VARIABLE.match(error.message)
        return where + (inside.group(1) if inside else "")
    if node.loc is None:
        return None
    start, end = node.loc.start, node.loc.end
    return _argument_path(
        document,
        lambda value: value.loc is not None and (value.loc.start, value.loc.end) == (start, end),
    )


def _is_variable(value: ValueNode, name: str) -> bool:
    return isinstance(value, VariableNode) and value.name.value == name


class _Arguments(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[ArgumentNode] = []

    def enter_argument(self, node: ArgumentNode, *_: object) -> None:
        self.found.append(node)


def _argument_path(document: DocumentNode, matches: _Matcher) -> str | None:
    arguments = _Arguments()
    visit(document, arguments)
    for argument in arguments.found:
        inside = _path_in(argument.value, matches)
        if inside is not None:
            return argument.name.value + inside
    return None


def _path_in(value: ValueNode, matches: _Matcher) -> str | None:
    """The path from ``value`` down to the first node ``matches`` accepts ('' for
    ``value`` itself), or None."""
    if matches(value):
        return ""
    if isinstance(value, ListValueNode):
        for index, item in enumerate(value.values):
            inside = _path_in(item, matches)
            if inside is not None:
                return f"[{index}]{inside}"
    if isinstance(value, ObjectValueNode):
        for field in value.fields:
            inside = _path_in(field.value, matches)
            if inside is not None:
                return f".{field.name.value}{inside}"
    return None
