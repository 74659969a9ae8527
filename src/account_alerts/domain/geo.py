"""Where an event happened, and how far that is from where the customer usually is."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0088
UNUSUAL_DISTANCE_KM = 100.0


@dataclass(frozen=True)
class GeoPoint:
    latitude: float
    longitude: float
    label: str | None = None

    def __post_init__(self) -> None:
        if not (-90.0 <= self.latitude <= 90.0):
            raise ValueError("latitude must be between -90 and 90")
        if not (-180.0 <= self.longitude <= 180.0):
            raise ValueError("longitude must be between -180 and 180")

    def as_json(self) -> dict[str, float | str | None]:
        return {"latitude": self.latitude, "longitude": self.longitude, "label": self.label}

    def describe(self) -> str:
        return self.label or f"{self.latitude:.4f},{self.longitude:.4f}"


def distance_km(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance (haversine)."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def nearest_km(point: GeoPoint, places: Iterable[GeoPoint]) -> float | None:
    distances = [distance_km(point, place) for place in places]
    return min(distances) if distances else None


def nearest_unless_within(point: GeoPoint, places: Iterable[GeoPoint], km: float) -> float | None:
    """``nearest_km`` where only a distance beyond ``km`` need be exact: the first place
    found within ``km`` ends the search (its distance is returned), so an event among the
    customer's usual places, the common case, measures one or two of them, not all."""
    nearest: float | None = None
    for place in places:
        distance = distance_km(point, place)
        if distance <= km:
            return distance
        if nearest is None or distance < nearest:
            nearest = distance
    return nearest
