"""Where a backtest's replay runs: in a child process (the default) or in a thread of the
server (``backtest_in_child_process`` off).

A backtest has two halves of about equal cost: reading the stored rows and making them
events (the server's, on its database connection), and judging each event with every
customer's state as it was (domain.backtest.BacktestRun). In a thread the two share the
server's one interpreter and take turns; in a child process they run side by side: the
server sends each page of events down the child's standard input while the child judges
the page before, and the child answers with the report.

The child is ``python -m account_alerts.engine.backtest_replay``. Frames on its standard
input are pickles from its parent: the setup, then pages of events, then an empty page;
it writes one JSON frame (the report, or why it failed) to its standard output. A child
whose parent dies sees its input end and exits; one stopped or cancelled is killed."""

from __future__ import annotations

import asyncio
import pickle
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Protocol

import orjson

from account_alerts.domain.backtest import BacktestRun, StoredRow, Tally
from account_alerts.domain.fraud_features import EventKind
from account_alerts.domain.rule_conditions import parse

_LENGTH = struct.Struct("!Q")


@dataclass(frozen=True)
class ReplaySetup:
    """What a replay needs besides the events (plain data: it crosses to the child)."""

    condition: dict[str, Any]  # the version's condition document
    kinds: tuple[str, ...]
    start: datetime
    end: datetime
    live: frozenset[str]
    labels: dict[str, bool]
    seed: int
    default_zone: str

    def run(self) -> BacktestRun:
        kinds = frozenset(EventKind(k) for k in self.kinds)
        return BacktestRun(
            parse(self.condition, kinds),
            kinds,
            start=self.start,
            end=self.end,
            tally=Tally(live=set(self.live), labels=self.labels, seed=self.seed),
            default_zone=self.default_zone,
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
        return self._run.tally.report()

    async def close(self) -> None:
        return None


class ChildReplay:
    """The replay in a child process; ``start`` it first."""

    def __init__(self, setup: ReplaySetup) -> None:
        self._setup = setup
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> ChildReplay:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        await self._send(self._setup)
        return self

    async def _send(self, value: object) -> None:
        assert self._process is not None and self._process.stdin is not None
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        self._process.stdin.write(_LENGTH.pack(len(payload)) + payload)
        try:
            await self._process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ReplayFailed(await self._why_stopped()) from exc

    async def _why_stopped(self) -> str:
        assert self._process is not None
        code = await self._process.wait()
        return f"the backtest's replay process stopped (exit status {code})"

    async def feed(self, rows: Sequence[StoredRow]) -> None:
        await self._send(list(rows))

    async def report(self) -> dict[str, Any]:
        await self._send([])
        assert self._process is not None and self._process.stdout is not None
        try:
            header = await self._process.stdout.readexactly(_LENGTH.size)
            (length,) = _LENGTH.unpack(header)
            answer = orjson.loads(await self._process.stdout.readexactly(length))
        except asyncio.IncompleteReadError as exc:
            raise ReplayFailed(await self._why_stopped()) from exc
        if "failed" in answer:
            raise ReplayFailed(answer["failed"])
        report: dict[str, Any] = answer["report"]
        return report

    async def close(self) -> None:
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), timeout=5)
            except TimeoutError:
                process.kill()
                await process.wait()


async def replay_for(setup: ReplaySetup, *, in_child_process: bool) -> Replay:
    if in_child_process:
        return await ChildReplay(setup).start()
    return ThreadReplay(setup)


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
    setup = _read_frame(source)
    if not isinstance(setup, ReplaySetup):
        return 2
    try:
        run = setup.run()
        while rows := _read_frame(source):
            run.feed(rows)
        if rows is None:
            return 1  # input ended without the last frame: the parent stopped
        report = run.tally.report()
    except Exception as exc:  # reported to the parent, which marks the backtest FAILED
        _write_frame(sink, {"failed": f"failed: {type(exc).__name__}"})
        raise
    _write_frame(sink, {"report": report})
    return 0


if __name__ == "__main__":
    # Through the module's own name: the setup frame's classes are that module's.
    from account_alerts.engine import backtest_replay

    sys.exit(backtest_replay.child_main(sys.stdin.buffer, sys.stdout.buffer))
