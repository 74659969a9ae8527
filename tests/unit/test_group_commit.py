"""Group commit without a database: who is written with whom, in what order, and that
nobody is left waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from account_alerts.engine.group_commit import GroupCommit, GroupLimits


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
    writes: Writes, *, max_group: int = 16, writers: int = 1, wait_ms: float = 0
) -> GroupCommit[str, int, int]:
    return GroupCommit(writes, GroupLimits(max_group, writers, wait_ms))


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
