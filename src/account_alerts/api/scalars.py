"""Money crosses the API as a decimal string, never a float."""

from decimal import Decimal

import strawberry

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
