"""Where a backtest's replay runs: in child processes (``backtest_processes``, 2 by
default) or, with 0, in a thread of the server.

A backtest reads the stored rows (the server's work, on its database connection) and
judges each event with its customer's state as it was (domain.backtest.BacktestRun), the
larger part. In a thread the two share the server's one interpreter and take turns. With
child processes they run side by side: the server sends each page of rows, pickled once,
down every child's standard input while the children judge the page before; each child
judges and keeps the state of one shard of the customers, and notes of the others' events
only what the cross-customer counts need. Their tallies make one report.

A child is ``python -m account_alerts.engine.backtest_replay``. Frames on its standard
input are pickles from its parent: the setup and its shard, then pages of rows, then an
empty page; it writes one JSON frame (its tally, or why it failed) to its standard output.
A child whose parent dies sees its input end and exits; one stopped or cancelled is
killed."""

from __future__ import annotations

import asyncio
import gc
import pickle
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Protocol

import orjson

from account_alerts.domain import backtest
from account_alerts.domain.backtest import BacktestRun, StoredRow, Tally
from account_alerts.domain.fraud_features import EventKind
from account_alerts.domain.rule_conditions import parse

_LENGTH = struct.Struct("!Q")


@dataclass(frozen=True)
class ReplaySetup:
    """What a replay needs besides the events (plain data: it crosses to the children)."""

    condition: dict[str, Any]  # the version's condition document
    kinds: tuple[str, ...]
    start: datetime
    end: datetime
    live: frozenset[str]
    labels: dict[str, bool]
    seed: int
    default_zone: str

    def run(self, shard: int = 0, shards: int = 1) -> BacktestRun:
        kinds = frozenset(EventKind(k) for k in self.kinds)
        return BacktestRun(
            parse(self.condition, kinds),
            kinds,
            start=self.start,
            end=self.end,
            tally=Tally(live=set(self.live), labels=self.labels, seed=self.seed),
            default_zone=self.default_zone,
            shard=shard,
            shards=shards,
        )


class ReplayFailed(Exception):
    pass


class Replay(Protocol):
    async def feed(self, rows: Sequence[StoredRow]) -> None: ...

    async def report(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class ThreadReplay:
    """The replay in a thread of this process, a page at a time."""

    def __init__(self, setup: ReplaySetup) -> None:
        self._run = setup.run()

    async def feed(self, rows: Sequence[StoredRow]) -> None:
        await asyncio.to_thread(self._run.feed, rows)

    async def report(self) -> dict[str, Any]:
        return backtest.report([self._run.tally.part()])

    async def close(self) -> None:
        return None


class _Child:
    """One replay process, owning one shard of the customers."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, setup: ReplaySetup, shard: int, shards: int) -> _Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        child = cls(process)
        await child.send(_frame((setup, shard, shards)))
        return child

    async def send(self, frame: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(frame)
        try:
            await self.process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ReplayFailed(await self.why_stopped()) from exc

    async def part(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        try:
            header = await self.process.stdout.readexactly(_LENGTH.size)
            (length,) = _LENGTH.unpack(header)
            answer: dict[str, Any] = orjson.loads(await self.process.stdout.readexactly(length))
        except asyncio.IncompleteReadError as exc:
            raise ReplayFailed(await self.why_stopped()) from exc
        if "failed" in answer:
            raise ReplayFailed(answer["failed"])
        part: dict[str, Any] = answer["part"]
        return part

    async def why_stopped(self) -> str:
        code = await self.process.wait()
        return f"the backtest's replay process stopped (exit status {code})"

    async def close(self) -> None:
        process = self.process
        if process.returncode is None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), timeout=5)
            except TimeoutError:
                process.kill()
                await process.wait()


class ChildReplay:
    """The replay in ``processes`` child processes, each owning the customers of one shard
    and fed every row (the cross-customer counts need all of them); ``start`` it first."""

    def __init__(self, setup: ReplaySetup, processes: int) -> None:
        self._setup = setup
        self._processes = processes
        self.children: list[_Child] = []

    async def start(self) -> ChildReplay:
        for shard in range(self._processes):
            self.children.append(await _Child.start(self._setup, shard, self._processes))
        return self

    async def feed(self, rows: Sequence[StoredRow]) -> None:
        frame = _frame(list(rows))  # pickled once, whatever the number of children
        await asyncio.gather(*(child.send(frame) for child in self.children))

    async def report(self) -> dict[str, Any]:
        await self.feed([])
        return backtest.report([await child.part() for child in self.children])

    async def close(self) -> None:
        await asyncio.gather(*(child.close() for child in self.children))


async def replay_for(setup: ReplaySetup, *, processes: int) -> Replay:
    """The replay in ``processes`` child processes, or in a thread for 0."""
    if processes > 0:
        replay = ChildReplay(setup, processes)
        try:
            return await replay.start()
        except BaseException:
            await replay.close()
            raise
    return ThreadReplay(setup)


def _frame(value: object) -> bytes:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


def _read_frame(stream: BinaryIO) -> Any:
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None  # the parent is gone
    (length,) = _LENGTH.unpack(header)
    return pickle.loads(stream.read(length))  # noqa: S301 - frames from our own parent


def _write_frame(stream: BinaryIO, value: dict[str, Any]) -> None:
    payload = orjson.dumps(value)
    stream.write(_LENGTH.pack(len(payload)) + payload)
    stream.flush()


def child_main(source: BinaryIO, sink: BinaryIO) -> int:
    first = _read_frame(source)
    if not (isinstance(first, tuple) and isinstance(first[0], ReplaySetup)):
        return 2
    setup, shard, shards = first
    # The replay keeps millions of objects alive (every customer's state) and makes few
    # reference cycles: the cyclic collector's passes over them cost a tenth of its time
    # and free nothing. A child lives for one backtest.
    gc.disable()
    try:
        run = setup.run(shard, shards)
        while rows := _read_frame(source):
            run.feed(rows)
        if rows is None:
            return 1  # input ended without the last frame: the parent stopped
        part = run.tally.part()
    except Exception as exc:  # reported to the parent, which marks the backtest FAILED
        _write_frame(sink, {"failed": f"failed: {type(exc).__name__}"})
        raise
    _write_frame(sink, {"part": part})
    return 0


if __name__ == "__main__":
    # Through the module's own name: the setup frame's classes are that module's.
    from account_alerts.engine import backtest_replay

    sys.exit(backtest_replay.child_main(sys.stdin.buffer, sys.stdout.buffer))
