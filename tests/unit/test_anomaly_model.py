"""The anomaly model: compiled trees score as scikit-learn does, deterministically, from
bytes that cannot carry code; the score is a training percentile; explanations name the
features that raised it."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from account_alerts.domain.anomaly import payload
from account_alerts.domain.anomaly.features import matrix, vector
from account_alerts.domain.anomaly.fitting import compile_forest, fit_isolation_forest
from account_alerts.domain.anomaly.model import AnomalyModel
from account_alerts.domain.anomaly.training import TooFewTransactions, train
from tests.support.anomaly_events import Replayed, replayed_bank


@pytest.fixture(scope="module")
def cases() -> tuple[Replayed, ...]:
    return replayed_bank()


@pytest.fixture(scope="module")
def model(cases: tuple[Replayed, ...]) -> AnomalyModel:
    return train([case.features for case in cases], seed=5)


def test_compiled_trees_score_as_score_samples_on_10000_events(cases: tuple[Replayed, ...]) -> None:
    rows = matrix(case.features for case in cases)
    rows = np.where(np.isnan(rows), 0.0, rows)
    forest = fit_isolation_forest(rows, seed=21)
    compiled = compile_forest(forest)
    assert len(rows) >= 10_000
    events = rows[:10_000]
    difference = np.abs(compiled.anomaly(events) - -forest.score_samples(events))
    assert difference.max() <= 1e-9
    # Not equal by accident: the events' scores spread widely.
    assert np.ptp(compiled.anomaly(events)) > 0.2


def test_same_transactions_and_seed_give_the_same_model_bytes(
    cases: tuple[Replayed, ...], model: AnomalyModel
) -> None:
    again = train([case.features for case in cases], seed=5)
    other_seed = train([case.features for case in cases], seed=6)
    assert payload.dump(again) == payload.dump(model)
    assert payload.checksum(payload.dump(other_seed)) != payload.checksum(payload.dump(model))


def test_a_stored_model_scores_as_the_one_trained(
    cases: tuple[Replayed, ...], model: AnomalyModel
) -> None:
    data = payload.dump(model)
    loaded = payload.load(data, expected_checksum=payload.checksum(data))
    for case in cases[:50]:
        again, original = loaded.score(case.features), model.score(case.features)
        assert (again.score, again.raw) == (original.score, original.raw)
        assert again.contributions == original.contributions


def test_one_event_scores_and_explains_as_the_whole_forest_would(
    cases: tuple[Replayed, ...], model: AnomalyModel
) -> None:
    """The single-event walk and the explanation's shortcut (re-walking only the trees
    whose path split on the feature) agree with scoring whole rows, the feature set to
    its median in every tree."""
    explained = 0
    for case in cases[:300]:
        result = model.score(case.features)
        row = model.rows_for_scoring(vector(case.features))
        assert result.raw == pytest.approx(float(model.forest.anomaly(row[None, :])[0]), abs=1e-12)
        own = float(model.forest.mean_path_length(row[None, :])[0])
        expected = {}
        for column, name in enumerate(model.feature_names):
            at_median = row.copy()
            at_median[column] = model.medians[column]
            earlier = float(model.forest.mean_path_length(at_median[None, :])[0]) - own
            if earlier > 1e-9:
                expected[name] = round(earlier, 4)
        assert {c.feature: c.contribution for c in result.contributions} == expected
        explained += bool(expected)
    assert explained > 100


def test_one_event_at_a_time_scores_exactly_as_a_batch(
    cases: tuple[Replayed, ...], model: AnomalyModel
) -> None:
    """The live path scores one transaction at a time with plain floats; the training
    distribution and backtests score batches with arrays: the same numbers, bit for bit."""
    features = [case.features for case in cases[:2000]]
    rows = matrix(features)
    raw = model.raw_scores(rows)
    scores = model.percentile(raw)
    one_by_one = [model.score(f) for f in features]
    assert [r.raw for r in one_by_one] == raw.tolist()
    assert [r.score for r in one_by_one] == scores.tolist()
    assert len(set(scores.tolist())) > 100  # not equal by accident


def test_altered_bytes_are_refused_before_they_are_read(model: AnomalyModel) -> None:
    data = bytearray(payload.dump(model))
    good = payload.checksum(bytes(data))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(payload.PayloadRejected, match="checksum"):
        payload.load(bytes(data), expected_checksum=good)


def test_a_payload_holding_python_objects_is_refused_even_with_its_checksum() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, archive.open("medians.npy", "w") as stream:
        np.lib.format.write_array(stream, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    data = buffer.getvalue()
    with pytest.raises(payload.PayloadRejected):
        payload.load(data, expected_checksum=payload.checksum(data))


def test_too_few_transactions_make_no_model(cases: tuple[Replayed, ...]) -> None:
    with pytest.raises(TooFewTransactions, match="999 transactions"):
        train([case.features for case in cases[:999]], seed=1)


def test_the_score_is_the_training_percentile(
    cases: tuple[Replayed, ...], model: AnomalyModel
) -> None:
    scores = model.percentile(model.raw_scores(matrix(case.features for case in cases)))
    assert scores.min() >= 0 and scores.max() <= 100
    assert abs(float(np.median(scores)) - 50) <= 1
    assert abs(float(np.mean(scores >= 99)) - 0.01) <= 0.003


def test_a_takeover_is_explained_by_what_changed(model: AnomalyModel) -> None:
    result = model.score(
        {
            "amount": 9000.0,
            "amountToTypical": 30.0,
            "hourLocal": 3,
            "distanceKm": 2500.0,
            "deviceKnown": False,
            "failedLogins10m": 0,
            "txCount1h": 0,
            "txSum24h": 100.0,
            "deviceCustomers24h": 1,
            "ipCustomers1h": 1,
        }
    )
    assert result.score >= 99
    named = [c.feature for c in result.contributions]
    assert {"deviceKnown", "distanceKm", "hourLocal"} <= set(named)
    assert "deviceCustomers24h" not in named  # at its median: contributes nothing
    assert [c.contribution for c in result.contributions] == sorted(
        (c.contribution for c in result.contributions), reverse=True
    )
    assert all(c.contribution > 0 for c in result.contributions)
    by_name = {c.feature: c.value for c in result.contributions}
    assert by_name["distanceKm"] == 2500.0 and by_name["deviceKnown"] is False


def test_unknown_features_score_as_their_median_and_explain_nothing(
    model: AnomalyModel,
) -> None:
    assert model.score({}).contributions == ()
    far_unknown_device = model.score({"distanceKm": 2500.0, "deviceKnown": None})
    far = model.score({"distanceKm": 2500.0})
    assert far_unknown_device == far
    assert [c.feature for c in far.contributions] == ["distanceKm"]
    assert far.score > model.score({}).score
