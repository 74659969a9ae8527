"""Group commit: items submitted one at a time by concurrent callers, written together.

An item whose caller (its key) has ``writers`` writes in flight waits for one of them to
end, then goes into the next write with every item of that key that arrived meanwhile (at
most ``max_group``), in arrival order. One that finds no write of its key in flight is
written at once, alone, unless other requests are in progress: then it waits up to
``wait_ms`` for those that bring items of the same key (less once each has brought its
item, or the group is full). Under load this shares a write's fixed costs (locking, round
trips, the commit) among items that arrived together; with nothing else in progress,
nothing waits.

``write`` takes a key's items in arrival order and answers each, a result or the
exception that item alone raised; an exception of ``write`` itself (the server stopping)
cancels every item of that group.

With ``answer_with_next``, a group is answered when the next group's write says so
(``answer_previous()``, as it starts its long wait on the database), when that write
ends, or after ``ANSWER_WAIT_AT_MOST``, whichever comes first; with no group next, at
once. Answering wakes the callers' requests, which then take the event loop (building
their answers, sending the next ones in). Woken at once, they would run while the next
write reads and judges, and hold up each of its steps; woken as it starts its write, they
run while it waits on the database, and the writes, which follow one another, are not
held up. That is for throughput (batches): it costs each answer the next write's reading
and judging, so single events, answered as soon as they can be, leave it off."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")


# How long a group's callers wait at most for the next write to let them be answered.
ANSWER_WAIT_AT_MOST = 0.1

# In a write's task: set when the group before it may be answered (answer_previous()).
_ANSWER_PREVIOUS: ContextVar[asyncio.Event | None] = ContextVar(
    "group_commit_answer_previous", default=None
)


def answer_previous() -> None:
    """Said by a write as it starts a long wait (its write to the database): the group
    written before it may be answered now. Outside a write that a group waits for, it
    does nothing."""
    answer = _ANSWER_PREVIOUS.get()
    if answer is not None:
        answer.set()


@dataclass(frozen=True)
class GroupLimits:
    max_group: int  # 1: every item written alone
    writers: int  # writes of one key in flight before items wait for the next
    wait_ms: float  # 0: a lone item never waits for company
    # Answer a group when the next group's write says so (see the module).
    answer_with_next: bool = False


class GroupCommit(Generic[K, T, R]):
    def __init__(
        self,
        write: Callable[[K, Sequence[T]], Awaitable[Sequence[R | Exception]]],
        limits: GroupLimits,
        *,
        in_progress: Callable[[], int] = lambda: 0,
    ) -> None:
        self._write = write
        self.limits = limits
        # How many requests the process has in progress, the caller's own included.
        self.in_progress = in_progress
        self._writing: dict[K, int] = {}
        self._waiting: dict[K, list[tuple[T, asyncio.Future[R]]]] = {}
        self._gathering: dict[K, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, key: K, item: T) -> R:
        limits = self.limits
        writing = self._writing.get(key, 0)
        if limits.max_group <= 1:
            return await self._alone(key, item)
        if writing >= limits.writers:
            waiter: asyncio.Future[R] = asyncio.get_running_loop().create_future()
            waiting = self._waiting.setdefault(key, [])
            waiting.append((item, waiter))
            gathering = self._gathering.get(key)
            if gathering is not None and not gathering.done():
                everyone = min(limits.max_group, self.in_progress())
                if len(waiting) >= everyone:  # every request in progress brought its item
                    gathering.set_result(None)
            return await waiter
        self._writing[key] = writing + 1
        if limits.wait_ms > 0 and self.in_progress() > 1:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(key, []).insert(0, (item, waiter))
            gathered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._gathering[key] = gathered
            self._start(self._gather_then_write(key, gathered))
            return await waiter
        try:
            result = await self._alone(key, item)
        finally:
            following = self._hand_over(key)
        await self._until_answered(following)
        return result

    async def _alone(self, key: K, item: T) -> R:
        [result] = await self._write(key, [item])
        if isinstance(result, Exception):
            raise result
        return result

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _gather_then_write(self, key: K, gathered: asyncio.Future[None]) -> None:
        timer = asyncio.get_running_loop().call_later(
            self.limits.wait_ms / 1000, _resolve, gathered
        )
        try:
            await gathered
        except BaseException:
            self._abandon(key)
            raise
        finally:
            timer.cancel()
            self._gathering.pop(key, None)
        await self._write_waiting(key, None)

    def _hand_over(self, key: K) -> asyncio.Event | None:
        """One of the key's writes has ended: the items that waited go next. The event
        the next write sets when the group before it may be answered (None: no write
        next)."""
        if not self._waiting.get(key):
            self._done_writing(key)
            return None
        answer = asyncio.Event()
        self._start(self._write_waiting(key, answer))
        return answer

    async def _write_waiting(self, key: K, answer: asyncio.Event | None) -> None:
        waiting = self._waiting[key]
        group = waiting[: self.limits.max_group]
        del waiting[: len(group)]
        _ANSWER_PREVIOUS.set(answer)
        try:
            results = await self._write(key, [item for item, _ in group])
        except BaseException:
            for _, waiter in group:
                waiter.cancel()
            self._abandon(key)
            raise
        finally:
            if answer is not None:
                answer.set()  # ended: the group before it waits no longer
        try:
            await self._until_answered(self._hand_over(key))
        finally:  # answered even if the server stops meanwhile: the items were written
            for (_, waiter), result in zip(group, results, strict=True):
                if waiter.done():  # its request went away; the item was written all the same
                    continue
                if isinstance(result, Exception):
                    waiter.set_exception(result)
                else:
                    waiter.set_result(result)

    async def _until_answered(self, following: asyncio.Event | None) -> None:
        """With ``answer_with_next``, until the write that followed (``_hand_over``) lets
        the group before it be answered, at most ``ANSWER_WAIT_AT_MOST``."""
        if following is None or not self.limits.answer_with_next or following.is_set():
            return
        timer = asyncio.get_running_loop().call_later(ANSWER_WAIT_AT_MOST, following.set)
        try:
            await following.wait()
        finally:
            timer.cancel()

    def _abandon(self, key: K) -> None:
        """A write of the key's was cancelled (the server is stopping): if it was the
        last in flight, nobody is left waiting for ever."""
        if not self._done_writing(key):
            for _, waiter in self._waiting.pop(key, []):
                waiter.cancel()

    def _done_writing(self, key: K) -> int:
        """One write of the key's fewer; how many are still in flight."""
        left = self._writing.get(key, 1) - 1
        if left:
            self._writing[key] = left
        else:
            self._writing.pop(key, None)
            if not self._waiting.get(key):
                self._waiting.pop(key, None)
        return left

    def writes_in_flight(self, key: K) -> int:
        return self._writing.get(key, 0)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
