"""A throwaway PostgreSQL cluster, migrated and seeded with a realistic alert history.

Shared by the benchmarks in this folder. Seeding is setup, not the measured part: rows
are generated in Python (so titles and messages are rendered exactly as the engine
renders them) and written with COPY; deliveries are derived server-side from each
alert's ``channels_sent``."""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from account_alerts.domain.enums import AlertStatus, AlertType, UserAction  # noqa: E402
from account_alerts.domain.messages import render  # noqa: E402
from account_alerts.store.migrate import upgrade  # noqa: E402
from tests.support.factories import sample_data  # noqa: E402
from tests.support.pg_cluster import PostgresCluster  # noqa: E402

DATABASE = "alerts_bench"
FIRST_USER_ID = 100_001
CURRENCY = "MWK"

# How often each kind of alert occurs in the seeded history.
TYPE_WEIGHTS: dict[AlertType, int] = {
    AlertType.LARGE_TRANSACTION: 40,
    AlertType.LOW_BALANCE: 20,
    AlertType.ACCOUNT_LOGIN: 20,
    AlertType.PAYMENT_DUE: 10,
    AlertType.SUSPICIOUS_ACTIVITY: 10,
}
# channels_sent, and so the deliveries: 1 to 3 per alert.
CHANNEL_SETS: tuple[tuple[list[str], int], ...] = (
    (["PUSH"], 50),
    (["PUSH", "SMS"], 25),
    (["PUSH", "EMAIL"], 15),
    (["PUSH", "SMS", "EMAIL"], 10),
)

ALERT_COLUMNS = (
    "mobile_user_id",
    "account_number",
    "alert_type",
    "alert_data",
    "title",
    "message",
    "status",
    "channels_sent",
    "sent_at",
    "acknowledged_at",
    "user_action",
    "is_test",
    "event_id",
    "triggered_at",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class DatasetShape:
    customers: int = 2000
    alerts_per_customer: int = 200
    # The customers whose history is queried: the first ``heavy_customers`` ids.
    heavy_customers: int = 16
    heavy_alerts: int = 600
    history_days: int = 365
    seed: int = 20240601

    @property
    def total_alerts(self) -> int:
        light = self.customers - self.heavy_customers
        return light * self.alerts_per_customer + self.heavy_customers * self.heavy_alerts

    def heavy_user_ids(self) -> list[int]:
        return [FIRST_USER_ID + i for i in range(self.heavy_customers)]


@dataclass(frozen=True)
class SeedReport:
    customers: int
    accounts: int
    alerts: int
    deliveries: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "customers": self.customers,
            "accounts": self.accounts,
            "alerts": self.alerts,
            "deliveries": self.deliveries,
            "seed_seconds": round(self.seconds, 1),
        }


def account_number(user_id: int) -> str:
    return f"10{user_id:08d}"


def _amount(rng: random.Random, low: int, high: int) -> str:
    return str(Decimal(rng.randint(low * 100, high * 100)) / 100)


def _alert_data(rng: random.Random, alert_type: AlertType, when: datetime) -> dict[str, Any]:
    """The factories' sample payload, with amounts and identifiers varied."""
    data = dict(sample_data(alert_type, when))
    if alert_type is AlertType.LOW_BALANCE:
        data["currentBalance"] = _amount(rng, 0, 4999)
    elif alert_type is AlertType.LARGE_TRANSACTION:
        data["transactionAmount"] = _amount(rng, 50_000, 2_000_000)
        data["transactionType"] = rng.choice(("DEBIT", "DEBIT", "CREDIT"))
        data["transactionId"] = f"TX-{rng.getrandbits(40):010x}"
        data["transactionReference"] = f"REF-{rng.randint(1, 10**8)}"
    elif alert_type is AlertType.PAYMENT_DUE:
        data["amountDue"] = _amount(rng, 5_000, 500_000)
    elif alert_type is AlertType.SUSPICIOUS_ACTIVITY:
        data["riskScore"] = rng.randint(40, 99)
    return data


def _alert_rows(shape: DatasetShape, now: datetime) -> list[tuple[Any, ...]]:
    rng = random.Random(shape.seed)
    types, type_weights = zip(*TYPE_WEIGHTS.items(), strict=True)
    channel_sets, channel_weights = zip(*CHANNEL_SETS, strict=True)
    rows: list[tuple[Any, ...]] = []
    event = 0
    for index in range(shape.customers):
        user_id = FIRST_USER_ID + index
        account = account_number(user_id)
        count = shape.heavy_alerts if index < shape.heavy_customers else shape.alerts_per_customer
        for alert_type in rng.choices(types, type_weights, k=count):
            event += 1
            triggered = now - timedelta(seconds=rng.uniform(60, shape.history_days * 86_400))
            data = _alert_data(rng, alert_type, triggered)
            title, message = render(alert_type, data, account)
            channels = rng.choices(channel_sets, channel_weights)[0]
            roll = rng.random()
            status = AlertStatus.SENT
            acknowledged_at = user_action = None
            if roll < 0.05:
                status = AlertStatus.FAILED
            elif roll < 0.25:
                status = AlertStatus.ACKNOWLEDGED
                acknowledged_at = triggered + timedelta(minutes=rng.randint(1, 600))
                user_action = rng.choice((UserAction.DISMISSED, UserAction.THIS_WAS_ME))
            sent_at = None if status is AlertStatus.FAILED else triggered + timedelta(seconds=2)
            rows.append(
                (
                    user_id,
                    account,
                    alert_type.value,
                    json.dumps(data),
                    title,
                    message,
                    status.value,
                    json.dumps(channels),
                    sent_at,
                    acknowledged_at,
                    user_action.value if user_action else None,
                    False,
                    f"evt-{event:09d}",
                    triggered,
                    triggered,
                    acknowledged_at or sent_at or triggered,
                )
            )
    # Written in time order, as production writes them: one customer's alerts are
    # spread over the whole table, not stored side by side.
    rows.sort(key=lambda row: row[13])
    return rows


DELIVERIES_SQL = """
INSERT INTO alert_deliveries (
    alert_id, channel, status, attempts, last_error, next_attempt_at,
    sent_at, provider_message_id, created_at, updated_at
)
SELECT a.id,
       ch.channel,
       CASE WHEN a.status = 'FAILED' THEN 'FAILED' ELSE 'SENT' END,
       CASE WHEN a.status = 'FAILED' THEN 3 ELSE 1 END,
       CASE WHEN a.status = 'FAILED' THEN 'provider timeout' END,
       a.triggered_at,
       a.sent_at,
       CASE WHEN a.status = 'FAILED' THEN NULL ELSE 'msg-' || a.id || '-' || ch.channel END,
       a.triggered_at,
       COALESCE(a.sent_at, a.triggered_at)
FROM account_alerts a
CROSS JOIN LATERAL jsonb_array_elements_text(a.channels_sent) AS ch(channel)
ORDER BY a.id, ch.channel
"""


SEEDED_TABLES = "mobile_users, accounts, account_alerts, alert_deliveries"
VISIBILITY_SQL = """
SELECT bool_and(relallvisible >= relpages) FROM pg_class
WHERE relname IN ('account_alerts', 'alert_deliveries')
"""


def conninfo(cluster: PostgresCluster, database: str) -> str:
    return f"host=127.0.0.1 port={cluster.port} user={cluster.user} dbname={database}"


def seed(cluster: PostgresCluster, database: str, shape: DatasetShape) -> SeedReport:
    started = time.perf_counter()
    now = datetime.now(UTC)
    users = [FIRST_USER_ID + i for i in range(shape.customers)]
    alerts = _alert_rows(shape, now)
    with psycopg.connect(conninfo(cluster, database), autocommit=False) as conn:
        with conn.cursor() as cur:
            with cur.copy(
                "COPY mobile_users (id, locked, created_at, updated_at) FROM STDIN"
            ) as copy:
                for user_id in users:
                    copy.write_row((user_id, False, now, now))
            with cur.copy(
                "COPY accounts (account_number, mobile_user_id, currency, locked, "
                "created_at, updated_at) FROM STDIN"
            ) as copy:
                for user_id in users:
                    copy.write_row((account_number(user_id), user_id, CURRENCY, False, now, now))
            with cur.copy(f"COPY account_alerts ({', '.join(ALERT_COLUMNS)}) FROM STDIN") as copy:
                for row in alerts:
                    copy.write_row(row)
            cur.execute(DELIVERIES_SQL)
            deliveries = cur.rowcount
        conn.commit()
    with psycopg.connect(conninfo(cluster, database), autocommit=True) as conn:
        # Statistics, and the visibility map as autovacuum keeps it on a live table (the
        # counts are index-only scans then). The cluster commits asynchronously and
        # VACUUM marks no page all-visible before the load's commit is flushed to the
        # WAL, a fraction of a second later: retry until it does.
        for _ in range(40):
            conn.execute(f"VACUUM {SEEDED_TABLES}")
            all_visible = conn.execute(VISIBILITY_SQL).fetchone()
            if all_visible and all_visible[0]:
                break
            time.sleep(0.25)
        conn.execute(f"ANALYZE {SEEDED_TABLES}")
    return SeedReport(
        customers=len(users),
        accounts=len(users),
        alerts=len(alerts),
        deliveries=deliveries,
        seconds=time.perf_counter() - started,
    )


@contextmanager
def seeded_cluster(shape: DatasetShape) -> Iterator[tuple[PostgresCluster, str, SeedReport]]:
    """Start a cluster, migrate and seed a database, yield (cluster, url, report); the
    cluster and its files are removed on exit, whatever happened."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        url = cluster.create_database(DATABASE)
        upgrade(url)
        report = seed(cluster, DATABASE, shape)
        yield cluster, url, report
    finally:
        cluster.stop()


def server_version(cluster: PostgresCluster) -> str:
    return str(cluster.psql("SHOW server_version")).strip()
