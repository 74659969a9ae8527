"""Customers' activity profiles as this process last wrote them, so that the customer's
next event need not read and decode the stored document again (PostgreSQL only).

Every event reads its customer's profile with the customer lock and writes it back in the
same transaction. Decoding the document and building the profile from it had been about a
tenth of a single event's server time, and reading it (tens of kilobytes for a busy
customer) a tenth of a batch's lock. Here each profile a unit wrote is kept, after its
commit, with the exact text it stored and the version of the row it stored it in
(store.event_unit.profile_version: the writing transaction's id and the text's length).
The next unit of that customer names the versions it has to the lock, which sends the
profile only where the stored version is another: any other writer (another server
process, a rebuild from the history, a profile forgotten by hand) wrote the row in
another transaction. A profile that comes anyway is taken only if its text is the one
kept. A profile taken is out of the cache until its unit commits, so a unit that fails
leaves nothing stale behind.

``activity_profile_cache_size`` bounds the customers kept (the least recently written go
first); 0 switches the cache off."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import NamedTuple

from prometheus_client import Counter

from account_alerts.delivery.metrics import REGISTRY
from account_alerts.domain.activity_profile import ActivityProfile

LOOKUPS = Counter(
    "alerts_activity_profile_cache_total",
    "Customers' activity profiles looked for in this process's cache, by result: hit (the"
    " stored profile was the one this process wrote) or miss (decoded from the stored text).",
    ["result"],
    registry=REGISTRY,
)
_HITS = LOOKUPS.labels("hit")
_MISSES = LOOKUPS.labels("miss")


class Written(NamedTuple):
    """A profile a unit stored: the text, the version of the row it is in, and the
    customer's accounts in that unit (their events name accounts, not customers)."""

    mobile_user_id: int
    text: str
    profile: ActivityProfile
    version: str
    accounts: tuple[str, ...] = ()


class ProfileCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[int, Written] = OrderedDict()
        # The accounts of the customers kept (and taken, until kept again), by account and
        # by customer: a unit of sign-ins names no account, and the customer's accounts
        # stay known through it.
        self._owners: dict[str, int] = {}
        self._accounts: dict[int, tuple[str, ...]] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def items(self) -> list[tuple[int, Written]]:
        """What is kept, by customer, least recently written first."""
        return list(self._kept.items())

    def known(self, account_numbers: Iterable[str], mobile_user_ids: Iterable[int]) -> list[str]:
        """The versions kept of the profiles of these accounts' owners and customers."""
        owners = self._owners
        users = {owners[n] for n in account_numbers if n in owners}
        users.update(mobile_user_ids)
        kept = self._kept
        return [kept[user].version for user in users if user in kept]

    def holds(self, mobile_user_id: int, stored: str) -> bool:
        """Whether ``take`` would give the kept profile for this stored text (the caller
        then needs nothing else of the stored profile)."""
        kept = self._kept.get(mobile_user_id)
        return kept is not None and kept.text == stored

    def take(
        self, mobile_user_id: int, stored: str | None, version: str | None
    ) -> ActivityProfile | None:
        """The customer's profile if the stored one is what this process last wrote for
        them: its ``version`` is the one kept (the lock did not send it: ``stored`` is
        None), or the ``stored`` text is the one kept. It leaves the cache either way (the
        caller is about to change it)."""
        kept = self._forget(mobile_user_id)
        if kept is None or not (
            stored == kept.text if stored is not None else version == kept.version
        ):
            _MISSES.inc()
            return None
        _HITS.inc()
        return kept.profile

    def keep(self, written: Iterable[Written]) -> None:
        """Profiles a unit stored: call only once the unit committed, and change none of
        them afterwards."""
        if self.size <= 0:
            return
        kept, owners, accounts = self._kept, self._owners, self._accounts
        for item in written:
            user = item.mobile_user_id
            self._forget(user)
            known = accounts.get(user, ())
            accounts[user] = known + tuple(n for n in item.accounts if n not in known)
            for number in item.accounts:
                owners[number] = user
            kept[user] = item
        while len(kept) > self.size:
            self._evict(next(iter(kept)))

    def _forget(self, mobile_user_id: int) -> Written | None:
        """The customer's kept profile out of the cache; their accounts stay known for
        when a unit keeps it again (a version named for another customer's row, should an
        account have changed hands, never matches that row)."""
        return self._kept.pop(mobile_user_id, None)

    def _evict(self, mobile_user_id: int) -> None:
        self._kept.pop(mobile_user_id, None)
        for number in self._accounts.pop(mobile_user_id, ()):
            if self._owners.get(number) == mobile_user_id:
                del self._owners[number]
