"""Phone numbers and email addresses a customer asks us to use."""

from __future__ import annotations

import re

import phonenumbers

EMAIL = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$"
)


class ContactError(ValueError):
    """A destination that cannot receive messages."""


def normalise_phone(raw: str, default_region: str = "MW") -> str:
    """E.164, e.g. +265991234567; a national number is read in ``default_region``."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ContactError(
            "not a phone number; use the international form, e.g. +265991234567"
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ContactError("this phone number is not valid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    value = raw.strip()
    if len(value) > 254 or not EMAIL.match(value):
        raise ContactError("not an email address")
    local, _, domain = value.partition("@")
    return f"{local}@{domain.lower()}"
