"""Who may call what: customers, the bank's services, the risk team."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from account_alerts.api.context import Info
from account_alerts.domain.enums import Role
from account_alerts.errors import Forbidden, Unauthenticated


def _require(info: Info, role: Role) -> None:
    context = info.context
    if context.caller is None:
        raise Unauthenticated(context.auth_error or "sign in: send 'Authorization: Bearer <token>'")
    if context.caller.role is not role:
        raise Forbidden(f"this operation is for the {role.value} role")


class IsCustomer(BasePermission):
    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        _require(info, Role.CUSTOMER)
        return True


class IsService(BasePermission):
    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        _require(info, Role.SERVICE)
        return True


class IsAdmin(BasePermission):
    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        _require(info, Role.ADMIN)
        return True


class IsCustomerOrAdmin(BasePermission):
    """A customer for themselves, or the risk team for any customer (the resolver says
    which customer)."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        context = info.context
        if context.caller is not None and context.caller.role is Role.ADMIN:
            return True
        _require(info, Role.CUSTOMER)
        return True
