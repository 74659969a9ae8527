"""Money crosses the API as a decimal string, never a float; times as ISO 8601 text."""

import re
from datetime import datetime
from decimal import Decimal

import dateutil.parser
import strawberry
from strawberry.exceptions import StrawberryInputCoercionError

from account_alerts.domain.money import MoneyError, parse_money


def _parse(value: object) -> Decimal:
    try:
        return parse_money(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from exc


DecimalScalar = strawberry.scalar(
    name="Decimal",
    description='An exact decimal amount, as a string: "5000.00"',
    serialize=lambda value: format(value, "f"),
    parse_value=_parse,
)


# The form the bank's services send: date, time, up to six decimals of a second, and Z or
# an offset. The standard library reads it in a fifth of the time dateutil takes, which had
# been a tenth of the server's time for a batch of transactions.
_USUAL_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)")


def parse_instant(text: str) -> datetime:
    """What Strawberry's DateTime reads (dateutil's ``isoparse``): the usual form by the
    standard library, which gives the same time and offset for it; anything else, and
    anything it refuses (24:00, an offset of a day), by dateutil itself."""
    if _USUAL_INSTANT.fullmatch(text):
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    parsed: datetime = dateutil.parser.isoparse(text)
    return parsed


def _parse_date_time(value: object) -> datetime:
    # Refused as Strawberry's own DateTime refuses it, with the same messages.
    if not isinstance(value, str):
        raise StrawberryInputCoercionError(
            f'Value cannot represent a DateTime: "{value}". Expected a string.'
        )
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise StrawberryInputCoercionError(
            f'Value cannot represent a DateTime: "{value}". {exc}'
        ) from None


DateTimeScalar = strawberry.scalar(
    name="DateTime",
    description="Date with time (isoformat)",
    serialize=datetime.isoformat,
    parse_value=_parse_date_time,
)
