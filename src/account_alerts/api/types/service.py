"""Inputs and results of the bank services' mutations."""

from __future__ import annotations

import strawberry

from account_alerts.api.types.alerts import AccountAlertView


@strawberry.input
class AccountInput:
    account_number: str
    mobile_user_id: int
    currency: str
    time_zone: str | None = None


@strawberry.type
class EventResult:
    accepted: bool
    duplicate: bool
    alerts: list[AccountAlertView]
