"""Errors a caller can act on, each with the GraphQL `extensions.code` it is reported under."""

from __future__ import annotations

from typing import Any, ClassVar


class ApiError(Exception):
    """Raised by resolvers; graphql-core copies ``extensions`` onto the response error."""

    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": self.code, **extra}
        if field is not None:
            self.extensions["field"] = field


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class NotFound(ApiError):
    code = "NOT_FOUND"


class BadUserInput(ApiError):
    code = "BAD_USER_INPUT"


class ReauthRequired(ApiError):
    code = "REAUTH_REQUIRED"


class RateLimited(ApiError):
    code = "RATE_LIMITED"


class ServiceUnavailable(ApiError):
    """A provider we depend on is failing; the request changed nothing and may be retried."""

    code = "SERVICE_UNAVAILABLE"


class Conflict(ApiError):
    """The thing changed under the caller (another analyst got there first); nothing was
    changed by this request."""

    code = "CONFLICT"
