"""A model as bytes: plain arrays in a zip (NumPy's .npz layout), never a pickle.

Loading uses ``allow_pickle=False``, so a tampered record can hold only numbers, and the
SHA-256 of the bytes is checked against the one stored beside them before anything is
read. Writing fixes every zip entry's date, so the same model always gives the same
bytes and the same checksum."""

from __future__ import annotations

import hashlib
import io
import zipfile

import numpy as np

from account_alerts.domain.anomaly.features import FEATURE_NAMES
from account_alerts.domain.anomaly.forest import CompiledForest
from account_alerts.domain.anomaly.model import AnomalyModel

FORMAT_VERSION = 1
_EPOCH = (1980, 1, 1, 0, 0, 0)


class PayloadRejected(ValueError):
    """The stored bytes are not the model that was saved."""


def checksum(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def dump(model: AnomalyModel) -> bytes:
    forest = model.forest
    arrays = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "feature_names": np.array(model.feature_names, dtype=np.str_),
        "medians": model.medians,
        "quantiles": model.quantiles,
        "feature": forest.feature,
        "threshold": forest.threshold,
        "children": forest.children,
        "leaf_path": forest.leaf_path,
        "roots": forest.roots,
        "depth": np.array(forest.depth, dtype=np.int64),
        "samples_per_tree": np.array(forest.samples_per_tree, dtype=np.int64),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(entry, "w") as stream:
                np.lib.format.write_array(stream, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def load(payload: bytes, *, expected_checksum: str) -> AnomalyModel:
    if checksum(payload) != expected_checksum:
        raise PayloadRejected("the model's bytes do not match their checksum")
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise PayloadRejected(f"the model's bytes are not a model: {exc}") from exc
    if int(arrays["format_version"]) != FORMAT_VERSION:
        raise PayloadRejected(f"unknown model format {int(arrays['format_version'])}")
    names = tuple(str(name) for name in arrays["feature_names"])
    if names != FEATURE_NAMES:
        raise PayloadRejected(f"the model reads features {names}; train a new one")
    forest = CompiledForest(
        feature=arrays["feature"].astype(np.int64),
        threshold=arrays["threshold"].astype(np.float64),
        children=arrays["children"].astype(np.int64),
        leaf_path=arrays["leaf_path"].astype(np.float64),
        roots=arrays["roots"].astype(np.int64),
        depth=int(arrays["depth"]),
        samples_per_tree=int(arrays["samples_per_tree"]),
    )
    return AnomalyModel(
        forest=forest,
        medians=arrays["medians"].astype(np.float64),
        quantiles=arrays["quantiles"].astype(np.float64),
        feature_names=names,
    )
