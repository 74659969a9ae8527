"""Every table, imported in one place so the metadata is complete (migrations, tests)."""

from sqlmodel import SQLModel

from account_alerts.store.alerts import (
    AccountAlert,
    AccountAlertSettingsRow,
    AlertDelivery,
    SuspiciousActivity,
)
from account_alerts.store.anomaly_models import AnomalyModelRecord
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

metadata = SQLModel.metadata

__all__ = [
    "Account",
    "AccountAlert",
    "AccountAlertSettingsRow",
    "AlertDelivery",
    "AnomalyModelRecord",
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
    "metadata",
]
