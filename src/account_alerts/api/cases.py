"""The risk team's review cases: the queue, one case, and what analysts do with them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import strawberry

from account_alerts.api.context import Info
from account_alerts.api.permissions import IsAdmin
from account_alerts.api.types.cases import ReviewCaseNode, ReviewCasePage, RiskSlaReport
from account_alerts.domain.cases import CaseOutcome, CaseStatus
from account_alerts.domain.sla import percentile
from account_alerts.engine import cases as case_flow
from account_alerts.errors import BadUserInput, NotFound
from account_alerts.store.case_queries import CaseFilter, one_case, page_of_cases, timelines
from account_alerts.store.sla_report import alert_sla, case_sla

MAX_PAGE = 100
MAX_REPORT_WINDOW = timedelta(days=366)


async def _node(info: Info, case_id: int) -> ReviewCaseNode:
    async with info.context.db.session() as session:
        found = await one_case(session, case_id)
        if found is None:
            raise NotFound(f"no review case {case_id}")
        row, locked = found
        history = await timelines(session, [case_id])
    return ReviewCaseNode.build(
        row, customer_locked=locked, timeline=history[case_id], now=info.context.now()
    )


@strawberry.type
class CaseQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="Cases by the time their acknowledgement is due, the most urgent first. "
        "overdue: open and past that time.",
    )
    async def review_cases(
        self,
        info: Info,
        status: CaseStatus | None = None,
        overdue: bool | None = None,
        assignee: str | None = None,
        mobile_user_id: int | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> ReviewCasePage:
        if not 1 <= limit <= MAX_PAGE:
            raise BadUserInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        if offset < 0:
            raise BadUserInput("offset cannot be negative", field="offset")
        now = info.context.now()
        async with info.context.db.session() as session:
            rows, total = await page_of_cases(
                session,
                CaseFilter(
                    status=status,
                    overdue=overdue,
                    assignee=assignee,
                    mobile_user_id=mobile_user_id,
                ),
                now=now,
                limit=limit,
                offset=offset,
            )
            history = await timelines(session, [row.id for row, _ in rows if row.id])
        return ReviewCasePage(
            items=[
                ReviewCaseNode.build(
                    row, customer_locked=locked, timeline=history[row.id or 0], now=now
                )
                for row, locked in rows
            ],
            total_count=total,
            limit=limit,
            offset=offset,
        )

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="Cases opened and customer alerts raised from `from` (inclusive) to `to`.",
    )
    async def risk_sla_report(
        self,
        info: Info,
        start: Annotated[datetime, strawberry.argument(name="from")],
        end: Annotated[datetime, strawberry.argument(name="to")],
    ) -> RiskSlaReport:
        if start.tzinfo is None or end.tzinfo is None:
            raise BadUserInput("give times with their UTC offset", field="from")
        if end <= start:
            raise BadUserInput("'to' must come after 'from'", field="to")
        if end - start > MAX_REPORT_WINDOW:
            raise BadUserInput("a report covers at most 366 days", field="to")
        async with info.context.db.session() as session:
            cases = await case_sla(session, start=start, end=end, now=info.context.now())
            alerts = await alert_sla(session, start=start, end=end)
        return RiskSlaReport(
            start=start,
            end=end,
            cases=cases.cases,
            cases_acknowledged_within_sla=cases.acknowledged_within_sla,
            share_acknowledged_within_sla=cases.share_within_sla,
            ack_seconds_p50=percentile(cases.ack_seconds, 0.5),
            ack_seconds_p95=percentile(cases.ack_seconds, 0.95),
            customer_alerts=alerts.alerts,
            send_seconds_p50=percentile(alerts.send_seconds, 0.5),
            send_seconds_p99=percentile(alerts.send_seconds, 0.99),
            share_sent_within_5_minutes=alerts.share_within_target,
        )

    @strawberry.field(permission_classes=[IsAdmin])
    async def review_case(self, info: Info, id: strawberry.ID) -> ReviewCaseNode:
        return await _node(info, case_flow.case_key(str(id)))


@strawberry.type
class CaseMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Take the case: the escalation chain stops at once.",
    )
    async def acknowledge_case(self, info: Info, id: strawberry.ID) -> ReviewCaseNode:
        case_id = await case_flow.acknowledge_case(
            info.context.db, actor=info.context.actor(), case_id=str(id), now=info.context.now()
        )
        return await _node(info, case_id)

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def assign_case(self, info: Info, id: strawberry.ID, to: str) -> ReviewCaseNode:
        case_id = await case_flow.assign_case(
            info.context.db,
            actor=info.context.actor(),
            case_id=str(id),
            to=to,
            now=info.context.now(),
        )
        return await _node(info, case_id)

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def comment_case(self, info: Info, id: strawberry.ID, text: str) -> ReviewCaseNode:
        case_id = await case_flow.comment_case(
            info.context.db,
            actor=info.context.actor(),
            case_id=str(id),
            text=text,
            now=info.context.now(),
        )
        return await _node(info, case_id)

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="FALSE_POSITIVE on a case that locked the customer (a BLOCK decision or "
        "their own fraud report) unlocks them. A case resolved already: CONFLICT.",
    )
    async def resolve_case(
        self, info: Info, id: strawberry.ID, outcome: CaseOutcome, notes: str | None = None
    ) -> ReviewCaseNode:
        case_id = await case_flow.resolve_case(
            info.context.db,
            actor=info.context.actor(),
            case_id=str(id),
            outcome=outcome,
            notes=notes,
            now=info.context.now(),
        )
        return await _node(info, case_id)
