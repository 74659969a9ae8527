"""A customer's activity profile answers exactly what the whole history would, or says
that only the history can tell."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from account_alerts.domain.activity_profile import (
    FAILURES_KEPT,
    LAST,
    PLACES_KEPT,
    REWRITE_AFTER_PARTS,
    TRANSACTIONS_KEPT,
    ActivityProfile,
    Part,
    Recent,
    RecentAmounts,
    _cell,
    _decimal_cell,
    from_micros,
    place_key,
)
from account_alerts.domain.alert_settings import ThresholdDefaults, default_preferences
from account_alerts.domain.decisions import Verdict
from account_alerts.domain.geo import GeoPoint
from account_alerts.domain.rules.suspicious_activity import unusual_location

START = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = timedelta(days=90)
TOWNS = [GeoPoint(-15.7861, 35.0058), GeoPoint(-13.9626, 33.7741), GeoPoint(-11.4656, 34.0207)]


class _Stored:
    """A customer's profile as the database keeps it: the document, and the parts of their
    transactions that each write-back adds to or replaces (store.event_rows), through JSON
    as stored."""

    def __init__(self) -> None:
        self.parts: list[tuple[bytes, bytes]] = []
        self.document = b"null"
        self.replaced = 0

    def write(self, profile: ActivityProfile) -> None:
        write = profile.transactions.to_store()
        if write is not None:
            if write.replace:
                self.parts = []
                self.replaced += 1
            if write.times:
                self.parts.append((orjson.dumps(write.times), orjson.dumps(write.amounts)))
            profile.transactions.stored(write)
        self.document = orjson.dumps(profile.to_json())

    def read(self) -> ActivityProfile:
        parts: list[Part] = [(orjson.loads(t), orjson.loads(a)) for t, a in self.parts]
        return ActivityProfile.from_json(orjson.loads(self.document), parts)

    def round_trip(self, profile: ActivityProfile) -> ActivityProfile:
        self.write(profile)
        return self.read()


def _keys(places: list[GeoPoint]) -> set[str]:
    return {place_key(place) for place in places}


def _history(rng: random.Random, count: int) -> list[tuple[datetime, GeoPoint, bool]]:
    """Sightings in arrival order; most in time order, some late, some sharing a second."""
    at = START
    sightings = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.1:
            when = at - timedelta(days=rng.randint(1, 400))  # a late or replayed event
        elif roll < 0.25:
            when = at  # stamped with the same second as the one before
        else:
            at = when = at + timedelta(hours=rng.randint(1, 24 * 20))
        town = rng.choice(TOWNS)
        jitter = GeoPoint(town.latitude + rng.uniform(-0.03, 0.03), town.longitude)
        sightings.append((when, jitter, rng.random() < 0.4))
    return sightings


@pytest.mark.parametrize("seed", range(40))
def test_usual_places_are_the_history_in_the_window_or_unknown(seed: int) -> None:
    rng = random.Random(seed)
    profile = ActivityProfile()
    seen: list[tuple[datetime, GeoPoint, bool]] = []
    exact = 0
    for when, point, login in _history(rng, 150):
        for logins_only in (False, True):
            answer = profile.usual_places(when, WINDOW, logins_only=logins_only)
            truth = {
                place_key(p)
                for t, p, was_login in seen
                if when - WINDOW <= t <= when and (was_login or not logins_only)
            }
            newest = max((t for t, _, _ in seen), default=when)
            if when >= newest:  # in time order, the profile always knows
                assert answer is not None
            if answer is not None:
                exact += 1
                assert _keys(answer) == truth
        profile.saw_place(point, when, login=login)
        seen.append((when, point, login))
    assert exact > 200


@pytest.mark.parametrize("seed", range(20))
def test_at_a_usual_place_only_where_the_check_over_every_usual_place_finds_nothing(
    seed: int,
) -> None:
    """``at_usual_place`` is the unusual-location check's shortcut: wherever it says yes,
    measuring every usual place finds one within the distance (no detection, nothing
    skipped); and it says yes for most events at a place seen in the window."""
    rng = random.Random(seed)
    prefs = default_preferences(ThresholdDefaults(Decimal(5000), Decimal(50000)))
    profile = ActivityProfile()
    seen: list[tuple[datetime, GeoPoint]] = []
    shortcuts = 0
    for when, point, login in _history(rng, 150):
        truth = [p for t, p in seen if when - WINDOW <= t <= when]
        for asked in (point, GeoPoint(point.latitude + 2, point.longitude)):
            if profile.at_usual_place(asked, when, WINDOW):
                shortcuts += 1
                assert place_key(asked) in _keys(truth)
                assert unusual_location(asked, truth, prefs) == Verdict()
        profile.saw_place(point, when, login=login)
        seen.append((when, point))
    assert shortcuts > 25


def test_places_not_seen_for_half_a_year_are_dropped_and_then_unknown() -> None:
    profile = ActivityProfile()
    profile.saw_place(TOWNS[0], START, login=True)
    later = START + PLACES_KEPT + timedelta(days=1)
    profile.saw_place(TOWNS[1], later, login=False)
    assert list(profile.places) == [place_key(TOWNS[1])]
    assert _keys(profile.usual_places(later, WINDOW) or []) == {place_key(TOWNS[1])}
    # An event from the time the dropped place was usual: only the history can tell.
    assert profile.usual_places(START + timedelta(days=10), WINDOW) is None


def test_recent_failures_around_an_instant_or_unknown_when_pruned() -> None:
    recent = Recent()
    times = [START + timedelta(minutes=m) for m in (0, 3, 5, 9, 40, 41)]
    for at in times:
        recent.add(at, FAILURES_KEPT)
    span = timedelta(minutes=10)
    assert recent.around(times[-1], span) == [times[4], times[5]]
    # The first four were dropped (more than 30 minutes before the newest).
    assert recent.pruned_until == times[3]
    assert recent.around(START + timedelta(minutes=12), span) is None
    assert recent.around(START + timedelta(minutes=19), span) == []


def test_place_key_rounds_as_the_database_does() -> None:
    assert place_key(GeoPoint(-15.7861, 35.0058)) == "-15.79,35.01"
    assert place_key(GeoPoint(-13.965, 33.775)) == "-13.97,33.78"  # half away from zero
    assert place_key(GeoPoint(0.004999, -0.005)) == "0.00,-0.01"


def test_a_profile_survives_its_json_document() -> None:
    profile = ActivityProfile()
    profile.saw_device("phone-1", START).named("Pixel 8", "Google Pixel 8", "Android 15")
    profile.saw_device("phone-1", START + timedelta(days=2))
    profile.saw_place(TOWNS[0], START, login=True)
    profile.saw_place(TOWNS[2], START + timedelta(days=1), login=False)
    for minutes in (0, 45):
        profile.failed_login(START + timedelta(minutes=minutes))
    profile.failed_logins_detected(START)
    profile.low_balance_alert("1000000001", START)
    profile.saw_transaction(START, 120.5)
    again = _Stored().round_trip(profile)
    assert again == profile
    assert again.knows_device("phone-1", START)
    assert not again.knows_device("phone-1", START - timedelta(seconds=1))
    assert not again.knows_device("phone-2", START + timedelta(days=3))
    assert again.devices["phone-1"].name == "Pixel 8"


def _transaction_times(rng: random.Random, count: int) -> Iterator[datetime]:
    """Transactions' times in arrival order: mostly minutes apart, some at the same
    microsecond as the one before, some a little or hours late, now and then a day or two
    after the one before (the kept ones all dropped)."""
    at = START
    for _ in range(count):
        roll = rng.random()
        if roll < 0.05:
            yield at - timedelta(minutes=rng.randint(1, 60 * 30))
        elif roll < 0.1:
            yield at - timedelta(seconds=rng.randint(1, 600))
        elif roll < 0.25:
            yield at
        else:
            hours = rng.randint(20, 60) if roll < 0.3 else 0
            seconds, micro = rng.randint(1, 900), rng.randint(0, 9)
            at += timedelta(hours=hours, seconds=seconds, microseconds=micro)
            yield at


@pytest.mark.parametrize("seed", range(20))
def test_recent_transactions_in_a_window_are_the_history_or_unknown(seed: int) -> None:
    """The count and amounts of (at - span, at] are what the whole history holds, in time
    order with same-instant transactions in arrival order, or None once the window reaches
    back past what was dropped; also after a round trip through the stored document."""
    rng = random.Random(seed)
    history: list[tuple[datetime, float]] = []
    profile = ActivityProfile()
    stored = _Stored()
    for n, when in enumerate(_transaction_times(rng, 400)):
        amount = float(rng.randint(1, 90_000)) + n / 1000
        history.append((when, amount))
        profile.transactions.add(when, amount)
        if rng.random() < 0.3:  # the end of a unit of work
            stored.write(profile)
        if n % 50 == 0:
            profile = stored.round_trip(profile)
        asked = when + timedelta(seconds=rng.choice([-30, 0, 0, 45]))
        for span in (timedelta(hours=1), timedelta(hours=24)):
            answer = profile.transactions.within(asked, span)
            expected = [
                a for t, a in sorted(history, key=lambda item: item[0]) if asked - span < t <= asked
            ]
            if answer is None:
                pruned = profile.transactions.pruned_until
                assert pruned is not None and pruned > asked - span
            else:
                assert answer == expected


@pytest.mark.parametrize("seed", range(10))
def test_transactions_stored_in_parts_read_back_as_they_were(seed: int) -> None:
    """Written back after units of a few transactions (appended, late, same instant, whole
    days dropped), the stored parts read back as the transactions kept, in
    the same order, with the same answer on what was dropped; the parts never pile up
    beyond the rewrite, and a unit stores what it saw, not the whole day again."""
    rng = random.Random(seed)
    profile = ActivityProfile()
    stored = _Stored()
    came = 0
    for when in _transaction_times(rng, 1500):
        profile.saw_transaction(when, rng.choice([float(rng.randint(1, 90_000)), 0.1, 1 / 7]))
        came += 1
        if rng.random() < 0.2:
            before, replaced = len(stored.parts), stored.replaced
            stored.write(profile)
            assert len(stored.parts) <= REWRITE_AFTER_PARTS + 1
            if stored.replaced == replaced:  # added what came, not everything again
                assert len(stored.parts) == before + 1
                assert len(orjson.loads(stored.parts[-1][0])) == came
            came = 0
            again = stored.read()
            assert again.transactions == profile.transactions
            assert again.transactions.parts == len(stored.parts)
            if rng.random() < 0.2:
                profile = again
    assert stored.replaced > 1
    assert profile.transactions.pruned_until is not None


def test_read_back_the_parts_keep_only_the_last_day_of_what_they_hold() -> None:
    """Parts written before the newest transaction made older ones drop are read without
    them; same-instant transactions keep the order they arrived in across parts."""
    day = int(TRANSACTIONS_KEPT.total_seconds() * 1_000_000)
    base = 1_800_000_000_000_000
    parts: list[Part] = [([base, base + 10], [1.0, 2.0]), ([base + 10, base + day + 5], [3.0, 4.0])]
    read = RecentAmounts.from_parts(parts, None)
    assert read.times == [base + 10, base + 10, base + day + 5]
    assert read.amounts == [2.0, 3.0, 4.0]
    assert read.parts == 2


def test_a_profile_with_its_transactions_in_the_document_moves_them_to_parts() -> None:
    """A profile stored before its transactions went to parts (format 4) reads them from
    the document, and its first write-back stores them all as one part."""
    profile = ActivityProfile()
    for minutes in range(5):
        profile.saw_transaction(START + timedelta(minutes=minutes), 10.0 + minutes)
    document = profile.to_json()
    older = {
        **document,
        "format": 4,
        "transactions": {
            "times": profile.transactions.times,
            "amounts": profile.transactions.amounts,
            "prunedUntil": None,
        },
    }
    assert ActivityProfile.is_current(older) and not ActivityProfile.has_parts(older)
    read = ActivityProfile.from_json(older)
    assert read.transactions == profile.transactions
    stored = _Stored()
    stored.write(read)
    assert stored.replaced == 1 and len(stored.parts) == 1
    assert stored.read() == profile
    with pytest.raises(ValueError, match="parts"):
        ActivityProfile.from_json(document)


@pytest.mark.parametrize("seed", range(10))
def test_places_are_dropped_exactly_when_one_falls_half_a_year_behind(seed: int) -> None:
    """The places kept, and from when the dropped ones make answers unknown, are those of
    scanning every place after every sighting."""
    rng = random.Random(seed)
    profile = ActivityProfile()
    kept: dict[str, datetime] = {}
    pruned_until: datetime | None = None
    at = START
    for _ in range(600):
        roll = rng.random()
        if roll < 0.15:
            when = at - timedelta(days=rng.randint(1, 400))  # late
        else:
            at = when = at + timedelta(days=rng.randint(0, 9), seconds=rng.randint(0, 9))
        point = GeoPoint(rng.uniform(-16, -9), rng.uniform(32, 36))
        profile.saw_place(point, when, login=rng.random() < 0.5)
        key = place_key(point)
        kept[key] = max(kept.get(key, when), when)
        newest = max(kept.values())
        for stale in [k for k, last in kept.items() if last < newest - PLACES_KEPT]:
            pruned_until = max(filter(None, [pruned_until, kept.pop(stale)]))
        assert {k: from_micros(s[LAST]) for k, s in profile.places.items()} == kept
        assert profile.places_pruned_until == pruned_until
        if rng.random() < 0.05:
            profile = _Stored().round_trip(profile)


def test_place_cells_round_exactly_as_decimal_does() -> None:
    """The whole-number rounding of coordinates against Decimal's, on coordinates as
    events send them (up to 15 decimals), on every half-way case of both roundings, and on
    the odd ones (zero, negative zero, exponents)."""
    rng = random.Random(7)
    values: list[float] = [0.0, -0.0, 1e-05, -1.5e-07, 180.0, -90.0, 0.005, -0.005, 0.004999]
    for _ in range(20_000):
        degrees = rng.uniform(-180, 180)
        values.append(round(degrees, rng.randint(0, 15)))
        whole = rng.randint(-179, 179)
        values.append(float(f"{whole}.{rng.randint(0, 99):02d}5"))  # half-way to cents
        values.append(float(f"{whole}.{rng.randint(0, 999_999):06d}5"))  # half-way to micros
        values.append(float(f"{whole}.{rng.randint(0, 99):02d}49995"))  # micros, then cents
    for value in values:
        assert _cell(value) == _decimal_cell(value), value


def test_a_profile_stored_with_its_places_times_as_text_reads_as_it_was_written() -> None:
    """Profiles stored before places' times became numbers (format 3) are converted as
    they are read, not rebuilt from the customer's history."""
    rng = random.Random(3)
    profile = ActivityProfile()
    at = START
    for _ in range(200):
        at += timedelta(hours=rng.randint(0, 30), microseconds=rng.randint(0, 999_999))
        point = GeoPoint(rng.uniform(-16, -9), rng.uniform(32, 36))
        profile.saw_place(point, at, login=rng.random() < 0.3)
    document = profile.to_json()
    older = {
        **document,
        "format": 3,
        "transactions": {"times": [], "amounts": [], "prunedUntil": None},
        "places": {
            key: [None if t is None else from_micros(t).isoformat() for t in times]
            for key, times in document["places"].items()
        },
    }
    assert ActivityProfile.is_current(older)
    read = ActivityProfile.from_json(older)
    assert read.places == profile.places
    assert read.to_json() == document
    for days in (1, 30, 90):
        for logins_only in (False, True):
            asked = (at - timedelta(days=days // 2), timedelta(days=days))
            assert read.usual_places(*asked, logins_only=logins_only) == profile.usual_places(
                *asked, logins_only=logins_only
            )
    assert not ActivityProfile.is_current({**document, "format": 2})
