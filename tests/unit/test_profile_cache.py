"""The activity-profile cache's own rules, without a database (engine.profile_cache)."""

from __future__ import annotations

from account_alerts.domain.activity_profile import ActivityProfile
from account_alerts.engine.profile_cache import ProfileCache, Written


def _profile(amount: float) -> ActivityProfile:
    return ActivityProfile(last_amounts=[amount])


def _written(user: int, text: str, profile: ActivityProfile, *accounts: str) -> Written:
    return Written(user, text, profile, f"{user}/100/{len(text)}", accounts)


def test_a_profile_is_taken_only_with_the_text_it_was_kept_with() -> None:
    cache = ProfileCache(10)
    mine = _profile(1.0)
    cache.keep([_written(7, '{"a":1}', mine)])
    assert cache.take(7, '{"a":1}', "7/200/7") is mine
    # Taken: out of the cache until its unit keeps it again.
    assert cache.take(7, '{"a":1}', "7/100/7") is None
    cache.keep([_written(7, '{"a":1}', mine)])
    # Another writer stored another text: stale, and dropped.
    assert cache.take(7, '{"a":2}', "7/300/7") is None
    assert cache.take(7, '{"a":1}', "7/100/7") is None
    assert cache.take(8, '{"a":1}', "8/100/7") is None


def test_a_profile_not_sent_is_taken_only_at_the_version_it_was_kept_with() -> None:
    """The lock leaves out the profiles whose versions the cache named: those are taken by
    version; a profile left out at another version, or a customer with none stored, is
    not."""
    cache = ProfileCache(10)
    mine = _profile(1.0)
    cache.keep([_written(7, '{"a":1}', mine, "0007")])
    assert cache.take(7, None, "7/101/7") is None
    cache.keep([_written(7, '{"a":1}', mine, "0007")])
    assert cache.take(7, None, "7/100/-1") is None
    cache.keep([_written(7, '{"a":1}', mine, "0007")])
    assert cache.take(7, None, None) is None
    cache.keep([_written(7, '{"a":1}', mine, "0007")])
    assert cache.take(7, None, "7/100/7") is mine


def test_the_versions_known_are_those_of_the_accounts_owners_and_customers_asked() -> None:
    cache = ProfileCache(10)
    cache.keep(
        [
            _written(7, "seven", _profile(7), "0007", "0077"),
            _written(8, "eight", _profile(8), "0008"),
            _written(9, "nine", _profile(9)),
        ]
    )
    assert sorted(cache.known(["0077", "0999"], [9, 10])) == ["7/100/5", "9/100/4"]
    assert cache.known(["0008"], []) == ["8/100/5"]
    # Taken: neither the customer nor their accounts are known until kept again.
    cache.take(7, "seven", None)
    assert cache.known(["0007", "0077"], [7]) == []
    # An account now kept with another customer is theirs.
    cache.keep([_written(9, "nine", _profile(9), "0008")])
    assert cache.known(["0008"], []) == ["9/100/4"]


def test_the_least_recently_written_customers_go_first() -> None:
    cache = ProfileCache(2)
    cache.keep([_written(1, "one", _profile(1), "0001"), _written(2, "two", _profile(2))])
    cache.keep([_written(1, "one again", _profile(1.5), "0001")])
    cache.keep([_written(3, "three", _profile(3))])
    assert [user for user, _ in cache.items()] == [1, 3]
    assert cache.take(2, "two", None) is None
    assert cache.known(["0001"], []) == ["1/100/9"]
    taken = cache.take(1, "one again", None)
    assert taken is not None and taken.last_amounts == [1.5]
    cache.keep([_written(4, "four", _profile(4)), _written(5, "five", _profile(5))])
    assert [user for user, _ in cache.items()] == [4, 5]
    assert cache.known(["0001"], [3]) == []


def test_size_zero_keeps_nothing() -> None:
    cache = ProfileCache(0)
    cache.keep([_written(1, "one", _profile(1), "0001")])
    assert len(cache) == 0 and cache.take(1, "one", "1/100/3") is None
    assert cache.known(["0001"], [1]) == []


def test_a_customers_accounts_stay_known_through_a_unit_of_sign_ins() -> None:
    """A unit of sign-ins names no account: kept after it, the customer's profile is still
    found by the accounts their transactions name, so the lock need not send it."""
    cache = ProfileCache(10)
    cache.keep([_written(7, "seven", _profile(7), "0007")])
    assert cache.take(7, None, "7/100/5") is not None
    cache.keep([_written(7, "signed in", _profile(7))])  # sign-ins only: no account
    assert cache.known(["0007"], []) == ["7/100/9"]
    # Evicted, the customer and their accounts are forgotten.
    small = ProfileCache(1)
    small.keep([_written(7, "seven", _profile(7), "0007")])
    small.keep([_written(8, "eight", _profile(8), "0008")])
    assert small.known(["0007", "0008"], [7]) == ["8/100/5"]
    assert "0007" not in small._owners


def test_a_profile_that_comes_anyway_is_held_only_with_the_text_kept() -> None:
    """The lock sends a profile whose version it was not told (an account the cache did
    not know): the cache holds it only if the text is the one it kept."""
    cache = ProfileCache(10)
    cache.keep([_written(7, "seven", _profile(7), "0007")])
    assert cache.holds(7, "seven")
    assert not cache.holds(7, "other")
    assert not cache.holds(8, "seven")
