"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC timestamps in, aware UTC timestamps out (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(sa.TypeDecorator[Decimal]):
    """NUMERIC(19,4); on SQLite kept as exact text, since SQLite would round through floats."""

    impl = sa.Numeric(19, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(24))
        return dialect.type_descriptor(sa.Numeric(19, 4, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value).quantize(Decimal("0.0001"))
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


def JSONDocument() -> sa.types.TypeEngine[Any]:
    """JSONB on PostgreSQL, JSON text elsewhere."""
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def json_bytes(value: Any) -> bytes:
    """A JSON document as orjson writes it; what orjson refuses (an integer beyond 64 bits,
    a key that is not text) as the standard library writes it."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode()


class WholeDocument(sa.TypeDecorator[Any]):
    """A JSON document that is only ever read and written whole, never queried inside (a
    customer's activity profile). On PostgreSQL it is kept as text: jsonb would parse
    every document written and render every one read, which for a few kilobytes is most of
    the cost of writing and reading it (the profile is both, on every event). JSON
    elsewhere. Python sees the document either way."""

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return sa.Text()  # as it is: the dialect's descriptor of Text renders VARCHAR
        return dialect.type_descriptor(sa.JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "postgresql":
            return value
        return json_bytes(value).decode()

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "postgresql":
            return value
        return orjson.loads(value)


def enum_column(enum: type[StrEnum], name: str) -> sa.Enum:
    """Enum values as checked text: portable, and new values need no type migration."""
    return sa.Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
