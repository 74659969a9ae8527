"""Shared column helpers and the metadata naming convention (stable constraint names)."""

import functools
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from pydantic_core import PydanticUndefined
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.store.types import JSONDocument, UTCDateTime, WholeDocument

Row = TypeVar("Row", bound=SQLModel)

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def on_postgresql(session: AsyncSession) -> bool:
    """Whether the session's database is PostgreSQL (SKIP LOCKED, advisory locks...)."""
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def table_of(model: type[SQLModel]) -> sa.Table:
    """A table model's Core table, for statements that need no ORM objects."""
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table


@functools.cache
def _defaults(model: type[SQLModel]) -> tuple[tuple[str, Any, Callable[[], Any] | None], ...]:
    """Each column but the id: its name, its default, and its default's factory."""
    fields = model.model_fields
    found = []
    for column in table_of(model).columns:
        if column.name == "id":
            continue
        info = fields[column.name]
        factory = cast("Callable[[], Any] | None", info.default_factory)
        found.append((column.name, info.default, factory))
    return tuple(found)


def new_row(model: type[SQLModel], **values: Any) -> dict[str, Any]:
    """A new row's columns but its id, as constructing ``model`` fills them (a table
    model's construction validates nothing; it sets the values given and each other
    field's default), without building the model: for rows written as plain values."""
    row: dict[str, Any] = {}
    for name, default, factory in _defaults(model):
        if name in values:
            row[name] = values[name]
        elif factory is not None:
            row[name] = factory()
        elif default is PydanticUndefined:
            raise TypeError(f"{model.__name__} needs {name}")
        else:
            row[name] = default
    return row


def columns_of(table: sa.Table, shape: type) -> list[sa.Column[Any]]:
    """The columns of ``table`` named like the fields of the dataclass ``shape``, in its
    order: ``shape(*row)`` then builds a record from each row selected with them."""
    return [table.c[field.name] for field in fields(shape)]


def row_key(text_id: str) -> int | None:
    """The integer primary key an id names as GraphQL or a URL gives it (decimal ASCII
    digits, within a 64-bit key), or None: no row has any other. ``str.isdigit`` alone
    also takes digits such as "²", which ``int`` refuses."""
    if text_id.isascii() and text_id.isdigit() and len(text_id) <= 18:
        return int(text_id)
    return None


async def row_by_id(
    session: AsyncSession, model: type[Row], text_id: str, *, lock: bool = False
) -> Row | None:
    """The row whose integer primary key is ``text_id`` (an id as GraphQL or a URL gives
    it), or None when there is none or the text is not a number."""
    key = row_key(text_id)
    if key is None:
        return None
    return await session.get(model, key, with_for_update=lock)


def utcnow() -> datetime:
    return datetime.now(UTC)


def when(*, required: bool = False, now: bool = False, index: bool = False) -> Any:
    """A UTC timestamp column; ``now`` fills it at insert, ``required`` makes it NOT NULL."""
    if now:
        return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)
    if required:
        return Field(sa_type=UTCDateTime, nullable=False, index=index)
    return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)


def user_fk(*, index: bool = False) -> Any:
    return Field(foreign_key="mobile_users.id", sa_type=sa.BigInteger, index=index)


# Empty documents come from plain functions, not the builtins list and dict: pydantic
# inspects a default factory's signature on every construction, and a builtin's is parsed
# from text each time (about a quarter of a millisecond per alert written).
def _empty_list() -> list[Any]:
    return []


def _empty_dict() -> dict[str, Any]:
    return {}


def json_list() -> Any:
    return Field(default_factory=_empty_list, sa_type=JSONDocument(), nullable=False)


def whole_doc() -> Any:
    """A nullable document read and written only whole (store.types.WholeDocument)."""
    return Field(default=None, sa_type=WholeDocument(), nullable=True)


def json_doc(*, nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=JSONDocument(), nullable=True)
    return Field(default_factory=_empty_dict, sa_type=JSONDocument(), nullable=False)
