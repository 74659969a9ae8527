"""Entry points of the scheduled jobs; their logic lives in account_alerts."""
