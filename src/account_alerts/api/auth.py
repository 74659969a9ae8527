"""Bearer-token verification: signature, algorithm, expiry, and the caller it names."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from account_alerts.config import Settings
from account_alerts.domain.enums import Role

EXPIRED = "the token has expired; sign in again"
# Mobile user ids are the specification's INTEGER, as GraphQL's Int.
MAX_MOBILE_USER_ID = 2**31 - 1


class InvalidToken(Exception):
    """The token cannot be trusted; the message says why, without echoing the token."""


@dataclass(frozen=True)
class Caller:
    subject: str
    role: Role
    auth_time: datetime | None

    @property
    def mobile_user_id(self) -> int:
        """Customers are identified by the token's subject, the bank's mobile user id."""
        return int(self.subject)

    def authenticated_recently(self, now: datetime, max_age: timedelta) -> bool:
        return self.auth_time is not None and now - self.auth_time <= max_age


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def verify_token(token: str, settings: Settings) -> Caller:
    return _verified(token, settings)[0]


def _verified(token: str, settings: Settings) -> tuple[Caller, float]:
    """The caller a trusted token names, and its expiry (Unix time)."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_verification_key,
            # Exactly the configured algorithm: never "none", never HS256 with a public key.
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway_seconds,
            options={"require": ["exp", "sub"], "verify_aud": settings.jwt_audience is not None},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken(EXPIRED) from exc
    except jwt.InvalidAlgorithmError as exc:
        raise InvalidToken("the token is signed with an algorithm that is not accepted") from exc
    except jwt.InvalidSignatureError as exc:
        raise InvalidToken("the token's signature is not valid") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(f"the token lacks the required claim {exc.claim!r}") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("the token is not valid") from exc

    try:
        role = Role(claims.get("role", Role.CUSTOMER.value))
    except ValueError as exc:
        raise InvalidToken("the token's role is not one of customer, service, admin") from exc
    subject = str(claims["sub"])
    if role is Role.CUSTOMER and not (
        subject.isascii() and subject.isdigit() and 0 < int(subject) <= MAX_MOBILE_USER_ID
    ):
        raise InvalidToken("a customer token's subject must be the numeric mobile user id")
    auth_time = claims.get("auth_time")
    authenticated_at = None
    if auth_time is not None:
        if isinstance(auth_time, bool) or not isinstance(auth_time, (int, float)):
            raise InvalidToken("the token's auth_time must be a Unix timestamp")
        try:
            authenticated_at = datetime.fromtimestamp(auth_time, UTC)
        except (OverflowError, ValueError, OSError) as exc:
            raise InvalidToken("the token's auth_time must be a Unix timestamp") from exc
    return Caller(subject=subject, role=role, auth_time=authenticated_at), float(claims["exp"])


class TokenVerifier:
    """verify_token, remembering the tokens it has lately found good: a bank service, or
    the mobile app, sends the same token with every request until it expires, and what
    its signature and claims say does not change in between. Only tokens found good are
    remembered (a refused one is checked again each time, and refused again); a
    remembered one is refused as expired once ``exp`` (plus the leeway) has passed, by
    the same clock PyJWT reads. Tokens are credentials the process held already; they
    are kept in memory only, at most ``size`` of them, the oldest forgotten first."""

    def __init__(
        self, settings: Settings, *, size: int = 4096, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.size = size
        self.clock = clock
        self._good: dict[str, tuple[Caller, float]] = {}

    def verify(self, token: str) -> Caller:
        return self.verify_until(token)[0]

    def verify_until(self, token: str) -> tuple[Caller, float]:
        """The caller, and the Unix time until which the token is accepted."""
        known = self._good.get(token)
        if known is not None:
            if self.clock() < known[1]:
                return known
            del self._good[token]
            raise InvalidToken(EXPIRED)
        caller, expires = _verified(token, self.settings)
        if len(self._good) >= self.size:
            del self._good[next(iter(self._good))]
        self._good[token] = (caller, expires + self.settings.jwt_leeway_seconds)
        return self._good[token]


def issue_token(
    settings: Settings,
    *,
    subject: str,
    role: Role = Role.CUSTOMER,
    lifetime: timedelta = timedelta(hours=1),
    now: datetime | None = None,
    private_key: str | None = None,
) -> str:
    """Sign a token the way the bank's auth service does (demo data, tests, benchmarks)."""
    now = now or datetime.now(UTC)
    claims = {
        "sub": subject,
        "role": role.value,
        "iat": int(now.timestamp()),
        "auth_time": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    key = private_key if private_key is not None else settings.jwt_secret.get_secret_value()
    return jwt.encode(claims, key, algorithm=settings.jwt_algorithm)
