"""The DateTime scalar reads what Strawberry's own reads, as it reads it: the same time and
offset, or the same refusal with the same message."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import pytest
from graphql import GraphQLScalarType
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DateTimeDefinition

from account_alerts.api.scalars import DateTimeScalar, parse_instant
from account_alerts.api.schema import build_schema
from account_alerts.config import Settings

OURS = DateTimeScalar.parse_value
STRAWBERRY = DateTimeDefinition.parse_value


def _read(parse: Any, value: object) -> tuple[str, Any]:
    try:
        parsed = parse(value)
    except StrawberryInputCoercionError as exc:
        return "refused", str(exc)
    assert isinstance(parsed, datetime)
    return "read", (parsed, parsed.utcoffset(), parsed.isoformat())


def _texts(rng: random.Random) -> list[str]:
    """Times as services send them, with every part at its edges now and then, and texts
    a little off the usual form (other separators, 24:00, long fractions, basic format)."""
    texts = []
    for _ in range(3000):
        year = rng.choice([1, 1970, 2026, 9999, rng.randint(1000, 9999)])
        month = rng.choice([1, 2, 12, 0, 13, rng.randint(1, 12)])
        day = rng.choice([1, 28, 29, 30, 31, 0, 32, rng.randint(1, 28)])
        hour = rng.choice([0, 23, 24, rng.randint(0, 23)])
        minute, second = rng.choice([0, 59, 60, rng.randint(0, 59)]), rng.choice([0, 59, 60])
        fraction = rng.choice(["", "", ".5", ".123456", ".1234567", ".000001", "."])
        zone = rng.choice(
            [
                "Z",
                "Z",
                "+02:00",
                "-05:30",
                "+00:00",
                "-00:00",
                "+23:59",
                "+24:00",
                "",
                "+0200",
                "+02",
                "z",
                " Z",
            ]
        )
        separator = rng.choice(["T"] * 8 + [" ", "t", "_"])
        texts.append(
            f"{year:04d}-{month:02d}-{day:02d}{separator}{hour:02d}:{minute:02d}:{second:02d}"
            f"{fraction}{zone}"
        )
    return [*texts, "20261204T100000Z", "2026-12-04", "2026-12-04T10:00", "", "yesterday"]


@pytest.mark.parametrize("seed", range(3))
def test_every_text_reads_as_strawberrys_own_date_time_reads_it(seed: int) -> None:
    texts = _texts(random.Random(seed))
    results = [(_read(OURS, text), _read(STRAWBERRY, text)) for text in texts]
    assert [
        text for text, (ours, theirs) in zip(texts, results, strict=True) if ours != theirs
    ] == []
    # Both kinds of answer were asked for.
    assert {ours[0] for ours, _ in results} == {"read", "refused"}


@pytest.mark.parametrize("value", [20261204, None, 1.5, ["2026-12-04T10:00:00Z"]])
def test_a_value_that_is_not_text_is_refused_as_strawberry_refuses_it(value: object) -> None:
    assert _read(OURS, value) == _read(STRAWBERRY, value)


def test_the_schema_reads_the_usual_form_with_the_standard_librarys_utc() -> None:
    """The schema's DateTime is this one; a UTC time comes with ``datetime.UTC``, which
    the checks compare cheaply."""
    date_time = build_schema(Settings())._schema.type_map["DateTime"]
    assert isinstance(date_time, GraphQLScalarType)
    parsed = date_time.parse_value("2026-12-04T10:00:00.25Z")
    assert parsed == parse_instant("2026-12-04T10:00:00.25Z")
    assert parsed.tzinfo is datetime.fromisoformat("2026-01-01T00:00:00+00:00").tzinfo
    assert parsed.microsecond == 250_000
