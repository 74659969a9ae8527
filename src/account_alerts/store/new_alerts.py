"""The alerts an event unit raises, on PostgreSQL: their ids and the hourly counts that
decide when they go out, without a statement per alert.

An alert's id names its outbox rows, its suspicious-activity entries, its audit row and its
webhook event, so it was inserted on its own, at once, to learn it; and the hourly limit
counted the customer's alerts of the hour before it in the same statement. A batch that
raised 40 alerts sent 40 such statements. Here the ids come from the table's own sequence,
a block at a time, and the customers' alerts of the hour before their events are read once
for the whole unit (they are locked: no other event of theirs can raise one meanwhile) and
kept up to date with the unit's own. The alerts' rows then go in the unit's one write
(store.row_buffer), with the rows that name them: PostgreSQL checks their foreign keys at
the end of that statement. One statement reads both, usually once per unit.

A block is sized for the alerts still to come: the current event's, and a share of the
events after it (``ALERTS_PER_EVENT``). Ids of a block the unit does not use are never
used, as a rolled-back insert's are not; the share keeps those few."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa

from account_alerts.domain.delivery_policy import RATE_WINDOW
from account_alerts.store.alerts import AccountAlert
from account_alerts.store.base import table_of
from account_alerts.store.direct import Direct
from account_alerts.store.row_buffer import ColumnValues

ALERTS = table_of(AccountAlert)
# Ids taken for each event still to be judged in the unit when a block is taken: about
# the real mix's share of events that raise an alert.
ALERTS_PER_EVENT = 0.3

_USER = ALERTS.c.mobile_user_id
_AT = ALERTS.c.triggered_at
_IDS = sa.select(
    sa.func.nextval(
        sa.literal_column(f"pg_get_serial_sequence('{ALERTS.name}', '{ALERTS.c.id.name}')")
    ).label("id"),
    sa.cast(sa.null(), _USER.type).label("mobile_user_id"),
    sa.cast(sa.null(), _AT.type).label("triggered_at"),
).select_from(
    sa.func.generate_series(sa.literal_column("1"), sa.bindparam("wanted", type_=sa.Integer))
)
_WINDOWS = (
    sa.func.unnest(
        sa.bindparam("users", type_=ColumnValues(_USER.type)),
        sa.bindparam("since", type_=ColumnValues(_AT.type)),
        sa.bindparam("until", type_=ColumnValues(_AT.type)),
    )
    .table_valued("mobile_user_id", "since", "until")
    .render_derived(name="windows")
)
_STORED = sa.select(ALERTS.c.id, _USER, _AT).select_from(
    ALERTS.join(
        _WINDOWS,
        sa.and_(
            ALERTS.c.mobile_user_id == _WINDOWS.c.mobile_user_id,
            ALERTS.c.triggered_at > _WINDOWS.c.since,
            ALERTS.c.triggered_at <= _WINDOWS.c.until,
        ),
    )
)
# New ids (their customer and time NULL), then the stored alerts (not tests) of each
# customer in their window (since, until].
READ = sa.union_all(_IDS, _STORED.where(ALERTS.c.is_test.is_(False)))

_Window = tuple[datetime, datetime]


class NewAlerts:
    def __init__(self, direct: Direct, span: timedelta = RATE_WINDOW) -> None:
        self._direct = direct
        self._span = span
        self._ids: deque[int] = deque()
        # Per customer: the first and last times of the unit's events.
        self._expected: dict[int, _Window] = {}
        # Per customer: the windows read, and the alerts known in them (read, or raised
        # by this unit) by id.
        self._read: dict[int, list[_Window]] = {}
        self._known: dict[int, dict[int, datetime]] = {}
        # The unit's events not yet judged after the current one (set by its judge).
        self.events_left = 0
        # Statements sent, for the tests.
        self.reads = 0

    def expect(self, customers: Iterable[tuple[int, datetime]]) -> None:
        """The unit's events, as (customer, time): whose hour to read when a count is
        first asked."""
        for user_id, at in customers:
            first, last = self._expected.get(user_id, (at, at))
            self._expected[user_id] = (min(first, at), max(last, at))

    async def take(
        self, user_id: int, triggered_at: datetime, *, counting: bool, ahead: int = 1
    ) -> tuple[int, int]:
        """A new alert's id and, with ``counting``, the customer's alerts (not tests)
        triggered in the hour up to ``triggered_at`` (else 0). ``ahead``: the alerts of this
        event still to take, this one included."""
        wanted = 0 if self._ids else ahead + math.ceil(ALERTS_PER_EVENT * self.events_left)
        windows: dict[int, _Window] = {}
        if counting and not self._covers(user_id, triggered_at):
            for customer, (first, last) in self._expected.items():
                if not (self._covers(customer, first) and self._covers(customer, last)):
                    windows[customer] = (first - self._span, last)
            since, until = windows.get(user_id, (triggered_at, triggered_at))
            windows[user_id] = (min(since, triggered_at - self._span), max(until, triggered_at))
        if wanted or windows:
            await self._fetch(wanted, windows)
        alert_id = self._ids.popleft()
        recent = 0
        if counting:
            since = triggered_at - self._span
            known = self._known.get(user_id, {})
            recent = sum(1 for at in known.values() if since < at <= triggered_at)
        self._known.setdefault(user_id, {})[alert_id] = triggered_at
        return alert_id, recent

    def _covers(self, user_id: int, at: datetime) -> bool:
        since = at - self._span
        return any(start <= since and at <= end for start, end in self._read.get(user_id, ()))

    async def _fetch(self, wanted: int, windows: dict[int, _Window]) -> None:
        users = list(windows)
        rows = await self._direct.rows(
            READ,
            {
                "wanted": wanted,
                "users": users,
                "since": [windows[u][0] for u in users],
                "until": [windows[u][1] for u in users],
            },
        )
        self.reads += 1
        ids = []
        for alert_id, user_id, at in rows:
            if user_id is None:
                ids.append(int(alert_id))
            else:
                self._known.setdefault(user_id, {})[int(alert_id)] = at
        self._ids.extend(sorted(ids))
        for user_id, window in windows.items():
            self._read.setdefault(user_id, []).append(window)
