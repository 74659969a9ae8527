"""A customer's activity profile: what the security checks need to know of their past,
kept small and up to date event by event instead of re-derived from months of history.

It holds the devices they have used (and when first), the places they have been (to two
decimals, about a kilometre, with the first and last time seen, overall and by successful
sign-in), their recent failed sign-ins and failed-sign-in detections, their accounts'
recent low-balance alerts, and their recent transactions (time and amount) with the amounts
of the last few, for the fraud rules' windows and a customer's typical amount. Its
document's size follows how many devices and places a customer has, not how many events;
the last day's transactions are stored apart, in parts that each write-back adds to
(``RecentAmounts``), so that what a unit writes follows what it saw.

Every answer is exact, or None: an event far older than what the profile still keeps (a
late or replayed feed) may need a place or a sign-in that was pruned, and then the caller
asks the stored history instead. Times are event times; "before" includes the same
instant, because what the profile holds arrived earlier (arrival order)."""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from account_alerts.domain.geo import GeoPoint

# Places not seen for this long are dropped (the usual-places window is 90 days).
PLACES_KEPT = timedelta(days=180)
# Failed sign-ins and their detections: a 10-minute window either side is ever asked for.
FAILURES_KEPT = timedelta(minutes=30)
# Low-balance alerts: once per 24 hours, either side.
LOW_BALANCE_KEPT = timedelta(hours=72)
# Transactions: the fraud features look back 24 hours at most.
TRANSACTIONS_KEPT = timedelta(hours=25)
# A customer's typical amount: the median of their last this-many transactions.
TYPICAL_OF = 30
# The document's shape; a stored profile of another format is rebuilt from the history,
# except the two before, which are converted as they are read: 4 (the transactions in the
# document) and 3 (those, and the places' times as text).
FORMAT = 5
_PLACES_AS_TEXT = 3
_OLDER_FORMATS = (4, _PLACES_AS_TEXT)

_CENT = Decimal("0.01")
_MICRO = Decimal("0.000001")


def place_key(point: GeoPoint) -> str:
    """The place a point belongs to: its coordinates to two decimals, as the stored history
    rounds them (to six decimals first, as the database stores them)."""
    return _place_key(point.latitude, point.longitude)


# Customers come back to the same few spots: each rounded once.
@functools.lru_cache(maxsize=65_536)
def _place_key(latitude: float, longitude: float) -> str:
    return f"{_cell(latitude)},{_cell(longitude)}"


def _cell(value: float) -> str:
    """``_decimal_cell`` with whole numbers: the value's shortest decimal form rounded
    half away from zero to 6 decimals, then to 2, written as ``str(Decimal)`` writes it.
    (Every event's coordinates are rounded; ``Decimal`` cost a tenth of a backtest.)

    Away from half a cent the two roundings give what rounding the value once to cents
    gives: the first moves a value by at most half a micro (0.00005 of a cent), and
    ``value * 100`` errs by far less than that. Only values within a thousandth of a cent
    of a half (about one in 500) take the written-out way."""
    magnitude = abs(value)
    if magnitude < 1e6:  # not NaN, not infinite, cents exact in a float
        hundredths = magnitude * 100.0
        below = int(hundredths)
        above = hundredths - below
        if abs(above - 0.5) > 1e-3:
            cents = below + (above > 0.5)
            sign = "-" if math.copysign(1.0, value) < 0 else ""
            return f"{sign}{cents // 100}.{cents % 100:02d}"
    text = repr(value)
    if "e" in text or "n" in text:  # 1e-05, inf, nan: rare, left to Decimal
        return _decimal_cell(value)
    sign = "-" if text[0] == "-" else ""
    whole, _, fraction = text.lstrip("-").partition(".")
    micros = int(whole + fraction[:6].ljust(6, "0")) + (fraction[6:7] >= "5")
    cents = (micros + 5_000) // 10_000
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _decimal_cell(value: float) -> str:
    return str(Decimal(repr(value)).quantize(_MICRO, ROUND_HALF_UP).quantize(_CENT, ROUND_HALF_UP))


# A customer's few places are asked for on every event: parsed once per place.
@functools.lru_cache(maxsize=65_536)
def _point(key: str) -> GeoPoint:
    latitude, longitude = key.split(",")
    return GeoPoint(float(latitude), float(longitude))


@dataclass
class Seen:
    """When a device was first and last used, and what its last sign-in called it."""

    first: datetime
    last: datetime
    name: str | None = None
    model: str | None = None
    os: str | None = None

    def saw(self, at: datetime) -> None:
        self.first, self.last = min(self.first, at), max(self.last, at)

    def named(self, name: str | None, model: str | None, os: str | None) -> None:
        self.name, self.model, self.os = name or self.name, model or self.model, os or self.os


# A place's sightings: [first, last, first sign-in, last sign-in], when it was first and
# last seen by any event and by a successful sign-in (the latter two None until one), in
# microseconds since the epoch (``micros``). A customer has dozens of places, each read on
# every event and written back: kept as the stored document's own lists, they cost no
# conversion either way, and as plain numbers no parsing or formatting.
Sightings = list[Any]
FIRST, LAST, FIRST_LOGIN, LAST_LOGIN = range(4)


def _sighting(at: int) -> Sightings:
    return [at, at, None, None]


def _saw(seen: Sightings, at: int, *, login: bool) -> None:
    if at < seen[FIRST]:
        seen[FIRST] = at
    if at > seen[LAST]:
        seen[LAST] = at
    if login:
        first_login, last_login = seen[FIRST_LOGIN], seen[LAST_LOGIN]
        if first_login is None or at < first_login:
            seen[FIRST_LOGIN] = at
        if last_login is None or at > last_login:
            seen[LAST_LOGIN] = at


def _usual(first: int | None, last: int | None, at: int, since: int) -> bool | None:
    """Was the place seen in [since, at]? None when first and last alone cannot tell."""
    if first is None or last is None or first > at:
        return False
    if last <= at:
        return last >= since
    return True if first >= since else None


@dataclass
class Recent:
    """Times of one kind kept for a while after the newest; ``pruned_until``: the newest
    time dropped (answers about windows reaching back to it are not exact)."""

    times: list[datetime] = field(default_factory=list)
    pruned_until: datetime | None = None

    def add(self, at: datetime, kept: timedelta) -> None:
        self.times.append(at)
        self.times.sort()
        cutoff = self.times[-1] - kept
        dropped = [t for t in self.times if t < cutoff]
        if dropped:
            self.times = [t for t in self.times if t >= cutoff]
            self.pruned_until = max(filter(None, [self.pruned_until, dropped[-1]]))

    def around(self, at: datetime, span: timedelta) -> list[datetime] | None:
        """The times strictly within ``span`` of ``at``; None if some may have been dropped."""
        if self.pruned_until is not None and self.pruned_until > at - span:
            return None
        return [t for t in self.times if at - span < t < at + span]


# A customer's transactions are stored apart from the profile's document, in parts (one
# row each, store.profile_transactions): each write-back adds the transactions that came
# since the last as one part, and once there are this many parts, the next one replaces
# them all with the transactions kept. Writing a busy customer's whole day of transactions
# back with every unit had cost in proportion to that day (tens of kilobytes each time).
REWRITE_AFTER_PARTS = 32


@dataclass(frozen=True)
class TransactionsWrite:
    """What a write-back does to a customer's stored transactions: adds (times, amounts)
    as one more part or, with ``replace``, makes them the only part (none if empty)."""

    replace: bool
    times: list[int]
    amounts: list[float]


# A stored part: its times and amounts, in the order they arrived.
Part = tuple[list[int], list[float]]


@dataclass
class RecentAmounts:
    """Transactions kept for ``TRANSACTIONS_KEPT`` after the newest: their times, as
    microseconds since the epoch in time order (same-instant ones in arrival order), and
    their amounts, as two lists of plain numbers. A customer who pays hundreds of times a
    day costs a search and a slice per question.

    They are stored in parts (``REWRITE_AFTER_PARTS``): ``parts`` is how many hold the
    stored ones, None when the stored parts are not these (a profile built from the history
    or read from an older document), which the next write-back replaces."""

    times: list[int] = field(default_factory=list)
    amounts: list[float] = field(default_factory=list)
    pruned_until: datetime | None = None
    parts: int | None = field(default=None, compare=False)
    # The transactions added since the last write-back, in arrival order.
    _new_times: list[int] = field(default_factory=list, repr=False, compare=False)
    _new_amounts: list[float] = field(default_factory=list, repr=False, compare=False)

    def add(self, at: datetime, amount: float) -> None:
        times, amounts = self.times, self.amounts
        when = micros(at)
        self._new_times.append(when)
        self._new_amounts.append(amount)
        if not times or times[-1] <= when:
            times.append(when)
            amounts.append(amount)
        else:  # a late event: in time order, after what arrived at the same instant
            place = bisect.bisect_right(times, when)
            times.insert(place, when)
            amounts.insert(place, amount)
        cutoff = times[-1] - _TRANSACTIONS_KEPT_US
        if times[0] < cutoff:
            gone = bisect.bisect_left(times, cutoff)
            dropped = from_micros(times[gone - 1])
            del times[:gone], amounts[:gone]
            self.pruned_until = max(filter(None, [self.pruned_until, dropped]))

    def within(self, at: datetime, span: timedelta) -> list[float] | None:
        """The amounts of (at - span, at] in time order; None if some may have been
        dropped."""
        if self.pruned_until is not None and self.pruned_until > at - span:
            return None
        times = self.times
        first = bisect.bisect_right(times, micros(at - span))
        return self.amounts[first : bisect.bisect_right(times, micros(at))]

    # -- stored in parts

    def to_store(self) -> TransactionsWrite | None:
        """What the write-back does to the stored parts; None: nothing (none came)."""
        new = bool(self._new_times)
        if self.parts is None or (new and self.parts >= REWRITE_AFTER_PARTS):
            return TransactionsWrite(True, list(self.times), list(self.amounts))
        if not new:
            return None
        return TransactionsWrite(False, list(self._new_times), list(self._new_amounts))

    def stored(self, write: TransactionsWrite) -> None:
        """``write`` (from ``to_store``) is in the unit's rows."""
        self._new_times, self._new_amounts = [], []
        if write.replace:
            self.parts = 1 if write.times else 0
        else:
            assert self.parts is not None
            self.parts += 1

    @classmethod
    def from_parts(cls, parts: Iterable[Part], pruned_until: datetime | None) -> RecentAmounts:
        """The transactions kept, from the stored parts in the order they were written:
        in time order, same-instant ones in the order they arrived (a stable sort of the
        parts one after the other), without those dropped since."""
        pairs: list[tuple[int, float]] = []
        count = 0
        for times, amounts in parts:
            pairs.extend(zip(times, amounts, strict=True))
            count += 1
        pairs.sort(key=_time_of)
        if pairs:
            cutoff = pairs[-1][0] - _TRANSACTIONS_KEPT_US
            del pairs[: bisect.bisect_left(pairs, cutoff, key=_time_of)]
        return cls(
            [when for when, _ in pairs], [amount for _, amount in pairs], pruned_until, count
        )


def _time_of(pair: tuple[int, float]) -> int:
    return pair[0]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_TRANSACTIONS_KEPT_US = TRANSACTIONS_KEPT // _MICROSECOND
_PLACES_KEPT_US = PLACES_KEPT // _MICROSECOND


def micros(at: datetime) -> int:
    """An aware time as whole microseconds since the epoch (exact: times have no finer
    part)."""
    return (at - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _maybe_micros(at: datetime | None) -> int | None:
    return None if at is None else micros(at)


@dataclass
class ActivityProfile:
    devices: dict[str, Seen] = field(default_factory=dict)
    places: dict[str, Sightings] = field(default_factory=dict)
    places_pruned_until: datetime | None = None
    failed_logins: Recent = field(default_factory=Recent)
    failed_login_detections: Recent = field(default_factory=Recent)
    low_balance_alerts: dict[str, Recent] = field(default_factory=dict)
    transactions: RecentAmounts = field(default_factory=RecentAmounts)
    # The amounts of the last TYPICAL_OF transactions, in arrival order.
    last_amounts: list[float] = field(default_factory=list)
    # The document's entries of the devices no event has changed since it was read or
    # last written: written back as they are.
    stored_devices: dict[str, list[Any]] = field(default_factory=dict, repr=False, compare=False)
    # The newest sighting of any place, and a time before which no place can be due to be
    # dropped (``saw_place``), in microseconds; None: not worked out yet.
    _places_newest: int | None = field(default=None, repr=False, compare=False)
    _places_prune_from: int | None = field(default=None, repr=False, compare=False)

    # -- what the checks ask

    def usual_places(
        self, at: datetime, window: timedelta, *, logins_only: bool = False
    ) -> list[GeoPoint] | None:
        """The places seen in the ``window`` up to ``at``, or None where only the stored
        history can tell."""
        since = at - window
        if self.places_pruned_until is not None and self.places_pruned_until >= since:
            return None
        at_us, since_us = micros(at), micros(since)
        usual: list[GeoPoint] = []
        for key, seen in self.places.items():
            answer = (
                _usual(seen[FIRST_LOGIN], seen[LAST_LOGIN], at_us, since_us)
                if logins_only
                else _usual(seen[FIRST], seen[LAST], at_us, since_us)
            )
            if answer is None:
                return None
            if answer:
                usual.append(_point(key))
        return usual

    def at_usual_place(self, point: GeoPoint, at: datetime, window: timedelta) -> bool:
        """Whether the point's own place (``place_key``, within a kilometre of it) was seen
        in the ``window`` up to ``at``, and so is one of ``usual_places``. False when it was
        not, or only ``usual_places`` can tell."""
        seen = self.places.get(place_key(point))
        if seen is None:
            return False
        return _usual(seen[FIRST], seen[LAST], micros(at), micros(at - window)) is True

    def knows_device(self, device_id: str | None, at: datetime) -> bool:
        """Whether the device was first seen at or before ``at`` (the same instant: it
        arrived earlier)."""
        seen = self.devices.get(device_id) if device_id is not None else None
        return seen is not None and seen.first <= at

    def knew_a_device(self, at: datetime) -> bool:
        """Whether any device was first seen at or before ``at``."""
        return any(seen.first <= at for seen in self.devices.values())

    def low_balance_alerts_around(
        self, account_number: str, at: datetime, span: timedelta
    ) -> list[datetime] | None:
        return self.low_balance_alerts.get(account_number, Recent()).around(at, span)

    # -- what an event adds

    def saw_device(self, device_id: str, at: datetime) -> Seen:
        """The device's sighting, to be changed by the caller (its name) too."""
        self.stored_devices.pop(device_id, None)
        seen = self.devices.get(device_id)
        if seen is None:
            seen = self.devices[device_id] = Seen(at, at)
        seen.saw(at)
        return seen

    def saw_place(self, point: GeoPoint, at: datetime, *, login: bool) -> None:
        key = place_key(point)
        when = micros(at)
        seen = self.places.get(key)
        if seen is None:
            seen = self.places[key] = _sighting(when)
        _saw(seen, when, login=login)
        # Places not seen for PLACES_KEPT before the newest sighting are dropped. The places
        # are scanned only when one may be that old: not before the newest sighting passes
        # ``_places_prune_from``, at or before every place's last sighting + PLACES_KEPT.
        newest = self._places_newest
        newest = max(s[LAST] for s in self.places.values()) if newest is None else max(newest, when)
        self._places_newest = newest
        due = self._places_prune_from
        if due is not None:
            due = self._places_prune_from = min(due, seen[LAST] + _PLACES_KEPT_US)
            if newest <= due:
                return
        for stale in [k for k, s in self.places.items() if s[LAST] < newest - _PLACES_KEPT_US]:
            dropped = from_micros(self.places.pop(stale)[LAST])
            self.places_pruned_until = max(filter(None, [self.places_pruned_until, dropped]))
        self._places_prune_from = min(s[LAST] for s in self.places.values()) + _PLACES_KEPT_US

    def failed_login(self, at: datetime) -> None:
        self.failed_logins.add(at, FAILURES_KEPT)

    def failed_logins_detected(self, at: datetime) -> None:
        self.failed_login_detections.add(at, FAILURES_KEPT)

    def low_balance_alert(self, account_number: str, at: datetime) -> None:
        self.low_balance_alerts.setdefault(account_number, Recent()).add(at, LOW_BALANCE_KEPT)

    def saw_transaction(self, at: datetime, amount: float) -> None:
        self.transactions.add(at, amount)
        self.last_amounts.append(amount)
        if len(self.last_amounts) > TYPICAL_OF:
            del self.last_amounts[0]

    # -- stored as a JSON document

    def to_json(self) -> dict[str, Any]:
        """The stored document, without the transactions' times and amounts (stored in
        parts: ``RecentAmounts.to_store``)."""
        return {
            "devices": self._device_entries(),
            "places": self.places,
            "placesPrunedUntil": _iso(self.places_pruned_until),
            "failedLogins": _recent_json(self.failed_logins),
            "failedLoginDetections": _recent_json(self.failed_login_detections),
            "lowBalanceAlerts": {a: _recent_json(r) for a, r in self.low_balance_alerts.items()},
            "transactions": {"prunedUntil": _iso(self.transactions.pruned_until)},
            "lastAmounts": self.last_amounts,
            "format": FORMAT,
        }

    def _device_entries(self) -> dict[str, list[Any]]:
        """The devices as the document holds them; an entry written out once is kept for
        the next time, until an event changes that device (``saw_device``)."""
        entries = self.stored_devices
        for device_id, seen in self.devices.items():
            if device_id not in entries:
                first, last = _iso(seen.first), _iso(seen.last)
                entries[device_id] = [first, last, seen.name, seen.model, seen.os]
        return {device_id: entries[device_id] for device_id in self.devices}

    @staticmethod
    def is_current(document: dict[str, Any]) -> bool:
        """Whether a stored document can be read (else: rebuild from history)."""
        return document.get("format") in (FORMAT, *_OLDER_FORMATS)

    @staticmethod
    def has_parts(document: dict[str, Any]) -> bool:
        """Whether the document's transactions are in stored parts (this format), not in
        the document (the formats before)."""
        return document.get("format") == FORMAT

    @classmethod
    def from_json(
        cls, document: dict[str, Any], parts: Iterable[Part] | None = None
    ) -> ActivityProfile:
        """The profile of a stored document and (``has_parts``) its transactions' stored
        parts, in the order they were written."""
        if document["format"] == _PLACES_AS_TEXT:
            places: dict[str, Sightings] = {
                key: [
                    micros(_time(first)),
                    micros(_time(last)),
                    _maybe_micros(_maybe_time(first_login)),
                    _maybe_micros(_maybe_time(last_login)),
                ]
                for key, (first, last, first_login, last_login) in document["places"].items()
            }
        else:
            places = document["places"]
        stored = document["transactions"]
        pruned_until = _maybe_time(stored["prunedUntil"])
        if cls.has_parts(document):
            if parts is None:
                raise ValueError("a profile of this format is read with its transactions' parts")
            transactions = RecentAmounts.from_parts(parts, pruned_until)
        else:  # in the document: stored in parts by the next write-back
            transactions = RecentAmounts(
                list(stored["times"]), list(map(float, stored["amounts"])), pruned_until
            )
        return cls(
            devices={
                d: Seen(_time(first), _time(last), *names)
                for d, (first, last, *names) in document["devices"].items()
            },
            places=places,
            places_pruned_until=_maybe_time(document["placesPrunedUntil"]),
            failed_logins=_recent(document["failedLogins"]),
            failed_login_detections=_recent(document["failedLoginDetections"]),
            low_balance_alerts={a: _recent(r) for a, r in document["lowBalanceAlerts"].items()},
            transactions=transactions,
            last_amounts=[float(amount) for amount in document["lastAmounts"]],
            stored_devices=dict(document["devices"]),
        )

    @classmethod
    def from_history(
        cls,
        *,
        devices: dict[str, Seen],
        places: Iterable[tuple[GeoPoint, datetime, datetime, datetime | None, datetime | None]],
        failed_logins: Recent,
        failed_login_detections: Recent,
        low_balance_alerts: dict[str, Recent],
        transactions: RecentAmounts,
        last_amounts: list[float],
    ) -> ActivityProfile:
        """A profile built from the stored history (a customer whose events predate
        profiles): ``places`` as (place, first, last, first sign-in, last sign-in)."""
        profile = cls(
            devices=dict(devices),
            failed_logins=failed_logins,
            failed_login_detections=failed_login_detections,
            low_balance_alerts=low_balance_alerts,
            transactions=transactions,
            last_amounts=last_amounts[-TYPICAL_OF:],
        )
        for point, first, last, first_login, last_login in places:
            key = place_key(point)
            seen = profile.places.get(key)
            if seen is None:
                profile.places[key] = [
                    micros(first),
                    micros(last),
                    _maybe_micros(first_login),
                    _maybe_micros(last_login),
                ]
            else:
                _saw(seen, micros(first), login=False)
                _saw(seen, micros(last), login=False)
                for when in (first_login, last_login):
                    if when is not None:
                        _saw(seen, micros(when), login=True)
        return profile


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _maybe_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def _recent_json(recent: Recent) -> dict[str, Any]:
    return {
        "times": [t.isoformat() for t in recent.times],
        "prunedUntil": _iso(recent.pruned_until),
    }


def _recent(document: dict[str, Any]) -> Recent:
    return Recent([_time(t) for t in document["times"]], _maybe_time(document["prunedUntil"]))
