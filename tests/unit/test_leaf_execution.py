"""The short path for plain leaf fields answers exactly as graphql-core's own path does."""

from __future__ import annotations

import enum
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import graphql
import pytest
import strawberry
from strawberry.extensions import SchemaExtension

from account_alerts.api import execution
from account_alerts.api.execution import LeafFieldsExecutionContext
from account_alerts.api.scalars import DecimalScalar
from account_alerts.delivery.metrics import REGISTRY

HANDBACKS_METRIC = "alerts_graphql_short_path_handbacks_total"


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Row:
    name: Any
    colour: Any
    amount: Any
    at: Any
    note: Any = None


@strawberry.type
class Item:
    name: str
    colour: Colour
    amount: Decimal
    at: datetime
    note: str | None

    @strawberry.field
    def shout(self) -> str:
        return str(self.name).upper()

    @strawberry.field
    async def later(self) -> int:
        return 7


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [
            Row("a", Colour.RED, Decimal("1.5000"), datetime(2026, 1, 2, 3, 4, tzinfo=UTC)),
            Row("b", Colour.BLUE, Decimal("2"), datetime(2026, 5, 6, tzinfo=UTC), note="n"),
        ]  # type: ignore[list-item]

    @strawberry.field
    def broken(self) -> list[Item]:
        return [
            Row(None, Colour.RED, Decimal(1), datetime(2026, 1, 1, tzinfo=UTC)),  # null name
            Row("c", "not a colour", Decimal(1), datetime(2026, 1, 1, tzinfo=UTC)),
            Row("d", Colour.RED, Decimal(1), "not a date"),
        ]  # type: ignore[list-item]

    @strawberry.field
    def stored(self) -> list[Item | None]:
        # graphql-core lets a field's value be an error to report.
        return [Row(ValueError("stored error"), Colour.RED, Decimal(1), datetime.now(UTC))]  # type: ignore[list-item]


class Upper(SchemaExtension):
    """A resolve hook: every field goes through it, so no field may skip it."""

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        result = _next(root, info, *args, **kwargs)
        return result.upper() if isinstance(result, str) else result


def _schema(fast: bool, extensions: list[Any] | None = None) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        extensions=extensions or [],
        execution_context_class=LeafFieldsExecutionContext if fast else None,
        scalar_overrides={Decimal: DecimalScalar},
    )


def _answer(schema: strawberry.Schema, query: str) -> tuple[Any, list[dict[str, Any]]]:
    result = schema.execute_sync(query) if "later" not in query else None
    if result is None:
        import asyncio

        result = asyncio.run(schema.execute(query))
    errors = [
        {"message": e.message, "path": e.path, "locations": e.locations}
        for e in (result.errors or [])
    ]
    return result.data, errors


QUERIES = [
    "{ items { name colour amount at note shout } }",
    "{ items { n: name, name, c: colour, ...F } } fragment F on Item { amount at }",
    "{ items { name later } }",
    "{ broken { name } }",
    "{ broken { colour } }",
    "{ broken { at } }",
    "{ broken { name colour amount at note } }",
    "{ stored { name colour } }",
]


@pytest.mark.parametrize("query", QUERIES)
def test_same_answer_as_graphql_core(query: str) -> None:
    expected = _answer(_schema(fast=False), query)
    assert _answer(_schema(fast=True), query) == expected


def test_errors_are_reported_where_graphql_core_reports_them() -> None:
    data, errors = _answer(_schema(fast=True), "{ broken { name } }")
    assert data is None  # a null in a non-null field nulls the non-null list
    messages = {e["message"] for e in errors}
    assert "Cannot return null for non-nullable field Item.name." in messages
    assert [e["path"] for e in errors] == [["broken", 0, "name"]]
    data, errors = _answer(_schema(fast=True), "{ stored { name colour } }")
    assert data == {"stored": [None]}
    assert [(e["message"], e["path"]) for e in errors] == [("stored error", ["stored", 0, "name"])]


def test_resolve_hooks_still_see_every_field() -> None:
    query = "{ items { name note } }"
    expected = _answer(_schema(fast=False, extensions=[Upper]), query)
    assert expected[0] == {"items": [{"name": "A", "note": None}, {"name": "B", "note": "N"}]}
    assert _answer(_schema(fast=True, extensions=[Upper]), query) == expected


def test_plain_leaves_skip_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    general = LeafFieldsExecutionContext.build_resolve_info

    def counting(self: Any, field_def: Any, field_nodes: Any, *args: Any) -> Any:
        built.append(field_nodes[0].name.value)
        return general(self, field_def, field_nodes, *args)

    monkeypatch.setattr(LeafFieldsExecutionContext, "build_resolve_info", counting)
    data, errors = _answer(_schema(fast=True), "{ items { name colour amount at note shout } }")
    assert not errors and len(data["items"]) == 2
    # Only the root field and the field with a resolver of its own took the general path.
    assert built == ["items", "shout", "shout"]


# -- plain subtrees: objects, lists and unions below a resolver, completed in one go ------


@strawberry.type
class Tag:
    label: str
    weight: int | None


@strawberry.type
class Card:
    number: str
    tags: list[Tag]
    colour: Colour


@strawberry.type
class Note:
    text: str


@strawberry.type
class Guarded:
    @strawberry.field
    def secret(self) -> str:
        return "s"


class Deny(strawberry.BasePermission):
    message = "not for you"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Holder:
    title: str
    card: Card | None
    cards: list[Card]
    attachment: Annotated[Card | Note, strawberry.union("Attachment")]
    hidden: str = strawberry.field(permission_classes=[Deny], default="visible")


@dataclass
class BadCard:
    number: Any
    tags: Any
    colour: Any


def _holders() -> list[Holder]:
    card = Card(
        number="1234",
        tags=[Tag(label="x", weight=1), Tag(label="y", weight=None)],
        colour=Colour.BLUE,
    )
    return [
        Holder(title="h1", card=card, cards=[card, card], attachment=card),
        Holder(title="h2", card=None, cards=[], attachment=Note(text="n")),
    ]


@strawberry.type
class TreeQuery:
    @strawberry.field
    def holders(self) -> list[Holder]:
        return _holders()

    @strawberry.field
    def odd(self) -> list[Holder]:
        # Values a plain completion must hand back: a null in a non-null nested field, a
        # row that is not the Strawberry type, a value that is not a list.
        null_label = Card(number="9", tags=[Tag(label=None, weight=2)], colour=Colour.RED)  # type: ignore[arg-type]
        return [
            Holder(title="o1", card=null_label, cards=[], attachment=Note(text="a")),
            Holder(
                title="o2", card=BadCard("8", [], Colour.RED), cards=[], attachment=Note(text="b")
            ),  # type: ignore[arg-type]
            Holder(title="o3", card=None, cards="not a list", attachment=Note(text="c")),  # type: ignore[arg-type]
        ]

    @strawberry.field
    def guarded(self) -> Guarded:
        return Guarded()


def _tree_schema(fast: bool) -> strawberry.Schema:
    return strawberry.Schema(
        query=TreeQuery,
        execution_context_class=LeafFieldsExecutionContext if fast else None,
    )


def _tree_answer(schema: strawberry.Schema, query: str, variables: Any = None) -> Any:
    result = schema.execute_sync(query, variable_values=variables)
    errors = sorted(
        (e.message, tuple(e.path or ()), tuple((loc.line, loc.column) for loc in e.locations or ()))
        for e in result.errors or []
    )
    return result.data, errors


TREE_QUERIES = [
    "{ holders { title card { number colour tags { label weight } } } }",
    "{ holders { cards { number t: tags { label } } c2: cards { colour } } }",
    "{ holders { __typename attachment { __typename ... on Card { number }"
    " ... on Note { text } } } }",
    "{ holders { ...H } } fragment H on Holder { title card { ...C } }"
    " fragment C on Card { number tags { label } }",
    "{ holders { hidden title } }",
    "{ holders { title card { tags { label } } } }",
    "{ odd { title card { number tags { label weight } } } }",
    "{ odd { cards { number } } }",
    "{ odd { attachment { ... on Note { text } } } }",
    "{ guarded { secret } }",
]


@pytest.mark.parametrize("query", TREE_QUERIES)
def test_plain_subtrees_answer_as_graphql_core(query: str) -> None:
    expected = _tree_answer(_tree_schema(fast=False), query)
    assert _tree_answer(_tree_schema(fast=True), query) == expected


@pytest.mark.parametrize("show", [True, False])
def test_directives_keep_the_general_path(show: bool) -> None:
    query = (
        "query($show: Boolean!) { holders { card { number tags @include(if: $show) { label } } } }"
    )
    expected = _tree_answer(_tree_schema(fast=False), query, {"show": show})
    assert _tree_answer(_tree_schema(fast=True), query, {"show": show}) == expected
    first_card = expected[0]["holders"][0]["card"]
    assert ("tags" in first_card) is show


def test_a_permission_on_a_plain_field_is_still_checked() -> None:
    data, errors = _tree_answer(_tree_schema(fast=True), "{ holders { title hidden } }")
    assert data is None
    assert errors and all(message == "not for you" for message, _, _ in errors)


def test_a_null_deep_in_a_subtree_is_reported_at_its_path() -> None:
    data, errors = _tree_answer(
        _tree_schema(fast=True), "{ odd { title card { number tags { label } } } }"
    )
    assert data is not None and data["odd"][0]["card"] is None
    assert errors[0][:2] == (
        "Cannot return null for non-nullable field Tag.label.",
        ("odd", 0, "card", "tags", 0, "label"),
    )


def test_plain_subtrees_skip_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    general = LeafFieldsExecutionContext.build_resolve_info

    def counting(self: Any, field_def: Any, field_nodes: Any, *args: Any) -> Any:
        built.append(field_nodes[0].name.value)
        return general(self, field_def, field_nodes, *args)

    monkeypatch.setattr(LeafFieldsExecutionContext, "build_resolve_info", counting)
    data, errors = _tree_answer(
        _tree_schema(fast=True),
        "{ holders { title card { number tags { label } } cards { colour }"
        " attachment { __typename ... on Note { text } } } }",
    )
    assert not errors and data["holders"][0]["card"]["tags"][1] == {"label": "y"}
    assert data["holders"][1]["attachment"] == {"__typename": "Note", "text": "n"}
    # Only the root field, which has a resolver, went the general way.
    assert built == ["holders"]


# -- hand-backs: counted, and nothing else is caught ------------------------------------


def _handbacks(field: str) -> float:
    return REGISTRY.get_sample_value(HANDBACKS_METRIC, {"field": field}) or 0.0


def test_a_value_handed_back_to_graphql_core_is_counted() -> None:
    before = _handbacks("Item.at")
    data, errors = _answer(_schema(fast=True), "{ broken { at } }")
    assert data is None and len(errors) == 1
    # The first two rows' dates are plain; the third's is a string, for graphql-core.
    assert _handbacks("Item.at") == before + 1


def test_a_bug_on_the_short_path_is_an_error_not_a_slow_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_completer(*args: Any) -> Any:
        def complete(value: Any) -> Any:
            raise KeyError("a bug in the short path")

        return complete

    monkeypatch.setattr(execution, "_leaf_completer", broken_completer)
    data, errors = _answer(_schema(fast=True), "{ items { name } }")
    assert data is None
    assert [e["path"] for e in errors] == [["items", 0]]
    assert "a bug in the short path" in errors[0]["message"]


def test_graphql_core_is_the_version_whose_internals_the_short_path_reads() -> None:
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    [pin] = [dep for dep in pyproject["project"]["dependencies"] if dep.startswith("graphql-core")]
    pinned = pin.removeprefix("graphql-core==")
    assert graphql.version == pinned
    assert f"graphql-core {pinned}'s executor internals" in (execution.__doc__ or "")
