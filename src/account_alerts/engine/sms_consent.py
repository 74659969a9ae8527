"""Customers' replies to alert texts: STOP and its synonyms opt the number out, START
opts it back in, HELP is answered; anything else is kept for the customer's record."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select

from account_alerts.domain.contacts import ContactError, normalise_phone
from account_alerts.domain.sms_keywords import SmsKeyword, keyword_of
from account_alerts.store import sms_consent
from account_alerts.store.customers import MobileUser
from account_alerts.store.database import Database
from account_alerts.store.sms_consent import SmsReply


def _phone(raw: str) -> str:
    # Twilio sends E.164 already; a short code or alphanumeric sender is kept as given.
    try:
        return normalise_phone(raw)
    except ContactError:
        return raw.strip()[:20]


async def receive_reply(
    db: Database,
    *,
    message_sid: str,
    from_phone: str,
    to_phone: str | None,
    body: str,
    now: datetime,
) -> SmsKeyword | None:
    """Store the reply and act on its keyword; a reply Twilio posts again (same message
    SID) is answered the same and changes nothing twice."""
    keyword = keyword_of(body)
    phone = _phone(from_phone)
    async with db.transaction() as session:
        seen = (
            await session.exec(select(SmsReply.id).where(col(SmsReply.message_sid) == message_sid))
        ).first()
        if seen is not None:
            return keyword
        session.add(
            SmsReply(
                message_sid=message_sid,
                from_phone=phone,
                to_phone=to_phone,
                body=body,
                keyword=keyword.value if keyword else None,
                received_at=now,
            )
        )
        source = f"reply {' '.join(body.split()).upper()}"[:64]
        if keyword is SmsKeyword.OPT_OUT:
            await sms_consent.record_opt_out(
                session, phone=phone, source=source, by_customer=True, now=now
            )
        elif keyword is SmsKeyword.OPT_IN:
            await sms_consent.record_opt_in(session, phone=phone, source=source, now=now)
    return keyword


async def sms_opted_out(db: Database, *, mobile_user_id: int) -> bool:
    """Whether the customer's phone number has opted out of SMS."""
    async with db.session() as session:
        user = await session.get(MobileUser, mobile_user_id)
        if user is None or user.phone is None:
            return False
        return bool(await sms_consent.opted_out_numbers(session, [user.phone]))
