"""Every table, imported in one place so the metadata is complete (migrations, tests)."""

from sqlmodel import SQLModel

from account_alerts.store.admin_sessions import AdminSession
from account_alerts.store.alerts import (
    AccountAlert,
    AccountAlertSettingsRow,
    AlertDelivery,
    SuspiciousActivity,
)
from account_alerts.store.anomaly_models import AnomalyModelRecord
from account_alerts.store.audit import AuditEntry
from account_alerts.store.cases import CaseTimelineEntry, ReviewCase
from account_alerts.store.customers import Account, ChannelVerification, Device, MobileUser
from account_alerts.store.events import (
    BalanceSnapshot,
    IngestedEvent,
    LoginAttempt,
    TransactionRecord,
)
from account_alerts.store.fraud_tables import (
    Backtest,
    DecisionThresholds,
    FraudRule,
    FraudRuleHit,
    FraudRuleVersion,
    FraudSnooze,
)
from account_alerts.store.payments import ScheduledPayment
from account_alerts.store.sms_consent import SmsOptOut, SmsReply
from account_alerts.store.team_notifications import CaseNotification
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
    "AdminSession",
    "AlertDelivery",
    "AnomalyModelRecord",
    "AuditEntry",
    "Backtest",
    "BalanceSnapshot",
    "CaseNotification",
    "CaseTimelineEntry",
    "ChannelVerification",
    "DecisionThresholds",
    "Device",
    "FraudRule",
    "FraudRuleHit",
    "FraudRuleVersion",
    "FraudSnooze",
    "IngestedEvent",
    "LoginAttempt",
    "MobileUser",
    "ReviewCase",
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
