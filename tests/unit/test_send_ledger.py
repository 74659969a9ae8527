"""Start marks and outcomes are written together: the write that records the sends that
came back marks the sends taking their places, never more than ``in_flight`` marked and
unrecorded per channel. Outcomes are written at once when a wave of sends has come back,
else a few dozen at a time or a few milliseconds after the first, never once per batch;
a send is not done until its outcome is written."""

from __future__ import annotations

import asyncio

import pytest

from account_alerts.delivery.send_ledger import SendLedger


class Written:
    """The ledger's writes, each as (outcomes, ids to mark); every mark succeeds unless
    its id is in ``refused``."""

    def __init__(self, refused: frozenset[int] = frozenset()) -> None:
        self.writes: list[tuple[list[int], list[int]]] = []
        self.refused = refused

    async def __call__(self, outcomes: list[int], to_mark: list[int]) -> set[int]:
        await asyncio.sleep(0)
        self.writes.append((outcomes, to_mark))
        return set(to_mark) - self.refused


async def send(ledger: SendLedger[str, int], channel: str, delivery_id: int) -> bool:
    """One send as the worker makes it: ask for a mark, go out, have the outcome written."""
    marked = await ledger.start(channel, delivery_id)
    await asyncio.sleep(0)
    await ledger.recorded(delivery_id, marked_on=channel if marked else None)
    return marked


async def test_the_outcomes_of_a_wave_and_the_marks_of_the_next_are_one_write() -> None:
    written = Written()
    ledger: SendLedger[str, int] = SendLedger(written, in_flight=2, at_most=50, within=60)
    sends = [asyncio.create_task(send(ledger, "SMS", i)) for i in range(5)]
    assert all(await asyncio.wait_for(asyncio.gather(*sends), 1))
    assert written.writes == [([], [0, 1]), ([0, 1], [2, 3]), ([2, 3], [4]), ([4], [])]


async def test_never_more_than_in_flight_sends_marked_and_unrecorded_per_channel() -> None:
    written = Written()
    ledger: SendLedger[str, int] = SendLedger(written, in_flight=3, at_most=50, within=60)
    sends = [
        asyncio.create_task(send(ledger, channel, n * 10 + i))
        for n, channel in enumerate(["SMS", "PUSH"], start=1)
        for i in range(7)
    ]
    await asyncio.wait_for(asyncio.gather(*sends), 1)
    unrecorded: set[int] = set()
    for outcomes, to_mark in written.writes:
        unrecorded = (unrecorded - set(outcomes)) | set(to_mark)
        assert len([i for i in unrecorded if i < 20]) <= 3
        assert len([i for i in unrecorded if i >= 20]) <= 3
    assert unrecorded == set()
    assert sorted(i for _, to_mark in written.writes for i in to_mark) == sorted(
        n * 10 + i for n in (1, 2) for i in range(7)
    )


async def test_a_send_the_write_did_not_mark_does_not_go_out_and_frees_its_place() -> None:
    written = Written(refused=frozenset({1}))
    ledger: SendLedger[str, int] = SendLedger(written, in_flight=1, at_most=50, within=60)
    sends = [asyncio.create_task(send(ledger, "SMS", i)) for i in range(3)]
    assert await asyncio.wait_for(asyncio.gather(*sends), 1) == [True, False, True]


async def test_while_sends_are_out_outcomes_wait_for_a_few_dozen() -> None:
    written = Written()
    ledger: SendLedger[str, int] = SendLedger(written, in_flight=5, at_most=2, within=60)
    marks = [asyncio.create_task(ledger.start("SMS", i)) for i in range(5)]
    await asyncio.wait_for(asyncio.gather(*marks), 1)
    first = [asyncio.create_task(ledger.recorded(i, marked_on="SMS")) for i in range(2)]
    await asyncio.wait_for(asyncio.gather(*first), 1)
    assert written.writes == [([], [0, 1, 2, 3, 4]), ([0, 1], [])]


async def test_while_sends_are_out_a_lone_outcome_waits_only_milliseconds() -> None:
    written = Written()
    ledger: SendLedger[str, int] = SendLedger(written, in_flight=2, at_most=50, within=0.02)
    marks = [asyncio.create_task(ledger.start("SMS", i)) for i in range(2)]
    await asyncio.wait_for(asyncio.gather(*marks), 1)
    lone = asyncio.create_task(ledger.recorded(1, marked_on="SMS"))
    await asyncio.sleep(0.005)
    assert len(written.writes) == 1 and not lone.done()
    await asyncio.wait_for(lone, 1)
    assert written.writes[1] == ([1], [])


async def test_an_outcome_of_a_send_that_was_not_marked_is_written_too() -> None:
    written = Written()
    ledger: SendLedger[str, int] = SendLedger(written, in_flight=2, at_most=50, within=60)
    await asyncio.wait_for(ledger.recorded(7), 1)
    assert written.writes == [([7], [])]


async def test_a_failed_write_is_reported_to_every_send_in_it_and_later_ones_go_on() -> None:
    writes: list[tuple[list[int], list[int]]] = []

    async def failing_once(outcomes: list[int], to_mark: list[int]) -> set[int]:
        writes.append((outcomes, to_mark))
        if len(writes) == 2:
            raise OSError("database gone")
        return set(to_mark)

    ledger: SendLedger[str, int] = SendLedger(failing_once, in_flight=1, at_most=50, within=60)
    assert await asyncio.wait_for(ledger.start("SMS", 1), 1)
    second = asyncio.create_task(ledger.start("SMS", 2))
    with pytest.raises(OSError, match="database gone"):
        await asyncio.wait_for(ledger.recorded(1, marked_on="SMS"), 1)
    assert await asyncio.wait_for(second, 1) is False
    await asyncio.wait_for(ledger.recorded(3), 1)
    assert await asyncio.wait_for(ledger.start("SMS", 4), 1)
    assert writes == [([], [1]), ([1], [2]), ([3], []), ([], [4])]
