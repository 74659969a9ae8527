"""A trained anomaly model: scores a transaction 0-100 and says which features raised it.

**Score.** The raw anomaly ``s(x)`` (``forest``) placed in the training distribution: the
percentage of the training transactions' raw anomalies at or below it (read from 1 001
stored quantiles, so in steps of 0.1). 99 means only 1 % of the transactions the model
learned from looked stranger.

**Explanation.** For each feature whose value differs from its training median, the
transaction is scored again with that one feature set to the median (only in the trees
whose path split on that feature: in the others it ends in the same leaf). The contribution
is how many splits earlier, on average over the trees, the transaction was isolated
because of that feature's real value: ``E[h(x with the median)] - E[h(x)]``. Positive
means the feature pushed the score up; only those are listed, the largest first. A null
feature was scored as its median, so it never appears.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial

import numpy as np

from account_alerts.domain.anomaly.features import (
    COLUMNS,
    FEATURE_NAMES,
    Features,
    FeatureValue,
)
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
    """The score at once; the explanation when asked for (it is needed with a rule's hit
    or a case, and costs more than the score itself)."""

    score: float  # 0-100, the training distribution's percentile of ``raw``
    raw: float  # s(x) in (0, 1]
    explain: Callable[[], tuple[Contribution, ...]] = field(repr=False, compare=False)

    @cached_property
    def contributions(self) -> tuple[Contribution, ...]:
        return self.explain()


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
        """One transaction, as ``raw_scores`` and ``percentile`` score it in a batch (the
        same operations on one row, without a batch's per-call overhead)."""
        row = self._row_for_scoring(features)
        raw = self.forest.anomaly_of(self.forest.path_length_of(row))
        below = bisect.bisect_right(self._quantile_list, raw)
        return AnomalyResult(
            score=self._percentile_list[below],
            raw=raw,
            explain=partial(self._contributions, dict(features), row),
        )

    def _row_for_scoring(self, features: Features) -> Floats:
        """``rows_for_scoring(vector(features))`` for one transaction, in plain floats."""
        values = []
        for column, median in zip(COLUMNS, self._median_list, strict=True):
            value = features.get(column.name)
            number = math.nan if value is None else column.transform(value)
            values.append(median if math.isnan(number) else number)
        return np.array(values)

    @cached_property
    def _quantile_list(self) -> list[float]:
        return [float(q) for q in self.quantiles]

    @cached_property
    def _median_list(self) -> list[float]:
        return [float(m) for m in self.medians]

    @cached_property
    def _percentile_list(self) -> list[float]:
        """``percentile`` of a raw score with ``below`` quantiles at or under it, by
        ``below``."""
        below = np.arange(len(self.quantiles) + 1)
        return [float(p) for p in np.round(100.0 * below / len(self.quantiles), 1)]

    def _contributions(self, features: Features, row: Floats) -> tuple[Contribution, ...]:
        walk = self.forest.walk(row)
        changed = np.flatnonzero(row != self.medians)
        earlier = self.forest.path_changes(walk, changed, self.medians[changed])
        found = [
            Contribution(
                feature=self.feature_names[column],
                value=features.get(self.feature_names[column]),
                contribution=round(float(delta), 4),
            )
            for column, delta in zip(changed, earlier, strict=True)
            if delta > NEGLIGIBLE
        ]
        return tuple(sorted(found, key=lambda c: -c.contribution))
