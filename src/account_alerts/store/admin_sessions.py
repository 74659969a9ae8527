"""The console's sign-in sessions. The browser holds a random token; the database holds
its hash, whose session ends when it expires or its staff member signs out."""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.store.base import when


class AdminSession(SQLModel, table=True):
    __tablename__ = "admin_sessions"
    __table_args__ = (sa.Index("idx_admin_sessions_expiry", "expires_at"),)

    token_hash: str = Field(primary_key=True, max_length=64)
    staff: str = Field(max_length=64)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = when(required=True)
    expires_at: datetime = when(required=True)
    ended_at: datetime | None = when()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def active(session: AsyncSession, token: str, now: datetime) -> AdminSession | None:
    """The session a cookie's token names, if it has neither expired nor been ended."""
    return (
        await session.exec(
            select(AdminSession).where(
                col(AdminSession.token_hash) == token_hash(token),
                col(AdminSession.expires_at) > now,
                col(AdminSession.ended_at).is_(None),
            )
        )
    ).first()


async def end(session: AsyncSession, token: str, now: datetime) -> None:
    await session.exec(
        sa.update(AdminSession)
        .where(col(AdminSession.token_hash) == token_hash(token))
        .values(ended_at=now)
    )
