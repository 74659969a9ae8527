"""The risk team switches anomaly models: one ACTIVE, at most one SHADOW, each switch
audited with the models in place before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.anomaly.payload import PayloadRejected
from account_alerts.domain.enums import AnomalyModelStatus
from account_alerts.engine.actor import Actor
from account_alerts.errors import BadUserInput, NotFound
from account_alerts.store import audit_trail
from account_alerts.store.anomaly_models import AnomalyModelRecord, load_model
from account_alerts.store.base import row_key
from account_alerts.store.database import Database

ACTIVE, SHADOW, INACTIVE = (
    AnomalyModelStatus.ACTIVE,
    AnomalyModelStatus.SHADOW,
    AnomalyModelStatus.INACTIVE,
)


async def switch_model(
    db: Database,
    *,
    actor: Actor,
    model_id: str,
    to: AnomalyModelStatus,
    now: datetime,
) -> AnomalyModelRecord:
    """Make ``model_id`` ACTIVE or SHADOW, the model that held that place becoming
    INACTIVE (a model whose bytes fail their checksum is refused); or take it out of its
    place (INACTIVE): with no ACTIVE model no transaction is scored and the feature
    reads null."""
    key = row_key(model_id)
    if key is None:
        raise NotFound(f"no anomaly model {model_id}", field="modelId")
    async with db.transaction() as session:
        # Switches queue behind each other (models are few): each then reads the places
        # as the one before it left them.
        await session.exec(select(AnomalyModelRecord.id).with_for_update())
        in_place = await _models_in_place(session)
        target = await session.get(AnomalyModelRecord, key)
        if target is None:
            raise NotFound(f"no anomaly model {model_id}", field="modelId")
        if target.status is to:
            raise BadUserInput(f"anomaly model {model_id} is already {to.value}", field="modelId")
        before = _places(in_place)
        if to is INACTIVE:
            return await _switched(session, actor, target, to, in_place, before, now)
        if to is SHADOW and target.status is ACTIVE:
            raise BadUserInput(
                f"anomaly model {model_id} is ACTIVE; activate another model first",
                field="modelId",
            )
        try:
            load_model(target)
        except PayloadRejected as exc:
            raise BadUserInput(
                f"anomaly model {model_id} cannot be used: {exc}", field="modelId"
            ) from None
        previous = in_place.get(to)
        if previous is not None:
            # The one holding the place steps down first: the unique indexes see one at a
            # time.
            previous.status = INACTIVE
            session.add(previous)
            await session.flush()
        return await _switched(session, actor, target, to, in_place, before, now)


_ACTIONS = {ACTIVE: "activated", SHADOW: "shadowed", INACTIVE: "deactivated"}


async def _switched(
    session: AsyncSession,
    actor: Actor,
    target: AnomalyModelRecord,
    to: AnomalyModelStatus,
    in_place: dict[AnomalyModelStatus, AnomalyModelRecord],
    before: dict[str, Any],
    now: datetime,
) -> AnomalyModelRecord:
    """``target`` now holds ``to`` (its old place emptied); flushed and audited."""
    in_place.pop(target.status, None)
    target.status = to
    session.add(target)
    if to is not INACTIVE:
        in_place[to] = target
    await session.flush()
    audit_trail.record(
        session,
        actor_role=actor.role.value,
        actor_id=actor.id,
        action=f"anomaly_model.{_ACTIONS[to]}",
        occurred_at=now,
        subject_type="anomaly_model",
        subject_id=str(target.id),
        before=before,
        after=_places(in_place),
    )
    await session.refresh(target)
    return target


async def _models_in_place(session: AsyncSession) -> dict[AnomalyModelStatus, AnomalyModelRecord]:
    rows = await session.exec(
        select(AnomalyModelRecord).where(col(AnomalyModelRecord.status).in_([ACTIVE, SHADOW]))
    )
    return {row.status: row for row in rows.all()}


def _places(in_place: dict[AnomalyModelStatus, AnomalyModelRecord]) -> dict[str, Any]:
    return {
        "activeModelId": in_place[ACTIVE].id if ACTIVE in in_place else None,
        "shadowModelId": in_place[SHADOW].id if SHADOW in in_place else None,
    }
