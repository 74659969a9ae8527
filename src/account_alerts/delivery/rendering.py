"""An alert as each channel shows it: a push notification, a short SMS, an email."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from jinja2 import Environment, PackageLoader, select_autoescape

from account_alerts.delivery.channels.base import OutgoingMessage
from account_alerts.domain.alert_actions import actions_for
from account_alerts.domain.decisions import SECURITY_ALERTS
from account_alerts.domain.enums import AlertType, NotificationChannel, UserAction
from account_alerts.domain.in_doubt import collapse_identity
from account_alerts.domain.masking import mask_account_number
from account_alerts.domain.money import format_money
from account_alerts.domain.sms import fit
from account_alerts.domain.sms_keywords import SMS_FOOTER

ACTION_LABELS = {
    UserAction.THIS_WAS_ME: "This was me",
    UserAction.REPORT_FRAUD: "Not you? Report fraud",
    UserAction.QUICK_PAY: "Pay now",
    UserAction.DISMISSED: "Dismiss",
}


class RenderedAlert(Protocol):
    """What rendering reads of an alert: a stored row or the worker's claimed copy."""

    @property
    def id(self) -> int | None: ...
    @property
    def alert_type(self) -> AlertType: ...
    @property
    def alert_data(self) -> dict[str, Any]: ...
    @property
    def account_number(self) -> str | None: ...
    @property
    def title(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def is_test(self) -> bool: ...
    @property
    def triggered_at(self) -> datetime: ...


_templates = Environment(
    loader=PackageLoader("account_alerts.delivery", "templates"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)


def _money(data: dict[str, Any], key: str) -> str:
    return format_money(Decimal(str(data[key])), data["currency"])


def sms_text(alert: RenderedAlert) -> str:
    data = alert.alert_data
    if alert.alert_type is AlertType.LOW_BALANCE:
        account = mask_account_number(alert.account_number or "")
        text = (
            f"Alert: Your account {account} balance is below {_money(data, 'threshold')}. "
            f"Current: {_money(data, 'currentBalance')}. {SMS_FOOTER}"
        )
    else:
        text = f"Alert: {alert.message} {SMS_FOOTER}"
    return fit(text)


def _facts(alert: RenderedAlert) -> list[tuple[str, str]]:
    data = alert.alert_data
    facts: list[tuple[str, str]] = []
    if alert.account_number:
        facts.append(("Account", mask_account_number(alert.account_number)))
    if alert.alert_type is AlertType.LARGE_TRANSACTION:
        facts += [
            ("Amount", _money(data, "transactionAmount")),
            ("Type", data["transactionType"].title()),
            ("Reference", data.get("transactionReference") or "-"),
        ]
    elif alert.alert_type is AlertType.LOW_BALANCE:
        facts.append(("Balance", _money(data, "currentBalance")))
    elif alert.alert_type is AlertType.PAYMENT_DUE:
        facts += [("Amount due", _money(data, "amountDue")), ("Due", str(data["dueDate"])[:10])]
    elif alert.alert_type in (AlertType.ACCOUNT_LOGIN, AlertType.SUSPICIOUS_ACTIVITY):
        location = data.get("location") or {}
        if data.get("deviceName") or data.get("deviceId"):
            facts.append(("Device", str(data.get("deviceName") or data.get("deviceId"))))
        if location.get("label"):
            facts.append(("Place", str(location["label"])))
    facts.append(("When", alert.triggered_at.strftime("%d %b %Y %H:%M UTC")))
    return facts


def render(
    alert: RenderedAlert, channel: NotificationChannel, to: str, *, public_url: str
) -> OutgoingMessage:
    assert alert.id is not None
    actions = [a for a in actions_for(alert.alert_type) if a is not UserAction.DISMISSED]
    data = {
        "alertId": str(alert.id),
        "alertType": alert.alert_type.value,
        "actions": ",".join(a.value for a in actions),
        "category": f"ALERT_{alert.alert_type.value}",
        "isTest": "true" if alert.is_test else "false",
    }
    key = collapse_identity(alert.id, channel)
    if channel is NotificationChannel.SMS:
        return OutgoingMessage(
            channel,
            to,
            alert.id,
            alert.alert_type,
            alert.title,
            sms_text(alert),
            data,
            delivery_key=key,
        )
    if channel is NotificationChannel.EMAIL:
        links = [
            {
                "name": action.value,
                "label": ACTION_LABELS[action],
                "url": f"{public_url.rstrip('/')}/app/alerts/{alert.id}?action={action.value}",
            }
            for action in actions
        ]
        context = {
            "title": alert.title,
            "message": alert.message,
            "facts": _facts(alert),
            "actions": links,
            "security": alert.alert_type in SECURITY_ALERTS,
        }
        return OutgoingMessage(
            channel,
            to,
            alert.id,
            alert.alert_type,
            alert.title,
            _templates.get_template("alert_email.txt").render(context),
            data,
            html=_templates.get_template("alert_email.html").render(context),
            delivery_key=key,
        )
    return OutgoingMessage(
        channel, to, alert.id, alert.alert_type, alert.title, alert.message, data, delivery_key=key
    )
