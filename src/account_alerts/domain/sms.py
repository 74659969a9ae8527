"""SMS length rules: GSM-7 or UCS-2, and what fits in two segments."""

from __future__ import annotations

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")  # each takes two septets
GSM7 = frozenset(GSM7_BASIC | GSM7_EXTENDED)
MAX_SEGMENTS = 2


def is_gsm7(text: str) -> bool:
    return GSM7.issuperset(text)


def units(text: str) -> int:
    """Septets for GSM-7, UTF-16 code units for UCS-2."""
    if is_gsm7(text):
        return len(text) + sum(text.count(ch) for ch in GSM7_EXTENDED)
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    single, multi = (160, 153) if is_gsm7(text) else (70, 67)
    length = units(text)
    if length <= single:
        return 1
    return -(-length // multi)


def fit(text: str, *, max_segments: int = MAX_SEGMENTS) -> str:
    """Shorten ``text`` to fit ``max_segments``, keeping its last sentence (the opt-out)."""
    if segments(text) <= max_segments:
        return text
    budget = (153 if is_gsm7(text) else 67) * max_segments
    head, _, tail = text.rpartition(". ")
    ending = " " + tail if head and units(tail) < budget // 2 else ""
    body = head if ending else text
    marker = "..."
    while body and units(body) + units(marker) + units(ending) > budget:
        body = body[:-1]
    return body.rstrip() + marker + ending
