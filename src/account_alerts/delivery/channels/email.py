"""Email over SMTP (aiosmtplib): HTML and plain text from templates."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

import aiosmtplib

from account_alerts.delivery.channels.base import Channel, DeliveryError, OutgoingMessage, Receipt
from account_alerts.domain.enums import NotificationChannel


class SmtpEmail(Channel):
    channel = NotificationChannel.EMAIL
    provider = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None,
        password: str | None,
        starttls: bool,
        timeout: float,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.starttls, self.timeout = starttls, timeout

    async def send(self, message: OutgoingMessage) -> Receipt:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.title
        email["Message-ID"] = message_id = self._message_id(message)
        email.set_content(message.body)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        try:
            response, _ = await aiosmtplib.send(
                email,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.starttls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            code = exc.recipients[0].code if exc.recipients else 550
            raise DeliveryError(
                f"smtp {code}: recipient refused",
                transient=400 <= code < 500,
                stale_destination=code >= 500,
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(f"smtp {exc.code}", transient=400 <= exc.code < 500) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp unreachable: {type(exc).__name__}", transient=True) from exc
        if response:  # some recipients refused; ours is the only one
            raise DeliveryError("smtp: recipient refused", transient=False, stale_destination=True)
        return Receipt(provider_message_id=message_id)

    def _message_id(self, message: OutgoingMessage) -> str:
        """Fixed per delivery, so mail clients fold a repeat (a send in doubt, sent again)
        into the first; unique per message otherwise (a verification code)."""
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or "account-alerts"
        if message.delivery_key is None:
            return make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain)
        return f"<{message.delivery_key}@{domain}>"
