"""Anomaly models end to end: the training job stores a versioned model, the risk team
lists and switches models (audited), the scorer follows the switch, and scores are
stored with the transaction. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from account_alerts.domain.anomaly.features import FEATURE_NAMES, Features, matrix
from account_alerts.domain.anomaly.forest import Floats
from account_alerts.engine.anomaly_scoring import AnomalyScorer
from account_alerts.engine.anomaly_training import (
    FeatureSource,
    TrainingRun,
    train_anomaly_model,
)
from account_alerts.store.anomaly_models import AnomalyModelRecord
from account_alerts.store.anomaly_scores import record_anomaly_scores
from account_alerts.store.audit import AuditEntry
from account_alerts.store.database import Database
from account_alerts.store.events import TransactionRecord
from tests.conftest import Api, error_code
from tests.support.anomaly_events import replayed_bank
from tests.support.audit import audit_entries
from tests.support.events import BLANTYRE, LILONGWE, RECORD_TRANSACTION, transaction
from tests.support.factories import make_account
from tests.support.fraud import RECORD_TRANSACTION as DECIDE
from tests.support.fraud import deploy, feature, op, rule

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
MODELS = """{ anomalyModels { id status createdAt trainedFrom trainedTo featureNames rowCount
  seed scoreDistribution checksum } }"""
ACTIVATE = "mutation($m: ID!) { activateAnomalyModel(modelId: $m) { id status } }"
SHADOW = "mutation($m: ID!) { setAnomalyModelShadow(modelId: $m) { id status } }"
DEACTIVATE = "mutation($m: ID!) { deactivateAnomalyModel(modelId: $m) { id status } }"
TAKEOVER: Features = {
    "amount": 9000.0,
    "amountToTypical": 30.0,
    "hourLocal": 3,
    "distanceKm": 2500.0,
    "deviceKnown": False,
    "txSum24h": 100.0,
}


def source(rows: Sequence[Features]) -> FeatureSource:
    async def features_of(db: Database, start: datetime, end: datetime) -> Floats:
        assert end - start == timedelta(days=90)
        return matrix(rows)

    return features_of


@pytest.fixture(scope="module")
def bank() -> list[Features]:
    return [case.features for case in replayed_bank() if case.injected is None][:1500]


async def trained(db: Database, rows: Sequence[Features], seed: int = 1) -> TrainingRun:
    run = await train_anomaly_model(db, source(rows), now=NOW, seed=seed)
    assert run.model_id is not None
    return run


async def statuses(api: Api) -> dict[str, str]:
    body = await api.as_admin(MODELS)
    return {model["id"]: model["status"] for model in body["data"]["anomalyModels"]}


async def test_training_stores_a_versioned_model_the_risk_team_sees(
    api: Api, db: Database, bank: list[Features]
) -> None:
    first = await trained(db, bank, seed=4)
    again = await trained(db, bank, seed=4)
    body = await api.as_admin(MODELS)
    models = body["data"]["anomalyModels"]
    assert [m["id"] for m in models] == [str(again.model_id), str(first.model_id)]
    model = models[1]
    assert model["status"] == "INACTIVE"
    assert model["rowCount"] == len(bank) == first.rows
    assert model["seed"] == 4
    assert model["featureNames"] == list(FEATURE_NAMES)
    assert datetime.fromisoformat(model["trainedTo"]) == NOW
    assert datetime.fromisoformat(model["trainedFrom"]) == NOW - timedelta(days=90)
    distribution = model["scoreDistribution"]
    assert 0 < distribution["p50"] < distribution["p99"] <= distribution["p100"] <= 1
    # The same transactions and seed: the same model, byte for byte.
    assert models[0]["checksum"] == model["checksum"]
    audit = await audit_entries(db, "anomaly_model.trained")
    assert {entry.subject_id for entry in audit} == {str(first.model_id), str(again.model_id)}
    assert error_code(await api.as_customer(7, MODELS)) == "FORBIDDEN"
    assert error_code(await api.as_service(MODELS)) == "FORBIDDEN"
    assert error_code(await api.post(MODELS)) == "UNAUTHENTICATED"


async def test_too_few_transactions_make_no_model_and_say_why(
    api: Api, db: Database, bank: list[Features]
) -> None:
    run = await train_anomaly_model(db, source(bank[:999]), now=NOW, seed=1)
    assert run.model_id is None
    assert run.reason is not None and "999 transactions" in run.reason
    assert (await api.as_admin(MODELS))["data"]["anomalyModels"] == []


async def test_one_active_one_shadow_and_every_switch_audited(
    api: Api, db: Database, bank: list[Features]
) -> None:
    one = str((await trained(db, bank, seed=1)).model_id)
    two = str((await trained(db, bank, seed=2)).model_id)
    three = str((await trained(db, bank, seed=3)).model_id)
    body = await api.as_admin(ACTIVATE, {"m": one})
    assert body["data"]["activateAnomalyModel"] == {"id": one, "status": "ACTIVE"}
    await api.as_admin(SHADOW, {"m": two})
    assert await statuses(api) == {one: "ACTIVE", two: "SHADOW", three: "INACTIVE"}
    await api.as_admin(SHADOW, {"m": three})
    assert await statuses(api) == {one: "ACTIVE", two: "INACTIVE", three: "SHADOW"}
    await api.as_admin(ACTIVATE, {"m": three})
    assert await statuses(api) == {one: "INACTIVE", two: "INACTIVE", three: "ACTIVE"}
    async with db.session() as session:
        switches = (
            await session.exec(
                select(AuditEntry)
                .where(col(AuditEntry.subject_type) == "anomaly_model")
                .where(col(AuditEntry.action) != "anomaly_model.trained")
                .order_by(col(AuditEntry.id))
            )
        ).all()
    assert [(e.action, e.actor_id, e.before, e.after) for e in switches] == [
        (
            "anomaly_model.activated",
            "risk-analyst-1",
            {"activeModelId": None, "shadowModelId": None},
            {"activeModelId": int(one), "shadowModelId": None},
        ),
        (
            "anomaly_model.shadowed",
            "risk-analyst-1",
            {"activeModelId": int(one), "shadowModelId": None},
            {"activeModelId": int(one), "shadowModelId": int(two)},
        ),
        (
            "anomaly_model.shadowed",
            "risk-analyst-1",
            {"activeModelId": int(one), "shadowModelId": int(two)},
            {"activeModelId": int(one), "shadowModelId": int(three)},
        ),
        (
            "anomaly_model.activated",
            "risk-analyst-1",
            {"activeModelId": int(one), "shadowModelId": int(three)},
            {"activeModelId": int(three), "shadowModelId": None},
        ),
    ]


async def test_deactivating_stops_the_scores_and_is_audited(
    api: Api, db: Database, bank: list[Features]
) -> None:
    scorer = AnomalyScorer(db)
    one = str((await trained(db, bank, seed=1)).model_id)
    two = str((await trained(db, bank, seed=2)).model_id)
    await api.as_admin(ACTIVATE, {"m": one})
    await api.as_admin(SHADOW, {"m": two})
    assert error_code(await api.as_customer(7, DEACTIVATE, {"m": one})) == "FORBIDDEN"
    assert error_code(await api.as_admin(DEACTIVATE, {"m": "999"})) == "NOT_FOUND"
    body = await api.as_admin(DEACTIVATE, {"m": two})
    assert body["data"]["deactivateAnomalyModel"] == {"id": two, "status": "INACTIVE"}
    again = await api.as_admin(DEACTIVATE, {"m": two})
    assert error_code(again) == "BAD_USER_INPUT"
    assert again["errors"][0]["extensions"]["field"] == "modelId"
    await scorer.refresh()
    scores = scorer.score(TAKEOVER)
    assert scores.active is not None and scores.shadow is None
    await api.as_admin(DEACTIVATE, {"m": one})
    assert await statuses(api) == {one: "INACTIVE", two: "INACTIVE"}
    await scorer.refresh()
    assert not scorer.in_use
    off = scorer.score(TAKEOVER)
    assert (off.active, off.shadow) == (None, None)
    switches = await audit_entries(db, "anomaly_model.deactivated")
    assert [(e.subject_id, e.before, e.after) for e in switches] == [
        (
            two,
            {"activeModelId": int(one), "shadowModelId": int(two)},
            {"activeModelId": int(one), "shadowModelId": None},
        ),
        (
            one,
            {"activeModelId": int(one), "shadowModelId": None},
            {"activeModelId": None, "shadowModelId": None},
        ),
    ]
    await api.as_admin(ACTIVATE, {"m": two})
    assert await statuses(api) == {one: "INACTIVE", two: "ACTIVE"}


async def test_switches_that_cannot_be_made_change_nothing(
    api: Api, db: Database, bank: list[Features]
) -> None:
    one = str((await trained(db, bank, seed=1)).model_id)
    two = str((await trained(db, bank, seed=2)).model_id)
    await api.as_admin(ACTIVATE, {"m": one})
    body = await api.as_admin(SHADOW, {"m": one})
    assert error_code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "modelId"
    assert error_code(await api.as_admin(ACTIVATE, {"m": one})) == "BAD_USER_INPUT"
    assert error_code(await api.as_admin(ACTIVATE, {"m": "999"})) == "NOT_FOUND"
    assert error_code(await api.as_admin(ACTIVATE, {"m": "x"})) == "NOT_FOUND"
    assert error_code(await api.as_admin(ACTIVATE, {"m": "²"})) == "NOT_FOUND"
    assert error_code(await api.as_customer(7, ACTIVATE, {"m": two})) == "FORBIDDEN"
    async with db.transaction() as session:
        await session.exec(  # type: ignore[call-overload]
            sa.update(AnomalyModelRecord)
            .where(col(AnomalyModelRecord.id) == int(two))
            .values(payload=b"PK\x03\x04 not the model that was trained")
        )
    body = await api.as_admin(ACTIVATE, {"m": two})
    assert error_code(body) == "BAD_USER_INPUT"
    assert "checksum" in body["errors"][0]["message"]
    assert await statuses(api) == {one: "ACTIVE", two: "INACTIVE"}
    async with db.session() as session:
        switches = (
            await session.exec(
                select(AuditEntry).where(col(AuditEntry.action).startswith("anomaly_model.a"))
            )
        ).all()
    assert len(switches) == 1


async def test_the_scorer_follows_the_models_in_place_and_scores_are_stored(
    api: Api, db: Database, bank: list[Features]
) -> None:
    scorer = AnomalyScorer(db)
    await scorer.refresh()
    nothing = scorer.score(TAKEOVER)
    assert (nothing.active, nothing.shadow) == (None, None)
    one = (await trained(db, bank, seed=1)).model_id
    two = (await trained(db, bank, seed=2)).model_id
    await api.as_admin(ACTIVATE, {"m": str(one)})
    await scorer.refresh()
    scores = scorer.score(TAKEOVER)
    assert scores.active is not None and scores.active.score >= 99
    assert scores.active_model_id == one and scores.shadow is None
    assert {c.feature for c in scores.active.contributions} >= {"deviceKnown", "distanceKm"}
    await api.as_admin(SHADOW, {"m": str(two)})
    await scorer.refresh()
    both = scorer.score(TAKEOVER)
    assert both.active == scores.active
    assert both.shadow is not None and both.shadow_model_id == two
    assert scorer.loaded_model_ids() == {one, two}
    await api.as_admin(ACTIVATE, {"m": str(two)})
    await scorer.refresh()
    switched = scorer.score(TAKEOVER)
    assert switched.active == both.shadow and switched.shadow is None
    assert scorer.loaded_model_ids() == {two}

    await make_account(db, user_id=7, account_number="1000000001")
    event = transaction("1000000001", "9000", NOW, device="new-phone")
    await api.as_service(RECORD_TRANSACTION, {"input": event})
    async with db.transaction() as session:
        assert await record_anomaly_scores(
            session,
            account_number="1000000001",
            transaction_id=event["transactionId"],
            score=switched.active.score,
            shadow_score=12.5,
        )
        assert not await record_anomaly_scores(
            session,
            account_number="1000000001",
            transaction_id="no-such",
            score=1.0,
            shadow_score=None,
        )
    async with db.session() as session:
        row = (await session.exec(select(TransactionRecord))).one()
    assert (row.anomaly_score, row.anomaly_shadow_score) == (switched.active.score, 12.5)


async def test_switches_at_the_same_moment_leave_one_active_model(
    api: Api, db: Database, bank: list[Features]
) -> None:
    ids = [str((await trained(db, bank, seed=seed)).model_id) for seed in (1, 2, 3)]
    bodies = await asyncio.gather(*(api.as_admin(ACTIVATE, {"m": model_id}) for model_id in ids))
    assert all("errors" not in body for body in bodies), bodies
    final = await statuses(api)
    assert sorted(final.values()) == ["ACTIVE", "INACTIVE", "INACTIVE"]
    switches = await audit_entries(db, "anomaly_model.activated")
    # Each switch saw the one before it: the chain of before/after is unbroken.
    chain = [(e.before or {}).get("activeModelId") for e in switches]
    assert chain[0] is None
    assert chain[1:] == [(e.after or {})["activeModelId"] for e in switches[:-1]]
    assert final[str((switches[-1].after or {})["activeModelId"])] == "ACTIVE"


async def test_the_scorer_looks_for_a_switch_at_most_once_per_interval(
    api: Api, db: Database, bank: list[Features]
) -> None:
    one = (await trained(db, bank, seed=1)).model_id
    two = (await trained(db, bank, seed=2)).model_id
    await api.as_admin(ACTIVATE, {"m": str(one)})
    scorer = AnomalyScorer(db, check_every=timedelta(seconds=10))
    await scorer.refresh_if_due(NOW)
    assert scorer.score(TAKEOVER).active_model_id == one
    await api.as_admin(ACTIVATE, {"m": str(two)})
    await scorer.refresh_if_due(NOW + timedelta(seconds=9))
    assert scorer.score(TAKEOVER).active_model_id == one
    await scorer.refresh_if_due(NOW + timedelta(seconds=10))
    assert scorer.score(TAKEOVER).active_model_id == two


async def test_live_transactions_are_scored_and_a_rule_on_the_score_explains_its_hit(
    api: Api, db: Database, bank: list[Features]
) -> None:
    model = (await trained(db, bank, seed=1)).model_id
    await api.as_admin(ACTIVATE, {"m": str(model)})
    await deploy(api, rule("Anomalous", op(">=", feature("anomalyScore"), 95), 50))
    await make_account(db, user_id=7, account_number="1000000001")
    day = api.clock.now.replace(hour=9, minute=0, second=0) - timedelta(days=2)
    for n in range(3):
        usual = transaction(
            "1000000001", "120", day + timedelta(hours=n), device="phone", location=BLANTYRE
        )
        assert "errors" not in await api.as_service(DECIDE, {"input": usual})
    # A takeover: a new device, far away, at night, many times the usual amount.
    night = (day + timedelta(hours=17)).replace(minute=30)
    odd = transaction("1000000001", "48000", night, device="stranger", location=LILONGWE)
    result = (await api.as_service(DECIDE, {"input": odd}))["data"]["recordTransaction"]
    [hit] = result["decision"]["hits"]
    assert hit["name"] == "Anomalous" and hit["features"]["anomalyScore"] >= 95
    assert result["decision"]["outcome"] == "REVIEW"
    async with db.session() as session:
        rows = (
            await session.exec(select(TransactionRecord).order_by(col(TransactionRecord.id)))
        ).all()
    assert all(row.anomaly_score is not None for row in rows)
    assert rows[-1].anomaly_score == hit["features"]["anomalyScore"]
    assert rows[-1].anomaly_shadow_score is None
    # The case shows why: the features that raised the score, the strongest first.
    case = await api.as_admin(
        "query { reviewCases { items { decision { hits { explanation "
        "{ feature value contribution } } } } } }"
    )
    [item] = case["data"]["reviewCases"]["items"]
    explanation = item["decision"]["hits"][0]["explanation"]
    assert explanation and {part["feature"] for part in explanation} & {
        "deviceKnown",
        "distanceKm",
        "amountToTypical",
        "hourLocal",
    }
    assert explanation[0]["contribution"] == max(p["contribution"] for p in explanation)
