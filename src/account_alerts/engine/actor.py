"""Who did something, as the audit log records it."""

from dataclasses import dataclass

from account_alerts.domain.enums import Role


@dataclass(frozen=True)
class Actor:
    role: Role
    id: str
