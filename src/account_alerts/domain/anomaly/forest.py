"""An IsolationForest flattened into plain NumPy arrays (``fitting`` makes one from
scikit-learn's), scored without scikit-learn.

scikit-learn scores one row through Python-level validation, a joblib dispatch and a
call per tree: fine for a batch, a cost per event on the event path. ``CompiledForest``
holds every tree's nodes in four arrays and walks all trees for all rows at once, one
level per step, so scoring an event is a few dozen array operations.

A row's anomaly is the IsolationForest paper's ``s(x) = 2 ** (-E[h(x)] / c(n))``, where
``h`` is the path length in one tree, counted as the edges to the leaf plus ``c(size)``
for the training samples left unseparated in that leaf, ``c(n)`` the average path
length of an unsuccessful search in a binary search tree of ``n`` keys, and ``n`` the
samples each tree was grown on. It lies in (0, 1], higher is more anomalous, and equals
``-IsolationForest.score_samples``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

EULER_GAMMA = 0.5772156649015329


def average_path_length(n: Floats) -> Floats:
    """``c(n)``: 0 for one sample or none, 1 for two, else ``2 H(n-1) - 2 (n-1) / n``."""
    n = np.asarray(n, dtype=np.float64)
    out = np.where(n == 2, 1.0, 0.0)
    many = n > 2
    big = n[many]
    out[many] = 2.0 * (np.log(big - 1.0) + EULER_GAMMA) - 2.0 * (big - 1.0) / big
    return out


@dataclass(frozen=True)
class CompiledForest:
    """All trees' nodes, numbered globally. A leaf splits on column 0 at +inf with both
    children itself, so a row that reached its leaf stays there for the remaining steps
    and every row takes exactly ``depth`` steps."""

    feature: Ints
    threshold: Floats
    children: Ints  # children[2 * node] is the left child, children[2 * node + 1] the right
    leaf_path: Floats  # edges from the root plus c(training samples in the leaf)
    roots: Ints
    depth: int
    samples_per_tree: int
    # Derived for the walk (``__post_init__``).
    _feature_at: Ints = field(init=False, repr=False, compare=False)
    _threshold_at: Floats = field(init=False, repr=False, compare=False)
    _next: Ints = field(init=False, repr=False, compare=False)
    _start: Ints = field(init=False, repr=False, compare=False)
    _norm: float = field(init=False, repr=False, compare=False)
    _split_at: Ints = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The walk keeps 2 * node, the index of the node's left child in ``children``:
        # adding the comparison then picks the child, one operation fewer per level.
        object.__setattr__(self, "_feature_at", np.repeat(self.feature, 2))
        object.__setattr__(self, "_threshold_at", np.repeat(self.threshold, 2))
        object.__setattr__(self, "_next", 2 * self.children)
        object.__setattr__(self, "_start", 2 * self.roots)
        norm = float(average_path_length(np.array([self.samples_per_tree]))[0])
        object.__setattr__(self, "_norm", norm)
        # The column a node splits on, -1 at a leaf: what a path has looked at.
        leaf = self.children[0::2] == np.arange(len(self.feature))
        object.__setattr__(self, "_split_at", np.repeat(np.where(leaf, -1, self.feature), 2))

    def mean_path_length(self, rows: Floats) -> Floats:
        """``E[h(x)]`` for each row (rows without NaN)."""
        flat = _as_compared(rows).ravel()
        n_rows, n_columns = rows.shape
        base = (np.arange(n_rows, dtype=np.int64) * n_columns)[:, None]
        at = self._walk(flat, base, np.broadcast_to(self._start, (n_rows, len(self.roots))))
        total: Floats = self.leaf_path[at >> 1].sum(axis=1)
        return total / len(self.roots)

    def path_length_of(self, row: Floats) -> float:
        """``E[h(x)]`` of one row (no NaN): the walk of ``walk`` without remembering what
        its paths split on, which only an explanation needs."""
        flat = _as_compared(row)
        feature_at, threshold_at, next_at = self._feature_at, self._threshold_at, self._next
        at = self._start
        for _ in range(self.depth):
            at = next_at[at + (flat[feature_at[at]] > threshold_at[at])]
        return float(self.leaf_path[at >> 1].mean())

    def anomaly_of(self, mean_path: float) -> float:
        """``anomaly_of_path`` of one mean path length, in plain floats."""
        norm = self._norm
        if norm == 0.0:
            return 1.0
        result: float = 2.0 ** (-mean_path / norm)
        return result

    def walk(self, row: Floats) -> Walk:
        """One row's walk through every tree, remembering the columns its paths split on."""
        flat = _as_compared(row)
        feature_at, threshold_at, next_at = self._feature_at, self._threshold_at, self._next
        at = self._start
        splits = np.empty((self.depth, len(self.roots)), dtype=np.int64)
        for level in range(self.depth):
            splits[level] = self._split_at[at]
            at = next_at[at + (flat[feature_at[at]] > threshold_at[at])]
        return Walk(row=flat, leaf_path=self.leaf_path[at >> 1], splits=splits)

    def path_changes(self, walk: Walk, columns: Ints, values: Floats) -> Floats:
        """For each ``columns[k]``: ``E[h]`` of the row with that column set to
        ``values[k]``, minus the row's own ``E[h]``. Only the trees whose path split on
        the column can end in another leaf, so only those are walked again."""
        uses = (walk.splits[None, :, :] == columns[:, None, None]).any(axis=1)
        which, trees = np.nonzero(uses)
        variants = np.repeat(walk.row[None, :], len(columns), axis=0)
        variants[np.arange(len(columns)), columns] = _as_compared(values)
        base = which * len(walk.row)
        at = self._walk(variants.ravel(), base, self._start[trees])
        moved = self.leaf_path[at >> 1] - walk.leaf_path[trees]
        changes = np.bincount(which, weights=moved, minlength=len(columns))
        return changes.astype(np.float64) / len(self.roots)

    def _walk(self, flat: Floats, base: Ints, at: Ints) -> Ints:
        feature_at, threshold_at, next_at = self._feature_at, self._threshold_at, self._next
        for _ in range(self.depth):
            at = next_at[at + (flat[base + feature_at[at]] > threshold_at[at])]
        return at

    def anomaly(self, rows: Floats) -> Floats:
        """``s(x)`` in (0, 1] for each row; higher is more anomalous."""
        return self.anomaly_of_path(self.mean_path_length(rows))

    def anomaly_of_path(self, mean_path: Floats) -> Floats:
        """``anomaly_of`` of each mean path length. The power is taken per value as
        ``anomaly_of`` takes it, not with numpy's vectorised power: on processors with
        AVX-512 that differs from the C library's in the last bit for about one value in
        twenty, and a transaction scored live must score as it does in a backtest."""
        norm = self._norm
        if norm == 0.0:
            return np.ones_like(mean_path)
        exponents = (-mean_path / norm).tolist()
        return np.fromiter((2.0**e for e in exponents), dtype=np.float64, count=len(exponents))


@dataclass(frozen=True)
class Walk:
    row: Floats  # as compared: through float32
    leaf_path: Floats  # per tree
    splits: Ints  # depth x trees: the column split on at each level, -1 once at the leaf

    @property
    def mean_path_length(self) -> float:
        return float(self.leaf_path.mean())


def _as_compared(values: Floats) -> Floats:
    """scikit-learn compares values cast to float32 with float64 thresholds; so do we."""
    compared: Floats = np.asarray(values, dtype=np.float32).astype(np.float64)
    return compared
