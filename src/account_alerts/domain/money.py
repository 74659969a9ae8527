"""Money is ``Decimal`` end to end, stored as NUMERIC(19,4)."""

from decimal import Decimal, InvalidOperation

MONEY_PLACES = 4
# NUMERIC(19,4) holds 15 integer digits; thresholds stay well inside that.
MAX_THRESHOLD = Decimal("1000000000000")


class MoneyError(ValueError):
    """A value that cannot be an amount of money."""


def parse_money(raw: object) -> Decimal:
    """Accept a decimal string or integer; refuse floats, which are inexact."""
    if isinstance(raw, (bool, float)):
        raise MoneyError('amounts must be given as a decimal string, e.g. "5000.00"')
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except InvalidOperation as exc:
        raise MoneyError(f"{raw!r} is not a decimal amount") from exc
    if not value.is_finite():
        raise MoneyError("amounts must be finite")
    return value


def to_money(value: Decimal) -> Decimal:
    """The stored scale: four decimal places."""
    return value.quantize(Decimal(1).scaleb(-MONEY_PLACES))


def decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def check_threshold(value: Decimal, *, field: str) -> None:
    if value <= 0:
        raise MoneyError(f"{field} must be greater than 0")
    if decimal_places(value) > MONEY_PLACES:
        raise MoneyError(f"{field} may have at most {MONEY_PLACES} decimal places")
    if value > MAX_THRESHOLD:
        raise MoneyError(f"{field} must be at most {MAX_THRESHOLD:,}")


def format_money(value: Decimal, currency: str) -> str:
    return f"{currency} {value.quantize(Decimal('0.01')):,}"
