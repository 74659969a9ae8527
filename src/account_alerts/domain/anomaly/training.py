"""Fitting a model on transactions' features: deterministic for the rows and a seed."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from account_alerts.domain.anomaly.features import Features, matrix
from account_alerts.domain.anomaly.forest import Floats
from account_alerts.domain.anomaly.model import QUANTILES, AnomalyModel

MIN_TRANSACTIONS = 1000
# Rows scored at once when measuring the training distribution: bounds the walk's memory.
CHUNK = 32768


class TooFewTransactions(ValueError):
    """Fewer transactions than a model can be trusted on: no model is made."""

    def __init__(self, count: int) -> None:
        super().__init__(
            f"{count} transactions in the training window; at least {MIN_TRANSACTIONS} "
            "are needed for a model"
        )
        self.count = count


def train(rows: Iterable[Features], *, seed: int) -> AnomalyModel:
    return train_on_matrix(matrix(rows), seed=seed)


def train_on_matrix(rows: Floats, *, seed: int) -> AnomalyModel:
    if len(rows) < MIN_TRANSACTIONS:
        raise TooFewTransactions(len(rows))
    # Imported here: only training needs scikit-learn (``fitting``).
    from account_alerts.domain.anomaly.fitting import compile_forest, fit_isolation_forest

    medians = _column_medians(rows)
    filled = np.where(np.isnan(rows), medians, rows)
    forest = compile_forest(fit_isolation_forest(filled, seed=seed))
    raw = np.concatenate(
        [forest.anomaly(filled[start : start + CHUNK]) for start in range(0, len(filled), CHUNK)]
    )
    quantiles = np.quantile(raw, np.linspace(0.0, 1.0, QUANTILES))
    return AnomalyModel(forest=forest, medians=medians, quantiles=quantiles)


def _column_medians(rows: Floats) -> Floats:
    """Each column's median over its known values; 0 for a column never known."""
    medians = np.zeros(rows.shape[1])
    for column in range(rows.shape[1]):
        known = rows[:, column][~np.isnan(rows[:, column])]
        if len(known):
            medians[column] = float(np.median(known))
    return medians
