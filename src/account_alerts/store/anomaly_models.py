"""Fitted anomaly models, one versioned row each: what it was trained on, its score
distribution, and its arrays as checksummed bytes (``domain.anomaly.payload``).

At most one model is ACTIVE and at most one SHADOW: partial unique indexes hold that
even against two admins switching at once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.anomaly import payload
from account_alerts.domain.anomaly.model import AnomalyModel
from account_alerts.domain.enums import AnomalyModelStatus
from account_alerts.store.base import json_doc, json_list, when
from account_alerts.store.types import enum_column


def _one_with_status(status: AnomalyModelStatus) -> sa.Index:
    only = sa.text(f"status = '{status.value}'")
    return sa.Index(
        f"uq_anomaly_models_one_{status.value.lower()}",
        "status",
        unique=True,
        postgresql_where=only,
        sqlite_where=only,
    )


class AnomalyModelRecord(SQLModel, table=True):
    __tablename__ = "anomaly_models"
    __table_args__ = (
        _one_with_status(AnomalyModelStatus.ACTIVE),
        _one_with_status(AnomalyModelStatus.SHADOW),
    )

    id: int | None = Field(default=None, primary_key=True)  # the model's version
    created_at: datetime = when(now=True)
    trained_from: datetime = when(required=True)
    trained_to: datetime = when(required=True)
    feature_names: list[str] = json_list()
    row_count: int
    seed: int = Field(sa_type=sa.BigInteger)
    # The raw anomaly s(x) of the training transactions at a few percentiles.
    score_distribution: dict[str, Any] = json_doc()
    status: AnomalyModelStatus = Field(
        sa_type=enum_column(AnomalyModelStatus, "anomaly_model_status_enum")
    )
    checksum: str = Field(max_length=64)
    payload: bytes = Field(sa_type=sa.LargeBinary)


def summary(record: AnomalyModelRecord) -> dict[str, Any]:
    """What the audit log says about a model: no payload."""
    return {
        "modelId": record.id,
        "status": record.status.value,
        "trainedFrom": record.trained_from.isoformat(),
        "trainedTo": record.trained_to.isoformat(),
        "rowCount": record.row_count,
        "checksum": record.checksum,
    }


def load_model(record: AnomalyModelRecord) -> AnomalyModel:
    """The model, its bytes checked against the stored checksum first."""
    return payload.load(record.payload, expected_checksum=record.checksum)


async def list_models(session: AsyncSession) -> list[AnomalyModelRecord]:
    """Newest first, without their payloads (deferred: a listing never needs them)."""
    statement = (
        select(AnomalyModelRecord)
        .options(sa.orm.defer(AnomalyModelRecord.payload))  # type: ignore[arg-type]
        .order_by(col(AnomalyModelRecord.id).desc())
    )
    return list((await session.exec(statement)).all())


async def model_with_status(
    session: AsyncSession, status: AnomalyModelStatus, *, for_update: bool = False
) -> AnomalyModelRecord | None:
    statement = select(AnomalyModelRecord).where(col(AnomalyModelRecord.status) == status)
    if for_update:
        statement = statement.with_for_update()
    return (await session.exec(statement)).first()


async def model_ids_in_use(session: AsyncSession) -> dict[AnomalyModelStatus, int]:
    """The ACTIVE and SHADOW models' ids: cheap, for noticing a switch."""
    statement = select(AnomalyModelRecord.id, AnomalyModelRecord.status).where(
        col(AnomalyModelRecord.status).in_([AnomalyModelStatus.ACTIVE, AnomalyModelStatus.SHADOW])
    )
    rows = (await session.exec(statement)).all()
    return {AnomalyModelStatus(status): int(model_id) for model_id, status in rows if model_id}
