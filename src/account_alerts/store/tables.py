"""Every table, imported in one place so the metadata is complete (migrations, tests)."""

from sqlmodel import SQLModel

from account_alerts.store.alerts import (
    AccountAlert,
    AccountAlertSettingsRow,
    AlertDelivery,
    SuspiciousActivity,
)
from account_alerts.store.audit import AuditEntry
from account_alerts.store.customers import Account, ChannelVerification, Device, MobileUser
from account_alerts.store.events import (
    BalanceSnapshot,
    IngestedEvent,
    LoginAttempt,
    TransactionRecord,
)
from account_alerts.store.payments import ScheduledPayment
from account_alerts.store.sms_consent import SmsOptOut, SmsReply
from account_alerts.store.webhook_tables import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

metadata = SQLModel.metadata

__all__ = [
    "Account",
    "AccountAlert",
    "AccountAlertSettingsRow",
    "AlertDelivery",
    "AuditEntry",
    "BalanceSnapshot",
    "ChannelVerification",
    "Device",
    "IngestedEvent",
    "LoginAttempt",
    "MobileUser",
    "ScheduledPayment",
    "SmsOptOut",
    "SmsReply",
    "SuspiciousActivity",
    "TransactionRecord",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "metadata",
]
