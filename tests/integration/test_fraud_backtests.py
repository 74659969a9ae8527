"""Backtests through GraphQL: a version replayed over stored events with each event's
features as they were when it arrived, and nothing written but the report."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from account_alerts.domain.backtest import crowd_keys, event_of
from account_alerts.engine import backtest_replay, backtests
from account_alerts.store import backtest_source
from account_alerts.store.database import Database
from account_alerts.store.fraud_tables import Backtest, FraudRuleHit
from account_alerts.store.tables import metadata
from tests.conftest import Api, Clock, error_code
from tests.support.events import BLANTYRE, LILONGWE, ZOMBA, login, transaction
from tests.support.factories import make_account
from tests.support.fraud import (
    RECORD_LOGIN,
    RECORD_TRANSACTION,
    RECORD_TRANSACTIONS,
    deploy,
    feature,
    op,
    rule,
)

START = """mutation($v: ID!, $from: DateTime!, $to: DateTime!) {
  startBacktest(versionId: $v, from: $from, to: $to) { id status } }"""
READ = """query($id: ID!) { backtest(id: $id) {
  id status progress error evaluated hits hitRate distinctCustomers
  overlap { both newOnly liveOnly }
  labelled { truePositives falsePositives falseNegatives trueNegatives precision recall }
  perDay { day hits }
  sampleHits { eventId occurredAt features } } }"""
CANCEL = "mutation($id: ID!) { cancelBacktest(id: $id) { id status error } }"
ACK = "mutation($id: ID!, $a: UserAction) { acknowledgeAlert(alertId: $id, action: $a) }"
ACCOUNT = "1000000001"


def day(hours: float = 0) -> datetime:
    base = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=3)
    return base + timedelta(hours=hours)


async def finished(api: Api, backtest_id: str) -> dict[str, Any]:
    for _ in range(400):
        body = await api.as_admin(READ, {"id": backtest_id})
        report: dict[str, Any] = body["data"]["backtest"]
        if report["status"] != "RUNNING":
            return report
        await asyncio.sleep(0.05)
    raise AssertionError("the backtest did not finish")


async def run(api: Api, version_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    body = await api.as_admin(
        START, {"v": version_id, "from": start.isoformat(), "to": end.isoformat()}
    )
    assert "errors" not in body, body
    return await finished(api, body["data"]["startBacktest"]["id"])


async def three_payments_and_a_shadow_rule(api: Api, db: Database) -> dict[str, Any]:
    """A customer's three small payments and a SHADOW version none of them matches."""
    await make_account(db, user_id=7, account_number=ACCOUNT)
    for hours in (1, 2, 3):
        await api.as_service(
            RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "60", day(hours), device="p")}
        )
    return await deploy(api, rule("Large", op(">=", feature("amount"), 5000), 50), "SHADOW")


async def table_counts(db: Database) -> dict[str, int]:
    async with db.session() as session:
        return {
            name: int((await session.exec(select(sa.func.count()).select_from(table))).one())
            for name, table in metadata.tables.items()
        }


async def test_no_look_ahead_labels_overlap_and_nothing_written(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await make_account(db, user_id=8, account_number="1000000008")
    live = await deploy(api, rule("Large debit", op(">=", feature("amount"), 50000), 50))
    # The customer's first use of a device, then the same device an hour later: replayed in
    # arrival order the first is unknown, the second known (the later event must not leak).
    first = (
        await api.as_service(
            RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "60000", day(), device="new-phone")}
        )
    )["data"]["recordTransaction"]
    await api.as_service(
        RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "50", day(1), device="new-phone")}
    )
    other = (
        await api.as_service(
            RECORD_TRANSACTION,
            {"input": transaction("1000000008", "70", day(2), device="tablet")},
        )
    )["data"]["recordTransaction"]
    # A REVIEW the risk team finds legitimate: its case resolved FALSE_POSITIVE.
    reviewed = (
        await api.as_service(
            RECORD_TRANSACTION,
            {"input": transaction("1000000008", "60000", day(3), device="tablet")},
        )
    )["data"]["recordTransaction"]
    assert reviewed["decision"]["outcome"] == "REVIEW"
    cases = (await api.as_admin("query { reviewCases { items { id eventId } } }"))["data"]
    case_id = next(
        c["id"] for c in cases["reviewCases"]["items"] if c["eventId"] == reviewed["eventId"]
    )
    resolved = await api.as_admin(
        'mutation($id: ID!) { resolveCase(id: $id, outcome: FALSE_POSITIVE, notes: "rent") {'
        " status } }",
        {"id": case_id},
    )
    assert resolved["data"]["resolveCase"]["status"] == "RESOLVED"
    # Labels: the customer reports the first event's alert as fraud; the other says "me".
    assert [a["alertType"] for a in first["alerts"]] == ["LARGE_TRANSACTION"]
    fraud_alert = first["alerts"][0]["id"]
    assert (await api.as_customer(7, ACK, {"id": fraud_alert, "a": "REPORT_FRAUD"}))["data"]
    unknown_device = await deploy(
        api,
        rule("Unknown device", op("==", feature("deviceKnown"), False), 30),
        "SHADOW",
    )
    before = await table_counts(db)
    report = await run(api, unknown_device["id"], day(-1), day(24))
    after = await table_counts(db)
    assert after.pop("fraud_backtests") == before.pop("fraud_backtests") + 1
    assert after == before
    assert report["status"] == "DONE" and report["progress"] == 1.0
    assert (report["evaluated"], report["hits"], report["distinctCustomers"]) == (4, 2, 2)
    assert report["hitRate"] == 0.5
    hit_ids = sorted(h["eventId"] for h in report["sampleHits"])
    assert hit_ids == sorted([first["eventId"], other["eventId"]])
    assert all(h["features"] == {"deviceKnown": False} for h in report["sampleHits"])
    # The LIVE "Large debit" counted the first event (both rules hit it) and the reviewed one.
    assert report["overlap"] == {"both": 1, "newOnly": 1, "liveOnly": 1}
    assert report["labelled"] == {
        "truePositives": 1,
        "falsePositives": 0,
        "falseNegatives": 0,
        "trueNegatives": 1,
        "precision": 1.0,
        "recall": 1.0,
    }
    assert report["perDay"] == [{"day": day().date().isoformat(), "hits": 2}]
    assert live["status"] == "LIVE"


async def test_a_backtest_finds_what_the_same_rule_found_live_in_shadow(
    api: Api, db: Database
) -> None:
    """The live path and the replay compute every feature the same way: a SHADOW version's
    hits on live traffic are exactly its backtest's hits over the same events."""
    for user in (1, 2, 3):
        await make_account(db, user_id=user, account_number=f"100000000{user}")
    payments = op(
        "or",
        op(">", feature("distanceKm"), 100),
        op(">=", feature("txCount1h"), 3),
        op(">", feature("amountToTypical"), 4),
        op(">=", feature("deviceCustomers24h"), 2),
        op("and", op(">=", feature("txSum24h"), 900), op("between", feature("hourLocal"), 0, 23)),
    )
    sign_ins = op(
        "or",
        op(">=", feature("failedLogins10m"), 2),
        op(
            "and",
            op("==", feature("loginSuccessful"), False),
            op("==", feature("deviceKnown"), True),
        ),
        op(">=", feature("ipCustomers1h"), 2),
    )
    shadows = [
        await deploy(api, rule("Odd payments", payments, 10), "SHADOW"),
        await deploy(api, rule("Odd sign-ins", sign_ins, 10, ("LOGIN",)), "SHADOW"),
    ]
    await api.as_service(RECORD_LOGIN, {"input": login(1, day(), device="p1", location=BLANTYRE)})
    for amount, hours, where, device in [
        ("100", 0.1, BLANTYRE, "p1"),
        ("120", 0.2, ZOMBA, "p1"),
        ("900", 0.3, LILONGWE, "p1"),
        ("80", 0.3, BLANTYRE, "p1"),
        ("60", 5, BLANTYRE, "shared"),
    ]:
        await api.as_service(
            RECORD_TRANSACTION,
            {"input": transaction("1000000001", amount, day(hours), device=device, location=where)},
        )
    for user in (1, 1, 2):
        await api.as_service(
            RECORD_LOGIN, {"input": login(user, day(6), successful=False, device="shared")}
        )
    await api.as_service(
        RECORD_TRANSACTIONS,
        {
            "inputs": [
                transaction("1000000002", "40", day(6), device="shared"),
                transaction("1000000003", "40", day(6), device="p3"),
                transaction("1000000003", "400", day(6), device="p3"),
            ]
        },
    )
    total = 0
    for shadow in shadows:
        async with db.session() as session:
            live = sorted(
                (
                    await session.exec(
                        select(FraudRuleHit.event_id).where(
                            FraudRuleHit.version_id == int(shadow["id"])
                        )
                    )
                ).all()
            )
        report = await run(api, shadow["id"], day(-1), day(24))
        assert report["hits"] == len(live)
        assert sorted(h["eventId"] for h in report["sampleHits"]) == live
        total += len(live)
    assert total >= 8


async def test_bad_backtests_are_refused_and_a_stopped_one_reads_failed(
    api: Api, db: Database, clock: Clock
) -> None:
    version = await deploy(api, rule("Large", op(">=", feature("amount"), 5000), 50), "SHADOW")
    now = clock()
    cases = [
        (
            {
                "v": version["id"],
                "from": (now - timedelta(days=3650)).isoformat(),
                "to": now.isoformat(),
            },
            "BAD_USER_INPUT",
        ),
        (
            {
                "v": version["id"],
                "from": now.isoformat(),
                "to": (now - timedelta(days=1)).isoformat(),
            },
            "BAD_USER_INPUT",
        ),
        (
            {"v": "999", "from": (now - timedelta(days=1)).isoformat(), "to": now.isoformat()},
            "NOT_FOUND",
        ),
    ]
    for variables, code in cases:
        assert error_code(await api.as_admin(START, variables)) == code
    assert error_code(await api.as_service(START, cases[0][0])) == "FORBIDDEN"
    async with db.session() as session:
        assert (await session.exec(select(sa.func.count()).select_from(Backtest))).one() == 0
    # A backtest whose server stopped mid-run: its heartbeat went quiet.
    async with db.transaction() as session:
        row = Backtest(
            version_id=int(version["id"]),
            window_start=now - timedelta(days=1),
            window_end=now,
            status="RUNNING",
            progress=0.4,
            started_by="risk-analyst-1",
            heartbeat_at=now - timedelta(minutes=5),
        )
        session.add(row)
    body = await api.as_admin(READ, {"id": str(row.id)})
    assert body["data"]["backtest"]["status"] == "FAILED"
    assert "stopped" in body["data"]["backtest"]["error"]
    assert body["data"]["backtest"]["evaluated"] is None


async def test_a_running_backtest_can_be_cancelled(
    api: Api, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = await three_payments_and_a_shadow_rule(api, db)
    # Held before its first page, so the cancel lands while it runs.
    gate = asyncio.Event()
    count_before = backtest_source.count_before

    async def held(session: Any, end: datetime) -> int:
        await gate.wait()
        return await count_before(session, end)

    monkeypatch.setattr(backtest_source, "count_before", held)
    monkeypatch.setattr(backtests, "CHUNK", 1)
    started = await api.as_admin(
        START, {"v": version["id"], "from": day(-1).isoformat(), "to": day(24).isoformat()}
    )
    backtest_id = started["data"]["startBacktest"]["id"]
    cancelling = asyncio.create_task(api.as_admin(CANCEL, {"id": backtest_id}))
    for _ in range(200):
        async with db.session() as session:
            row = await session.get(Backtest, int(backtest_id))
            if row is not None and row.cancel_requested:
                break
        await asyncio.sleep(0.02)
    gate.set()
    cancelled = (await cancelling)["data"]["cancelBacktest"]
    assert (cancelled["status"], cancelled["error"]) == ("CANCELLED", "cancelled")
    assert (await api.as_admin(READ, {"id": backtest_id}))["data"]["backtest"]["hits"] is None


async def test_stored_events_come_back_in_arrival_order_across_pages(
    api: Api, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Transactions and sign-ins are read a page at a time from two tables and merged:
    whatever the page size, the events come back once each, in the order they arrived."""
    await make_account(db, user_id=7, account_number=ACCOUNT)
    sent: list[str] = []
    for n in range(23):
        if n % 3 == 1:
            event = login(7, day(n / 10), successful=n % 2 == 0)
            await api.as_service(RECORD_LOGIN, {"input": event})
        else:
            event = transaction(ACCOUNT, str(100 + n), day(n / 10))
            await api.as_service(RECORD_TRANSACTION, {"input": event})
        sent.append(event["eventId"])

    async def read() -> list[str]:
        async with db.long_read() as first, db.long_read() as second:
            return [
                event_of(row).event_id
                async for page in backtest_source.events_before(first, second, day(24))
                for row in page
            ]

    assert await read() == sent
    for size in (1, 2, 5):
        monkeypatch.setattr(backtest_source, "PAGE", size)
        assert await read() == sent


async def test_replays_in_child_processes_report_exactly_what_the_thread_does(
    api: Api, db: Database
) -> None:
    """Child processes, each owning a shard of the customers (the default: two), and a
    thread of the server (the setting at 0) replay the same stored events into the same
    report, sample hits, labels and cross-customer counts included."""
    for user in (1, 2, 3):
        await make_account(db, user_id=user, account_number=f"100000000{user}")
    places = [BLANTYRE, ZOMBA, LILONGWE]
    for n in range(60):
        user = 1 + n % 3
        await api.as_service(
            RECORD_LOGIN,
            {"input": login(user, day(n / 7), successful=n % 5 != 0, device=f"p{n % 4}")},
        )
        await api.as_service(
            RECORD_TRANSACTIONS,
            {
                "inputs": [
                    transaction(
                        f"100000000{user}",
                        str(50 + (n * 37) % 900),
                        day(n / 7 + 0.01 * k),
                        device=f"p{(n + k) % 4}",
                        location=places[(n + k) % 3],
                    )
                    for k in range(3)
                ]
            },
        )
    condition = op(
        "or",
        op(">", feature("distanceKm"), 100),
        op(">=", feature("deviceCustomers24h"), 2),
        op("and", op(">=", feature("amount"), 600), op(">=", feature("txCount1h"), 2)),
    )
    async with db.long_read() as first, db.long_read() as second:
        pages = [page async for page in backtest_source.events_before(first, second, day(24))]
    rows = [row for page in pages for row in page]
    ids = [event_of(row).event_id for row in rows]
    # What a replay reads of another shard's rows is what the events say.
    assert all(
        crowd_keys(row) == (event_of(row).device_id, event_of(row).ip_address) for row in rows
    )
    setup = backtest_replay.ReplaySetup(
        condition=condition,
        kinds=("TRANSACTION",),
        start=day(1),
        end=day(24),
        live=frozenset(ids[::3]),
        labels={**{i: True for i in ids[::5]}, **{i: False for i in ids[1::7]}},
        seed=11,
        default_zone="Africa/Blantyre",
    )
    reports = []
    for processes in (0, 1, 2, 3):
        replay = await backtest_replay.replay_for(setup, processes=processes)
        try:
            for k in range(0, len(rows), 50):
                await replay.feed(rows[k : k + 50])
            reports.append(await replay.report())
        finally:
            await replay.close()
    thread, *children = reports
    assert all(report == thread for report in children)
    assert thread["hits"] > 20 and len(thread["sampleHits"]) == 20  # a sample of the hits
    assert thread["distinctCustomers"] == 3
    assert thread["labelled"]["truePositives"] > 0 and thread["overlap"]["both"] > 0
    # The crowd feature read other shards' events: customers 1-3 share phones p0-p3.
    assert any((h["features"].get("deviceCustomers24h") or 0) >= 2 for h in thread["sampleHits"])


async def test_a_replay_process_that_dies_fails_its_backtest_with_a_reason(
    api: Api, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = await three_payments_and_a_shadow_rule(api, db)
    replay_for = backtest_replay.replay_for

    async def killed_at_once(setup: Any, *, processes: int) -> Any:
        replay = await replay_for(setup, processes=processes)
        assert isinstance(replay, backtest_replay.ChildReplay)
        process = replay.children[-1].process
        process.kill()
        await process.wait()
        return replay

    monkeypatch.setattr(backtests, "replay_for", killed_at_once)
    report = await run(api, version["id"], day(-1), day(24))
    assert report["status"] == "FAILED"
    assert report["error"] == "the backtest's replay process stopped (exit status -9)"
    assert report["hits"] is None
