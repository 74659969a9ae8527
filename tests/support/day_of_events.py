"""A known-answer day: a seeded day of bank events for a few hundred customers, and an
independent oracle that says which alerts that day must raise.

The generator writes the GraphQL inputs the bank's services would send (transactions,
sign-ins, balance syncs), already in event-time order. Most customers' days are drawn
from the seed; a few failed-sign-in patterns are pinned to customers so each occurs, and
a few customers live a scripted day: around the rules' edges (a threshold hit exactly, a
second low balance exactly 24 hours on, a device first seen paying) or showing a changed
setting at work.

The oracle re-states the alert rules in plain Python, reading only those inputs and the
customers' settings; it imports nothing from the application, so the engine and the
oracle can only agree by both being right.

The rules, as the oracle applies them (event time throughout, events in time order; events
of one customer stamped with the same second are taken in arrival order, and "before" an
event includes those that arrived earlier at the same instant — core banking stamps to the
second, so a share of each day's moments hold two events):

- LOW_BALANCE: a DEBIT with balanceAfter below the threshold, or a balance sync below it;
  not if a LOW_BALANCE alert of the same account was triggered less than 24 h before.
- LARGE_TRANSACTION: amount above the threshold; DEBIT only unless debit-only is off.
- SUSPICIOUS_ACTIVITY, at most one per event, named by the strongest detection
  (MULTIPLE_FAILED_ATTEMPTS > NEW_DEVICE_TRANSACTION > UNUSUAL_LOCATION):
  NEW_DEVICE_TRANSACTION — a transaction's deviceId never used before in a successful
  sign-in or a transaction, while some other device was; UNUSUAL_LOCATION — a transaction
  or successful sign-in more than 100 km from every usual place (places of successful
  sign-ins and transactions in the 90 days before, rounded to two decimals);
  MULTIPLE_FAILED_ATTEMPTS — a failed sign-in inside a 10-minute window (starting at a
  failure) that holds more than three failures, unless one was detected less than
  10 minutes away.
- ACCOUNT_LOGIN: NEW_DEVICE mode — a successful sign-in from a deviceId never used before;
  EVERY_LOGIN mode — every successful sign-in.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

SEED = 2026
CUSTOMERS = 300
DAY = timedelta(hours=24)
DAY_SECONDS = 24 * 3600

LOW_BALANCE = "LOW_BALANCE"
LARGE_TRANSACTION = "LARGE_TRANSACTION"
SUSPICIOUS_ACTIVITY = "SUSPICIOUS_ACTIVITY"
ACCOUNT_LOGIN = "ACCOUNT_LOGIN"
ALERT_TYPES = (LOW_BALANCE, LARGE_TRANSACTION, SUSPICIOUS_ACTIVITY, ACCOUNT_LOGIN)

NEW_DEVICE_TRANSACTION = "NEW_DEVICE_TRANSACTION"
UNUSUAL_LOCATION = "UNUSUAL_LOCATION"
MULTIPLE_FAILED_ATTEMPTS = "MULTIPLE_FAILED_ATTEMPTS"

TRANSACTION, LOGIN, BALANCE = "transaction", "login", "balance"

CITIES: dict[str, tuple[float, float]] = {
    "Blantyre": (-15.7861, 35.0058),
    "Zomba": (-15.3850, 35.3188),  # about 55 km from Blantyre
    "Lilongwe": (-13.9626, 33.7741),
    "Mzuzu": (-11.4656, 34.0207),
}
HOME_WEIGHTS = {"Blantyre": 40, "Lilongwe": 35, "Zomba": 10, "Mzuzu": 15}
NEARBY = {"Blantyre": "Zomba", "Zomba": "Blantyre"}
JITTER_DEGREES = 0.03  # a few kilometres around the city centre

# A handful of customers change their settings before the day starts (and live a
# scripted day, below, that shows each change at work); everyone else keeps the defaults.
SETTINGS_CHANGES: dict[int, dict[str, Any]] = {
    7: {"lowBalanceThreshold": "20000"},
    13: {"largeTransactionDebitOnly": False},
    21: {"loginAlertMode": "EVERY_LOGIN"},
    34: {"alertNewDeviceTransaction": False},
    55: {"alertUnusualLocation": False},
    89: {"largeTransactionThreshold": "100000"},
    144: {"quietHoursEnabled": True, "quietHoursStart": "22:00:00", "quietHoursEnd": "06:00:00"},
    233: {"lowBalanceEnabled": False},
    277: {
        "lowBalanceThreshold": "20000",
        "largeTransactionDebitOnly": False,
        "loginAlertMode": "EVERY_LOGIN",
    },
}
# Eleven large debits within the hour, then a low balance: past the hourly rate limit,
# which only changes delivery, never which alerts exist.
FORCED_FLAGS: dict[int, dict[str, bool]] = {101: {"spree": True}, 202: {"spree": True}}

# Every failed-sign-in pattern happens at least once.
FORCED_BURSTS = {
    40: "sustained",
    80: "edge_out",
    120: "edge_in",
    160: "two",
    200: "three",
    240: "spread",
    260: "sustained",
    280: "edge_in",
}
H = 3600
# Moments that may be followed by another event stamped with the same second, and how often.
SHARES_A_SECOND = frozenset({"first_login", "login", "activity", "salary", "trip_login"})
SAME_SECOND_SHARE = 0.2
# A few customers live a scripted day around the rules' edges, whatever the seed draws:
# (second of the day, what happens, its figure). "*_to" names the balance afterwards.
SCRIPTS: dict[int, list[tuple[int, str, Any]]] = {
    # Low at midnight, again exactly 24 hours later: the second alert is due.
    17: [
        (0, "sync_to", 3_000_00),
        (10 * H, "credit_of", 40_000_00),
        (11 * H, "debit_to", 1_000_00),
        (DAY_SECONDS, "sync_to", 900_00),
    ],
    # Low at 00:00:30, again at midnight 23:59:30 later: still within the day's alert.
    18: [
        (30, "sync_to", 2_500_00),
        (12 * H, "debit_to", 1_500_00),
        (DAY_SECONDS, "sync_to", 1_400_00),
    ],
    # Exactly the thresholds is not past them.
    19: [
        (0, "sync_to", 200_000_00),
        (8 * H, "debit_of", 50_000_00),
        (9 * H, "debit_of", 50_000_01),
        (10 * H, "credit_of", 80_000_00),
        (11 * H, "debit_to", 5_000_00),
        (12 * H, "sync_to", 5_000_00),
        (13 * H, "debit_to", 4_999_99),
    ],
    # Low, recovered, low again: one alert in the day.
    22: [
        (0, "sync_to", 10_000_00),
        (8 * H, "debit_to", 3_000_00),
        (9 * H, "credit_of", 20_000_00),
        (10 * H, "debit_to", 2_000_00),
        (11 * H, "sync_to", 1_000_00),
    ],
    # Signed in without a device: the first device paying is not "new"; a device first
    # seen paying is known at its sign-in.
    23: [
        (8 * H, "tx_from", "phone-23"),
        (9 * H, "login_from", "phone-23"),
        (10 * H, "tx_from", "card-reader-23"),
        (11 * H, "login_from", "card-reader-23"),
        (12 * H, "login_from", None),
    ],
    # The customers with changed settings (their first sign-in is at 07:00 from home).
    7: [(8 * H, "sync_to", 30_000_00), (9 * H, "debit_to", 12_000_00)],  # low below 20 000
    13: [  # credits count as large too; exactly the threshold still does not
        (0, "sync_to", 100_000_00),
        (8 * H, "credit_of", 80_000_00),
        (9 * H, "debit_of", 60_000_00),
        (10 * H, "credit_of", 50_000_00),
    ],
    21: [  # every sign-in, with or without a device, known or new
        (8 * H, "login_from", "phone-21"),
        (9 * H, "login_from", None),
        (10 * H, "login_from", "tablet-21"),
    ],
    34: [  # new devices paying are not looked at; a far place still is
        (8 * H, "tx_from", "tablet-34"),
        (9 * H, "tx_at", ("far", "pos-34")),
    ],
    55: [  # far places are not looked at; a new device paying still is
        (8 * H, "tx_at", ("far", "phone-55")),
        (9 * H, "login_at", ("far", "phone-55")),
        (10 * H, "tx_at", ("far", "pos-55")),
    ],
    89: [  # large means above 100 000
        (0, "sync_to", 500_000_00),
        (8 * H, "debit_of", 75_000_00),
        (9 * H, "debit_of", 100_000_00),
        (10 * H, "debit_of", 150_000_00),
    ],
    144: [  # quiet hours hold deliveries back, alerts still exist
        (0, "sync_to", 20_000_00),
        (22 * H + 1800, "debit_to", 1_000_00),
        (23 * H, "login_from", "tablet-144"),
    ],
    233: [  # low-balance alerts switched off
        (0, "sync_to", 8_000_00),
        (8 * H, "debit_to", 1_000_00),
        (9 * H, "sync_to", 500_00),
    ],
    277: [
        (0, "sync_to", 30_000_00),
        (8 * H, "credit_of", 60_000_00),
        (9 * H, "debit_to", 15_000_00),
        (10 * H, "login_from", "phone-277"),
        (11 * H, "login_from", None),
    ],
}

# Failed sign-in patterns: seconds from the first failure.
BURSTS: dict[str, list[int]] = {
    "three": [0, 40, 95],  # three is not an attack
    "spread": [0, 210, 420, 630, 840, 1050],  # no 10 minutes hold four
    "edge_out": [0, 200, 400, 600],  # the fourth is exactly 10 minutes on: outside
    "edge_in": [0, 200, 400, 599],  # one second earlier: inside
    "sustained": [120 * k for k in range(16)],  # alerts at 6, 16 and 26 minutes
}


@dataclass(frozen=True)
class Customer:
    user: int
    account: str
    home: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class DayEvent:
    kind: str  # TRANSACTION, LOGIN or BALANCE
    at: datetime
    user: int
    seq: int
    payload: dict[str, Any]  # the GraphQL input, as sent

    @property
    def event_id(self) -> str:
        return str(self.payload["eventId"])


@dataclass(frozen=True)
class Day:
    base: datetime
    customers: list[Customer]
    events: list[DayEvent]


Expected = tuple[int, str, str, str | None]


# --- the generator -------------------------------------------------------------------


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine, mean Earth radius (IUGG) 6371.0088 km."""
    lat1, lat2 = math.radians(a[0]), math.radians(b[0])
    dlat = lat2 - lat1
    dlon = math.radians(b[1] - a[1])
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def _far_cities(home: str) -> list[str]:
    return [c for c in CITIES if _distance_km(CITIES[home], CITIES[c]) > 150]


@dataclass
class _Slot:
    second: int
    what: str
    extra: dict[str, Any] = field(default_factory=dict)


class _CustomerDay:
    """One customer's day: first the moments, then (in time order) what happens."""

    def __init__(self, rng: random.Random, base: datetime, customer: Customer) -> None:
        self.rng = rng
        self.base = base
        self.customer = customer
        self.user = customer.user
        self.used: set[int] = set()
        self.slots: list[_Slot] = []
        self.events: list[DayEvent] = []
        self.seq = 0
        self.home_device = f"phone-{self.user}"
        self.second_device = f"tablet-{self.user}"

        flags = {
            "tight": rng.random() < 0.25,
            "second_device": rng.random() < 0.15,
            "traveller": rng.random() < 0.1,
            "nearby": customer.home in NEARBY and rng.random() < 0.3,
            "eod_sync": rng.random() < 0.08,
            "spree": False,
            "salary": rng.random() < 0.12,
            "deviceless_start": rng.random() < 0.04,
            "extra_logins": rng.random() < 0.04,
        }
        flags.update(FORCED_FLAGS.get(self.user, {}))
        self.flags = flags
        burst = None
        if rng.random() < 0.08:
            burst = rng.choice(["three", "quick", "quick", "quick", "spread", "two"])
        self.burst = FORCED_BURSTS.get(self.user, burst)
        if self.user in SCRIPTS:
            self.flags = dict.fromkeys(flags, False)
            self.flags["deviceless_start"] = self.user == 23
            self.burst = None

        if flags["spree"]:
            flags["tight"] = False
            self.balance = rng.randint(3_000_000_00, 4_000_000_00)
        elif flags["tight"]:
            self.balance = rng.randint(2_000_00, 30_000_00)
        else:
            self.balance = rng.randint(30_000_00, 400_000_00)
        self.trip: tuple[int, int, str] | None = None

    # moments

    def _take(self, second: int, what: str, **extra: Any) -> None:
        while second in self.used:
            second += 1
        self.used.add(second)
        self.slots.append(_Slot(second, what, extra))

    def _fixed(self, second: int, what: str, **extra: Any) -> None:
        assert second not in self.used, (self.user, second)
        self.used.add(second)
        self.slots.append(_Slot(second, what, extra))

    def plan(self) -> None:
        rng, flags = self.rng, self.flags
        if self.user in SCRIPTS:
            self._fixed(7 * H, "first_login")
            for second, what, figure in SCRIPTS[self.user]:
                self._fixed(second, what, figure=figure)
            self.slots.sort(key=lambda slot: slot.second)
            return
        start = rng.randint(5 * 3600, 9 * 3600)
        if flags["eod_sync"]:
            self._fixed(0, "sync")
            self._fixed(DAY_SECONDS, "sync")
        self._fixed(start, "first_login")
        if self.burst is not None:
            self._plan_burst(rng.randint(start + 1800, 20 * 3600))
        if flags["spree"]:
            at = rng.randint(start + 3600, 18 * 3600)
            for k in range(11):
                self._take(at + k * rng.randint(200, 300), "spree_debit")
            self._take(at + 11 * 300 + 60, "drop_debit")
        if flags["traveller"]:
            begin = rng.randint(start + 3600, 17 * 3600)
            self.trip = (
                begin,
                begin + rng.randint(2, 5) * 3600,
                rng.choice(_far_cities(self.customer.home)),
            )
            # The trip starts with a sign-in there, or with a payment from a phone never
            # seen before (two patterns in one event: the new device names the alert).
            self._take(begin, rng.choice(["trip_login", "trip_purchase"]))
        if flags["salary"]:
            self._take(rng.randint(start + 600, 23 * 3600), "salary")
        if flags["extra_logins"]:
            for _ in range(3):
                self._take(rng.randint(start + 600, 23 * 3600), "login")
            self._take(rng.randint(start + 600, 23 * 3600), "login", device=None)
        # Most customers do a thing or none a day; a busier third does several.
        busy = flags["tight"] or flags["second_device"] or rng.random() < 0.1
        for _ in range(rng.randint(3, 5) if busy else rng.randint(0, 1)):
            self._take(rng.randint(start + 60, DAY_SECONDS - 60), "activity")
        self.slots.sort(key=lambda slot: slot.second)
        self._share_seconds()

    def _share_seconds(self) -> None:
        """Core systems stamp to the second: after some sign-ins and everyday moments comes
        a second event in the same second (arrival order decides which is "before")."""
        shared: list[_Slot] = []
        for slot in self.slots:
            shared.append(slot)
            if slot.what in SHARES_A_SECOND and self.rng.random() < SAME_SECOND_SHARE:
                shared.append(_Slot(slot.second, "activity"))
        self.slots = shared

    def _plan_burst(self, at: int) -> None:
        rng = self.rng
        offsets: list[int]
        if self.burst == "quick":
            offsets = self._quick(rng.randint(4, 8))
        elif self.burst == "two":
            first = self._quick(rng.randint(4, 5))
            gap = first[-1] + rng.randint(660, 3000)
            offsets = first + [gap + o for o in self._quick(rng.randint(4, 6))]
        else:
            assert self.burst is not None
            offsets = BURSTS[self.burst]
        device = rng.choice([self.home_device, f"unknown-{self.user}", None])
        for offset in offsets:
            self._fixed(at + offset, "failed_login", device=device)
        self._take(at + offsets[-1] + rng.randint(120, 1800), "login", device=self.home_device)

    def _quick(self, count: int) -> list[int]:
        offsets = [0]
        for _ in range(count - 1):
            offsets.append(offsets[-1] + self.rng.randint(15, 90))
        return offsets

    # what happens

    def build(self) -> list[DayEvent]:
        for slot in self.slots:
            handler = getattr(self, f"_{slot.what}")
            handler(slot.second, **slot.extra)
        return self.events

    def _at(self, second: int) -> datetime:
        return self.base + timedelta(seconds=second)

    def _emit(self, kind: str, second: int, payload: dict[str, Any]) -> None:
        self.seq += 1
        payload = {"eventId": f"kad-{self.user}-{self.seq}", **payload}
        if kind != BALANCE:
            payload["occurredAt"] = self._at(second).isoformat()
        self.events.append(DayEvent(kind, self._at(second), self.user, self.seq, payload))

    def _place(self, city: str) -> dict[str, Any]:
        lat, lon = CITIES[city]
        return {
            "latitude": round(lat + self.rng.uniform(-JITTER_DEGREES, JITTER_DEGREES), 4),
            "longitude": round(lon + self.rng.uniform(-JITTER_DEGREES, JITTER_DEGREES), 4),
            "label": city,
        }

    def _where(self, second: int) -> dict[str, Any] | None:
        if self.trip is not None and self.trip[0] <= second <= self.trip[1]:
            return self._place(self.trip[2]) if self.rng.random() < 0.9 else None
        roll = self.rng.random()
        if roll < 0.15:
            return None
        if self.flags["nearby"] and roll < 0.35:
            return self._place(NEARBY[self.customer.home])
        return self._place(self.customer.home)

    def _device(self) -> str | None:
        roll = self.rng.random()
        if roll < 0.12:
            return None
        if roll < 0.14:
            return f"kiosk-{self.user}-{self.seq + 1}"  # used once, never seen again
        if self.flags["second_device"] and roll < 0.37:
            return self.second_device
        return self.home_device

    def _login_payload(
        self, *, successful: bool, device: str | None, location: dict[str, Any] | None
    ) -> dict[str, Any]:
        return {
            "mobileUserId": self.user,
            "successful": successful,
            "deviceId": device,
            "deviceName": "Galaxy A15" if device else None,
            "deviceModel": "Samsung SM-A155F" if device else None,
            "deviceOs": "Android 14" if device else None,
            "ipAddress": f"102.70.{self.user % 250}.{self.seq % 250 + 1}",
            "location": location,
            "loginMethod": self.rng.choice(["PASSWORD", "BIOMETRIC", "PASSKEY", "OTP"]),
        }

    def _transaction(
        self,
        second: int,
        kind: str,
        cents: int,
        *,
        device: str | None,
        location: dict[str, Any] | None,
        with_balance: bool = True,
    ) -> None:
        if kind == "DEBIT":
            cents = min(cents, self.balance)  # no overdrafts
            if cents <= 0:
                kind, cents = "CREDIT", 1_000_00
        self.balance += cents if kind == "CREDIT" else -cents
        n = self.seq + 1
        self._emit(
            TRANSACTION,
            second,
            {
                "accountNumber": self.customer.account,
                "transactionId": f"KAD{self.user}-{n}",
                "transactionReference": f"FT{self.user:04d}{n:03d}",
                "transactionDescription": "Deposit" if kind == "CREDIT" else "Payment",
                "transactionType": kind,
                "amount": _money(cents),
                "currency": "MWK",
                "balanceAfter": _money(self.balance) if with_balance else None,
                "deviceId": device,
                "ipAddress": f"102.70.{self.user % 250}.{n % 250 + 1}",
                "location": location,
            },
        )

    # the scripted moments

    def _sync_to(self, second: int, figure: int) -> None:
        self.balance = figure
        self._emit(
            BALANCE,
            second,
            {
                "accountNumber": self.customer.account,
                "balance": _money(figure),
                "currency": "MWK",
                "asOf": self._at(second).isoformat(),
            },
        )

    def _debit_to(self, second: int, figure: int) -> None:
        assert self.balance > figure
        home = self._place(self.customer.home)
        self._transaction(
            second, "DEBIT", self.balance - figure, device=self.home_device, location=home
        )

    def _debit_of(self, second: int, figure: int) -> None:
        home = self._place(self.customer.home)
        self._transaction(second, "DEBIT", figure, device=self.home_device, location=home)

    def _credit_of(self, second: int, figure: int) -> None:
        self._transaction(second, "CREDIT", figure, device=None, location=None)

    def _tx_from(self, second: int, figure: str) -> None:
        home = self._place(self.customer.home)
        self._transaction(second, "DEBIT", 1_500_00, device=figure, location=home)

    def _city(self, name: str) -> dict[str, Any]:
        return self._place(_far_cities(self.customer.home)[0] if name == "far" else name)

    def _tx_at(self, second: int, figure: tuple[str, str | None]) -> None:
        city, device = figure
        self._transaction(second, "DEBIT", 2_500_00, device=device, location=self._city(city))

    def _login_at(self, second: int, figure: tuple[str, str | None]) -> None:
        city, device = figure
        payload = self._login_payload(successful=True, device=device, location=self._city(city))
        self._emit(LOGIN, second, payload)

    def _login_from(self, second: int, figure: str | None) -> None:
        home = self._place(self.customer.home)
        self._emit(
            LOGIN, second, self._login_payload(successful=True, device=figure, location=home)
        )

    def _first_login(self, second: int) -> None:
        device = None if self.flags["deviceless_start"] else self.home_device
        payload = self._login_payload(
            successful=True, device=device, location=self._place(self.customer.home)
        )
        self._emit(LOGIN, second, payload)

    def _login(self, second: int, device: Any = "choose") -> None:
        if device == "choose":
            device = self._device()
        payload = self._login_payload(successful=True, device=device, location=self._where(second))
        self._emit(LOGIN, second, payload)

    def _trip_login(self, second: int) -> None:
        device = self.rng.choice([self.home_device, self.second_device])
        payload = self._login_payload(successful=True, device=device, location=self._where(second))
        self._emit(LOGIN, second, payload)

    def _trip_purchase(self, second: int) -> None:
        cents = self.rng.randint(1_000_00, 20_000_00)
        self._transaction(
            second, "DEBIT", cents, device=f"pos-{self.user}", location=self._where(second)
        )

    def _failed_login(self, second: int, device: str | None) -> None:
        location = self.rng.choice([None, self._place(self.rng.choice(list(CITIES)))])
        payload = self._login_payload(successful=False, device=device, location=location)
        self._emit(LOGIN, second, payload)

    def _sync(self, second: int) -> None:
        if second > 0 and self.rng.random() < 0.3:  # charges posted overnight
            self.balance = max(0, self.balance - self.rng.randint(50_00, 500_00))
        payload = {
            "accountNumber": self.customer.account,
            "balance": _money(self.balance),
            "currency": "MWK",
            "asOf": self._at(second).isoformat(),
        }
        self._emit(BALANCE, second, payload)

    def _salary(self, second: int) -> None:
        cents = self.rng.randint(60_000_00, 350_000_00)
        self._transaction(second, "CREDIT", cents, device=None, location=None)

    def _spree_debit(self, second: int) -> None:
        cents = self.rng.randint(55_000_00, 150_000_00)
        self._transaction(
            second, "DEBIT", cents, device=self._device(), location=self._where(second)
        )

    def _drop_debit(self, second: int) -> None:
        target = self.rng.randint(0, 4_999_99)
        cents = self.balance - target if self.balance > target else self.balance // 2
        self._transaction(
            second, "DEBIT", cents, device=self._device(), location=self._where(second)
        )

    def _activity(self, second: int) -> None:
        roll = self.rng.random()
        if roll < 0.50 and self.balance >= 100_00:
            self._debit(second)
        elif roll < 0.70:
            self._credit(second)
        elif roll < 0.82:
            self._sync(second)
        elif roll < 0.95:
            self._login(second)
        else:
            self._failed_login(second, device=self._device())

    def _debit(self, second: int) -> None:
        rng, balance = self.rng, self.balance
        roll = rng.random()
        if balance >= 60_000_00 and roll < 0.15:
            cents = rng.randint(50_000_01, min(balance, 250_000_00))
        elif balance >= 50_000_00 and roll < 0.18:
            cents = 50_000_00  # exactly the threshold: not large
        elif self.flags["tight"] and balance > 5_000_00 and roll < 0.6:
            target = 5_000_00 if rng.random() < 0.1 else rng.randint(0, 4_999_99)
            cents = balance - target
        else:
            cents = rng.randint(100_00, max(100_00, min(balance, 25_000_00)))
        cents = min(cents, balance)
        self._transaction(
            second,
            "DEBIT",
            cents,
            device=self._device(),
            location=self._where(second),
            with_balance=rng.random() >= 0.05,
        )

    def _credit(self, second: int) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.12:
            cents = rng.randint(50_000_01, 300_000_00)
        elif roll < 0.14:
            cents = 50_000_00
        else:
            cents = rng.randint(500_00, 30_000_00)
        self._transaction(
            second,
            "CREDIT",
            cents,
            device=self._device(),
            location=self._where(second),
            with_balance=rng.random() >= 0.1,
        )


def generate_day(base: datetime, customers: int = CUSTOMERS, seed: int = SEED) -> Day:
    """The day starting at ``base`` (tz-aware); the same seed gives the same day."""
    assert base.tzinfo is not None
    rng = random.Random(seed)
    people: list[Customer] = []
    events: list[DayEvent] = []
    cities, weights = list(HOME_WEIGHTS), list(HOME_WEIGHTS.values())
    for user in range(1, customers + 1):
        customer = Customer(
            user=user,
            account=f"{100000000 + user}",
            home=rng.choices(cities, weights)[0],
            settings=SETTINGS_CHANGES.get(user, {}),
        )
        people.append(customer)
        day = _CustomerDay(rng, base, customer)
        day.plan()
        events.extend(day.build())
    events.sort(key=lambda e: (e.at, e.user, e.seq))
    return Day(base=base, customers=people, events=events)


def in_batches(events: Sequence[DayEvent], size: int = 100) -> Iterator[list[DayEvent]]:
    """Consecutive events of one kind, at most ``size`` at a time, order kept."""
    batch: list[DayEvent] = []
    for event in events:
        if batch and (event.kind != batch[0].kind or len(batch) == size):
            yield batch
            batch = []
        batch.append(event)
    if batch:
        yield batch


# --- the oracle ----------------------------------------------------------------------

USUAL_WINDOW = timedelta(days=90)
FAILURE_WINDOW = timedelta(minutes=10)
UNUSUAL_KM = 100.0
STRENGTH = {MULTIPLE_FAILED_ATTEMPTS: 3, NEW_DEVICE_TRANSACTION: 2, UNUSUAL_LOCATION: 1}


@dataclass
class Prefs:
    low_enabled: bool = True
    low_threshold: Decimal = Decimal("5000")
    large_enabled: bool = True
    large_threshold: Decimal = Decimal("50000")
    debit_only: bool = True
    unusual_location: bool = True
    new_device_transaction: bool = True
    login_mode: str = "NEW_DEVICE"

    @classmethod
    def of(cls, settings: dict[str, Any]) -> Prefs:
        prefs = cls()
        for name, value in settings.items():
            if name == "lowBalanceEnabled":
                prefs.low_enabled = value
            elif name == "lowBalanceThreshold":
                prefs.low_threshold = Decimal(value)
            elif name == "largeTransactionEnabled":
                prefs.large_enabled = value
            elif name == "largeTransactionThreshold":
                prefs.large_threshold = Decimal(value)
            elif name == "largeTransactionDebitOnly":
                prefs.debit_only = value
            elif name == "alertUnusualLocation":
                prefs.unusual_location = value
            elif name == "alertNewDeviceTransaction":
                prefs.new_device_transaction = value
            elif name == "loginAlertMode":
                assert value in ("NEW_DEVICE", "EVERY_LOGIN"), value
                prefs.login_mode = value
            elif name not in ("quietHoursEnabled", "quietHoursStart", "quietHoursEnd"):
                raise ValueError(f"the oracle does not know the setting {name}")
            # Quiet hours only hold deliveries back; they never change which alerts exist.
        return prefs


@dataclass
class _Past:
    """What the oracle remembers of one customer."""

    devices: dict[str, datetime] = field(default_factory=dict)  # first successful use
    places: list[tuple[datetime, tuple[float, float]]] = field(default_factory=list)
    failures: list[datetime] = field(default_factory=list)
    failure_detections: list[datetime] = field(default_factory=list)
    low_alerts: list[datetime] = field(default_factory=list)


def _two_decimals(value: float) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _point(location: dict[str, Any] | None) -> tuple[float, float] | None:
    if location is None:
        return None
    return (float(location["latitude"]), float(location["longitude"]))


class Oracle:
    def __init__(self, customers: Sequence[Customer]) -> None:
        self.prefs = {c.user: Prefs.of(c.settings) for c in customers}
        self.owner = {c.account: c.user for c in customers}
        self.past = {c.user: _Past() for c in customers}
        self.alerts: list[Expected] = []

    def run(self, events: Sequence[DayEvent]) -> list[Expected]:
        for event in sorted(events, key=lambda e: (e.at, e.user, e.seq)):
            if event.kind == TRANSACTION:
                self._transaction(event.at, event.payload)
            elif event.kind == BALANCE:
                user = self.owner[event.payload["accountNumber"]]
                self._low_balance(user, event.at, Decimal(event.payload["balance"]))
            else:
                self._login(event.at, event.payload)
        return self.alerts

    def _raise(self, user: int, alert_type: str, at: datetime, extra: str | None = None) -> None:
        self.alerts.append((user, alert_type, at.isoformat(), extra))

    def _low_balance(self, user: int, at: datetime, balance: Decimal) -> None:
        prefs, past = self.prefs[user], self.past[user]
        if not prefs.low_enabled or not balance < prefs.low_threshold:
            return
        if any(timedelta(0) <= at - earlier < DAY for earlier in past.low_alerts):
            return
        past.low_alerts.append(at)
        self._raise(user, LOW_BALANCE, at)

    def _known(self, user: int, device: str | None, at: datetime) -> bool:
        devices = self.past[user].devices
        return device is not None and device in devices and devices[device] <= at

    def _unusual(self, user: int, at: datetime, where: tuple[float, float] | None) -> bool:
        if where is None or not self.prefs[user].unusual_location:
            return False
        usual = {
            (_two_decimals(lat), _two_decimals(lon))
            for when, (lat, lon) in self.past[user].places
            if at - USUAL_WINDOW <= when <= at
        }
        if not usual:
            return False
        nearest = min(_distance_km(where, place) for place in usual)
        # The generated places are tens of kilometres either side of the line.
        assert abs(nearest - UNUSUAL_KM) > 5, (user, at, nearest)
        return nearest > UNUSUAL_KM

    def _saw(self, user: int, at: datetime, device: str | None, where: Any) -> None:
        past = self.past[user]
        if device is not None and (device not in past.devices or at < past.devices[device]):
            past.devices[device] = at
        if where is not None:
            past.places.append((at, where))

    def _suspicious(self, user: int, at: datetime, detections: list[str]) -> None:
        if detections:
            self._raise(user, SUSPICIOUS_ACTIVITY, at, max(detections, key=STRENGTH.__getitem__))

    def _transaction(self, at: datetime, tx: dict[str, Any]) -> None:
        user = self.owner[tx["accountNumber"]]
        prefs = self.prefs[user]
        amount = Decimal(tx["amount"])
        is_debit = tx["transactionType"] == "DEBIT"
        counted = is_debit or not prefs.debit_only
        if prefs.large_enabled and counted and amount > prefs.large_threshold:
            self._raise(user, LARGE_TRANSACTION, at)
        if is_debit and tx["balanceAfter"] is not None:
            self._low_balance(user, at, Decimal(tx["balanceAfter"]))

        device, where = tx["deviceId"], _point(tx["location"])
        detections = []
        has_history = any(first <= at for first in self.past[user].devices.values())
        if (
            prefs.new_device_transaction
            and device is not None
            and has_history
            and not self._known(user, device, at)
        ):
            detections.append(NEW_DEVICE_TRANSACTION)
        if self._unusual(user, at, where):
            detections.append(UNUSUAL_LOCATION)
        self._suspicious(user, at, detections)
        self._saw(user, at, device, where)

    def _login(self, at: datetime, login: dict[str, Any]) -> None:
        user = int(login["mobileUserId"])
        prefs, past = self.prefs[user], self.past[user]
        device, where = login["deviceId"], _point(login["location"])
        if login["successful"]:
            if prefs.login_mode == "EVERY_LOGIN" or (
                device is not None and not self._known(user, device, at)
            ):
                self._raise(user, ACCOUNT_LOGIN, at)
            self._suspicious(user, at, [UNUSUAL_LOCATION] if self._unusual(user, at, where) else [])
            self._saw(user, at, device, where)
            return
        past.failures.append(at)
        detections = []
        if self._burst(past.failures, at) and not any(
            abs(at - earlier) < FAILURE_WINDOW for earlier in past.failure_detections
        ):
            past.failure_detections.append(at)
            detections.append(MULTIPLE_FAILED_ATTEMPTS)
        self._suspicious(user, at, detections)

    @staticmethod
    def _burst(failures: Sequence[datetime], at: datetime) -> bool:
        for start in failures:
            inside = [f for f in failures if start <= f < start + FAILURE_WINDOW]
            if start <= at < start + FAILURE_WINDOW and len(inside) > 3:
                return True
        return False


def expected_alerts(day: Day) -> list[Expected]:
    return Oracle(day.customers).run(day.events)
