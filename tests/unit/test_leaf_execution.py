"""The short path for plain leaf fields answers exactly as graphql-core's own path does."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension

from account_alerts.api.execution import LeafFieldsExecutionContext
from account_alerts.api.scalars import DecimalScalar


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
