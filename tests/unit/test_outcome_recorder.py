"""Outcomes are written as sends complete: at once when a wave of sends has come back,
else a few dozen at a time or a few milliseconds after the first, never once per batch;
a send that went out is not done until its outcome is written."""

from __future__ import annotations

import asyncio

import pytest

from account_alerts.delivery.recorder import OutcomeRecorder


class Written:
    def __init__(self) -> None:
        self.writes: list[list[int]] = []

    async def __call__(self, outcomes: list[int]) -> None:
        await asyncio.sleep(0)
        self.writes.append(outcomes)


async def test_a_wave_of_sends_that_came_back_is_written_at_once() -> None:
    written = Written()
    recorder = OutcomeRecorder(written, at_most=50, within=60)
    for _ in range(3):
        recorder.sending()
    waves = [asyncio.create_task(recorder.recorded(outcome)) for outcome in range(3)]
    await asyncio.wait_for(asyncio.gather(*waves), 1)
    assert written.writes == [[0, 1, 2]]


async def test_while_sends_are_out_outcomes_wait_for_a_few_dozen() -> None:
    written = Written()
    recorder = OutcomeRecorder(written, at_most=2, within=60)
    for _ in range(5):
        recorder.sending()
    first = [asyncio.create_task(recorder.recorded(outcome)) for outcome in range(2)]
    await asyncio.wait_for(asyncio.gather(*first), 1)
    assert written.writes == [[0, 1]]


async def test_while_sends_are_out_a_lone_outcome_waits_only_milliseconds() -> None:
    written = Written()
    recorder = OutcomeRecorder(written, at_most=50, within=0.02)
    recorder.sending()
    recorder.sending()
    lone = asyncio.create_task(recorder.recorded(1))
    await asyncio.sleep(0.005)
    assert written.writes == [] and not lone.done()
    await asyncio.wait_for(lone, 1)
    assert written.writes == [[1]]


async def test_an_outcome_of_a_send_that_did_not_go_out_is_written_too() -> None:
    written = Written()
    recorder = OutcomeRecorder(written, at_most=50, within=60)
    await asyncio.wait_for(recorder.recorded(7, went_out=False), 1)
    assert written.writes == [[7]]


async def test_a_failed_write_is_reported_to_every_send_in_it_and_later_ones_go_on() -> None:
    writes: list[list[int]] = []

    async def failing_once(outcomes: list[int]) -> None:
        writes.append(outcomes)
        if len(writes) == 1:
            raise OSError("database gone")

    recorder = OutcomeRecorder(failing_once, at_most=50, within=60)
    recorder.sending()
    with pytest.raises(OSError, match="database gone"):
        await asyncio.wait_for(recorder.recorded(1), 1)
    await asyncio.wait_for(recorder.recorded(2, went_out=False), 1)
    assert writes == [[1], [2]]
