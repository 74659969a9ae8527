"""Outcomes are written as sends complete: a few dozen at a time, or a few milliseconds
after the first finished, never one write per batch."""

from __future__ import annotations

import asyncio

from account_alerts.delivery.recorder import OutcomeRecorder


class Written:
    def __init__(self) -> None:
        self.writes: list[list[int]] = []

    async def __call__(self, outcomes: list[int]) -> None:
        self.writes.append(outcomes)


async def test_outcomes_are_written_when_a_few_dozen_are_waiting() -> None:
    written = Written()
    recorder = OutcomeRecorder(written, at_most=3, within=60)
    for outcome in range(7):
        recorder.add(outcome)
    await asyncio.sleep(0.01)  # far less than the interval: the count triggered the write
    assert written.writes == [[0, 1, 2, 3, 4, 5, 6]]
    await recorder.close()
    assert written.writes == [[0, 1, 2, 3, 4, 5, 6]]


async def test_a_lone_outcome_is_written_within_the_interval_not_at_the_end() -> None:
    written = Written()
    recorder = OutcomeRecorder(written, at_most=50, within=0.02)
    recorder.add(1)
    await asyncio.sleep(0.2)
    assert written.writes == [[1]]
    recorder.add(2)
    await recorder.close()
    assert written.writes == [[1], [2]]


async def test_closing_writes_what_is_left_and_reports_a_failed_write() -> None:
    async def failing(outcomes: list[int]) -> None:
        raise OSError("database gone")

    recorder = OutcomeRecorder(failing, at_most=50, within=60)
    recorder.add(1)
    try:
        await recorder.close()
    except OSError as exc:
        assert "database gone" in str(exc)
    else:
        raise AssertionError("a failed write must not pass silently")
