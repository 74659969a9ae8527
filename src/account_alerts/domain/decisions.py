"""What the rules decide: alerts to raise, alerts held back, checks that could not run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from account_alerts.domain.enums import AlertType, NotificationChannel, SuspicionReason

# Security alerts go out at once, ignore quiet hours and are never rate-limited.
SECURITY_ALERTS = frozenset(
    {AlertType.SUSPICIOUS_ACTIVITY, AlertType.ACCOUNT_LOGIN, AlertType.LARGE_TRANSACTION}
)


@dataclass(frozen=True)
class Detection:
    """One suspicious pattern, for the suspicious-activity log."""

    reason: SuspicionReason
    details: dict[str, Any]


@dataclass(frozen=True)
class RaiseAlert:
    alert_type: AlertType
    account_number: str | None
    triggered_at: datetime
    data: dict[str, Any]
    channels: tuple[NotificationChannel, ...]
    detections: tuple[Detection, ...] = ()
    risk_score: int | None = None
    risk_components: dict[str, int] = field(default_factory=dict)

    @property
    def is_security(self) -> bool:
        return self.alert_type in SECURITY_ALERTS


@dataclass(frozen=True)
class Suppressed:
    """A rule's condition held but no alert was raised; the reason is kept."""

    alert_type: AlertType
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SkippedCheck:
    """A check that could not be judged, e.g. an event without a location."""

    check: str
    reason: str


@dataclass
class Verdict:
    alerts: list[RaiseAlert] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)
    skipped: list[SkippedCheck] = field(default_factory=list)

    def extend(self, other: Verdict) -> None:
        self.alerts.extend(other.alerts)
        self.suppressed.extend(other.suppressed)
        self.skipped.extend(other.skipped)

    def outcome(self) -> dict[str, Any]:
        return {
            "suppressed": [
                {"alertType": s.alert_type.value, "reason": s.reason, **s.details}
                for s in self.suppressed
            ],
            "skippedChecks": [{"check": s.check, "reason": s.reason} for s in self.skipped],
        }
