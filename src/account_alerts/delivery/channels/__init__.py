"""The ways an alert reaches a customer, each behind the same small interface."""
