"""What the bank's services send: customers with their phones and home towns, their
transactions and sign-ins, and the request bodies the event-path benchmarks send.

Only the standard library: the open-loop generator (bench/common_openloop.py) imports
this in a process of its own.

A customer (``profile``) has 1 to 3 devices and 1 or 2 home towns in Malawi, derived from
the user id alone, so every process sees the same customer. Their events (``MixSource``):

- every event carries ``deviceId``, ``ipAddress`` and ``location`` (GPS-like coordinates
  within about 2 km of a home town); about 1 in 50 comes from a town over 100 km from
  every home town or from a device never seen before, so the suspicious-activity checks
  sometimes fire;
- transactions: 1 in 7 above the 50 000 MWK large-transaction threshold, 1 in 11 leaving
  ``balanceAfter`` below the 5 000 MWK low-balance threshold;
- sign-ins (``recordLogin``): 1 in 10 failed, the rest successful.

Live request bodies are templates: the load generators replace ``@ID@`` (each
occurrence by a new unique number) and ``@AT@`` (the time the request is sent), so
event ids never repeat and event times are now, increasing per generator.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

FIRST_USER_ID = 100_001  # bench/dataset.py's
ID_MARK = "@ID@"
AT_MARK = "@AT@"

RECORD_TRANSACTION = (
    "mutation($input: TransactionEventInput!) { recordTransaction(input: $input) "
    "{ eventId accepted duplicate alerts { id alertType } } }"
)
RECORD_TRANSACTIONS = (
    "mutation($inputs: [TransactionEventInput!]!) { recordTransactions(inputs: $inputs) "
    "{ eventId accepted duplicate alerts { id alertType } error { code message } } }"
)
RECORD_LOGIN = (
    "mutation($input: LoginEventInput!) { recordLogin(input: $input) "
    "{ eventId accepted duplicate alerts { id alertType } } }"
)
RECORD_LOGINS = (
    "mutation($inputs: [LoginEventInput!]!) { recordLogins(inputs: $inputs) "
    "{ eventId accepted duplicate alerts { id alertType } error { code message } } }"
)

LARGE_THRESHOLD = 50_000
LOW_BALANCE_THRESHOLD = 5_000
LARGE_SHARE = 1 / 7
LOW_BALANCE_SHARE = 1 / 11
UNUSUAL_SHARE = 1 / 50
FAILED_LOGIN_SHARE = 1 / 10
# Live traffic: one sign-in for every four transactions.
LOGINS_PER_TRANSACTION = 1 / 4
# History: about 30 sign-ins for 100 transactions, over 90 days.
HISTORY_LOGINS_PER_TRANSACTION = 0.3
HISTORY_DAYS = 90

# (name, latitude, longitude)
TOWNS: tuple[tuple[str, float, float], ...] = (
    ("Lilongwe", -13.9626, 33.7741),
    ("Blantyre", -15.7861, 35.0058),
    ("Mzuzu", -11.4656, 34.0207),
    ("Zomba", -15.3850, 35.3188),
    ("Kasungu", -13.0333, 33.4833),
    ("Mangochi", -14.4782, 35.2645),
    ("Karonga", -9.9333, 33.9333),
    ("Salima", -13.7804, 34.4587),
    ("Dedza", -14.3779, 34.3332),
    ("Nkhotakota", -12.9274, 34.2961),
    ("Nsanje", -16.9200, 35.2620),
    ("Chitipa", -9.7024, 33.2697),
)
# Most customers live in the two big cities.
TOWN_WEIGHTS = (30, 25, 10, 8, 5, 5, 3, 4, 3, 3, 2, 2)
PHONES: tuple[tuple[str, str], ...] = (
    ("Tecno Spark 10", "Android 13"),
    ("Samsung Galaxy A14", "Android 14"),
    ("itel A70", "Android 13"),
    ("Infinix Hot 30", "Android 13"),
    ("iPhone 12", "iOS 17.5"),
    ("Huawei Y9", "Android 10"),
)
DESCRIPTIONS = (
    "Merchant payment",
    "Airtime purchase",
    "ESCOM prepaid electricity",
    "Transfer to Airtel Money",
    "ATM withdrawal",
    "Water board bill",
)
LOGIN_METHODS = ("BIOMETRIC", "BIOMETRIC", "PASSWORD", "PASSKEY", "OTP")


def account_number(user_id: int) -> str:
    return f"10{user_id:08d}"


@dataclass(frozen=True)
class Device:
    device_id: str
    model: str
    os: str
    ip_prefix: str


@dataclass(frozen=True)
class Customer:
    user_id: int
    devices: tuple[Device, ...]
    homes: tuple[tuple[str, float, float], ...]

    @property
    def account(self) -> str:
        return account_number(self.user_id)


def profile(user_id: int) -> Customer:
    """The customer's devices and home towns, the same in every process."""
    rng = random.Random(user_id * 7919 + 17)
    devices = []
    for k in range(rng.choice((1, 1, 2, 2, 2, 3))):
        model, os_name = rng.choice(PHONES)
        prefix = f"{rng.choice((102, 105, 41))}.{rng.randint(0, 255)}.{rng.randint(0, 255)}"
        devices.append(Device(f"dev-{user_id}-{k}", model, os_name, prefix))
    wanted = 1 if rng.random() < 0.6 else 2
    homes: list[int] = []
    while len(homes) < wanted:
        town = rng.choices(range(len(TOWNS)), TOWN_WEIGHTS)[0]
        if town not in homes:
            homes.append(town)
    return Customer(user_id, tuple(devices), tuple(TOWNS[i] for i in homes))


def customers(first: int, count: int) -> list[Customer]:
    return [profile(first + i) for i in range(count)]


def _far_town(customer: Customer, rng: random.Random) -> tuple[str, float, float]:
    """A town more than 100 km from every home town (about a degree of latitude)."""
    far = [
        town
        for town in TOWNS
        if all(abs(town[1] - h[1]) + abs(town[2] - h[2]) > 1.5 for h in customer.homes)
    ]
    return rng.choice(far)


class MixSource:
    """Events of the real mix. ``new_id`` names what must be new each time (an event, a
    device never seen): a counter for history, ``ID_MARK`` for live templates."""

    def __init__(self, seed: int, new_id: Any = None) -> None:
        self.rng = random.Random(seed)
        self._counter = 0
        self._new_id = new_id

    def _next_id(self, prefix: str) -> str:
        if self._new_id is not None:
            return f"{prefix}{self._new_id}"
        self._counter += 1
        return f"{prefix}{self._counter}"

    def _where(self, customer: Customer) -> tuple[Device, dict[str, Any], str]:
        rng = self.rng
        device = rng.choice(customer.devices)
        town = rng.choice(customer.homes)
        if rng.random() < UNUSUAL_SHARE:
            if rng.random() < 0.5:
                town = _far_town(customer, rng)
            else:
                device = Device(self._next_id(f"dev-{customer.user_id}-new-"), *PHONES[0], "41.0.0")
        location = {
            "latitude": round(town[1] + rng.uniform(-0.02, 0.02), 5),
            "longitude": round(town[2] + rng.uniform(-0.02, 0.02), 5),
        }
        ip = f"{device.ip_prefix}.{rng.randint(1, 254)}"
        return device, location, ip

    def transaction(
        self, customer: Customer, at: str, *, kind: str = "mix", event_id: str | None = None
    ) -> dict[str, Any]:
        """``kind`` "mix" (the real mix), "plain" (no device or place, raises nothing:
        the cheapest event) or "large" (no device or place, above the threshold)."""
        rng = self.rng
        event_id = event_id or self._next_id("e")
        large = kind == "large" or (kind == "mix" and rng.random() < LARGE_SHARE)
        low = kind == "mix" and rng.random() < LOW_BALANCE_SHARE
        amount = rng.randint(LARGE_THRESHOLD + 1, 500_000) if large else rng.randint(100, 40_000)
        balance = (
            rng.randint(0, LOW_BALANCE_THRESHOLD - 1) if low else rng.randint(6_000, 3_000_000)
        )
        event: dict[str, Any] = {
            "eventId": event_id,
            "accountNumber": customer.account,
            "transactionId": f"TX-{event_id}",
            "transactionReference": f"FT{rng.randint(10**9, 10**10 - 1)}",
            "transactionDescription": rng.choice(DESCRIPTIONS),
            "transactionType": "DEBIT",
            "amount": f"{amount}.{rng.randint(0, 99):02d}",
            "currency": "MWK",
            "balanceAfter": f"{balance}.{rng.randint(0, 99):02d}",
            "occurredAt": at,
        }
        if kind == "mix":
            device, location, ip = self._where(customer)
            event.update(deviceId=device.device_id, ipAddress=ip, location=location)
        else:
            event["ipAddress"] = "102.70.1.1"
        return event

    def login(self, customer: Customer, at: str, *, event_id: str | None = None) -> dict[str, Any]:
        rng = self.rng
        device, location, ip = self._where(customer)
        return {
            "eventId": event_id or self._next_id("l"),
            "mobileUserId": customer.user_id,
            "successful": rng.random() >= FAILED_LOGIN_SHARE,
            "deviceId": device.device_id,
            "deviceName": f"{device.model}",
            "deviceModel": device.model,
            "deviceOs": device.os,
            "ipAddress": ip,
            "location": location,
            "loginMethod": rng.choice(LOGIN_METHODS),
            "occurredAt": at,
        }


def stamp(when: datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


# -- history -----------------------------------------------------------------------------


def history(
    people: Sequence[Customer], transactions: int, now: datetime, seed: int
) -> list[tuple[datetime, str, dict[str, Any]]]:
    """``transactions`` transactions and 30% as many sign-ins per customer over the last
    90 days (up to an hour ago): (time, "transaction" | "login", event), in time order."""
    source = MixSource(seed)
    logins = round(transactions * HISTORY_LOGINS_PER_TRANSACTION)
    span = HISTORY_DAYS * 86_400 - 3_600
    events: list[tuple[datetime, str, dict[str, Any]]] = []
    for customer in people:
        kinds = ["transaction"] * transactions + ["login"] * logins
        offsets = sorted(source.rng.uniform(0, span) for _ in kinds)
        source.rng.shuffle(kinds)
        for offset, kind in zip(offsets, kinds, strict=True):
            when = now - timedelta(seconds=span + 3_600 - offset)
            at = stamp(when)
            event_id = f"h{customer.user_id}-{len(events)}"
            event = (
                source.login(customer, at, event_id=event_id)
                if kind == "login"
                else source.transaction(customer, at, event_id=event_id)
            )
            events.append((when, kind, event))
    events.sort(key=lambda item: item[0])
    return events


def history_calls(
    events: Sequence[tuple[datetime, str, dict[str, Any]]], batch: int = 500
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The batch calls that load ``events``: windows in time order, each one's sign-ins
    (``recordLogins``) before its transactions (``recordTransactions``)."""
    window: dict[str, list[dict[str, Any]]] = {"login": [], "transaction": []}

    def flush() -> Iterator[tuple[str, list[dict[str, Any]]]]:
        if window["login"]:
            yield RECORD_LOGINS, window["login"]
        if window["transaction"]:
            yield RECORD_TRANSACTIONS, window["transaction"]
        window["login"], window["transaction"] = [], []

    for _when, kind, event in events:
        window[kind].append(event)
        if len(window[kind]) == batch:
            yield from flush()
    yield from flush()


# -- live request bodies -----------------------------------------------------------------


def live_bodies(people: Sequence[Customer], kind: str, count: int, seed: int) -> list[str]:
    """``count`` request bodies (JSON documents) with ``ID_MARK`` and ``AT_MARK`` to fill.

    ``kind``: "mix" (recordTransaction and, one for every four, recordLogin), "plain" or
    "large" (recordTransaction, see ``MixSource.transaction``), "batch-N" (recordTransactions
    of N events of the mix). Customers are taken at random."""
    source = MixSource(seed, new_id=ID_MARK)
    rng = source.rng
    bodies = []
    for _ in range(count):
        if kind.startswith("batch-"):
            inputs = [
                source.transaction(rng.choice(people), AT_MARK, event_id=ID_MARK)
                for _ in range(int(kind.removeprefix("batch-")))
            ]
            document: dict[str, Any] = {
                "query": RECORD_TRANSACTIONS,
                "variables": {"inputs": inputs},
            }
        elif kind == "mix" and rng.random() < LOGINS_PER_TRANSACTION / (1 + LOGINS_PER_TRANSACTION):
            login = source.login(rng.choice(people), AT_MARK, event_id=ID_MARK)
            document = {"query": RECORD_LOGIN, "variables": {"input": login}}
        else:
            event = source.transaction(
                rng.choice(people), AT_MARK, kind="mix" if kind == "mix" else kind, event_id=ID_MARK
            )
            document = {"query": RECORD_TRANSACTION, "variables": {"input": event}}
        bodies.append(json.dumps(document, separators=(",", ":")))
    return bodies


def write_bodies(path: Path, bodies: Sequence[str]) -> Path:
    path.write_text("\n".join(bodies) + "\n")
    return path


def read_bodies(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line]


class Filler:
    """Fills templates as bench/wrk/record_transaction.lua does: each ``ID_MARK`` becomes
    ``tag``-n with n counting up, ``AT_MARK`` the given time."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.counter = 0

    def _id(self) -> str:
        self.counter += 1
        return f"{self.tag}-{self.counter}"

    def fill(self, template: str, at: str) -> str:
        parts = template.replace(AT_MARK, at).split(ID_MARK)
        out = [parts[0]]
        for part in parts[1:]:
            out.append(self._id())
            out.append(part)
        return "".join(out)
