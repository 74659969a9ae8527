"""Fitting an IsolationForest with scikit-learn and flattening it into a
``CompiledForest``. Only training imports this module: a server that only scores never
loads scikit-learn (seconds of start-up)."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest

from account_alerts.domain.anomaly.forest import (
    CompiledForest,
    Floats,
    Ints,
    average_path_length,
)

TREES = 100
SAMPLES_PER_TREE = 256


def fit_isolation_forest(rows: Floats, *, seed: int) -> IsolationForest:
    """The same rows and seed give the same trees (one job, a seeded generator)."""
    forest = IsolationForest(
        n_estimators=TREES,
        max_samples=min(SAMPLES_PER_TREE, len(rows)),
        random_state=seed,
        n_jobs=1,
    )
    forest.fit(rows)
    return forest


def compile_forest(forest: IsolationForest) -> CompiledForest:
    """The fitted trees as arrays, nodes numbered globally."""
    n_columns = int(forest.n_features_in_)
    features, thresholds, children, leaf_paths, roots = [], [], [], [], []
    depth = 0
    offset = 0
    for tree, used in zip(forest.estimators_, forest.estimators_features_, strict=True):
        nodes = tree.tree_
        count = int(nodes.node_count)
        left = nodes.children_left.astype(np.int64)
        right = nodes.children_right.astype(np.int64)
        leaf = left == -1
        # A tree grown on a subset of the columns numbers them in that subset.
        subset = forest._max_features != n_columns
        column_of = np.asarray(used) if subset else np.arange(n_columns)
        node_depth = _node_depths(left, right)
        depth = max(depth, int(node_depth.max()))
        features.append(np.where(leaf, 0, column_of[np.maximum(nodes.feature, 0)]))
        thresholds.append(np.where(leaf, np.inf, nodes.threshold))
        own = np.arange(count) + offset
        pair = np.empty(2 * count, dtype=np.int64)
        pair[0::2] = np.where(leaf, own, left + offset)
        pair[1::2] = np.where(leaf, own, right + offset)
        children.append(pair)
        leaf_paths.append(
            np.where(leaf, node_depth + average_path_length(nodes.n_node_samples), 0.0)
        )
        roots.append(offset)
        offset += count
    return CompiledForest(
        feature=np.concatenate(features).astype(np.int64),
        threshold=np.concatenate(thresholds).astype(np.float64),
        children=np.concatenate(children),
        leaf_path=np.concatenate(leaf_paths),
        roots=np.asarray(roots, dtype=np.int64),
        depth=depth,
        samples_per_tree=int(forest.max_samples_),
    )


def _node_depths(left: Ints, right: Ints) -> Ints:
    """Edges from the root to each node (parents precede children in scikit-learn)."""
    depth = np.zeros(len(left), dtype=np.int64)
    for node in range(len(left)):
        if left[node] != -1:
            depth[left[node]] = depth[node] + 1
            depth[right[node]] = depth[node] + 1
    return depth
