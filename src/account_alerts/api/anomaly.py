"""The risk team's anomaly models: listed with what they were trained on, switched
between ACTIVE, SHADOW and INACTIVE."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from account_alerts.api.context import Info
from account_alerts.api.permissions import IsAdmin
from account_alerts.domain.enums import AnomalyModelStatus
from account_alerts.engine.anomaly_models import switch_model
from account_alerts.store.anomaly_models import AnomalyModelRecord, list_models


@strawberry.type(name="AnomalyModel")
class AnomalyModelView:
    id: strawberry.ID = strawberry.field(description="The model's version, in training order.")
    status: AnomalyModelStatus = strawberry.field(
        description="ACTIVE scores transactions; SHADOW scores them beside it, stored but "
        "never used; INACTIVE does nothing."
    )
    created_at: datetime
    trained_from: datetime
    trained_to: datetime
    feature_names: list[str]
    row_count: int = strawberry.field(description="Transactions it was trained on.")
    seed: int
    score_distribution: JSON = strawberry.field(
        description="The training transactions' raw anomaly s(x) at percentiles p50 ... p100."
    )
    checksum: str = strawberry.field(description="SHA-256 of the stored model bytes.")

    @classmethod
    def build(cls, row: AnomalyModelRecord) -> AnomalyModelView:
        return cls(
            id=strawberry.ID(str(row.id)),
            status=row.status,
            created_at=row.created_at,
            trained_from=row.trained_from,
            trained_to=row.trained_to,
            feature_names=list(row.feature_names),
            row_count=row.row_count,
            seed=row.seed,
            score_distribution=JSON(row.score_distribution),
            checksum=row.checksum,
        )


@strawberry.type
class AnomalyQuery:
    @strawberry.field(permission_classes=[IsAdmin], description="Newest first.")
    async def anomaly_models(self, info: Info) -> list[AnomalyModelView]:
        async with info.context.db.session() as session:
            rows = await list_models(session)
        return [AnomalyModelView.build(row) for row in rows]


@strawberry.type
class AnomalyMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="The model scores transactions from now on; the one ACTIVE before "
        "becomes INACTIVE. Audited.",
    )
    async def activate_anomaly_model(self, info: Info, model_id: strawberry.ID) -> AnomalyModelView:
        return await _switch(info, model_id, AnomalyModelStatus.ACTIVE)

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="The model scores beside the ACTIVE one, its score stored and never "
        "used; the one in SHADOW before becomes INACTIVE. Audited.",
    )
    async def set_anomaly_model_shadow(
        self, info: Info, model_id: strawberry.ID
    ) -> AnomalyModelView:
        return await _switch(info, model_id, AnomalyModelStatus.SHADOW)

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Takes the ACTIVE or SHADOW model out of use: with no ACTIVE model no "
        "transaction is scored and anomalyScore reads null. Audited.",
    )
    async def deactivate_anomaly_model(
        self, info: Info, model_id: strawberry.ID
    ) -> AnomalyModelView:
        return await _switch(info, model_id, AnomalyModelStatus.INACTIVE)


async def _switch(info: Info, model_id: strawberry.ID, to: AnomalyModelStatus) -> AnomalyModelView:
    row = await switch_model(
        info.context.db,
        actor=info.context.actor(),
        model_id=str(model_id),
        to=to,
        now=info.context.now(),
    )
    # This process's live traffic scores with the models in place from the next event on.
    info.context.services.ingestor.anomaly.invalidate()
    return AnomalyModelView.build(row)
