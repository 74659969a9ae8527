"""On a generated bank's events with injected takeovers and mule bursts, replayed into
features as the training job does, the anomaly score ranks the injected transactions
high and its top contribution names their cause."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from account_alerts.domain.anomaly.features import matrix
from account_alerts.domain.anomaly.training import train
from tests.support.anomaly_events import CAUSES, MULE, TAKEOVER, replayed_bank


def test_injected_cases_rank_high_and_their_cause_comes_first() -> None:
    cases = replayed_bank()
    model = train([case.features for case in cases], seed=11)
    raw = model.raw_scores(matrix(case.features for case in cases))
    injected = np.array([case.injected is not None for case in cases])
    kinds = {case.injected for case in cases}
    assert {TAKEOVER, MULE} <= kinds and injected.sum() >= 100
    assert roc_auc_score(injected, raw) >= 0.90
    top_names_cause = [
        model.score(case.features).contributions[0].feature in CAUSES[case.injected]
        for case in cases
        if case.injected is not None
    ]
    assert np.mean(top_names_cause) >= 0.80
