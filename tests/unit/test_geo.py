"""Great-circle distances and the bounds of a GeoPoint."""

from __future__ import annotations

import pytest

from account_alerts.domain.geo import GeoPoint, distance_km, nearest_km, nearest_unless_within

BLANTYRE = GeoPoint(-15.7861, 35.0058, "Blantyre")
LILONGWE = GeoPoint(-13.9626, 33.7741, "Lilongwe")
ZOMBA = GeoPoint(-15.3850, 35.3188, "Zomba")


def test_distance_blantyre_to_lilongwe_is_about_240_km() -> None:
    assert 230 <= distance_km(BLANTYRE, LILONGWE) <= 250


def test_distance_to_the_same_point_is_zero() -> None:
    assert distance_km(BLANTYRE, BLANTYRE) == 0.0
    assert distance_km(BLANTYRE, GeoPoint(BLANTYRE.latitude, BLANTYRE.longitude)) == 0.0


def test_distance_is_symmetric() -> None:
    assert distance_km(BLANTYRE, LILONGWE) == pytest.approx(distance_km(LILONGWE, BLANTYRE))


def test_distance_ignores_labels() -> None:
    unlabelled = GeoPoint(LILONGWE.latitude, LILONGWE.longitude)
    assert distance_km(BLANTYRE, unlabelled) == distance_km(BLANTYRE, LILONGWE)


def test_distance_between_antipodes_is_half_the_circumference() -> None:
    assert distance_km(GeoPoint(0, 0), GeoPoint(0, 180)) == pytest.approx(20015.1, abs=0.1)


def test_distance_across_the_antimeridian_is_short() -> None:
    assert distance_km(GeoPoint(0, 179.5), GeoPoint(0, -179.5)) == pytest.approx(111.2, abs=0.1)


def test_nearest_is_the_smallest_distance() -> None:
    assert nearest_km(BLANTYRE, [LILONGWE, ZOMBA]) == pytest.approx(distance_km(BLANTYRE, ZOMBA))


def test_nearest_with_no_places_is_none() -> None:
    assert nearest_km(BLANTYRE, []) is None
    assert nearest_km(BLANTYRE, iter([])) is None


@pytest.mark.parametrize("latitude", [91.0, -91.0, 90.0001, float("nan")])
def test_geopoint_refuses_latitude_out_of_range(latitude: float) -> None:
    with pytest.raises(ValueError, match="latitude"):
        GeoPoint(latitude, 0.0)


@pytest.mark.parametrize("longitude", [181.0, -181.0, 180.0001, float("nan")])
def test_geopoint_refuses_longitude_out_of_range(longitude: float) -> None:
    with pytest.raises(ValueError, match="longitude"):
        GeoPoint(0.0, longitude)


@pytest.mark.parametrize(("latitude", "longitude"), [(90, 180), (-90, -180), (0, 0)])
def test_geopoint_accepts_the_bounds(latitude: float, longitude: float) -> None:
    assert GeoPoint(latitude, longitude).latitude == latitude


def test_geopoint_describes_itself_by_label_or_coordinates() -> None:
    assert BLANTYRE.describe() == "Blantyre"
    assert GeoPoint(-15.78612, 35.00581).describe() == "-15.7861,35.0058"


def test_geopoint_as_json() -> None:
    assert BLANTYRE.as_json() == {"latitude": -15.7861, "longitude": 35.0058, "label": "Blantyre"}


def test_the_nearest_place_is_exact_beyond_the_limit_and_within_it_stops_early() -> None:
    """Within the limit any place within it answers; beyond it, the true nearest."""
    far = [LILONGWE, ZOMBA, BLANTYRE]
    assert nearest_unless_within(BLANTYRE, far, 10.0) == 0.0
    assert nearest_unless_within(BLANTYRE, [LILONGWE, ZOMBA], 10.0) == nearest_km(
        BLANTYRE, [LILONGWE, ZOMBA]
    )
    within = nearest_unless_within(BLANTYRE, [ZOMBA, LILONGWE], 100.0)
    assert within is not None and within <= 100.0
    assert nearest_unless_within(BLANTYRE, [], 100.0) is None
    assert nearest_unless_within(BLANTYRE, iter([LILONGWE]), 1.0) == distance_km(BLANTYRE, LILONGWE)
