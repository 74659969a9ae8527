"""Benchmark: the anomaly model's scoring cost, its training on a million transactions,
and its quality on the generated bank.

    python bench/anomaly.py [--quick] [--rows 1000000]

In one run:

1. **Quality.** The generated bank of ``tests/support/anomaly_events.py`` (normal
   customers over 40 days, injected account takeovers and mule-account bursts), replayed
   into features by ``domain.feature_replay`` as the training job does, a model trained
   on it: ROC AUC of the raw anomaly for the injected transactions (all, and each kind
   against the normal ones), and the share of injected transactions whose top
   contribution names the injected cause.
2. **Scoring CPU per event** (``time.process_time``, this process only), on the bank's
   transactions one at a time, as the event path calls it: ``AnomalyModel.score`` (the
   compiled trees and the percentile), the same with its explanation read
   (``.contributions``, wanted with a rule's hit or a case), and the baseline:
   scikit-learn's ``IsolationForest.score_samples`` on one row, the same trees (same
   rows, same seed).
3. **Training on ``--rows`` transactions**, in a child process so that its peak RSS
   (``ru_maxrss``) is the training's own: the rows are the bank's features resampled
   with noise on the amounts, each added as a feature mapping (as the job's replay hands
   them over); then the fit, the compiled trees, the training distribution and the
   payload. Wall time, CPU time and peak RSS.
4. **The replay's rate**: events per second of ``domain.feature_replay`` on the bank's
   events, which the job spends before the training on every stored event of the window.

Prints a table and writes bench/results/anomaly.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from common_bench import RESULTS_DIR, met, ratio, run_and_report
from dataset import REPO_ROOT  # noqa: F401  (puts the repository on sys.path)
from query_alerts import machine
from sklearn.metrics import roc_auc_score

from account_alerts.domain.anomaly import payload
from account_alerts.domain.anomaly.features import FEATURE_NAMES, MatrixBuilder, matrix
from account_alerts.domain.anomaly.fitting import compile_forest, fit_isolation_forest
from account_alerts.domain.anomaly.training import train, train_on_matrix
from account_alerts.domain.events import TransactionEvent
from account_alerts.domain.feature_replay import FeatureReplay
from tests.support.anomaly_events import CAUSES, MULE, TAKEOVER, ZONE, bank_events, replayed_bank

SEED = 11
TARGET_SCORE_MS = 0.3
TARGET_TRAIN_SECONDS = 120.0
TARGET_TRAIN_MIB = 2048.0
TARGET_AUC = 0.90
TARGET_TOP_CAUSE = 0.80


def quality() -> dict[str, Any]:
    cases = replayed_bank()
    model = train([case.features for case in cases], seed=SEED)
    raw = model.raw_scores(matrix(case.features for case in cases))
    labels = np.array([case.injected is not None for case in cases])
    kinds = np.array([case.injected or "" for case in cases])
    per_kind = {}
    for kind in (TAKEOVER, MULE):
        keep = (kinds == kind) | ~labels
        per_kind[kind] = round(float(roc_auc_score(labels[keep], raw[keep])), 4)
    tops = [
        model.score(case.features).contributions[0].feature in CAUSES[case.injected]
        for case in cases
        if case.injected is not None
    ]
    return {
        "transactions": len(cases),
        "injected": {kind: int((kinds == kind).sum()) for kind in (TAKEOVER, MULE)},
        "roc_auc": round(float(roc_auc_score(labels, raw)), 4),
        "roc_auc_by_kind": per_kind,
        "top_contribution_names_cause": round(float(np.mean(tops)), 4),
    }


def cpu_ms_per_call(call: Any, items: list[Any]) -> float:
    started = time.process_time()
    for item in items:
        call(item)
    return 1000 * (time.process_time() - started) / len(items)


def scoring(events: int, sklearn_events: int) -> dict[str, Any]:
    cases = replayed_bank()
    rows = matrix(case.features for case in cases)
    model = train([case.features for case in cases], seed=SEED)
    filled = model.rows_for_scoring(rows)
    forest = fit_isolation_forest(filled, seed=SEED)
    compiled = compile_forest(forest)
    assert np.array_equal(compiled.threshold, model.forest.threshold)  # the same trees
    features = [case.features for case in cases[:events]]
    one_rows = [filled[i : i + 1] for i in range(sklearn_events)]
    for row in one_rows[:20]:  # warm both paths
        model.score(features[0])
        forest.score_samples(row)
    score_ms = cpu_ms_per_call(model.score, features)
    explained_ms = cpu_ms_per_call(lambda f: model.score(f).contributions, features)
    sklearn_ms = cpu_ms_per_call(forest.score_samples, one_rows)
    explained = [len(model.score(f).contributions) for f in features[:2000]]
    return {
        "events": events,
        "sklearn_events": sklearn_events,
        "trees": len(model.forest.roots),
        "depth": model.forest.depth,
        "nodes": len(model.forest.feature),
        "score_ms": round(score_ms, 4),
        "score_and_explanation_ms": round(explained_ms, 4),
        "sklearn_score_samples_ms": round(sklearn_ms, 4),
        "mean_contributions_listed": round(float(np.mean(explained)), 2),
    }


def training_child(rows: int) -> dict[str, Any]:
    """Runs in its own process: peak RSS is the training's (plus the interpreter)."""
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    cases = replayed_bank()
    bank_seconds = time.perf_counter() - started_wall
    bank_cpu = time.process_time() - started_cpu
    rng = np.random.default_rng(5)
    picks = rng.integers(0, len(cases), size=rows)
    noise = rng.lognormal(0.0, 0.1, size=rows)
    builder = MatrixBuilder()
    vector_started = time.perf_counter()
    for pick, scale in zip(picks, noise, strict=True):
        features = dict(cases[pick].features)
        amount = features.get("amount")
        if isinstance(amount, float):
            features["amount"] = amount * float(scale)
        builder.add(features)
    vectors = builder.finish()
    vector_seconds = time.perf_counter() - vector_started
    fit_started = time.perf_counter()
    model = train_on_matrix(vectors, seed=SEED)
    fit_seconds = time.perf_counter() - fit_started
    dump_started = time.perf_counter()
    data = payload.dump(model)
    dump_seconds = time.perf_counter() - dump_started
    wall = time.perf_counter() - started_wall
    return {
        "rows": rows,
        "generate_bank_seconds": round(bank_seconds, 2),
        "vectorize_seconds": round(vector_seconds, 2),
        "fit_compile_distribution_seconds": round(fit_seconds, 2),
        "payload_seconds": round(dump_seconds, 3),
        "payload_bytes": len(data),
        "wall_seconds_without_bank": round(wall - bank_seconds, 2),
        "cpu_seconds_without_bank": round(time.process_time() - started_cpu - bank_cpu, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def training(rows: int) -> dict[str, Any]:
    child = subprocess.run(  # the child prints one JSON line
        [sys.executable, __file__, "--training-child", str(rows)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return figures


def replay_rate() -> dict[str, Any]:
    events = bank_events()
    replay = FeatureReplay(frozenset(FEATURE_NAMES))
    started = time.process_time()
    for generated in events:
        is_transaction = isinstance(generated.event, TransactionEvent)
        replay.observe(generated.customer, generated.event, ZONE, evaluate=is_transaction)
    seconds = time.process_time() - started
    transactions = sum(isinstance(g.event, TransactionEvent) for g in events)
    return {
        "events": len(events),
        "transactions": transactions,
        "cpu_seconds": round(seconds, 2),
        "events_per_second": round(len(events) / seconds),
        "projected_seconds_for_1m_transactions": round(seconds * 1_000_000 / transactions),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    rows = args.rows // 10 if args.quick else args.rows
    report: dict[str, Any] = {
        "command": "python bench/anomaly.py" + (" --quick" if args.quick else ""),
        "machine": machine(),
        "load_average_1_5_15_at_start": [round(v, 2) for v in os.getloadavg()],
        "quality": quality(),
        "scoring": scoring(2000 if args.quick else 10_000, 200 if args.quick else 1000),
        "training": training(rows),
        "replay": replay_rate(),
        "load_average_1_5_15_at_end": [round(v, 2) for v in os.getloadavg()],
    }
    scoring_figures, training_figures = report["scoring"], report["training"]
    report["ratios"] = {
        "score / sklearn": ratio(
            scoring_figures["score_ms"], scoring_figures["sklearn_score_samples_ms"]
        ),
        "score_and_explanation / sklearn": ratio(
            scoring_figures["score_and_explanation_ms"],
            scoring_figures["sklearn_score_samples_ms"],
        ),
    }
    report["targets"] = {
        f"score <= {TARGET_SCORE_MS} ms CPU": met(
            scoring_figures["score_ms"], TARGET_SCORE_MS, at_most=True
        ),
        f"score and explanation <= {TARGET_SCORE_MS} ms CPU": met(
            scoring_figures["score_and_explanation_ms"], TARGET_SCORE_MS, at_most=True
        ),
        f"training {training_figures['rows']} rows <= {TARGET_TRAIN_SECONDS:g} s wall": met(
            training_figures["wall_seconds_without_bank"], TARGET_TRAIN_SECONDS, at_most=True
        ),
        f"training {training_figures['rows']} rows <= {TARGET_TRAIN_SECONDS:g} s CPU": met(
            training_figures["cpu_seconds_without_bank"], TARGET_TRAIN_SECONDS, at_most=True
        ),
        f"training peak RSS <= {TARGET_TRAIN_MIB:g} MiB": met(
            training_figures["peak_rss_mib"], TARGET_TRAIN_MIB, at_most=True
        ),
        f"ROC AUC >= {TARGET_AUC}": met(report["quality"]["roc_auc"], TARGET_AUC),
        f"top contribution names the cause >= {TARGET_TOP_CAUSE:.0%}": met(
            report["quality"]["top_contribution_names_cause"], TARGET_TOP_CAUSE
        ),
    }
    return report


def print_table(report: dict[str, Any]) -> None:
    print(
        f"load average at start {report['load_average_1_5_15_at_start']}, "
        f"at end {report['load_average_1_5_15_at_end']}"
    )
    for section in ("quality", "scoring", "training", "replay"):
        print(section)
        for name, value in report[section].items():
            print(f"  {name:<40} {value}")
    print()
    for name, value in report["ratios"].items():
        print(f"  {name:<40} x{value}")
    print("\ntargets")
    for name, value in report["targets"].items():
        print(f"  {name:<40} {'met' if value else 'NOT MET'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the training rows")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "anomaly.json")
    parser.add_argument("--training-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.training_child:
        print(json.dumps(training_child(args.training_child)))
        return 0
    return run_and_report("anomaly", args.output, lambda: run(args), print_table)


if __name__ == "__main__":
    raise SystemExit(main())
