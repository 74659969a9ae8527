"""The model's feature vector: which fraud features it reads, in which order, and how.

Each column is a number computed from one named fraud feature of the transaction:

- ``amount``: log(1 + amount). Amounts are heavy-tailed; on the log scale a random split
  separates 50 from 5 000 as easily as 5 000 from 500 000.
- ``amountToTypical``: log(1 + amount / the customer's median previous amount). Null for
  a customer without history.
- ``hourLocal``: the hour in the customer's own time zone, 0-23. Night hours are rare in
  normal traffic, so they isolate early.
- ``distanceKm``: log(1 + km to the nearest usual place). Null without a location or
  without usual places.
- ``deviceKnown``: 1 for a device the customer used before, 0 for a new one. Null when
  the event names no device.
- ``failedLogins10m``: failed sign-ins of the customer in the 10 minutes before.
- ``txCount1h``: log(1 + the customer's transactions in the hour before).
- ``txSum24h``: log(1 + the sum of the customer's amounts in the day before).
- ``deviceCustomers24h``: log(1 + distinct customers seen on this device in 24 hours).
  Mule accounts share one phone; on the log scale three customers on a phone already
  stand apart from one, not only fifteen.
- ``ipCustomers1h``: log(1 + distinct customers seen from this IP address in the hour).

``transactionType`` and ``currency`` are left out: they are categories, and random
splits over arbitrary codes for them would isolate on the coding, not on behaviour.

A null feature becomes NaN here and is replaced by that column's training median when
the model scores it (``model.AnomalyModel``): an unknown says nothing either way, so it
neither raises nor lowers the score, and it never contributes to an explanation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FeatureValue = float | int | str | bool | None
Features = Mapping[str, FeatureValue]
Matrix = npt.NDArray[np.float64]


def _log1p(value: FeatureValue) -> float:
    assert isinstance(value, int | float)
    return math.log1p(max(float(value), 0.0))


def _plain(value: FeatureValue) -> float:
    assert isinstance(value, int | float)
    return float(value)


@dataclass(frozen=True)
class Column:
    name: str
    transform: Callable[[FeatureValue], float]


COLUMNS: tuple[Column, ...] = (
    Column("amount", _log1p),
    Column("amountToTypical", _log1p),
    Column("hourLocal", _plain),
    Column("distanceKm", _log1p),
    Column("deviceKnown", _plain),
    Column("failedLogins10m", _plain),
    Column("txCount1h", _log1p),
    Column("txSum24h", _log1p),
    Column("deviceCustomers24h", _log1p),
    Column("ipCustomers1h", _log1p),
)
FEATURE_NAMES: tuple[str, ...] = tuple(column.name for column in COLUMNS)


def vector(features: Features) -> npt.NDArray[np.float64]:
    """One transaction's row; NaN where the feature is null or absent."""
    row = np.empty(len(COLUMNS))
    for i, column in enumerate(COLUMNS):
        value = features.get(column.name)
        row[i] = math.nan if value is None else column.transform(value)
    return row


def matrix(rows: Iterable[Features]) -> Matrix:
    """Many transactions' rows, one per mapping, in order."""
    builder = MatrixBuilder()
    for features in rows:
        builder.add(features)
    return builder.finish()


class MatrixBuilder:
    """Rows added one at a time into blocks of plain floats: a training window of a
    million transactions holds 80 MB, not a million dictionaries."""

    BLOCK = 65536

    def __init__(self) -> None:
        self._blocks: list[Matrix] = []
        self._filled = 0

    def add(self, features: Features) -> None:
        if not self._blocks or self._filled == self.BLOCK:
            self._blocks.append(np.empty((self.BLOCK, len(COLUMNS))))
            self._filled = 0
        self._blocks[-1][self._filled] = vector(features)
        self._filled += 1

    def __len__(self) -> int:
        return max(0, len(self._blocks) - 1) * self.BLOCK + self._filled

    def finish(self) -> Matrix:
        if not self._blocks:
            return np.empty((0, len(COLUMNS)))
        self._blocks[-1] = self._blocks[-1][: self._filled]
        return np.concatenate(self._blocks) if len(self._blocks) > 1 else self._blocks[0]
