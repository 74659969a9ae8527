"""Customers' activity profiles as this process last wrote them, so that the customer's
next event need not decode the stored document again (PostgreSQL only).

Every event reads its customer's profile with the customer lock and writes it back in the
same transaction. Decoding the document and building the profile from it had been about a
tenth of a single event's server time. Here each profile a unit wrote is kept, after its
commit, with the exact text it stored. The next unit of that customer reads the stored
text with the lock, as before, and takes the kept profile only if the text is the same:
any other writer (another server process, a rebuild from the history, a profile forgotten
by hand) stored another text, and the profile is decoded as usual. A profile taken is out
of the cache until its unit commits, so a unit that fails leaves nothing stale behind.

``activity_profile_cache_size`` bounds the customers kept (the least recently written go
first); 0 switches the cache off."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from prometheus_client import Counter

from account_alerts.delivery.metrics import REGISTRY
from account_alerts.domain.activity_profile import ActivityProfile

LOOKUPS = Counter(
    "alerts_activity_profile_cache_total",
    "Customers' activity profiles looked for in this process's cache, by result: hit (the"
    " stored text was the one this process wrote) or miss (decoded from the stored text).",
    ["result"],
    registry=REGISTRY,
)
_HITS = LOOKUPS.labels("hit")
_MISSES = LOOKUPS.labels("miss")


class ProfileCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[int, tuple[str, ActivityProfile]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def items(self) -> list[tuple[int, tuple[str, ActivityProfile]]]:
        """What is kept: (customer, (text stored, profile)), least recently written first."""
        return list(self._kept.items())

    def take(self, mobile_user_id: int, stored: str) -> ActivityProfile | None:
        """The customer's profile if ``stored`` is the text this process last wrote for
        them; it leaves the cache either way (the caller is about to change it)."""
        kept = self._kept.pop(mobile_user_id, None)
        if kept is None or kept[0] != stored:
            _MISSES.inc()
            return None
        _HITS.inc()
        return kept[1]

    def keep(self, written: Iterable[tuple[int, str, ActivityProfile]]) -> None:
        """Profiles a unit stored, each with its text: call only once the unit committed,
        and change none of them afterwards."""
        if self.size <= 0:
            return
        kept = self._kept
        for mobile_user_id, text, profile in written:
            kept[mobile_user_id] = (text, profile)
            kept.move_to_end(mobile_user_id)
        while len(kept) > self.size:
            kept.popitem(last=False)
