"""Who else used a device or an IP address: the other customers whose stored transactions
or sign-ins name an event's device in one window, or its address in another, up to the
event's time (the cross-customer features, domain.fraud_features).

The event path asks once per unit of work, for all its events together, just after the
customer lock (on PostgreSQL one statement, however many events; on SQLite one query per
event): what the unit's own earlier events add is counted by the caller, from the rows
it has not written yet."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.store.base import table_of
from account_alerts.store.direct import Direct
from account_alerts.store.events import LoginAttempt, TransactionRecord
from account_alerts.store.row_buffer import ColumnValues

TRANSACTIONS = table_of(TransactionRecord)
LOGINS = table_of(LoginAttempt)
DEVICE, ADDRESS = "device_id", "ip_address"


@dataclass(frozen=True)
class Probe:
    """One event's question: the customers other than ``customer`` on ``device`` in
    (``device_since``, ``at``] and on ``address`` in (``address_since``, ``at``]. A None
    device or address is not asked about."""

    customer: int
    at: datetime
    device: str | None
    device_since: datetime
    address: str | None
    address_since: datetime


@dataclass(frozen=True)
class Others:
    """The other customers found, by device and by address (empty when not asked)."""

    on_device: frozenset[int]
    on_address: frozenset[int]


def _others_on(
    column: str, key: Any, customer: Any, since: Any, at: Any, *labelled: Any
) -> list[sa.Select[Any]]:
    """The customers of the stored rows with ``column`` = ``key`` in (``since``, ``at``],
    ``customer`` left out, after the ``labelled`` columns. For a device, each side of the
    customer is one range of the index on (device, customer, time): however often the
    customer uses their own phone, none of their rows is read. An address (shared behind a
    carrier's gateway, asked about for an hour) is one range of (address, time)."""
    parts = []
    for table in (TRANSACTIONS, LOGINS):
        who = table.c.mobile_user_id
        sides = (who < customer, who > customer) if column == DEVICE else (who != customer,)
        for side in sides:
            parts.append(
                sa.select(*labelled, who).where(
                    table.c[column] == key,
                    side,
                    table.c.occurred_at > since,
                    table.c.occurred_at <= at,
                )
            )
    return parts


@functools.cache
def _one_probe(device: bool, address: bool) -> sa.CompoundSelect[Any]:
    """One event's customers on its device and on its address, as (column, customer)
    (built once per shape: building a statement costs more than running it here)."""
    when = TRANSACTIONS.c.occurred_at.type
    customer, at = sa.bindparam("customer", type_=sa.BigInteger), sa.bindparam("at", type_=when)
    parts = [
        part
        for column, wanted in ((DEVICE, device), (ADDRESS, address))
        if wanted
        for part in _others_on(
            column,
            sa.bindparam(f"{column}_key", type_=TRANSACTIONS.c[column].type),
            customer,
            sa.bindparam(f"{column}_since", type_=when),
            at,
            sa.literal(column).label("found_on"),
        )
    ]
    return sa.union(*parts)


def _probe_columns() -> dict[str, sa.types.TypeEngine[Any]]:
    when = TRANSACTIONS.c.occurred_at.type
    return {
        "customer": sa.BigInteger(),
        "at": when,
        "device": TRANSACTIONS.c[DEVICE].type,
        "device_since": when,
        "address": TRANSACTIONS.c[ADDRESS].type,
        "address_since": when,
    }


@functools.cache
def _all_probes() -> sa.Select[Any]:
    """Every probe of a unit, given as one array per field (PostgreSQL): per probe, in
    order, the array of customers on its device and the array on its address."""
    names = _probe_columns()
    probes = (
        sa.func.unnest(
            *(sa.bindparam(name, type_=ColumnValues(kind)) for name, kind in names.items())
        )
        .table_valued(*names, with_ordinality="n")
        .render_derived(name="probe")
    )
    p = probes.c

    def found(column: str, key: Any, since: Any) -> Any:
        parts = [
            part.correlate(probes) for part in _others_on(column, key, p.customer, since, p.at)
        ]
        return sa.func.array(sa.union(*parts).scalar_subquery())

    return (
        sa.select(
            found(DEVICE, p.device, p.device_since),
            found(ADDRESS, p.address, p.address_since),
        )
        .select_from(probes)
        .order_by(p.n)
    )


async def others(
    session: AsyncSession, direct: Direct | None, probes: Sequence[Probe]
) -> list[Others]:
    """Per probe, in order, the other customers found. Through ``direct`` (PostgreSQL:
    the transaction's driver connection, store.direct) one statement for all."""
    if not probes:
        return []
    if direct is not None:
        values: dict[str, list[Any]] = {
            name: [getattr(probe, name) for probe in probes] for name in _probe_columns()
        }
        rows = await direct.rows(_all_probes(), values)
        return [Others(frozenset(device), frozenset(address)) for device, address in rows]
    answers = []
    for probe in probes:
        found: dict[str, set[int]] = {DEVICE: set(), ADDRESS: set()}
        if probe.device is not None or probe.address is not None:
            query = _one_probe(probe.device is not None, probe.address is not None)
            params = {
                "customer": probe.customer,
                "at": probe.at,
                f"{DEVICE}_key": probe.device,
                f"{DEVICE}_since": probe.device_since,
                f"{ADDRESS}_key": probe.address,
                f"{ADDRESS}_since": probe.address_since,
            }
            for column, who in (await session.exec(query, params=params)).all():  # type: ignore[call-overload]
                found[column].add(int(who))
        answers.append(Others(frozenset(found[DEVICE]), frozenset(found[ADDRESS])))
    return answers
