"""Shared column helpers and the metadata naming convention (stable constraint names)."""

from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
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


def columns_of(table: sa.Table, shape: type) -> list[sa.Column[Any]]:
    """The columns of ``table`` named like the fields of the dataclass ``shape``, in its
    order: ``shape(*row)`` then builds a record from each row selected with them."""
    return [table.c[field.name] for field in fields(shape)]


async def row_by_id(
    session: AsyncSession, model: type[Row], text_id: str, *, lock: bool = False
) -> Row | None:
    """The row whose integer primary key is ``text_id`` (an id as GraphQL or a URL gives
    it), or None when there is none or the text is not a number."""
    if not text_id.isdigit():
        return None
    return await session.get(model, int(text_id), with_for_update=lock)


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
