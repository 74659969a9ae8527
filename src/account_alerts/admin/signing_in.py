"""Signing in to the console: an admin token exchanged for a session cookie, CSRF tokens
for every form, signing out, and sessions that expire.

The cookie is HttpOnly and SameSite=Strict, Secure outside development, and scoped to
/admin. Every form carries the session's CSRF token; the sign-in form, before there is a
session, carries one that must match a short-lived cookie of its own (double submit)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from account_alerts.api.auth import InvalidToken, TokenVerifier
from account_alerts.config import Settings
from account_alerts.domain.enums import Role
from account_alerts.engine.actor import Actor
from account_alerts.store import admin_sessions, audit_trail
from account_alerts.store.database import Database

SESSION_COOKIE = "alerts_admin_session"
SIGN_IN_COOKIE = "alerts_admin_sign_in"
COOKIE_PATH = "/admin"
SIGN_IN_CSRF_SECONDS = 600
MAX_FORM_BYTES = 64 * 1024


class SignInRefused(Exception):
    """The token cannot open the console; the message says why, without the token."""


@dataclass(frozen=True)
class StaffSession:
    staff: str
    csrf_token: str
    token: str

    @property
    def actor(self) -> Actor:
        return Actor(role=Role.ADMIN, id=self.staff)


async def read_form(request: Request) -> dict[str, str]:
    """An x-www-form-urlencoded body, as the console's forms post it."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    return dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))


def csrf_matches(form: dict[str, str], request: Request, expected: str) -> bool:
    given = form.get("csrf_token") or request.headers.get("x-csrf-token") or ""
    return secrets.compare_digest(given.encode(), expected.encode())


def _cookie(response: Response, settings: Settings, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        secure=settings.is_production,
        samesite="strict",
    )


def sign_in_token() -> str:
    return secrets.token_urlsafe(32)


def remember_sign_in_token(response: Response, settings: Settings, token: str) -> None:
    """The sign-in form's CSRF token, also kept in a cookie the form must match."""
    _cookie(response, settings, SIGN_IN_COOKIE, token, SIGN_IN_CSRF_SECONDS)


def sign_in_csrf_matches(request: Request, form: dict[str, str]) -> bool:
    expected = request.cookies.get(SIGN_IN_COOKIE)
    return bool(expected) and csrf_matches(form, request, expected or "")


async def sign_in(
    db: Database,
    tokens: TokenVerifier,
    settings: Settings,
    *,
    bearer: str,
    now: datetime,
    response: Response,
) -> StaffSession:
    """Check the bank's admin token and open a session for its subject (audited)."""
    try:
        caller = tokens.verify(bearer.strip())
    except InvalidToken as exc:
        raise SignInRefused(str(exc)) from exc
    if caller.role is not Role.ADMIN:
        raise SignInRefused(
            f"a {caller.role.value} token cannot open the console: sign in with a staff "
            "member's admin token"
        )
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    lifetime = timedelta(seconds=settings.admin_session_seconds)
    async with db.transaction() as session:
        session.add(
            admin_sessions.AdminSession(
                token_hash=admin_sessions.token_hash(token),
                staff=caller.subject,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + lifetime,
            )
        )
        audit_trail.record(
            session,
            actor_role=Role.ADMIN.value,
            actor_id=caller.subject,
            action="console.signed_in",
            occurred_at=now,
            details={"expiresAt": (now + lifetime).isoformat()},
        )
    _cookie(response, settings, SESSION_COOKIE, token, settings.admin_session_seconds)
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
    return StaffSession(staff=caller.subject, csrf_token=csrf, token=token)


async def current(request: Request, db: Database, now: datetime) -> StaffSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    async with db.session() as session:
        found = await admin_sessions.active(session, token, now)
    if found is None:
        return None
    return StaffSession(staff=found.staff, csrf_token=found.csrf_token, token=token)


async def sign_out(db: Database, staff: StaffSession, *, now: datetime, response: Response) -> None:
    async with db.transaction() as session:
        await admin_sessions.end(session, staff.token, now)
        audit_trail.record(
            session,
            actor_role=Role.ADMIN.value,
            actor_id=staff.staff,
            action="console.signed_out",
            occurred_at=now,
        )
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
