"""Signed webhooks to the bank's other systems (DESIGN 5.3), by the Standard Webhooks
specification."""
