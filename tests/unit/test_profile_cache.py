"""The activity-profile cache's own rules, without a database (engine.profile_cache)."""

from __future__ import annotations

from account_alerts.domain.activity_profile import ActivityProfile
from account_alerts.engine.profile_cache import ProfileCache


def _profile(amount: float) -> ActivityProfile:
    return ActivityProfile(last_amounts=[amount])


def test_a_profile_is_taken_only_with_the_text_it_was_kept_with() -> None:
    cache = ProfileCache(10)
    mine = _profile(1.0)
    cache.keep([(7, '{"a":1}', mine)])
    assert cache.take(7, '{"a":1}') is mine
    # Taken: out of the cache until its unit keeps it again.
    assert cache.take(7, '{"a":1}') is None
    cache.keep([(7, '{"a":1}', mine)])
    # Another writer stored another text: stale, and dropped.
    assert cache.take(7, '{"a":2}') is None
    assert cache.take(7, '{"a":1}') is None
    assert cache.take(8, '{"a":1}') is None


def test_the_least_recently_written_customers_go_first() -> None:
    cache = ProfileCache(2)
    cache.keep([(1, "one", _profile(1)), (2, "two", _profile(2))])
    cache.keep([(1, "one again", _profile(1.5))])
    cache.keep([(3, "three", _profile(3))])
    assert [user for user, _ in cache.items()] == [1, 3]
    assert cache.take(2, "two") is None
    taken = cache.take(1, "one again")
    assert taken is not None and taken.last_amounts == [1.5]


def test_size_zero_keeps_nothing() -> None:
    cache = ProfileCache(0)
    cache.keep([(1, "one", _profile(1))])
    assert len(cache) == 0 and cache.take(1, "one") is None
