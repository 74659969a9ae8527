"""Backtests: a rule version replayed over stored events, writing nothing but its report.

A backtest runs as a task of the process that started it. It reads every transaction and
sign-in up to the window's end in arrival order (store.backtest_source), rebuilds each
customer's state as it was at each event (domain.feature_replay, the live path's own
feature code), evaluates the version on the window's events and tallies the report
(domain.backtest). That replay runs in child processes fed a page at a time
(engine.backtest_replay), so the server keeps answering and reading runs beside judging.
While it runs, its row shows progress and a heartbeat; a row whose heartbeat stopped (the
server stopped mid-run) is marked FAILED when next read or when a server starts, never
left half-written. Cancelling is a flag on the row, seen within a page."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, update

from account_alerts.config import Settings
from account_alerts.domain.backtest import StoredRow
from account_alerts.engine.actor import Actor
from account_alerts.engine.backtest_replay import ReplayFailed, ReplaySetup, replay_for
from account_alerts.engine.fraud_rules import version_of
from account_alerts.errors import BadUserInput, NotFound
from account_alerts.store import backtest_source
from account_alerts.store.base import row_by_id
from account_alerts.store.database import Database
from account_alerts.store.fraud_tables import Backtest

log = logging.getLogger(__name__)

# A running backtest's row is touched at least this often; one untouched for STALE has
# lost its process.
HEARTBEAT = timedelta(seconds=5)
STALE = timedelta(seconds=60)
CHUNK = 5_000
STOPPED = "the server stopped while the backtest ran; start it again"


class BacktestStatus(StrEnum):
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class _Cancelled(Exception):
    pass


class Backtests:
    def __init__(self, db: Database, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._tasks: dict[int, asyncio.Task[None]] = {}

    async def start(
        self, *, actor: Actor, version_id: str, start: datetime, end: datetime
    ) -> Backtest:
        now = self.clock()
        if start.tzinfo is None or end.tzinfo is None:
            raise BadUserInput("times must include a time zone offset, e.g. Z", field="from")
        if end <= start:
            raise BadUserInput("to must be after from", field="to")
        if start >= now:
            raise BadUserInput("from must be in the past: stored events are replayed", field="from")
        days = self.settings.backtest_max_days
        if end - start > timedelta(days=days):
            raise BadUserInput(f"a backtest covers at most {days} days", field="to")
        async with self.db.transaction() as session:
            version = await version_of(session, version_id)
            assert version.id is not None and actor.id is not None
            row = Backtest(
                version_id=version.id,
                window_start=start,
                window_end=end,
                status=BacktestStatus.RUNNING.value,
                started_by=actor.id,
                created_at=now,
                heartbeat_at=now,
            )
            session.add(row)
            await session.flush()
            condition, kinds = dict(version.condition), tuple(version.event_kinds)
        assert row.id is not None
        task = asyncio.create_task(
            self._run(row.id, version.id, condition, kinds, start, min(end, now)),
            name=f"backtest-{row.id}",
        )
        self._tasks[row.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(row.id or 0, None))
        return row

    async def get(self, backtest_id: str) -> Backtest:
        await self.sweep()
        async with self.db.session() as session:
            row = await row_by_id(session, Backtest, backtest_id)
        if row is None:
            raise NotFound(f"no backtest {backtest_id}", field="id")
        return row

    async def cancel(self, *, backtest_id: str) -> Backtest:
        row = await self.get(backtest_id)
        if row.status == BacktestStatus.RUNNING.value:
            async with self.db.transaction() as session:
                await session.exec(
                    update(Backtest).where(col(Backtest.id) == row.id).values(cancel_requested=True)
                )
            task = self._tasks.get(row.id or 0)
            if task is not None:
                await asyncio.wait({task}, timeout=30)
        return await self.get(backtest_id)

    async def sweep(self) -> int:
        """Mark backtests whose process stopped as FAILED; how many there were."""
        now = self.clock()
        async with self.db.transaction() as session:
            result = await session.exec(
                update(Backtest)
                .where(
                    col(Backtest.status) == BacktestStatus.RUNNING.value,
                    sa.or_(
                        col(Backtest.heartbeat_at).is_(None),
                        col(Backtest.heartbeat_at) < now - STALE,
                    ),
                    col(Backtest.id).not_in(list(self._tasks)),
                )
                .values(status=BacktestStatus.FAILED.value, error=STOPPED, finished_at=now)
            )
        return int(result.rowcount)

    async def close(self) -> None:
        """Stop this process's backtests, marked FAILED."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(
        self,
        backtest_id: int,
        version_id: int,
        condition: dict[str, Any],
        kinds: tuple[str, ...],
        start: datetime,
        end: datetime,
    ) -> None:
        try:
            report = await self._replay(backtest_id, version_id, condition, kinds, start, end)
        except _Cancelled:
            await self._finish(backtest_id, BacktestStatus.CANCELLED, error="cancelled")
        except asyncio.CancelledError:
            await asyncio.shield(self._finish(backtest_id, BacktestStatus.FAILED, error=STOPPED))
            raise
        except ReplayFailed as exc:
            log.error("backtest %s failed: %s", backtest_id, exc)
            await self._finish(backtest_id, BacktestStatus.FAILED, error=str(exc))
        except Exception as exc:
            log.exception("backtest %s failed", backtest_id)
            await self._finish(
                backtest_id, BacktestStatus.FAILED, error=f"failed: {type(exc).__name__}"
            )
        else:
            await self._finish(backtest_id, BacktestStatus.DONE, report=report)

    async def _replay(
        self,
        backtest_id: int,
        version_id: int,
        condition: dict[str, Any],
        kinds: tuple[str, ...],
        start: datetime,
        end: datetime,
    ) -> dict[str, Any]:
        async with self.db.long_read() as first, self.db.long_read() as second:
            total = await backtest_source.count_before(first, end)
            setup = ReplaySetup(
                condition=condition,
                kinds=kinds,
                start=start,
                end=end,
                live=frozenset(await backtest_source.live_hits(first, start, end, version_id)),
                labels=await backtest_source.labels(first),
                seed=backtest_id,
                default_zone=self.settings.timezone,
            )
            replay = await replay_for(setup, processes=self.settings.backtest_processes)
            pages = backtest_source.events_before(first, second, end)
            # The next page is read while the one before is judged.
            reading = asyncio.ensure_future(anext(pages, None))
            done = 0
            chunk: list[StoredRow] = []
            try:
                while (page := await reading) is not None:
                    chunk.extend(page)
                    reading = asyncio.ensure_future(anext(pages, None))
                    if len(chunk) >= CHUNK:
                        await replay.feed(chunk)
                        done += len(chunk)
                        chunk = []
                        await self._progress(backtest_id, done / max(total, 1))
                await replay.feed(chunk)
                return await replay.report()
            finally:
                if not reading.done():
                    reading.cancel()
                    await asyncio.gather(reading, return_exceptions=True)
                await pages.aclose()
                await replay.close()

    async def _progress(self, backtest_id: int, progress: float) -> None:
        async with self.db.transaction() as session:
            row = await session.get(Backtest, backtest_id, with_for_update=True)
            assert row is not None
            if row.cancel_requested:
                raise _Cancelled
            row.progress, row.heartbeat_at = min(progress, 0.99), self.clock()
            session.add(row)

    async def _finish(
        self,
        backtest_id: int,
        status: BacktestStatus,
        *,
        report: dict[str, object] | None = None,
        error: str | None = None,
    ) -> None:
        async with self.db.transaction() as session:
            row = await session.get(Backtest, backtest_id)
            assert row is not None
            row.status, row.error, row.finished_at = status.value, error, self.clock()
            if report is not None:
                row.report, row.progress = dict(report), 1.0
            session.add(row)
