"""The 08:00 payment-due reminders, once: `python -m jobs.payment_due [--now ISO-INSTANT]`.

The same as `account-alerts run-job payment-due`; APScheduler runs it every quarter hour
under `account-alerts serve` and `account-alerts scheduler`."""

from __future__ import annotations

import sys

from account_alerts.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["run-job", "payment-due", *sys.argv[1:]]))
