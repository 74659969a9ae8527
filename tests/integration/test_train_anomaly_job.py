"""`account-alerts run-job train-anomaly-model`: trained on the stored events replayed in
arrival order, the same model as replaying the events in memory; too few transactions
make no model and the command says why. On SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from account_alerts.domain.anomaly import payload
from account_alerts.domain.anomaly.training import train
from account_alerts.domain.events import TransactionEvent
from account_alerts.store.anomaly_models import AnomalyModelRecord
from account_alerts.store.base import table_of
from account_alerts.store.customers import Account, MobileUser
from account_alerts.store.database import Database, sync_url
from account_alerts.store.events import LoginAttempt, TransactionRecord
from tests.conftest import TEST_SECRET
from tests.support.anomaly_events import START, Generated, bank_events, replayed_bank
from tests.support.processes import ACCOUNT_ALERTS, alerts_env


def store(url: str, events: list[Generated]) -> None:
    """The events as core banking's feeds would have left them, stored in this order."""
    customers = sorted({g.customer for g in events})
    users = [{"id": c} for c in customers]
    accounts = [
        {"account_number": g.account, "mobile_user_id": g.customer, "currency": "MWK"}
        for g in {g.customer: g for g in events}.values()
    ]
    transactions: list[dict[str, Any]] = []
    logins: list[dict[str, Any]] = []
    for i, generated in enumerate(events):
        event = generated.event
        place = event.location
        common = {
            "event_id": event.event_id,
            "mobile_user_id": generated.customer,
            "device_id": event.device_id,
            "ip_address": event.ip_address,
            "latitude": place.latitude if place else None,
            "longitude": place.longitude if place else None,
            "occurred_at": event.occurred_at,
            "created_at": START + timedelta(microseconds=i),
        }
        if isinstance(event, TransactionEvent):
            transactions.append(
                common
                | {
                    "account_number": event.account_number,
                    "transaction_id": event.transaction_id,
                    "transaction_type": event.transaction_type,
                    "amount": event.amount,
                    "currency": event.currency,
                }
            )
        else:
            logins.append(common | {"successful": event.successful})
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(table_of(MobileUser)), users)
            connection.execute(sa.insert(table_of(Account)), accounts)
            connection.execute(sa.insert(table_of(TransactionRecord)), transactions)
            connection.execute(sa.insert(table_of(LoginAttempt)), logins)
    finally:
        engine.dispose()


def run_job(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [ACCOUNT_ALERTS, "run-job", "train-anomaly-model", *args],
        env=alerts_env(database_url=url, jwt_secret=TEST_SECRET),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def test_the_job_trains_on_stored_events_as_they_were_seen(
    database_url: str, db: Database
) -> None:
    events = bank_events()
    store(database_url, events)
    transactions = sum(isinstance(g.event, TransactionEvent) for g in events)
    now = max(g.event.occurred_at for g in events) + timedelta(seconds=1)

    done = run_job(database_url, "--now", now.isoformat(), "--seed", "11")
    assert done.returncode == 0, done.stderr
    assert f"model 1 trained on {transactions} transactions" in done.stdout
    async with db.session() as session:
        record = (await session.exec(select(AnomalyModelRecord))).one()
    assert record.row_count == transactions
    assert record.trained_to == now and record.seed == 11
    # The stored events, replayed from the database, give exactly the model that
    # replaying the same events in memory gives.
    in_memory = train([case.features for case in replayed_bank()], seed=11)
    assert record.checksum == payload.checksum(payload.dump(in_memory))

    too_early = START + timedelta(days=1, hours=12)
    refused = run_job(database_url, "--now", too_early.isoformat())
    assert refused.returncode == 1
    assert "no model trained" in refused.stdout
    assert "at least 1000 are needed" in refused.stdout
    async with db.session() as session:
        assert len((await session.exec(select(AnomalyModelRecord))).all()) == 1

    bad_seed = run_job(database_url, "--seed", "-3")
    assert bad_seed.returncode == 2 and "seed" in bad_seed.stderr
