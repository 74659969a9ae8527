"""What the risk team sees of one customer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from account_alerts.api.admin import SuspiciousActivityEntry
from account_alerts.api.types.cases import ReviewCaseNode
from account_alerts.api.types.settings import AccountAlertSettings
from account_alerts.domain.enums import NotificationChannel
from account_alerts.domain.masking import mask_email, mask_phone
from account_alerts.engine.customer_views import Overview


@strawberry.type
class CustomerAccount:
    account_number: str
    currency: str
    balance: Decimal | None
    balance_as_of: datetime | None
    locked: bool
    settings: AccountAlertSettings


@strawberry.type(description="A contact channel; the destination is shown masked.")
class CustomerChannel:
    channel: NotificationChannel
    destination: str | None
    verified: bool
    verified_at: datetime | None
    opted_out: bool = strawberry.field(description="SMS only: the number replied STOP.")
    registered_devices: int = strawberry.field(description="PUSH only: active push tokens.")


@strawberry.type
class CustomerEvent:
    event_id: str
    kind: str
    received_at: datetime
    alert_ids: list[strawberry.ID]


@strawberry.type
class CustomerOverview:
    mobile_user_id: int
    locked: bool
    locked_at: datetime | None
    locked_reason: str | None
    accounts: list[CustomerAccount]
    channels: list[CustomerChannel]
    recent_events: list[CustomerEvent]
    suspicious_activities: list[SuspiciousActivityEntry]
    review_cases: list[ReviewCaseNode]

    @classmethod
    def build(cls, view: Overview, *, now: datetime) -> CustomerOverview:
        user = view.user
        return cls(
            mobile_user_id=user.id,
            locked=user.locked,
            locked_at=user.locked_at,
            locked_reason=user.locked_reason,
            accounts=[
                CustomerAccount(
                    account_number=item.account.account_number,
                    currency=item.account.currency,
                    balance=item.account.balance,
                    balance_as_of=item.account.balance_as_of,
                    locked=item.account.locked,
                    settings=AccountAlertSettings.build(
                        item.account.account_number,
                        item.preferences,
                        item.settings_updated_at,
                        mobile_user_id=user.id,
                    ),
                )
                for item in view.accounts
            ],
            channels=[
                CustomerChannel(
                    channel=NotificationChannel.EMAIL,
                    destination=mask_email(user.email) if user.email else None,
                    verified=user.email_verified_at is not None,
                    verified_at=user.email_verified_at,
                    opted_out=False,
                    registered_devices=0,
                ),
                CustomerChannel(
                    channel=NotificationChannel.SMS,
                    destination=mask_phone(user.phone) if user.phone else None,
                    verified=user.phone_verified_at is not None,
                    verified_at=user.phone_verified_at,
                    opted_out=view.sms_opted_out,
                    registered_devices=0,
                ),
                CustomerChannel(
                    channel=NotificationChannel.PUSH,
                    destination=None,
                    verified=view.push_devices > 0,
                    verified_at=None,
                    opted_out=False,
                    registered_devices=view.push_devices,
                ),
            ],
            recent_events=[
                CustomerEvent(
                    event_id=event.event_id,
                    kind=event.kind,
                    received_at=event.received_at,
                    alert_ids=[strawberry.ID(str(alert_id)) for alert_id in event.alert_ids],
                )
                for event in view.recent_events
            ],
            suspicious_activities=[
                SuspiciousActivityEntry.build(entry, user.locked) for entry in view.suspicious
            ],
            review_cases=[
                ReviewCaseNode.build(case, customer_locked=user.locked, timeline=[], now=now)
                for case in view.cases
            ],
        )
