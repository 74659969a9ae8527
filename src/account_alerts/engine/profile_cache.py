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
        # The accounts of the customers kept.
        self._owners: dict[str, int] = {}

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
        kept, owners = self._kept, self._owners
        for item in written:
            self._forget(item.mobile_user_id)
            kept[item.mobile_user_id] = item
            for number in item.accounts:
                owners[number] = item.mobile_user_id
        while len(kept) > self.size:
            self._forget(next(iter(kept)))

    def _forget(self, mobile_user_id: int) -> Written | None:
        item = self._kept.pop(mobile_user_id, None)
        if item is not None:
            for number in item.accounts:
                if self._owners.get(number) == mobile_user_id:
                    del self._owners[number]
        return item
