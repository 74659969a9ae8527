"""The vocabulary of the account-alerts specification."""

from enum import StrEnum


class AlertType(StrEnum):
    LOW_BALANCE = "LOW_BALANCE"
    LARGE_TRANSACTION = "LARGE_TRANSACTION"
    SUSPICIOUS_ACTIVITY = "SUSPICIOUS_ACTIVITY"
    PAYMENT_DUE = "PAYMENT_DUE"
    ACCOUNT_LOGIN = "ACCOUNT_LOGIN"


class NotificationChannel(StrEnum):
    PUSH = "PUSH"
    SMS = "SMS"
    EMAIL = "EMAIL"


class AlertStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    ACKNOWLEDGED = "ACKNOWLEDGED"


class TransactionType(StrEnum):
    DEBIT = "DEBIT"
    CREDIT = "CREDIT"


class SuspicionReason(StrEnum):
    UNUSUAL_LOCATION = "UNUSUAL_LOCATION"
    MULTIPLE_FAILED_ATTEMPTS = "MULTIPLE_FAILED_ATTEMPTS"
    NEW_DEVICE_TRANSACTION = "NEW_DEVICE_TRANSACTION"
    # The risk team's rules decided BLOCK (domain.fraud_decision).
    RULE_MATCH = "RULE_MATCH"


class PaymentType(StrEnum):
    BILL = "BILL"
    LOAN = "LOAN"
    SUBSCRIPTION = "SUBSCRIPTION"
    RECURRING = "RECURRING"


class PaymentStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAID = "PAID"
    CANCELLED = "CANCELLED"


class PaymentReminderInterval(StrEnum):
    ONE_WEEK = "ONE_WEEK"
    THREE_DAYS = "THREE_DAYS"
    ONE_DAY = "ONE_DAY"

    @property
    def days(self) -> int:
        return {"ONE_WEEK": 7, "THREE_DAYS": 3, "ONE_DAY": 1}[self.value]


class LoginAlertMode(StrEnum):
    EVERY_LOGIN = "EVERY_LOGIN"
    NEW_DEVICE = "NEW_DEVICE"
    NEW_LOCATION = "NEW_LOCATION"


class LoginMethod(StrEnum):
    PASSWORD = "PASSWORD"  # noqa: S105 - a login method, not a secret
    BIOMETRIC = "BIOMETRIC"
    PASSKEY = "PASSKEY"
    OTP = "OTP"


class UserAction(StrEnum):
    DISMISSED = "DISMISSED"
    THIS_WAS_ME = "THIS_WAS_ME"
    REPORT_FRAUD = "REPORT_FRAUD"
    QUICK_PAY = "QUICK_PAY"


class ResolutionAction(StrEnum):
    CONFIRMED_LEGITIMATE = "CONFIRMED_LEGITIMATE"
    FRAUD_REPORTED = "FRAUD_REPORTED"
    ACCOUNT_LOCKED = "ACCOUNT_LOCKED"


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class Role(StrEnum):
    CUSTOMER = "customer"
    SERVICE = "service"
    ADMIN = "admin"


class AnomalyModelStatus(StrEnum):
    """ACTIVE scores and its score is used; SHADOW scores beside it, stored but unused."""

    ACTIVE = "ACTIVE"
    SHADOW = "SHADOW"
    INACTIVE = "INACTIVE"
