"""When an alert may reach the customer: quiet hours and the hourly rate limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from account_alerts.domain.alert_settings import (
    AlertPreferences,
    ThresholdDefaults,
    default_preferences,
)
from account_alerts.domain.delivery_policy import (
    RATE_LIMIT_PER_HOUR,
    in_window,
    over_rate_limit,
    quiet_hours_end,
)

BLANTYRE = ZoneInfo("Africa/Blantyre")  # UTC+2 all year
LONDON = ZoneInfo("Europe/London")  # GMT / BST
NIGHT = (time(22, 0), time(6, 0))


@pytest.fixture
def prefs() -> AlertPreferences:
    return default_preferences(ThresholdDefaults(Decimal(5000), Decimal(50000)))


def quiet(prefs: AlertPreferences, start: time, end: time) -> AlertPreferences:
    return replace(prefs, quiet_hours_enabled=True, quiet_hours_start=start, quiet_hours_end=end)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# in_window


@pytest.mark.parametrize("moment", [time(22, 0), time(23, 0), time(0, 0), time(5, 59, 59)])
def test_in_window_across_midnight_holds_the_night(moment: time) -> None:
    assert in_window(moment, *NIGHT)


@pytest.mark.parametrize("moment", [time(6, 0), time(12, 0), time(21, 59), time(21, 59, 59)])
def test_in_window_across_midnight_excludes_the_day(moment: time) -> None:
    assert not in_window(moment, *NIGHT)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (time(12, 59), False),
        (time(13, 0), True),
        (time(14, 30), True),
        (time(14, 59), True),
        (time(15, 0), False),
        (time(23, 0), False),
    ],
)
def test_in_window_within_one_day_is_half_open(moment: time, inside: bool) -> None:
    assert in_window(moment, time(13, 0), time(15, 0)) is inside


# quiet_hours_end


def test_quiet_hours_end_is_none_when_quiet_hours_are_off(prefs: AlertPreferences) -> None:
    assert quiet_hours_end(prefs, utc(2025, 6, 1, 22, 0), BLANTYRE) is None
    disabled = replace(quiet(prefs, *NIGHT), quiet_hours_enabled=False)
    assert quiet_hours_end(disabled, utc(2025, 6, 1, 22, 0), BLANTYRE) is None


def test_quiet_hours_end_is_none_without_a_start(prefs: AlertPreferences) -> None:
    no_start = replace(prefs, quiet_hours_enabled=True)
    assert quiet_hours_end(no_start, utc(2025, 6, 1, 22, 0), BLANTYRE) is None


@pytest.mark.parametrize(
    "now",
    [
        utc(2025, 6, 1, 10, 0),  # 12:00 local
        utc(2025, 6, 1, 19, 59),  # 21:59 local
        utc(2025, 6, 1, 4, 0),  # 06:00 local: the quiet hours just ended
    ],
)
def test_quiet_hours_end_is_none_outside_quiet_hours(
    prefs: AlertPreferences, now: datetime
) -> None:
    assert quiet_hours_end(quiet(prefs, *NIGHT), now, BLANTYRE) is None


@pytest.mark.parametrize(
    ("now", "end"),
    [
        # 22:00 local, at the start: held until 06:00 local the next morning.
        (utc(2025, 6, 1, 20, 0), utc(2025, 6, 2, 4, 0)),
        # 23:00 local, before midnight: the next morning.
        (utc(2025, 6, 1, 21, 0), utc(2025, 6, 2, 4, 0)),
        # 00:30 local on 2 June, which is 22:30 UTC on 1 June: the same local morning.
        (utc(2025, 6, 1, 22, 30), utc(2025, 6, 2, 4, 0)),
        # 05:59 local, after midnight: this morning.
        (utc(2025, 6, 2, 3, 59), utc(2025, 6, 2, 4, 0)),
    ],
)
def test_quiet_hours_end_is_the_next_local_end_in_utc(
    prefs: AlertPreferences, now: datetime, end: datetime
) -> None:
    result = quiet_hours_end(quiet(prefs, *NIGHT), now, BLANTYRE)
    assert result == end
    assert result is not None and result.utcoffset() == timedelta(0)
    assert result.astimezone(BLANTYRE).time() == time(6, 0)


def test_quiet_hours_end_within_one_day(prefs: AlertPreferences) -> None:
    afternoon = quiet(prefs, time(13, 0), time(15, 0))
    assert quiet_hours_end(afternoon, utc(2025, 6, 1, 11, 30), BLANTYRE) == utc(2025, 6, 1, 13, 0)
    assert quiet_hours_end(afternoon, utc(2025, 6, 1, 13, 0), BLANTYRE) is None


def test_quiet_hours_end_is_returned_in_the_zone_of_now(prefs: AlertPreferences) -> None:
    now = utc(2025, 6, 1, 21, 0).astimezone(BLANTYRE)
    result = quiet_hours_end(quiet(prefs, *NIGHT), now, BLANTYRE)
    assert result == utc(2025, 6, 2, 4, 0)
    assert result is not None and result.tzinfo is BLANTYRE


def test_quiet_hours_end_across_the_spring_dst_change(prefs: AlertPreferences) -> None:
    # London moves from GMT to BST at 01:00 UTC on 30 March 2025: the night is an hour
    # shorter, and 07:00 local the next morning is 06:00 UTC.
    night = quiet(prefs, time(22, 0), time(7, 0))
    assert quiet_hours_end(night, utc(2025, 3, 29, 23, 0), LONDON) == utc(2025, 3, 30, 6, 0)
    assert quiet_hours_end(night, utc(2025, 3, 30, 3, 0), LONDON) == utc(2025, 3, 30, 6, 0)


def test_quiet_hours_end_across_the_autumn_dst_change(prefs: AlertPreferences) -> None:
    # London moves from BST to GMT at 01:00 UTC on 26 October 2025: 23:30 BST the evening
    # before is 22:30 UTC, and 07:00 GMT the next morning is 07:00 UTC.
    night = quiet(prefs, time(22, 0), time(7, 0))
    assert quiet_hours_end(night, utc(2025, 10, 25, 22, 30), LONDON) == utc(2025, 10, 26, 7, 0)
    assert quiet_hours_end(night, utc(2025, 10, 26, 6, 59), LONDON) == utc(2025, 10, 26, 7, 0)
    assert quiet_hours_end(night, utc(2025, 10, 26, 7, 0), LONDON) is None


def test_quiet_hours_end_ending_in_the_repeated_autumn_hour_is_after_now(
    prefs: AlertPreferences,
) -> None:
    # On 26 October 2025 London's 01:00-02:00 happens twice (BST, then GMT). At 01:15 UTC
    # it is 01:15 GMT, the second pass, and inside quiet hours 00:00-01:30; the quiet hours
    # end at 01:30 GMT = 01:30 UTC, not at the first pass's 01:30 BST = 00:30 UTC, which has
    # already gone by.
    early = quiet(prefs, time(0, 0), time(1, 30))
    first_pass = utc(2025, 10, 26, 0, 15)  # 01:15 BST
    assert quiet_hours_end(early, first_pass, LONDON) == utc(2025, 10, 26, 0, 30)
    second_pass = utc(2025, 10, 26, 1, 15)  # 01:15 GMT
    assert in_window(second_pass.astimezone(LONDON).time(), time(0, 0), time(1, 30))
    assert quiet_hours_end(early, second_pass, LONDON) == utc(2025, 10, 26, 1, 30)


def test_quiet_hours_end_ending_in_the_skipped_spring_hour_is_when_the_clock_jumps(
    prefs: AlertPreferences,
) -> None:
    # On 30 March 2025 London's clocks jump from 01:00 GMT to 02:00 BST, so 01:30 local
    # never happens. Quiet hours 00:00-01:30 are over at the jump, 01:00 UTC, as in_window
    # agrees, so a held delivery may go out then and not an hour later at 02:30 BST.
    early = quiet(prefs, time(0, 0), time(1, 30))
    jump = utc(2025, 3, 30, 1, 0)
    assert not in_window(jump.astimezone(LONDON).time(), time(0, 0), time(1, 30))
    assert quiet_hours_end(early, utc(2025, 3, 30, 0, 15), LONDON) == jump


@pytest.mark.parametrize("zone", [BLANTYRE, LONDON], ids=["Africa/Blantyre", "Europe/London"])
@pytest.mark.parametrize("window", [NIGHT, (time(13, 0), time(15, 0))], ids=["night", "afternoon"])
def test_quiet_hours_end_is_always_later_and_outside_quiet_hours(
    prefs: AlertPreferences, zone: ZoneInfo, window: tuple[time, time]
) -> None:
    settings = quiet(prefs, *window)
    # Four days around each of London's 2025 clock changes, every quarter of an hour.
    for first_day in (utc(2025, 3, 28, 0, 0), utc(2025, 10, 24, 0, 0)):
        for step in range(4 * 24 * 4):
            now = first_day + timedelta(minutes=15 * step)
            end = quiet_hours_end(settings, now, zone)
            inside = in_window(now.astimezone(zone).time(), *window)
            assert (end is not None) is inside, now
            if end is not None:
                assert now < end <= now + timedelta(hours=24), now
                assert not in_window(end.astimezone(zone).time(), *window), now


# Rate limit


@pytest.mark.parametrize(("count", "over"), [(0, False), (9, False), (10, True), (11, True)])
def test_over_rate_limit_from_the_tenth_alert_in_an_hour(count: int, over: bool) -> None:
    assert RATE_LIMIT_PER_HOUR == 10
    assert over_rate_limit(count) is over
