"""The carrier-standard SMS keywords a customer may text back to an alert."""

from __future__ import annotations

from enum import StrEnum


class SmsKeyword(StrEnum):
    OPT_OUT = "OPT_OUT"
    OPT_IN = "OPT_IN"
    HELP = "HELP"


KEYWORDS: dict[str, SmsKeyword] = {
    **dict.fromkeys(
        ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), SmsKeyword.OPT_OUT
    ),
    **dict.fromkeys(("START", "YES", "UNSTOP"), SmsKeyword.OPT_IN),
    "HELP": SmsKeyword.HELP,
}

# The last sentence of every alert SMS: it names only keywords that work.
SMS_FOOTER = "Reply STOP to opt out, HELP for help."


def keyword_of(body: str) -> SmsKeyword | None:
    """The keyword a reply is, ignoring case and spaces ("Stop", " s t o p "); None for
    any other text."""
    return KEYWORDS.get("".join(body.split()).upper())
