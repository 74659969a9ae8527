"""Benchmark: the risk team's fraud rules, on live traffic and on history.

    python bench/fraud_rules.py [--quick]
    python bench/fraud_rules.py --only event-path,per-rule,backtest,anomaly-event-path,block-notice

On throwaway PostgreSQL clusters (bench/dataset.py), in one run:

1. the event path with the real mix (bench/event_mix.py, bench/event_path.py's loaders
   and meters), customers with 90 days of history, ``account-alerts serve`` as the README
   starts it: wrk closed loop without rules and with 20 LIVE and 20 SHADOW rules, taking
   turns twice (ABAB) on the same server and customers. The rules are written through
   GraphQL as the risk team does (one admin writes, another approves LIVE); for the turns
   without, every version is RETIRED; for the next turn with, each rule gets a new
   version, as a revision would;
2. each rule's evaluation cost in-process: CPU microseconds per event for its features
   (``domain.fraud_features.compute`` on profiles rebuilt from the same history) and its
   condition, over a few thousand real-mix events; and the 40 together as the live path
   runs them;
3. a backtest of one rule over 1 000 000 stored events (about 10 000 customers, 90 days,
   inserted with generate_series) through the API server: wall time and the server's
   peak RSS, beside a plain psycopg scan (fetchall) of the same rows in the same order,
   in a child process with its peak RSS; alternately, twice each.

4. anomaly-event-path: as 1, with the anomaly model (trained on the loaded history by the
   daily job's command) INACTIVE and ACTIVE in turn, no rule;
5. block-notice: as 1 with one LIVE rule only injected debits meet (BLOCK), two a second
   during the real mix's closed loop; from each BLOCK decision to the risk team's Slack
   message (a local receiver) and from its request.

Prints a table and writes bench/results/fraud_rules.json. Every process and cluster is
stopped at the end, on error too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import event_mix
import httpx
import psycopg
from common_bench import (
    FIRST_USER_ID,
    RESULTS_DIR,
    BenchError,
    bench_settings,
    cli_command,
    display_command,
    latency_summary,
    machine_facts,
    make_reachable,
    met,
    print_ratios_and_targets,
    ratio,
    run_and_report,
    service_token,
    start_serve,
    wait_for,
    write_report,
)
from dataset import DATABASE, DatasetShape, conninfo, seeded_cluster, server_version
from event_mix import Customer
from event_path import Cpu, history_settled, load_history, start_setup, wrk_run
from query_alerts import postmaster_pid, running, server_env
from webhooks import start_receiver

from account_alerts.api.auth import issue_token
from account_alerts.domain.enums import LoginMethod, Role, TransactionType
from account_alerts.domain.events import LoginEvent, TransactionEvent
from account_alerts.domain.feature_replay import FeatureReplay
from account_alerts.domain.fraud_decision import ActiveVersion, RuleSet, Subject
from account_alerts.domain.fraud_features import EventKind, compute, kind_of
from account_alerts.domain.geo import GeoPoint
from account_alerts.domain.rule_conditions import parse
from tests.support.pg_cluster import PostgresCluster

TARGET_WITH_RULES_VS_WITHOUT = 0.8
TARGET_BACKTEST_SECONDS = 60.0
TARGET_BACKTEST_MB = 1024.0
TARGET_SCORING_ON_VS_OFF = 0.85
AUTHOR, APPROVER = "risk-analyst-1", "risk-lead-2"
ZONE = "Africa/Blantyre"

# -- the rules ---------------------------------------------------------------------------


def f(name: str) -> dict[str, str]:
    return {"feature": name}


def op(name: str, *args: Any) -> dict[str, Any]:
    return {"op": name, "args": list(args)}


T, L, BOTH = ("TRANSACTION",), ("LOGIN",), ("TRANSACTION", "LOGIN")
LARGE = op(">=", f("amount"), 50_000)
NEW_PHONE = op("==", f("deviceKnown"), False)
NIGHT = op("between", f("hourLocal"), 0, 4)

# (name, condition, score, event kinds). Scores against the default thresholds (REVIEW
# 40, BLOCK 80): one LIVE hit reviews at most, BLOCK takes several rare signals at once.
LIVE_RULES: tuple[tuple[str, dict[str, Any], int, tuple[str, ...]], ...] = (
    ("Very large debit", op(">=", f("amount"), 450_000), 15, T),
    ("Large debit on a new phone", op("and", LARGE, NEW_PHONE), 40, T),
    ("Large debit far from home", op("and", LARGE, op(">", f("distanceKm"), 100)), 35, T),
    ("Night-time large debit", op("and", NIGHT, op(">=", f("amount"), 100_000)), 20, T),
    ("Twenty times the usual amount", op(">=", f("amountToTypical"), 20), 25, T),
    (
        "Foreign currency debit",
        op("and", op("in", f("currency"), ["USD", "ZAR", "GBP", "EUR"]), op(">=", f("amount"), 1)),
        30,
        T,
    ),
    (
        "Very large credit",
        op("and", op("in", f("transactionType"), ["CREDIT"]), op(">=", f("amount"), 1_000_000)),
        10,
        T,
    ),
    ("New phone far away", op("and", NEW_PHONE, op(">", f("distanceKm"), 100)), 30, L),
    ("Failed sign-ins burst", op(">=", f("failedLogins10m"), 5), 25, L),
    (
        "In after failures on a new phone",
        op(
            "and",
            op("==", f("loginSuccessful"), True),
            op(">=", f("failedLogins10m"), 3),
            NEW_PHONE,
        ),
        45,
        L,
    ),
    ("IP shared by many customers", op(">=", f("ipCustomers1h"), 5), 20, BOTH),
    ("Mule phone", op(">=", f("deviceCustomers24h"), 3), 45, BOTH),
    (
        "Velocity with a large amount",
        op("and", op(">=", f("txCount1h"), 30), op(">=", f("amount"), 300_000)),
        20,
        T,
    ),
    (
        "Day's spending very high",
        op("and", op(">=", f("txSum24h"), 20_000_000), op(">=", f("amount"), 400_000)),
        15,
        T,
    ),
    ("New phone on a shared IP", op("and", NEW_PHONE, op(">=", f("ipCustomers1h"), 2)), 25, BOTH),
    (
        "Far-away sign-in at night",
        op("and", op(">", f("distanceKm"), 200), op("between", f("hourLocal"), 1, 5)),
        15,
        L,
    ),
    ("New phone, many transactions", op("and", NEW_PHONE, op(">=", f("txCount1h"), 5)), 20, T),
    (
        "Large and unusual, away from home",
        op(
            "and",
            op(">=", f("amount"), 100_000),
            op(">=", f("amountToTypical"), 8),
            op(">", f("distanceKm"), 50),
        ),
        30,
        T,
    ),
    (
        "Large non-debit",
        op(
            "and",
            op("not", op("in", f("transactionType"), ["DEBIT"])),
            op(">=", f("amount"), 500_000),
        ),
        10,
        T,
    ),
    (
        "Far away after failed sign-ins",
        op("and", op(">", f("distanceKm"), 100), op(">=", f("failedLogins10m"), 2)),
        20,
        BOTH,
    ),
)
SHADOW_RULES: tuple[tuple[str, dict[str, Any], int, tuple[str, ...]], ...] = (
    ("Candidate: large debit 300k", op(">=", f("amount"), 300_000), 15, T),
    ("Candidate: new phone, large, higher score", op("and", LARGE, NEW_PHONE), 50, T),
    ("Candidate: 50 km from home", op(">", f("distanceKm"), 50), 10, BOTH),
    ("Candidate: ten times the usual", op(">=", f("amountToTypical"), 10), 20, T),
    (
        "Candidate: late-night large debit",
        op("and", op("or", op(">=", f("hourLocal"), 23), op("<=", f("hourLocal"), 4)), LARGE),
        20,
        T,
    ),
    ("Candidate: three failed sign-ins", op(">=", f("failedLogins10m"), 3), 15, BOTH),
    ("Candidate: IP of three customers", op(">=", f("ipCustomers1h"), 3), 20, BOTH),
    ("Candidate: phone of two customers", op(">=", f("deviceCustomers24h"), 2), 30, BOTH),
    ("Candidate: 60 an hour", op(">=", f("txCount1h"), 60), 10, BOTH),
    ("Candidate: 100M a day", op(">=", f("txSum24h"), 100_000_000), 10, BOTH),
    ("Candidate: new phone 50 km away", op("and", NEW_PHONE, op(">", f("distanceKm"), 50)), 30, L),
    (
        "Candidate: failed sign-in on a new phone",
        op("and", op("==", f("loginSuccessful"), False), NEW_PHONE),
        20,
        L,
    ),
    ("Candidate: USD or EUR", op("in", f("currency"), ["USD", "EUR"]), 30, T),
    ("Candidate: just under 40k", op("between", f("amount"), 38_000, 40_000), 10, T),
    (
        "Candidate: large, away, at night",
        op("and", LARGE, op(">", f("distanceKm"), 50), op("between", f("hourLocal"), 0, 6)),
        40,
        T,
    ),
    (
        "Candidate: new phone, 20 an hour",
        op("and", op(">=", f("txCount1h"), 20), NEW_PHONE),
        25,
        BOTH,
    ),
    (
        "Candidate: unusual on a new phone",
        op("and", op(">=", f("amountToTypical"), 5), NEW_PHONE),
        30,
        T,
    ),
    (
        "Candidate: large debit, new phone or far",
        op(
            "and",
            op("in", f("transactionType"), ["DEBIT"]),
            op(">=", f("amount"), 250_000),
            op("or", op(">", f("distanceKm"), 100), NEW_PHONE),
        ),
        45,
        T,
    ),
    (
        "Candidate: shared IP after a failure",
        op("and", op(">=", f("ipCustomers1h"), 2), op(">=", f("failedLogins10m"), 1)),
        20,
        BOTH,
    ),
    ("Candidate: not a known phone", op("not", op("==", f("deviceKnown"), True)), 5, BOTH),
)
BACKTEST_RULE = (
    "Large debit, unusual, on a new or shared phone or far from home",
    op(
        "and",
        LARGE,
        op(">=", f("amountToTypical"), 3),
        op(
            "or",
            NEW_PHONE,
            op(">=", f("deviceCustomers24h"), 3),
            op(">", f("distanceKm"), 100),
        ),
    ),
    40,
    T,
)


def spec(rule: tuple[str, dict[str, Any], int, tuple[str, ...]]) -> dict[str, Any]:
    name, condition, score, kinds = rule
    return {"name": name, "condition": condition, "score": score, "eventKinds": list(kinds)}


# -- GraphQL as the risk team uses it ----------------------------------------------------

VERSION = "id ruleId status"
CREATE = f"mutation($i: FraudRuleInput!) {{ createFraudRule(input: $i) {{ {VERSION} }} }}"
REVISE = (
    f"mutation($r: ID!, $i: FraudRuleInput!) {{ reviseFraudRule(ruleId: $r, input: $i) "
    f"{{ {VERSION} }} }}"
)
SET_STATUS = (
    f"mutation($v: ID!, $s: FraudRuleStatus!) {{ setFraudRuleStatus(versionId: $v, status: $s) "
    f"{{ {VERSION} }} }}"
)
START_BACKTEST = """mutation($v: ID!, $from: DateTime!, $to: DateTime!) {
  startBacktest(versionId: $v, from: $from, to: $to) { id status } }"""
ACTIVATE_MODEL = "mutation($m: ID!) { activateAnomalyModel(modelId: $m) { id } }"
DEACTIVATE_MODEL = "mutation($m: ID!) { deactivateAnomalyModel(modelId: $m) { id } }"
BACKTEST = """query($id: ID!) { backtest(id: $id) {
  status progress error createdAt finishedAt evaluated hits hitRate distinctCustomers } }"""


class RiskTeam:
    """Two admins: the analyst who writes rules and the lead who approves them LIVE."""

    def __init__(self, url: str, database_url: str) -> None:
        settings = bench_settings(database_url)
        self.url = url
        self.tokens = {
            who: issue_token(settings, subject=who, role=Role.ADMIN, lifetime=timedelta(hours=6))
            for who in (AUTHOR, APPROVER)
        }
        self.active: dict[str, str] = {}  # rule id -> its SHADOW or LIVE version id

    def call(self, who: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
            timeout=60,
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise BenchError(f"GraphQL call failed: {response.status_code} {str(body)[:500]}")
        (data,) = body["data"].values()
        return dict(data)

    def write(self, rule: dict[str, Any], rule_id: str | None = None) -> dict[str, Any]:
        if rule_id is None:
            return self.call(AUTHOR, CREATE, {"i": rule})
        return self.call(AUTHOR, REVISE, {"r": rule_id, "i": rule})

    def deploy(self, live: Sequence[dict[str, Any]], shadow: Sequence[dict[str, Any]]) -> None:
        """Each rule's next version (the first, or a revision) on traffic."""
        rule_ids = list(self.active) or [None] * (len(live) + len(shadow))
        self.active = {}
        for k, rule in enumerate([*live, *shadow]):
            version = self.write(rule, rule_ids[k])
            if k < len(live):
                moved = self.call(APPROVER, SET_STATUS, {"v": version["id"], "s": "LIVE"})
            else:
                moved = self.call(AUTHOR, SET_STATUS, {"v": version["id"], "s": "SHADOW"})
            self.active[version["ruleId"]] = moved["id"]

    def retire_all(self) -> None:
        for version_id in self.active.values():
            self.call(APPROVER, SET_STATUS, {"v": version_id, "s": "RETIRED"})


# -- 1. the event path with and without rules --------------------------------------------


def turn_outcomes(dsn: str, since: datetime) -> dict[str, Any]:
    """What the rules did to the events stored since ``since``: hits per rule, decisions."""
    with psycopg.connect(dsn) as conn:
        events = conn.execute(
            "SELECT count(*) FROM ingested_events WHERE received_at >= %s", (since,)
        ).fetchone()
        per_rule = conn.execute(
            "SELECT name, shadow, count(*) FROM fraud_rule_hits WHERE evaluated_at >= %s "
            "GROUP BY name, shadow ORDER BY name",
            (since,),
        ).fetchall()
        decisions = conn.execute(
            "SELECT count(*) FILTER (WHERE s >= 80), count(*) FILTER (WHERE s >= 40 AND s < 80), "
            "count(*) FROM (SELECT event_id, sum(score) AS s FROM fraud_rule_hits "
            "WHERE evaluated_at >= %s AND NOT shadow AND NOT suppressed GROUP BY event_id) d",
            (since,),
        ).fetchone()
        locked = conn.execute("SELECT count(*) FROM mobile_users WHERE locked").fetchone()
    total = int(events[0]) if events else 0
    block, review, any_live = decisions or (0, 0, 0)
    return {
        "events": total,
        "block": int(block),
        "review": int(review),
        "events_with_a_live_hit": int(any_live),
        "block_percent": round(100 * block / max(total, 1), 3),
        "review_percent": round(100 * review / max(total, 1), 3),
        "customers_locked_so_far": int(locked[0]) if locked else 0,
        "hits_percent_of_events": {
            f"{name} ({'shadow' if shadow else 'live'})": round(100 * n / max(total, 1), 3)
            for name, shadow, n in per_rule
        },
    }


def with_history(
    args: argparse.Namespace,
    stack: ExitStack,
    work: Path,
    people: list[Customer],
    customers: int | None = None,
) -> tuple[
    PostgresCluster,
    str,
    str,
    str,
    Path,
    dict[str, Any],
    dict[str, int],
    list[tuple[datetime, str, dict[str, Any]]],
]:
    """A seeded cluster (``customers``, at least ``people``) whose ``people`` have their 90
    days of history, loaded through the API; and the real mix's request bodies for them.
    (cluster, database URL, dsn, service token, bodies, the load's figures, what was
    stored, the history)."""
    total = customers or len(people)
    shape = DatasetShape(customers=total, alerts_per_customer=0, heavy_customers=0, heavy_alerts=0)
    print(f"seeding PostgreSQL: {total} customers ...", flush=True)
    cluster, database_url, _ = stack.enter_context(seeded_cluster(shape))
    dsn = conninfo(cluster, DATABASE)
    make_reachable(dsn, total)
    token = service_token(database_url)
    history = event_mix.history(people, args.history, datetime.now(UTC), seed=1000)
    print(f"history: {len(history)} events ...", flush=True)
    with ExitStack() as loading:
        _, load_url = start_serve(loading, database_url, work / "history.log", processes=2)
        loaded = asyncio.run(load_history(load_url, token, history))
    print(f"  {loaded['events']} events in {loaded['seconds']} s", flush=True)
    stored = history_settled(dsn)
    bodies = event_mix.write_bodies(
        work / "mix.bodies", event_mix.live_bodies(people, "mix", 20_000, seed=21)
    )
    return cluster, database_url, dsn, token, bodies, loaded, stored, history


def event_path(
    args: argparse.Namespace,
    wrk: str,
    stack: ExitStack,
    work: Path,
    people: list[Customer],
    variant: str = "rules",
) -> tuple[dict[str, Any], list[tuple[datetime, str, dict[str, Any]]]]:
    """ABAB turns of the real mix on one server: ``variant`` "rules" without and with the
    40 rules; "anomaly" with the anomaly model off and on, no rule: each transaction's
    features computed for the model, scored and the score stored with it. (A rule on the
    score would measure this benchmark's own traffic: each customer here sends several
    transactions a second, which the model rightly finds odd, and nearly every event would
    open a case.)"""
    cluster, database_url, dsn, token, bodies, loaded, stored, history = with_history(
        args, stack, work, people
    )
    servers, url = start_setup(stack, "serve", database_url, work, 1)
    cpu = Cpu(servers, postmaster_pid(cluster.datadir))
    team = RiskTeam(url, database_url)
    live = [spec(r) for r in LIVE_RULES]
    shadow = [spec(r) for r in SHADOW_RULES]
    model_id = ""
    if variant == "anomaly":
        model_id = train_model(database_url, dsn, work / "train.log")
    turns: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    for turn in range(args.turns):
        for with_rules in (False, True):
            if variant == "anomaly":
                label = "scoring on" if with_rules else "scoring off"
                if with_rules:
                    team.call(APPROVER, ACTIVATE_MODEL, {"m": model_id})
                elif turn:
                    team.call(APPROVER, DEACTIVATE_MODEL, {"m": model_id})
            else:
                label = "with rules" if with_rules else "without rules"
                if with_rules:
                    team.deploy(live, shadow)
                elif team.active:
                    team.retire_all()
            time.sleep(1.5)  # past the rule set's refresh, though this process reloads at once
            since = datetime.now(UTC)
            print(
                f"  turn {turn + 1}, {label}: c={args.connections} {args.warmup}+{args.duration} s"
            )
            run = wrk_run(
                wrk,
                f"{url}/graphql",
                bodies,
                f"t{turn}{int(with_rules)}",
                token=token,
                cpu=cpu,
                connections=args.connections,
                threads=1,
                duration=args.duration,
                warmup=args.warmup,
                items_per_request=1,
            )
            run["rules"] = with_rules
            run["turn"] = turn + 1
            if with_rules and variant == "rules":
                run["outcomes"] = turn_outcomes(dsn, since)
            print(
                f"    {run['rps']:.1f} events/s, server "
                f"{run['cpu_ms_per_event']['server']:.2f} ms CPU/event, errors "
                f"{run['errors_total']}",
                flush=True,
            )
            turns.append(run)
    load_after = os.getloadavg()
    team.retire_all()
    if variant == "anomaly":
        team.call(APPROVER, DEACTIVATE_MODEL, {"m": model_id})
    pairs = [ratio(turns[2 * k + 1]["rps"], turns[2 * k]["rps"]) for k in range(len(turns) // 2)]
    without = [t["rps"] for t in turns if not t["rules"]]
    with_ = [t["rps"] for t in turns if t["rules"]]
    cpu_without = [t["cpu_ms_per_event"]["server"] for t in turns if not t["rules"]]
    cpu_with = [t["cpu_ms_per_event"]["server"] for t in turns if t["rules"]]
    result = {
        "variant": variant,
        "customers": len(people),
        "history": {**loaded, "stored": stored},
        "postgresql": server_version(cluster),
        "turns": turns,
        "per_pair_ratio": pairs,
        "without_rules_events_per_s": round(statistics.mean(without), 1),
        "with_rules_events_per_s": round(statistics.mean(with_), 1),
        "with_vs_without": ratio(statistics.mean(with_), statistics.mean(without)),
        "server_cpu_ms_per_event_without": round(statistics.mean(cpu_without), 3),
        "server_cpu_ms_per_event_with": round(statistics.mean(cpu_with), 3),
        "load_average_1_5_15": {
            "before": [round(v, 2) for v in load_before],
            "after": [round(v, 2) for v in load_after],
        },
    }
    return result, history


def train_model(database_url: str, dsn: str, log: Path) -> str:
    """The anomaly model trained on the history just loaded, as the daily job does; its id."""
    print("training the anomaly model on the history ...", flush=True)
    with log.open("w") as out:
        done = subprocess.run(
            cli_command("run-job", "train-anomaly-model", "--seed", "7"),
            env=server_env(database_url),
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        raise BenchError(f"training failed: {log.read_text()[-2000:]}")
    print(f"  {log.read_text().strip().splitlines()[-1]}", flush=True)
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT max(id) FROM anomaly_models").fetchone()
    assert row is not None and row[0] is not None
    return str(row[0])


# -- 1c. from a BLOCK decision to the risk team's notification, under load -------------

# A rule no real-mix event meets: a debit of 900 000 MWK or more from a phone never seen.
BLOCK_RULE = (
    "Very large debit on a new phone",
    op("and", op(">=", f("amount"), 900_000), NEW_PHONE),
    90,
    T,
)
BLOCKS_PER_SECOND = 2.0
TARGET_BLOCK_NOTICE_P99_S = 2.0


def block_events(
    url: str, token: str, blockers: list[Customer], stop: threading.Event, sent: dict[str, float]
) -> None:
    """BLOCKS_PER_SECOND transactions that the BLOCK rule decides on, each from a customer
    of its own, until ``stop``; ``sent``: event id -> when it was sent (epoch seconds)."""
    query = (
        "mutation($input: TransactionEventInput!) { recordTransaction(input: $input) "
        "{ eventId decision { outcome } } }"
    )
    source = event_mix.MixSource(seed=77)
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for n, customer in enumerate(blockers):
            if stop.wait(1 / BLOCKS_PER_SECOND if n else 0):
                return
            event = source.transaction(customer, datetime.now(UTC).isoformat(), kind="plain")
            event.update(amount="950000.00", deviceId=f"stolen-phone-{n}", ipAddress="41.0.0.9")
            sent[event["eventId"]] = time.time()
            body = client.post(
                f"{url}/graphql", json={"query": query, "variables": {"input": event}}
            ).json()
            outcome = (body.get("data") or {}).get("recordTransaction", {}) or {}
            if (outcome.get("decision") or {}).get("outcome") != "BLOCK":
                raise BenchError(f"the BLOCK event was not blocked: {str(body)[:300]}")


def block_notice(
    args: argparse.Namespace, wrk: str, stack: ExitStack, work: Path, people: list[Customer]
) -> dict[str, Any]:
    """``serve`` as the README starts it, with a Slack channel for the risk team: the real
    mix closed loop, and meanwhile BLOCK decisions; from each decision (its case opened)
    to the team's Slack message sent, and from the request to it."""
    blockers = event_mix.customers(FIRST_USER_ID + len(people), 200)
    cluster, database_url, dsn, token, bodies, loaded, stored, _ = with_history(
        args, stack, work, people, customers=len(people) + len(blockers)
    )
    receiver, base = start_receiver(work / "receiver.log")
    stack.enter_context(running(receiver))
    chain = [{"name": "risk-team", "slack_webhooks": [f"{base}/slack-risk"]}]
    servers, url = start_setup(
        stack, "serve", database_url, work, 1, {"ALERTS_CASE_ESCALATION_CHAIN": json.dumps(chain)}
    )
    cpu = Cpu(servers, postmaster_pid(cluster.datadir))
    team = RiskTeam(url, database_url)
    team.deploy([spec(BLOCK_RULE)], [])
    sent: dict[str, float] = {}
    stop = threading.Event()
    errors: list[BaseException] = []

    def drive() -> None:
        try:
            block_events(url, token, blockers, stop, sent)
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    driver = threading.Thread(target=drive, daemon=True)
    print(f"BLOCK decisions under the real mix: c={args.connections} {args.duration} s", flush=True)
    driver.start()
    run = wrk_run(
        wrk,
        f"{url}/graphql",
        bodies,
        "block",
        token=token,
        cpu=cpu,
        connections=args.connections,
        threads=1,
        duration=args.duration,
        warmup=0,
        items_per_request=1,
    )
    stop.set()
    driver.join()
    if errors:
        raise BenchError(f"the BLOCK driver failed: {errors[0]}")
    query = (
        "SELECT c.event_id, extract(epoch FROM c.opened_at), extract(epoch FROM min(n.sent_at)) "
        "FROM review_cases c JOIN case_notifications n ON n.case_id = c.id AND n.step = 0 "
        "WHERE c.source = 'DECISION_BLOCK' GROUP BY c.id"
    )

    def notices() -> list[tuple[str, float, float | None]]:
        with psycopg.connect(dsn) as conn:
            return [
                (e, float(o), None if t is None else float(t)) for e, o, t in conn.execute(query)
            ]

    wait_for(
        lambda: len(notices()) == len(sent) and all(t is not None for _, _, t in notices()),
        60,
        "every BLOCK case's notification",
    )
    rows = notices()
    from_decision = [(t - o) * 1000 for _, o, t in rows if t is not None]
    from_request = [(t - sent[e]) * 1000 for e, _, t in rows if t is not None]
    summary = latency_summary(from_decision)
    print(
        f"  {len(rows)} BLOCK cases; real mix {run['rps']:.1f} events/s; notice p50 "
        f"{summary['p50']:.0f} ms, p99 {summary['p99']:.0f} ms from the decision",
        flush=True,
    )
    return {
        "customers": len(people),
        "history": {**loaded, "stored": stored},
        "postgresql": server_version(cluster),
        "block_cases": len(rows),
        "real_mix": run,
        "notice_ms_from_decision": summary,
        "notice_ms_from_request": latency_summary(from_request),
    }


# -- 2. each rule's cost in-process ------------------------------------------------------


def domain_event(kind: str, event: dict[str, Any], at: datetime) -> TransactionEvent | LoginEvent:
    """A request body's event as the engine sees it (the API's input mapping, in short)."""
    place = event.get("location")
    location = GeoPoint(place["latitude"], place["longitude"]) if place else None
    if kind == "login":
        return LoginEvent(
            event_id=event["eventId"],
            mobile_user_id=event["mobileUserId"],
            successful=event["successful"],
            occurred_at=at,
            device_id=event.get("deviceId"),
            ip_address=event.get("ipAddress"),
            location=location,
            login_method=LoginMethod(event["loginMethod"]),
        )
    return TransactionEvent(
        event_id=event["eventId"],
        account_number=event["accountNumber"],
        transaction_id=event["transactionId"],
        transaction_type=TransactionType(event["transactionType"]),
        amount=Decimal(event["amount"]),
        currency=event["currency"],
        occurred_at=at,
        balance_after=Decimal(event["balanceAfter"]),
        device_id=event.get("deviceId"),
        ip_address=event.get("ipAddress"),
        location=location,
    )


def customer_of(event: TransactionEvent | LoginEvent) -> int:
    if isinstance(event, LoginEvent):
        return event.mobile_user_id
    return int(event.account_number[2:])


def per_rule(
    args: argparse.Namespace,
    people: list[Customer],
    history: list[tuple[datetime, str, dict[str, Any]]],
) -> dict[str, Any]:
    zone = ZoneInfo(ZONE)
    everything = frozenset().union(*(parse(r[1], r[3]).features for r in LIVE_RULES + SHADOW_RULES))
    replay = FeatureReplay(needed=everything)
    for when, kind, event in history:
        domain = domain_event(kind, event, when)
        replay.observe(customer_of(domain), domain, zone, evaluate=False)
    source = event_mix.MixSource(seed=77)
    now = datetime.now(UTC)
    live = []
    for k in range(args.rule_events):
        at = now + timedelta(milliseconds=7 * k)
        customer = source.rng.choice(people)
        if source.rng.random() < event_mix.LOGINS_PER_TRANSACTION / (
            1 + event_mix.LOGINS_PER_TRANSACTION
        ):
            domain = domain_event("login", source.login(customer, event_mix.stamp(at)), at)
        else:
            body = source.transaction(customer, event_mix.stamp(at))
            domain = domain_event("transaction", body, at)
        who = customer_of(domain)
        crowd = replay._crowd(who, domain)
        live.append((who, domain, replay.profiles[who], crowd))
    rows = []
    versions = []
    for k, (name, condition_doc, score, kinds) in enumerate(LIVE_RULES + SHADOW_RULES):
        event_kinds = frozenset(EventKind(x) for x in kinds)
        condition = parse(condition_doc, event_kinds)
        versions.append(
            ActiveVersion(
                rule_id=k + 1,
                version_id=k + 1,
                name=name,
                score=score,
                kinds=event_kinds,
                condition=condition,
                shadow=k >= len(LIVE_RULES),
            )
        )
        mine = [item for item in live if kind_of(item[1]) in event_kinds]
        needed = condition.features
        runs, hits = [], 0
        for _ in range(args.repeats):
            hits = 0
            started = time.process_time_ns()
            for _who, event, profile, crowd in mine:
                features = compute(event, profile, zone=zone, needed=needed, crowd=crowd)
                hits += condition.evaluate(features)[0]
            runs.append((time.process_time_ns() - started) / 1000 / max(len(mine), 1))
        rows.append(
            {
                "rule": name,
                "status": "SHADOW" if k >= len(LIVE_RULES) else "LIVE",
                "event_kinds": list(kinds),
                "features": sorted(needed),
                "events": len(mine),
                "hits_percent": round(100 * hits / max(len(mine), 1), 2),
                "cpu_us_per_event_min": round(min(runs), 2),
                "cpu_us_per_event_max": round(max(runs), 2),
            }
        )
    rules = RuleSet(versions=tuple(versions))
    together = []
    for _ in range(args.repeats):
        started = time.process_time_ns()
        for who, event, profile, crowd in live:
            kind = kind_of(event)
            features = compute(event, profile, zone=zone, needed=rules.needed(kind), crowd=crowd)
            account = event.account_number if isinstance(event, TransactionEvent) else None
            rules.evaluate(kind, features, Subject(who, account, event.device_id), now)
        together.append((time.process_time_ns() - started) / 1000 / len(live))
    return {
        "events": len(live),
        "repeats": args.repeats,
        "rules": rows,
        "all_40_cpu_us_per_event_min": round(min(together), 1),
        "all_40_cpu_us_per_event_max": round(max(together), 1),
        "note": "crowd features (deviceCustomers24h, ipCustomers1h) are given here from the "
        "replay's windows; on the live path they are one SQL query per event, in part 1",
    }


# -- 3. a backtest over 1 000 000 stored events ------------------------------------------

TOWNS_SQL = ", ".join(f"({k}, {lat}, {lon})" for k, (_, lat, lon) in enumerate(event_mix.TOWNS))
# Each row's customer, home town (most in the two big cities), phone and address; one in
# a hundred from a town far from home, one in a hundred from a phone never seen before.
EVENTS_SQL = """
WITH towns(k, lat, lon) AS (VALUES {towns}),
raw AS (
  SELECT g, {first} + (g::bigint * 7919) %% {customers} AS u,
         %(start)s::timestamptz + (g::float8 / {count}) * interval '90 days' AS at,
         random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5
  FROM generate_series(1, {count}) AS g
),
placed AS (
  SELECT raw.*,
         CASE WHEN r1 < 0.01 THEN ((u * 31) %% 16 / 2 + 6) %% 12
              ELSE (ARRAY[0,0,0,0,1,1,1,2,2,3,4,5,6,7,8,9])[1 + (u * 31) %% 16] END AS town,
         CASE WHEN r2 < 0.01 THEN 'dev-' || u || '-new-' || g
              ELSE 'dev-' || u || '-' || (g %% (1 + u %% 3)) END AS device,
         CASE WHEN r2 < 0.01 THEN '41.0.0.' || (1 + g %% 254)
              ELSE (CASE WHEN u %% 2 = 0 THEN '102.' ELSE '105.' END) || (u / 256 %% 256) || '.'
                   || (u %% 256) || '.' || (1 + g %% 254) END AS ip
  FROM raw
)
"""
TRANSACTIONS_SQL = (
    EVENTS_SQL
    + """
INSERT INTO transactions (event_id, account_number, mobile_user_id, transaction_id,
  transaction_type, amount, currency, balance_after, device_id, ip_address, latitude,
  longitude, occurred_at, created_at)
SELECT 'bt-t' || g, '10' || lpad(u::text, 8, '0'), u, 'TX-bt-' || g,
  (CASE WHEN r3 < 0.1 THEN 'CREDIT' ELSE 'DEBIT' END),
  round((CASE WHEN r4 < 1.0 / 7 THEN 50001 + r5 * 450000 ELSE 100 + r5 * 39900 END)::numeric, 2),
  'MWK', round((6000 + r3 * 3000000)::numeric, 2), device, ip,
  towns.lat + (r4 - 0.5) * 0.04, towns.lon + (r5 - 0.5) * 0.04,
  at, at + r1 * interval '2 seconds'
FROM placed JOIN towns ON towns.k = placed.town
"""
)
LOGINS_SQL = (
    EVENTS_SQL
    + """
INSERT INTO login_attempts (event_id, mobile_user_id, successful, device_id, ip_address,
  latitude, longitude, login_method, occurred_at, created_at)
SELECT 'bt-l' || g, u, r3 >= 0.1, device, ip,
  towns.lat + (r4 - 0.5) * 0.04, towns.lon + (r5 - 0.5) * 0.04,
  (ARRAY['BIOMETRIC','PASSWORD','PASSKEY','OTP'])[1 + (g %% 4)],
  at, at + r1 * interval '2 seconds'
FROM placed JOIN towns ON towns.k = placed.town
"""
)
SCAN_COLUMNS = {
    "transactions": "id, created_at, event_id, account_number, mobile_user_id, transaction_id, "
    "transaction_type, amount, currency, balance_after, device_id, ip_address, latitude, "
    "longitude, location_label, occurred_at",
    "login_attempts": "id, created_at, event_id, mobile_user_id, successful, device_id, "
    "ip_address, latitude, longitude, location_label, login_method, occurred_at",
}


def store_events(dsn: str, customers: int, total: int, start: datetime) -> dict[str, Any]:
    logins = round(total * 0.23)
    counts = {"transactions": total - logins, "login_attempts": logins}
    began = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT setseed(0.13)")
        for table, sql in (("transactions", TRANSACTIONS_SQL), ("login_attempts", LOGINS_SQL)):
            text = sql.format(
                towns=TOWNS_SQL, first=FIRST_USER_ID, customers=customers, count=counts[table]
            )
            conn.execute(text, {"start": start})  # type: ignore[arg-type]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE transactions, login_attempts")
    return {**counts, "customers": customers, "seconds": round(time.perf_counter() - began, 1)}


def scan_child(dsn: str, end: str) -> int:
    """The baseline, in its own process: every row the backtest reads, fetched in its order."""
    began = time.perf_counter()
    rows = 0
    with psycopg.connect(dsn) as conn:
        for table, columns in SCAN_COLUMNS.items():
            cursor = conn.execute(
                f"SELECT {columns} FROM {table} WHERE occurred_at < %s ORDER BY created_at, id",
                (datetime.fromisoformat(end),),
            )
            rows += len(cursor.fetchall())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - began, "peak_rss_mb": peak}))
    return 0


def scan(dsn: str, end: datetime) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--scan-child", dsn, end.isoformat()],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures = json.loads(output)
    return {
        "rows": figures["rows"],
        "seconds": round(figures["seconds"], 2),
        "peak_rss_mb": round(figures["peak_rss_mb"], 1),
    }


def rss_mb(pid: int) -> float:
    """The RSS of the process and its children (a backtest's replay runs in a child)."""
    total = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (FileNotFoundError, ProcessLookupError):
        return total  # it ended while being read
    return total + sum(rss_mb(int(child)) for child in children)


class RssSampler:
    """The highest RSS of a process and its children, sampled every 50 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def backtest_once(team: RiskTeam, pid: int, version: str, start: datetime) -> dict[str, Any]:
    before = rss_mb(pid)
    began = time.perf_counter()
    with RssSampler(pid) as sampler:
        row = team.call(
            AUTHOR,
            START_BACKTEST,
            {"v": version, "from": start.isoformat(), "to": datetime.now(UTC).isoformat()},
        )
        while True:
            state = team.call(AUTHOR, BACKTEST, {"id": row["id"]})
            if state["status"] != "RUNNING":
                break
            time.sleep(0.2)
    seconds = time.perf_counter() - began
    if state["status"] != "DONE":
        raise BenchError(f"backtest {row['id']} ended {state['status']}: {state['error']}")
    recorded = datetime.fromisoformat(state["finishedAt"]) - datetime.fromisoformat(
        state["createdAt"]
    )
    return {
        "seconds_observed": round(seconds, 1),
        "seconds_recorded": round(recorded.total_seconds(), 1),
        "server_rss_mb_before": round(before, 1),
        "server_rss_mb_peak": round(sampler.peak, 1),
        "evaluated": state["evaluated"],
        "hits": state["hits"],
        "hit_rate": state["hitRate"],
        "distinct_customers": state["distinctCustomers"],
    }


def backtest(args: argparse.Namespace, stack: ExitStack, work: Path) -> dict[str, Any]:
    customers = args.backtest_customers
    shape = DatasetShape(
        customers=customers, alerts_per_customer=0, heavy_customers=0, heavy_alerts=0
    )
    print(f"seeding PostgreSQL: {customers} customers ...", flush=True)
    cluster, database_url, _ = stack.enter_context(seeded_cluster(shape))
    dsn = conninfo(cluster, DATABASE)
    start = datetime.now(UTC) - timedelta(days=90, minutes=5)
    print(f"storing {args.backtest_events} events with generate_series ...", flush=True)
    stored = store_events(dsn, customers, args.backtest_events, start)
    print(f"  in {stored['seconds']} s", flush=True)
    settings = {}
    if args.backtest_processes is not None:
        settings["ALERTS_BACKTEST_PROCESSES"] = str(args.backtest_processes)
    server, url = start_serve(stack, database_url, work / "backtest-serve.log", extra_env=settings)
    pid = server.process.pid
    team = RiskTeam(url, database_url)
    version = team.write(spec(BACKTEST_RULE))["id"]
    load_before = os.getloadavg()
    runs: list[dict[str, Any]] = []
    for turn in range(2):
        end = datetime.now(UTC)
        print(f"  turn {turn + 1}: SELECT scan ...", flush=True)
        runs.append({"what": "select scan", "turn": turn + 1, **scan(dsn, end)})
        print(f"    {runs[-1]}", flush=True)
        print(f"  turn {turn + 1}: backtest ...", flush=True)
        runs.append(
            {"what": "backtest", "turn": turn + 1, **backtest_once(team, pid, version, start)}
        )
        print(f"    {runs[-1]}", flush=True)
    load_after = os.getloadavg()
    backtests = [r for r in runs if r["what"] == "backtest"]
    scans = [r for r in runs if r["what"] == "select scan"]
    return {
        "stored": stored,
        "backtest_processes": settings.get("ALERTS_BACKTEST_PROCESSES", "2 (default)"),
        "rule": spec(BACKTEST_RULE),
        "postgresql": server_version(cluster),
        "runs": runs,
        "backtest_seconds_max": max(r["seconds_recorded"] for r in backtests),
        "backtest_peak_rss_mb_max": max(r["server_rss_mb_peak"] for r in backtests),
        "scan_seconds_max": max(r["seconds"] for r in scans),
        "scan_peak_rss_mb_max": max(r["peak_rss_mb"] for r in scans),
        "backtest_vs_scan_seconds": ratio(
            statistics.mean(r["seconds_recorded"] for r in backtests),
            statistics.mean(r["seconds"] for r in scans),
        ),
        "load_average_1_5_15": {
            "before": [round(v, 2) for v in load_before],
            "after": [round(v, 2) for v in load_after],
        },
    }


# -- main --------------------------------------------------------------------------------

PARTS = ("event-path", "per-rule", "backtest", "anomaly-event-path", "block-notice")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--only", default=",".join(PARTS), help="parts to run")
    parser.add_argument("--customers", type=int, help="customers of the event path (100; quick 20)")
    parser.add_argument("--history", type=int, default=100, help="transactions of history each")
    parser.add_argument("--duration", type=int, help="seconds per measured run (15; quick 5)")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up (3; quick 2)")
    parser.add_argument("--turns", type=int, default=2, help="ABAB: turns of without/with")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rule-events", type=int, help="events per rule (4000; quick 1000)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--backtest-events", type=int, help="stored events (1 000 000; quick 100 000)"
    )
    parser.add_argument("--backtest-customers", type=int, help="(10 000; quick 1 000)")
    parser.add_argument(
        "--backtest-processes",
        type=int,
        help="the server's ALERTS_BACKTEST_PROCESSES (default: the server's own, 2)",
    )
    parser.add_argument("--output", type=Path, help="default bench/results/fraud_rules.json")
    args = parser.parse_args(argv)
    args.parts = [p for p in args.only.split(",") if p]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; of {', '.join(PARTS)}")
    args.customers = args.customers or (20 if args.quick else 100)
    args.duration = args.duration or (5 if args.quick else 15)
    args.warmup = args.warmup if args.warmup is not None else (2 if args.quick else 3)
    args.rule_events = args.rule_events or (1000 if args.quick else 4000)
    args.backtest_events = args.backtest_events or (100_000 if args.quick else 1_000_000)
    args.backtest_customers = args.backtest_customers or (1_000 if args.quick else 10_000)
    args.output = args.output or RESULTS_DIR / (
        "fraud_rules-quick.json" if args.quick else "fraud_rules.json"
    )
    return args


def run(args: argparse.Namespace, wrk: str | None, argv: Sequence[str]) -> dict[str, Any]:
    recorded_at = datetime.now(UTC)
    people = event_mix.customers(FIRST_USER_ID, args.customers)
    report: dict[str, Any] = {
        "benchmark": "fraud_rules",
        "recorded_at": recorded_at.isoformat(timespec="seconds"),
        "command": display_command(argv),
        "settings": {
            k: v for k, v in vars(args).items() if k not in ("output", "only") and v is not None
        },
    }
    postgresql = ""
    history: list[tuple[datetime, str, dict[str, Any]]] = []
    # Parts not run this time are kept from the results file; each part is saved as it ends.
    if args.output.exists():
        earlier = json.loads(args.output.read_text())
        report.update(
            {
                k: earlier[k]
                for k in (
                    "event_path",
                    "per_rule",
                    "backtest",
                    "anomaly_event_path",
                    "block_notice",
                )
                if k in earlier
            }
        )

    def save() -> None:
        report["machine"] = machine_facts(wrk, postgresql)
        report["ratios"], report["targets"] = ratios_and_targets(report)
        write_report(args.output, report)

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="alerts-bench-")))
        if "event-path" in args.parts:
            if wrk is None:
                raise BenchError("wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)")
            with ExitStack() as part:
                report["event_path"], history = event_path(args, wrk, part, work, people)
            report["event_path"]["command"] = report["command"]
            postgresql = report["event_path"]["postgresql"]
            save()
    if "anomaly-event-path" in args.parts:
        if wrk is None:
            raise BenchError("wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)")
        with ExitStack() as stack, ExitStack() as part:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="alerts-bench-")))
            report["anomaly_event_path"], history = event_path(
                args, wrk, part, work, people, variant="anomaly"
            )
            report["anomaly_event_path"]["command"] = report["command"]
            postgresql = report["anomaly_event_path"]["postgresql"]
            save()
    if "block-notice" in args.parts:
        if wrk is None:
            raise BenchError("wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)")
        with ExitStack() as stack:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="alerts-bench-")))
            report["block_notice"] = {
                **block_notice(args, wrk, stack, work, people),
                "command": report["command"],
            }
            postgresql = report["block_notice"]["postgresql"]
            save()
    if "per-rule" in args.parts:
        if not history:
            history = event_mix.history(people, args.history, datetime.now(UTC), seed=1000)
        print(f"per-rule cost: {args.rule_events} events x 40 rules ...", flush=True)
        report["per_rule"] = {**per_rule(args, people, history), "command": report["command"]}
        save()
    if "backtest" in args.parts:
        with ExitStack() as stack:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="alerts-bench-")))
            report["backtest"] = {**backtest(args, stack, work), "command": report["command"]}
            postgresql = report["backtest"]["postgresql"]
            save()
    save()
    return report


def ratios_and_targets(report: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    ratios: dict[str, Any] = {}
    targets: dict[str, Any] = {}
    if "event_path" in report:
        e = report["event_path"]
        ratios["events/s with 20 LIVE + 20 SHADOW rules / without"] = e["with_vs_without"]
        targets["with rules >= 0.8x without (mean of the turns)"] = {
            "target": TARGET_WITH_RULES_VS_WITHOUT,
            "measured": e["with_vs_without"],
            "met": met(e["with_vs_without"], TARGET_WITH_RULES_VS_WITHOUT),
        }
    if "anomaly_event_path" in report:
        a = report["anomaly_event_path"]
        ratios["events/s with anomaly scoring on / off"] = a["with_vs_without"]
        targets["scoring on >= 0.85x off (mean of the turns)"] = {
            "target": TARGET_SCORING_ON_VS_OFF,
            "measured": a["with_vs_without"],
            "met": met(a["with_vs_without"], TARGET_SCORING_ON_VS_OFF),
        }
    if "block_notice" in report:
        n = report["block_notice"]["notice_ms_from_decision"]
        targets["BLOCK decision to the team's notice p99 <= 2 s under the real mix (s)"] = {
            "target": TARGET_BLOCK_NOTICE_P99_S,
            "measured": round(n["p99"] / 1000, 3),
            "met": met(n["p99"] / 1000, TARGET_BLOCK_NOTICE_P99_S, at_most=True),
        }
    if "backtest" in report:
        b = report["backtest"]
        ratios["backtest seconds / SELECT scan seconds"] = b["backtest_vs_scan_seconds"]
        targets["backtest of 1 000 000 events <= 60 s (slowest turn)"] = {
            "target": TARGET_BACKTEST_SECONDS,
            "measured": b["backtest_seconds_max"],
            "met": met(b["backtest_seconds_max"], TARGET_BACKTEST_SECONDS, at_most=True),
        }
        targets["backtest peak RSS <= 1 GB (MB, highest turn)"] = {
            "target": TARGET_BACKTEST_MB,
            "measured": b["backtest_peak_rss_mb_max"],
            "met": met(b["backtest_peak_rss_mb_max"], TARGET_BACKTEST_MB, at_most=True),
        }
    return ratios, targets


def print_table(report: dict[str, Any]) -> None:
    print()
    if "event_path" in report:
        e = report["event_path"]
        print(
            f"event path, real mix, c={report['settings']['connections']}, "
            f"{e['customers']} customers"
        )
        for t in e["turns"]:
            extra = ""
            if t["rules"]:
                o = t["outcomes"]
                extra = (
                    f"  live hit {100 * o['events_with_a_live_hit'] / max(o['events'], 1):.2f}%"
                    f" review {o['review_percent']}% block {o['block_percent']}%"
                )
            print(
                f"  turn {t['turn']} {'with   ' if t['rules'] else 'without'} {t['rps']:8.1f} "
                f"events/s  server {t['cpu_ms_per_event']['server']:.2f} ms CPU/event{extra}"
            )
        print(f"  per-pair ratios {e['per_pair_ratio']}")
    if "anomaly_event_path" in report:
        a = report["anomaly_event_path"]
        print(f"\nevent path, real mix, anomaly model off / on, {a['customers']} customers")
        for t in a["turns"]:
            print(
                f"  turn {t['turn']} {'on ' if t['rules'] else 'off'} {t['rps']:8.1f} "
                f"events/s  server {t['cpu_ms_per_event']['server']:.2f} ms CPU/event"
            )
        print(f"  per-pair ratios {a['per_pair_ratio']}")
    if "block_notice" in report:
        n = report["block_notice"]
        d, r = n["notice_ms_from_decision"], n["notice_ms_from_request"]
        print(
            f"\nBLOCK to the team's Slack message, {n['block_cases']} cases under the real mix "
            f"({n['real_mix']['rps']:.1f} events/s): from the decision p50 {d['p50']:.0f} ms "
            f"p99 {d['p99']:.0f} ms; from the request p50 {r['p50']:.0f} ms p99 {r['p99']:.0f} ms"
        )
    if "per_rule" in report:
        p = report["per_rule"]
        print(f"\nper rule, CPU us per event ({p['events']} events, min-max of {p['repeats']})")
        for row in p["rules"]:
            print(
                f"  {row['status']:<6} {row['rule']:<48} {row['cpu_us_per_event_min']:7.2f}-"
                f"{row['cpu_us_per_event_max']:<7.2f} hits {row['hits_percent']}%"
            )
        print(
            f"  all 40 as the live path runs them: {p['all_40_cpu_us_per_event_min']}-"
            f"{p['all_40_cpu_us_per_event_max']} us per event"
        )
    if "backtest" in report:
        print("\nbacktest over stored events")
        for r in report["backtest"]["runs"]:
            print(f"  {r}")
    print_ratios_and_targets(report, width=56)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    if len(argv) == 4 and argv[1] == "--scan-child":
        return scan_child(argv[2], argv[3])
    args = parse_args(argv[1:])
    wrk = shutil.which("wrk")
    return run_and_report("fraud_rules", args.output, lambda: run(args, wrk, argv), print_table)


if __name__ == "__main__":
    raise SystemExit(main())
