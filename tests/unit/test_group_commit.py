"""Group commit without a database: who is written with whom, in what order, and that
nobody is left waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from account_alerts.engine import group_commit
from account_alerts.engine.group_commit import GroupCommit, GroupLimits, answer_previous


class Writes:
    """A write that records each group and holds it until released."""

    def __init__(self) -> None:
        self.groups: list[tuple[str, list[int]]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, key: str, items: Sequence[int]) -> list[int | Exception]:
        self.groups.append((key, list(items)))
        await self.gate.wait()
        return [ValueError(f"refused {i}") if i < 0 else i * 10 for i in items]


def batcher(
    writes: Writes | HoldingWrites,
    *,
    max_group: int = 16,
    writers: int = 1,
    wait_ms: float = 0,
    answer_with_next: bool = False,
) -> GroupCommit[str, int, int]:
    return GroupCommit(writes, GroupLimits(max_group, writers, wait_ms, answer_with_next))


async def test_a_lone_item_is_written_at_once_and_alone() -> None:
    writes = Writes()
    assert await batcher(writes).submit("core", 1) == 10
    assert writes.groups == [("core", [1])]


async def test_items_arriving_during_a_write_go_together_next_in_arrival_order() -> None:
    writes = Writes()
    group = batcher(writes)
    writes.gate.clear()
    first = asyncio.ensure_future(group.submit("core", 1))
    await asyncio.sleep(0)
    rest = [asyncio.ensure_future(group.submit("core", n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    writes.gate.set()
    assert await first == 10
    assert [await r for r in rest] == [20, 30, 40]
    assert writes.groups == [("core", [1]), ("core", [2, 3, 4])]
    assert group.writes_in_flight("core") == 0


async def test_groups_are_capped_and_keys_never_mix() -> None:
    writes = Writes()
    group = batcher(writes, max_group=2)
    writes.gate.clear()
    first = asyncio.ensure_future(group.submit("core", 1))
    other = asyncio.ensure_future(group.submit("cards", 9))
    await asyncio.sleep(0)
    rest = [asyncio.ensure_future(group.submit("core", n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    writes.gate.set()
    await asyncio.gather(first, other, *rest)
    assert writes.groups == [
        ("core", [1]),
        ("cards", [9]),
        ("core", [2, 3]),
        ("core", [4]),
    ]


async def test_an_items_own_failure_is_its_alone() -> None:
    writes = Writes()
    group = batcher(writes)
    writes.gate.clear()
    first = asyncio.ensure_future(group.submit("core", 1))
    await asyncio.sleep(0)
    bad = asyncio.ensure_future(group.submit("core", -2))
    good = asyncio.ensure_future(group.submit("core", 3))
    await asyncio.sleep(0)
    writes.gate.set()
    assert await first == 10 and await good == 30
    with pytest.raises(ValueError, match="refused -2"):
        await bad


async def test_a_lone_item_waits_for_the_requests_in_progress_then_shares_a_write() -> None:
    writes = Writes()
    group = GroupCommit(writes, GroupLimits(16, 1, wait_ms=600_000), in_progress=lambda: 3)
    items = [asyncio.ensure_future(group.submit("core", n)) for n in (1, 2, 3)]
    assert await asyncio.wait_for(asyncio.gather(*items), 5) == [10, 20, 30]
    assert writes.groups == [("core", [1, 2, 3])]


async def test_the_wait_for_company_is_bounded() -> None:
    writes = Writes()
    group = GroupCommit(writes, GroupLimits(16, 1, wait_ms=50), in_progress=lambda: 2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await group.submit("core", 1) == 10
    assert loop.time() - started >= 0.05
    assert writes.groups == [("core", [1])]


async def test_grouping_off_writes_every_item_alone() -> None:
    writes = Writes()
    group = batcher(writes, max_group=1)
    writes.gate.clear()
    items = [asyncio.ensure_future(group.submit("core", n)) for n in (1, 2, 3)]
    await asyncio.sleep(0)
    writes.gate.set()
    await asyncio.gather(*items)
    assert writes.groups == [("core", [1]), ("core", [2]), ("core", [3])]


async def test_a_write_cancelled_while_others_wait_leaves_nobody_hanging() -> None:
    writes = Writes()
    group = GroupCommit(writes, GroupLimits(16, 1, wait_ms=600_000), in_progress=lambda: 5)
    items = [asyncio.ensure_future(group.submit("core", n)) for n in (1, 2)]
    while len(group._waiting.get("core", [])) < 2:
        await asyncio.sleep(0.001)
    for task in list(group._tasks):
        task.cancel()
    done, pending = await asyncio.wait(items, timeout=5)
    assert not pending and all(item.cancelled() for item in done)
    assert group.writes_in_flight("core") == 0 and not group._waiting
    assert writes.groups == []


class HoldingWrites:
    """Writes whose first group ends when ``first_done`` is set; each later group says
    the one before may be answered when ``holds`` is set (unless ``never_holds``), and
    ends when ``done`` is set. ``log`` records the steps in order."""

    def __init__(self, *, never_holds: bool = False, fails: bool = False) -> None:
        self.first_done, self.holds, self.done = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self.never_holds, self.fails = never_holds, fails
        self.log: list[str] = []
        self.calls = 0

    async def __call__(self, key: str, items: Sequence[int]) -> list[int | Exception]:
        self.calls += 1
        if self.calls == 1:
            await self.first_done.wait()
        else:
            await self.holds.wait()
            if not self.never_holds:
                answer_previous()
                self.log.append(f"writing {list(items)}")
            await self.done.wait()
            if self.fails:
                raise RuntimeError("the write failed")
        return [i * 10 for i in items]


async def _answered(item: asyncio.Future[int], log: list[str], name: str) -> int:
    result = await item
    log.append(f"answered {name}")
    return result


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def _first_written(
    group: GroupCommit[str, int, int], writes: HoldingWrites
) -> tuple[asyncio.Future[int], asyncio.Future[int]]:
    """Item 1 written alone and item 2 waiting behind it; then 1's write ends."""
    first = asyncio.ensure_future(group.submit("core", 1))
    await _settle()
    second = asyncio.ensure_future(group.submit("core", 2))
    await _settle()
    writes.first_done.set()
    return first, second


async def test_a_group_is_answered_when_the_next_write_says_so() -> None:
    writes = HoldingWrites()
    group = batcher(writes, answer_with_next=True)
    first = asyncio.ensure_future(_answered(group.submit("core", 1), writes.log, "1"))
    await _settle()
    second = asyncio.ensure_future(_answered(group.submit("core", 2), writes.log, "2"))
    third = asyncio.ensure_future(group.submit("core", 3))
    await _settle()
    writes.first_done.set()  # [1] written; [2, 3] go next
    await _settle()
    assert not first.done(), "answered before the next write let it be"
    writes.holds.set()
    assert await asyncio.wait_for(first, 5) == 10
    assert writes.log == ["writing [2, 3]", "answered 1"]
    fourth = asyncio.ensure_future(group.submit("core", 4))  # waits for [2, 3]
    await _settle()
    writes.done.set()
    assert [await asyncio.wait_for(f, 5) for f in (second, third, fourth)] == [20, 30, 40]
    assert writes.log == ["writing [2, 3]", "answered 1", "writing [4]", "answered 2"]
    assert group.writes_in_flight("core") == 0


async def test_a_group_waiting_for_a_write_that_fails_is_answered_when_it_ends() -> None:
    writes = HoldingWrites(never_holds=True, fails=True)
    group = batcher(writes, answer_with_next=True)
    first, second = await _first_written(group, writes)
    writes.holds.set()
    await _settle()
    assert not first.done()
    writes.done.set()
    assert await asyncio.wait_for(first, 5) == 10
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(second, 5)
    assert group.writes_in_flight("core") == 0


async def test_a_group_waits_at_most_a_moment_for_the_next_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(group_commit, "ANSWER_WAIT_AT_MOST", 0.02)
    writes = HoldingWrites(never_holds=True)
    group = batcher(writes, answer_with_next=True)
    first, second = await _first_written(group, writes)
    writes.holds.set()
    assert await asyncio.wait_for(first, 5) == 10
    assert not second.done()  # the next write never said so, and has not ended
    writes.done.set()
    assert await asyncio.wait_for(second, 5) == 20


async def test_without_answer_with_next_a_group_is_answered_when_written() -> None:
    writes = HoldingWrites()
    group = batcher(writes)
    first, second = await _first_written(group, writes)
    assert await asyncio.wait_for(first, 5) == 10
    assert not second.done() and writes.log == []
    writes.holds.set()
    writes.done.set()
    assert await asyncio.wait_for(second, 5) == 20


def test_answer_previous_outside_a_write_does_nothing() -> None:
    answer_previous()
