"""CSV feeds from core banking: row-by-row checks with line numbers, nothing imported twice."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from account_alerts.config import Settings
from account_alerts.engine.bulk_import import import_file
from account_alerts.engine.ingest import Ingestor
from account_alerts.store.alerts import AccountAlert
from account_alerts.store.database import Database
from account_alerts.store.payments import ScheduledPayment
from tests.conftest import Clock
from tests.support.factories import make_account
from tests.support.processes import ACCOUNT_ALERTS, alerts_env

ACCOUNT = "1000000001"
PAYMENTS = """paymentId,accountNumber,paymentType,amountDue,currency,dueDate,paymentDescription
P1,1000000001,LOAN,150000.00,MWK,2026-12-02,Car loan
P2,1000000001,bill,2500,MWK,2026-12-05,ESCOM
P3,1000000001,LOAN,-4,MWK,2026-12-02,Negative
P4,9999999999,LOAN,10,MWK,2026-12-02,No such account
P5,1000000001,GIFT,10,MWK,2026-12-02,Unknown type
P6,1000000001,LOAN,10,MWK,not-a-date,Bad date
"""


def transactions_csv(when: datetime) -> str:
    rows = [
        "eventId,accountNumber,transactionId,transactionType,amount,currency,occurredAt,"
        "balanceAfter,deviceId,latitude,longitude,locationLabel"
    ]
    rows.append(f"e1,{ACCOUNT},T1,DEBIT,60000,MWK,{when.isoformat()},1000,,,,")
    rows.append(f"e2,{ACCOUNT},T2,DEBIT,0,MWK,{when.isoformat()},1000,,,,")
    rows.append(f"e3,{ACCOUNT},T3,CREDIT,5,USD,{when.isoformat()},1000,,,,")
    rows.append(f"e4,{ACCOUNT},T4,DEBIT,5,MWK,{when.isoformat()},,,-91,35,Nowhere")
    rows.append(f"e5,{ACCOUNT},T5,DEBIT,5,MWK,{(when + timedelta(hours=1)).isoformat()},900,,,,")
    return "\n".join(rows) + "\n"


async def test_payments_file_reports_bad_lines_and_imports_the_rest_once(
    db: Database, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    path = tmp_path / "payments.csv"
    path.write_text(PAYMENTS)
    ingestor = Ingestor(db=db, settings=settings, clock=clock)
    report = await import_file(db, ingestor, kind="payments", path=path, now=clock.now)
    assert (report.rows, report.imported, report.unchanged) == (6, 2, 0)
    assert report.errors == [
        "line 4: amountDue: amountDue must be greater than 0",
        "line 5: accountNumber: account 9999999999 is not known; send upsertAccount first",
        "line 6: paymentType: paymentType must be one of BILL, LOAN, SUBSCRIPTION, RECURRING",
        "line 7: dueDate: dueDate must be a date, e.g. 2026-12-01",
    ]
    again = await import_file(db, ingestor, kind="payments", path=path, now=clock.now)
    assert (again.imported, again.unchanged) == (0, 2)
    async with db.session() as session:
        stored = sorted(p.payment_id for p in (await session.exec(select(ScheduledPayment))).all())
    assert stored == ["P1", "P2"]


async def test_transactions_file_raises_alerts_once(
    db: Database, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    path = tmp_path / "transactions.csv"
    path.write_text(transactions_csv(datetime.now(UTC) - timedelta(days=1)))
    ingestor = Ingestor(db=db, settings=settings, clock=clock)
    report = await import_file(db, ingestor, kind="transactions", path=path, now=clock.now)
    assert (report.imported, report.alerts) == (2, 2)
    assert [e.split(":")[0] for e in report.errors] == ["line 3", "line 4", "line 5"]
    assert "line 3: amount: amount must be greater than 0" in report.errors
    again = await import_file(db, ingestor, kind="transactions", path=path, now=clock.now)
    assert (again.imported, again.unchanged, again.alerts) == (0, 2, 0)
    async with db.session() as session:
        alerts = sorted(
            a.alert_type.value for a in (await session.exec(select(AccountAlert))).all()
        )
    assert alerts == ["LARGE_TRANSACTION", "LOW_BALANCE"]


def test_import_command_on_a_fresh_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    env = alerts_env(database_url=url)
    path = tmp_path / "balances.csv"
    path.write_text(
        "eventId,accountNumber,balance,currency,asOf\nb1,404,10,MWK,2026-01-01T00:00Z\n"
    )
    result = subprocess.run(  # noqa: S603
        [ACCOUNT_ALERTS, "import", "balances", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "line 2: accountNumber: account 404 is not known" in result.stderr
    assert "1 rows, 0 imported, 0 already there, 1 refused" in result.stdout
    missing = tmp_path / "bad.csv"
    missing.write_text("eventId,balance\nb1,10\n")
    result = subprocess.run(  # noqa: S603
        [ACCOUNT_ALERTS, "import", "balances", str(missing)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "missing column(s) accountNumber, currency, asOf" in result.stderr
