"""A generated bank's transactions as fraud features: normal customers, plus injected
account takeovers and mule-account bursts whose causes are known.

- Normal: each customer has a typical amount; amounts vary around it, mostly by day,
  near usual places, on known devices, a few new phones, trips, shared family devices
  and carrier NAT addresses shared by many customers.
- Takeover: a new device, far from every usual place, many times the customer's typical
  amount, at night.
- Mule burst: one phone moving money for many customers within a day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from account_alerts.domain.anomaly.features import FeatureValue

TAKEOVER = "takeover"
MULE = "mule"
# The features that name each injected cause.
CAUSES = {
    TAKEOVER: {"deviceKnown", "distanceKm", "amountToTypical", "amount", "hourLocal"},
    MULE: {"deviceCustomers24h"},
}


@dataclass(frozen=True)
class Case:
    features: dict[str, FeatureValue]
    injected: str | None


def _day_hour(rng: np.random.Generator) -> int:
    if rng.random() < 0.02:
        return int(rng.integers(0, 6))
    return int(np.clip(round(rng.normal(14, 3.5)), 6, 23))


def _normal(rng: np.random.Generator, typical: float) -> dict[str, FeatureValue]:
    ratio = float(rng.lognormal(0.0, 0.5))
    amount = round(typical * ratio, 2)
    travelling = rng.random() < 0.05
    distance = float(rng.uniform(50, 400)) if travelling else float(rng.exponential(3.0))
    device_draw = rng.random()
    device: bool | None = True if device_draw < 0.96 else (False if device_draw < 0.99 else None)
    return {
        "amount": amount,
        "transactionType": "DEBIT",
        "currency": "MWK",
        "hourLocal": _day_hour(rng),
        "deviceKnown": device,
        "distanceKm": None if rng.random() < 0.03 else round(distance, 1),
        "failedLogins10m": int(rng.choice([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2])),
        "txCount1h": int(rng.poisson(0.4)),
        "txSum24h": round(typical * float(rng.poisson(1.5)) * float(rng.lognormal(0, 0.3)), 2),
        "deviceCustomers24h": 2 if rng.random() < 0.03 else 1,
        "ipCustomers1h": int(rng.geometric(0.3)) if rng.random() < 0.7 else 1,
        "amountToTypical": None if rng.random() < 0.02 else round(ratio, 3),
    }


def _takeover(rng: np.random.Generator, typical: float) -> dict[str, FeatureValue]:
    features = _normal(rng, typical)
    ratio = float(rng.uniform(8, 40))
    features.update(
        amount=round(typical * ratio, 2),
        amountToTypical=round(ratio, 3),
        deviceKnown=False,
        distanceKm=round(float(rng.uniform(600, 6000)), 1),
        hourLocal=int(rng.integers(1, 5)),
    )
    return features


def _mule(
    rng: np.random.Generator, typical: float, customers_on_device: int
) -> dict[str, FeatureValue]:
    features = _normal(rng, typical)
    features.update(deviceCustomers24h=customers_on_device)
    return features


def population(
    *,
    customers: int = 2000,
    per_customer: int = 10,
    takeovers: int = 150,
    mule_bursts: int = 15,
    seed: int = 7,
) -> list[Case]:
    """Normal traffic with the injected cases shuffled in; a mule burst's first two
    customers on the phone look like a shared family device and are not counted as
    injected, its later ones are."""
    rng = np.random.default_rng(seed)
    typical = rng.lognormal(np.log(60.0), 1.0, size=customers)
    cases = [
        Case(_normal(rng, float(typical[c])), None)
        for c in range(customers)
        for _ in range(per_customer)
    ]
    for _ in range(takeovers):
        cases.append(Case(_takeover(rng, float(rng.choice(typical))), TAKEOVER))
    for _ in range(mule_bursts):
        size = int(rng.integers(6, 16))
        for seen in range(1, size + 1):
            label = MULE if seen >= 3 else None
            cases.append(Case(_mule(rng, float(rng.choice(typical)), seen), label))
    order = rng.permutation(len(cases))
    return [cases[i] for i in order]
