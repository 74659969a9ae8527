"""Bulk feeds from core banking as CSV: payments, transactions, balances.

Rows are checked one by one; a bad row is reported with its line number and imports
nothing of itself, the good rows go on. Every row carries its own id (paymentId or
eventId), so importing the same file again imports nothing new."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from account_alerts.domain.enums import PaymentStatus, PaymentType, Role, TransactionType
from account_alerts.domain.events import BalanceSync, Event, TransactionEvent
from account_alerts.domain.geo import GeoPoint
from account_alerts.domain.money import MoneyError, parse_money
from account_alerts.engine.actor import Actor
from account_alerts.engine.ingest import Ingestor
from account_alerts.engine.payments import PaymentFacts, upsert_payment
from account_alerts.errors import ApiError
from account_alerts.store.database import Database

CHUNK = 200
COLUMNS = {
    "payments": ("paymentId", "accountNumber", "paymentType", "amountDue", "currency", "dueDate"),
    "transactions": (
        "eventId",
        "accountNumber",
        "transactionId",
        "transactionType",
        "amount",
        "currency",
        "occurredAt",
    ),
    "balances": ("eventId", "accountNumber", "balance", "currency", "asOf"),
}


class RowError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    unchanged: int = 0
    alerts: int = 0
    errors: list[str] = field(default_factory=list)


def _text(row: dict[str, str], name: str) -> str | None:
    value = (row.get(name) or "").strip()
    return value or None


def _required(row: dict[str, str], name: str) -> str:
    value = _text(row, name)
    if value is None:
        raise RowError(name, f"{name} is required")
    return value


def _money(row: dict[str, str], name: str, *, required: bool = True) -> Decimal | None:
    raw = _required(row, name) if required else _text(row, name)
    if raw is None:
        return None
    try:
        return parse_money(raw)
    except MoneyError as exc:
        raise RowError(name, str(exc)) from exc


def _instant(row: dict[str, str], name: str) -> datetime:
    raw = _required(row, name)
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise RowError(name, f"{name} must be an ISO 8601 instant") from exc


def _choice(row: dict[str, str], name: str, enum: Any, default: Any = None) -> Any:
    raw = _text(row, name)
    if raw is None:
        if default is None:
            raise RowError(name, f"{name} is required")
        return default
    try:
        return enum(raw.upper())
    except ValueError as exc:
        allowed = ", ".join(member.value for member in enum)
        raise RowError(name, f"{name} must be one of {allowed}") from exc


def _location(row: dict[str, str]) -> GeoPoint | None:
    lat, lon = _text(row, "latitude"), _text(row, "longitude")
    if lat is None and lon is None:
        return None
    try:
        return GeoPoint(float(lat or ""), float(lon or ""), _text(row, "locationLabel"))
    except ValueError as exc:
        raise RowError("latitude", f"location: {exc}") from exc


def parse_payment(row: dict[str, str]) -> PaymentFacts:
    try:
        due = date.fromisoformat(_required(row, "dueDate"))
    except ValueError as exc:
        raise RowError("dueDate", "dueDate must be a date, e.g. 2026-12-01") from exc
    amount = _money(row, "amountDue")
    assert amount is not None
    return PaymentFacts(
        payment_id=_required(row, "paymentId"),
        account_number=_required(row, "accountNumber"),
        payment_type=_choice(row, "paymentType", PaymentType),
        amount_due=amount,
        currency=_required(row, "currency"),
        due_date=due,
        status=_choice(row, "status", PaymentStatus, PaymentStatus.ACTIVE),
        payment_description=_text(row, "paymentDescription"),
        beneficiary_name=_text(row, "beneficiaryName"),
        beneficiary_reference=_text(row, "beneficiaryReference"),
    )


def parse_transaction(row: dict[str, str]) -> TransactionEvent:
    amount = _money(row, "amount")
    assert amount is not None
    return TransactionEvent(
        event_id=_required(row, "eventId"),
        account_number=_required(row, "accountNumber"),
        transaction_id=_required(row, "transactionId"),
        transaction_type=_choice(row, "transactionType", TransactionType),
        amount=amount,
        currency=_required(row, "currency"),
        occurred_at=_instant(row, "occurredAt"),
        transaction_reference=_text(row, "transactionReference"),
        transaction_description=_text(row, "transactionDescription"),
        balance_after=_money(row, "balanceAfter", required=False),
        device_id=_text(row, "deviceId"),
        ip_address=_text(row, "ipAddress"),
        location=_location(row),
    )


def parse_balance(row: dict[str, str]) -> BalanceSync:
    amount = _money(row, "balance")
    assert amount is not None
    return BalanceSync(
        event_id=_required(row, "eventId"),
        account_number=_required(row, "accountNumber"),
        balance=amount,
        currency=_required(row, "currency"),
        as_of=_instant(row, "asOf"),
    )


def _rows(path: Path, kind: str) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS[kind] if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path.name}: missing column(s) {', '.join(missing)}")
        for row in reader:
            yield reader.line_num, row


def count_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return max(0, sum(1 for _ in csv.reader(handle)) - 1)


async def import_file(
    db: Database,
    ingestor: Ingestor,
    *,
    kind: str,
    path: Path,
    now: datetime,
    progress: Callable[[int], None] = lambda done: None,
) -> ImportReport:
    report = ImportReport()
    actor = Actor(role=Role.SERVICE, id=f"import:{path.name}")
    batch: list[tuple[int, Any]] = []

    async def flush() -> None:
        if kind == "payments":
            await _import_payments(db, batch, report, actor=actor, now=now)
        else:
            await _import_events(ingestor, batch, report, actor=actor)
        progress(report.rows)
        batch.clear()

    parse = {
        "payments": parse_payment,
        "transactions": parse_transaction,
        "balances": parse_balance,
    }[kind]
    for line, row in _rows(path, kind):
        report.rows += 1
        try:
            batch.append((line, parse(row)))
        except RowError as exc:
            report.errors.append(f"line {line}: {exc.field}: {exc}")
        if len(batch) >= CHUNK:
            await flush()
    if batch:
        await flush()
    progress(report.rows)
    report.errors.sort(key=lambda error: int(error.split(":", 1)[0].removeprefix("line ")))
    return report


async def _import_events(
    ingestor: Ingestor, batch: list[tuple[int, Any]], report: ImportReport, *, actor: Actor
) -> None:
    events: list[Event] = [event for _, event in batch]
    outcomes = await ingestor.ingest_many(events, actor)
    for (line, _), outcome in zip(batch, outcomes, strict=True):
        if outcome.error is not None:
            field_name = outcome.error.extensions.get("field", "row")
            report.errors.append(f"line {line}: {field_name}: {outcome.error.message}")
        elif outcome.duplicate:
            report.unchanged += 1
        else:
            report.imported += 1
            report.alerts += len(outcome.alert_ids)


async def _import_payments(
    db: Database,
    batch: list[tuple[int, Any]],
    report: ImportReport,
    *,
    actor: Actor,
    now: datetime,
) -> None:
    async with db.transaction() as session:
        for line, facts in batch:
            try:
                async with session.begin_nested():
                    changed = await upsert_payment(session, facts, actor=actor, now=now)
            except ApiError as error:
                field_name = error.extensions.get("field", "row")
                report.errors.append(f"line {line}: {field_name}: {error.message}")
                continue
            if changed:
                report.imported += 1
            else:
                report.unchanged += 1
