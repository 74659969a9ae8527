"""The anomaly model's training, once:
`python -m jobs.train_anomaly_model [--now ISO-INSTANT] [--seed N]`.

The same as `account-alerts run-job train-anomaly-model`; APScheduler runs it daily at
02:30 UTC under `account-alerts serve` and `account-alerts scheduler`."""

from __future__ import annotations

import sys

from account_alerts.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["run-job", "train-anomaly-model", *sys.argv[1:]]))
