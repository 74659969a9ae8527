"""Verifying a phone number or email address with a one-time code sent to it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.delivery.channels.base import Channel, DeliveryError, OutgoingMessage
from account_alerts.domain.contacts import ContactError, normalise_email, normalise_phone
from account_alerts.domain.enums import NotificationChannel
from account_alerts.domain.masking import mask_email, mask_phone
from account_alerts.engine.actor import Actor
from account_alerts.errors import BadUserInput, RateLimited
from account_alerts.store import audit_trail, sms_consent
from account_alerts.store.base import table_of
from account_alerts.store.customers import ChannelVerification, MobileUser
from account_alerts.store.database import Database

CODE_LIFETIME = timedelta(minutes=10)
MAX_TRIES = 5
STARTS_PER_HOUR = 5


class VerificationUnavailable(Exception):
    """The code could not be sent right now."""


def _hash(code: str, verification_key: str, salt: str) -> str:
    return hmac.new(
        verification_key.encode(), f"{salt}:{code}".encode(), hashlib.sha256
    ).hexdigest()


def _normalise(channel: NotificationChannel, destination: str) -> str:
    try:
        if channel is NotificationChannel.SMS:
            return normalise_phone(destination)
        if channel is NotificationChannel.EMAIL:
            return normalise_email(destination)
    except ContactError as exc:
        raise BadUserInput(str(exc), field="destination") from exc
    raise BadUserInput(
        "only SMS and EMAIL are verified; register a push device instead", field="channel"
    )


def _masked(channel: NotificationChannel, destination: str) -> str:
    return (
        mask_phone(destination) if channel is NotificationChannel.SMS else mask_email(destination)
    )


async def start_verification(
    db: Database,
    *,
    actor: Actor,
    mobile_user_id: int,
    channel: NotificationChannel,
    destination: str,
    sender: Channel,
    verification_key: str,
    now: datetime,
) -> None:
    address = _normalise(channel, destination)
    code = f"{secrets.randbelow(1_000_000):06d}"
    salt = secrets.token_hex(8)
    async with db.transaction() as session:
        if channel is NotificationChannel.SMS and await sms_consent.opted_out_numbers(
            session, [address]
        ):
            # Only the number itself lifts its opt-out; no code could reach it anyway.
            raise BadUserInput(
                "this number has opted out of SMS: text START from it to the alerts number, "
                "then try again",
                field="destination",
            )
        if await session.get(MobileUser, mobile_user_id) is None:
            session.add(MobileUser(id=mobile_user_id, created_at=now, updated_at=now))
            await session.flush()
        started = (
            await session.exec(
                select(sa.func.count())
                .select_from(ChannelVerification)
                .where(
                    col(ChannelVerification.mobile_user_id) == mobile_user_id,
                    col(ChannelVerification.created_at) > now - timedelta(hours=1),
                )
            )
        ).one()
        if started >= STARTS_PER_HOUR:
            raise RateLimited("too many verification codes requested; try again in an hour")
        # A new code replaces any earlier one for this channel.
        table = table_of(ChannelVerification)
        await session.exec(
            sa.update(table)
            .where(
                table.c.mobile_user_id == mobile_user_id,
                table.c.channel == channel,
                table.c.verified_at.is_(None),
            )
            .values(expires_at=now)
        )
        session.add(
            ChannelVerification(
                mobile_user_id=mobile_user_id,
                channel=channel,
                destination=address,
                code_hash=f"{salt}${_hash(code, verification_key, salt)}",
                expires_at=now + CODE_LIFETIME,
                created_at=now,
            )
        )
        audit_trail.record(
            session,
            actor_role=actor.role.value,
            actor_id=actor.id,
            action="channel.verification_started",
            occurred_at=now,
            mobile_user_id=mobile_user_id,
            subject_type="channel",
            subject_id=channel.value,
            details={"destination": _masked(channel, address)},
        )
        # Sent before commit: if the code cannot go out, no verification is left pending.
        try:
            await sender.send(
                OutgoingMessage(
                    channel=channel,
                    to=address,
                    alert_id=None,
                    alert_type=None,
                    title="Your verification code",
                    body=f"Your account alerts verification code is {code}. "
                    "It expires in 10 minutes. Never share it.",
                )
            )
        except DeliveryError as exc:
            raise VerificationUnavailable(exc.reason) from exc


async def confirm_verification(
    db: Database,
    *,
    actor: Actor,
    mobile_user_id: int,
    channel: NotificationChannel,
    code: str,
    verification_key: str,
    now: datetime,
) -> None:
    wrong: str | None = None
    async with db.transaction() as session:
        pending = (
            await session.exec(
                select(ChannelVerification)
                .where(
                    col(ChannelVerification.mobile_user_id) == mobile_user_id,
                    col(ChannelVerification.channel) == channel,
                    col(ChannelVerification.verified_at).is_(None),
                )
                .order_by(col(ChannelVerification.id).desc())
                .with_for_update()
            )
        ).first()
        if pending is None:
            raise BadUserInput("no code was requested for this channel; request one", field="code")
        if pending.expires_at <= now:
            raise BadUserInput("this code has expired; request a new one", field="code")
        if pending.attempts >= MAX_TRIES:
            raise BadUserInput("too many wrong codes; request a new one", field="code")
        salt, _, digest = pending.code_hash.partition("$")
        if not hmac.compare_digest(digest, _hash(code.strip(), verification_key, salt)):
            # The failed try is kept (the transaction commits); the error follows below.
            pending.attempts += 1
            session.add(pending)
            left = MAX_TRIES - pending.attempts
            wrong = (
                f"wrong code; {left} {'try' if left == 1 else 'tries'} left"
                if left
                else "wrong code; request a new one"
            )
            audit_trail.record(
                session,
                actor_role=actor.role.value,
                actor_id=actor.id,
                action="channel.verification_failed",
                occurred_at=now,
                mobile_user_id=mobile_user_id,
                subject_type="channel",
                subject_id=channel.value,
                details={"attempts": pending.attempts},
            )
        else:
            _verified(session, pending, actor=actor, mobile_user_id=mobile_user_id, now=now)
            user = await session.get(MobileUser, mobile_user_id)
            assert user is not None
            if channel is NotificationChannel.SMS:
                user.phone, user.phone_verified_at = pending.destination, now
            else:
                user.email, user.email_verified_at = pending.destination, now
            user.updated_at = now
            session.add(user)
    if wrong is not None:
        raise BadUserInput(wrong, field="code")


def _verified(
    session: AsyncSession,
    pending: ChannelVerification,
    *,
    actor: Actor,
    mobile_user_id: int,
    now: datetime,
) -> None:
    pending.verified_at = now
    session.add(pending)
    audit_trail.record(
        session,
        actor_role=actor.role.value,
        actor_id=actor.id,
        action="channel.verified",
        occurred_at=now,
        mobile_user_id=mobile_user_id,
        subject_type="channel",
        subject_id=pending.channel.value,
        details={"destination": _masked(pending.channel, pending.destination)},
    )
