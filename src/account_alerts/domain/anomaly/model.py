"""A trained anomaly model: scores a transaction 0-100 and says which features raised it.

**Score.** The raw anomaly ``s(x)`` (``forest``) placed in the training distribution: the
percentage of the training transactions' raw anomalies at or below it (read from 1 001
stored quantiles, so in steps of 0.1). 99 means only 1 % of the transactions the model
learned from looked stranger.

**Explanation.** For each feature whose value differs from its training median, the
transaction is scored again with that one feature set to the median. The contribution
is how many splits earlier, on average over the trees, the transaction was isolated
because of that feature's real value: ``E[h(x with the median)] - E[h(x)]``. Positive
means the feature pushed the score up; only those are listed, the largest first. A null
feature was scored as its median, so it never appears.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from account_alerts.domain.anomaly.features import FEATURE_NAMES, Features, FeatureValue, vector
from account_alerts.domain.anomaly.forest import CompiledForest, Floats

QUANTILES = 1001
# Changes smaller than this are float noise, not a feature's doing.
NEGLIGIBLE = 1e-9


@dataclass(frozen=True)
class Contribution:
    feature: str
    value: FeatureValue
    contribution: float  # splits earlier, on average over the trees


@dataclass(frozen=True)
class AnomalyResult:
    score: float  # 0-100, the training distribution's percentile of ``raw``
    raw: float  # s(x) in (0, 1]
    contributions: tuple[Contribution, ...]


@dataclass(frozen=True)
class AnomalyModel:
    forest: CompiledForest
    medians: Floats  # per column, for nulls and for explanations
    quantiles: Floats  # the training raw anomalies at 0 %, 0.1 %, ... 100 %
    feature_names: tuple[str, ...] = FEATURE_NAMES

    def rows_for_scoring(self, rows: Floats) -> Floats:
        """NaN (a null feature) replaced by the column's training median."""
        return np.where(np.isnan(rows), self.medians, rows)

    def percentile(self, raw: Floats) -> Floats:
        below = np.searchsorted(self.quantiles, raw, side="right")
        result: Floats = np.round(100.0 * below / len(self.quantiles), 1)
        return result

    def raw_scores(self, rows: Floats) -> Floats:
        return self.forest.anomaly(self.rows_for_scoring(rows))

    def score(self, features: Features) -> AnomalyResult:
        row = self.rows_for_scoring(vector(features))
        changed = np.flatnonzero(row != self.medians)
        # Row 0 is the transaction; row k + 1 has feature changed[k] at its median.
        batch = np.repeat(row[None, :], len(changed) + 1, axis=0)
        batch[np.arange(1, len(changed) + 1), changed] = self.medians[changed]
        paths = self.forest.mean_path_length(batch)
        raw = self.forest.anomaly_of_path(paths[:1])
        earlier = paths[1:] - paths[0]
        contributions = sorted(
            (
                Contribution(
                    feature=self.feature_names[column],
                    value=features.get(self.feature_names[column]),
                    contribution=round(float(delta), 4),
                )
                for column, delta in zip(changed, earlier, strict=True)
                if delta > NEGLIGIBLE
            ),
            key=lambda c: -c.contribution,
        )
        return AnomalyResult(
            score=float(self.percentile(raw)[0]),
            raw=float(raw[0]),
            contributions=tuple(contributions),
        )
