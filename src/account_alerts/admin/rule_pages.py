"""The console's rule pages: the list, a rule with its versions, statuses, statistics and
snoozes, and backtests.

Every form calls the engine function its GraphQL mutation calls, as the signed-in staff
member; a refusal shows the engine's own message beside the input it names and stores
nothing (the engine's transaction never commits)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from account_alerts.admin import rule_views, signing_in
from account_alerts.admin.signing_in import StaffSession
from account_alerts.api.fraud import BUILT_IN
from account_alerts.domain.fraud_decision import RuleStatus, SnoozeScope
from account_alerts.domain.fraud_features import EventKind
from account_alerts.engine import fraud_rules
from account_alerts.errors import ApiError, BadUserInput
from account_alerts.store.base import row_by_id
from account_alerts.store.fraud_stats import version_stats
from account_alerts.store.fraud_tables import Backtest, FraudRule, FraudRuleVersion, FraudSnooze

if TYPE_CHECKING:
    from account_alerts.admin.pages import Console

STATUS_OF = {"NOT_FOUND": 404, "CONFLICT": 409, "FORBIDDEN": 403}
# The inputs an engine's `field` can name on these forms; anything else is the form's.
INPUTS = {"name", "description", "score", "eventKinds", "from", "to", "value", "until", "reason"}
STATS_WINDOWS = (("last 24 h", timedelta(days=1)), ("last 7 days", timedelta(days=7)))
RECENT_BACKTESTS = 10

Failure = dict[str, Any]
Action = Callable[[StaffSession, dict[str, str], dict[str, str]], Awaitable[str]]
FormId = Callable[[dict[str, str]], str]
Page = Callable[[Request, StaffSession], Awaitable[Response]]
Again = Callable[[Request, StaffSession, Failure, int], Awaitable[Response]]


def failure(form_id: str, exc: ApiError, values: dict[str, str]) -> Failure:
    """Where a refusal is shown: a condition's path with its message by the editor."""
    field = str(exc.extensions.get("field") or "")
    if field.startswith("condition"):
        return {
            "form": form_id,
            "at": "condition",
            "message": f"{field}: {exc.message}",
            "typed": values,
        }
    at = field if field in INPUTS else "form"
    return {"form": form_id, "at": at, "message": exc.message, "typed": values}


def _time(form: dict[str, str], name: str) -> datetime:
    """A datetime-local input, read as UTC (the page says so)."""
    try:
        value = datetime.fromisoformat(form.get(name, ""))
    except ValueError as exc:
        raise BadUserInput(
            f"{name}: give a date and time such as 2026-12-01T09:00", field=name
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _rule_input(form: dict[str, str]) -> fraud_rules.RuleInput:
    score = form.get("score", "").strip()
    if not score.lstrip("-").isdigit():
        raise BadUserInput("score must be a whole number from 1 to 100", field="score")
    return fraud_rules.RuleInput(
        name=form.get("name", ""),
        description=form.get("description") or None,
        # The editor's text as is: the engine reads and checks the JSON itself.
        condition=form.get("condition", ""),
        score=int(score),
        event_kinds=[kind for kind in EventKind if form.get(f"kind_{kind.value}")],
    )


class RulePages:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.services = console.services

    def form(self, form_id: FormId, action: Action, again: Again) -> Page:
        """A rule form: CSRF first, then the engine; on a refusal the page again with the
        message in place and the staff member's input kept."""

        async def page(request: Request, staff: StaffSession) -> Response:
            form = await signing_in.read_form(request)
            if not signing_in.csrf_matches(form, request, staff.csrf_token):
                return Response(
                    "the form's security token is missing or wrong: reload the page",
                    status_code=403,
                )
            path = dict(request.path_params)
            try:
                location = await action(staff, path, form)
            except ApiError as exc:
                code = STATUS_OF.get(exc.extensions["code"], 400)
                return await again(request, staff, failure(form_id(path), exc, form), code)
            return RedirectResponse(location, status_code=303)

        return page

    # The list and a new rule.

    async def rules(self, request: Request, staff: StaffSession) -> Response:
        return await self.rules_page(request, staff, {}, 200)

    async def rules_page(
        self, request: Request, staff: StaffSession, failed: Failure, status_code: int
    ) -> Response:
        async with self.console.db.session() as session:
            rules = (await session.exec(select(FraudRule).order_by(col(FraudRule.id)))).all()
            versions = (
                await session.exec(
                    select(FraudRuleVersion).order_by(col(FraudRuleVersion.version).desc())
                )
            ).all()
        listed = [
            {
                "id": rule.id,
                "name": rule.name,
                "versions": [
                    rule_views.version_view(v, staff=staff.staff)
                    for v in versions
                    if v.rule_id == rule.id
                ],
            }
            for rule in rules
        ]
        return self.console.render(
            request,
            "rules.html",
            {"rules": listed, "built_in": BUILT_IN, "failure": failed, "kinds": list(EventKind)},
            staff=staff,
            status_code=status_code,
        )

    async def _create(self, staff: StaffSession, path: dict[str, str], form: dict[str, str]) -> str:
        version = await fraud_rules.create_rule(
            self.console.db, actor=staff.actor, rule=_rule_input(form), now=self.services.clock()
        )
        return f"/admin/rules/{version.rule_id}"

    # A rule.

    async def rule(self, request: Request, staff: StaffSession) -> Response:
        return await self.rule_page(request, staff, {}, 200)

    async def rule_page(
        self, request: Request, staff: StaffSession, failed: Failure, status_code: int
    ) -> Response:
        raw = str(request.path_params["rule_id"])
        now = self.services.clock()
        async with self.console.db.session() as session:
            rule = await row_by_id(session, FraudRule, raw)
            if rule is None:
                return self.console.missing(request, staff, f"fraud rule {raw}")
            versions = (
                await session.exec(
                    select(FraudRuleVersion)
                    .where(col(FraudRuleVersion.rule_id) == rule.id)
                    .order_by(col(FraudRuleVersion.version).desc())
                )
            ).all()
            shown = []
            for version in versions:
                stats = {}
                if version.status in (RuleStatus.SHADOW.value, RuleStatus.LIVE.value):
                    for label, span in STATS_WINDOWS:
                        figures = await version_stats(session, version, now - span, now)
                        stats[label] = rule_views.stats_view(figures)
                shown.append(rule_views.version_view(version, staff=staff.staff, stats=stats))
            snoozes = (
                await session.exec(
                    select(FraudSnooze)
                    .where(
                        col(FraudSnooze.rule_id) == rule.id,
                        col(FraudSnooze.until) > now,
                        col(FraudSnooze.lifted_at).is_(None),
                    )
                    .order_by(col(FraudSnooze.id).desc())
                )
            ).all()
            backtests = (
                await session.exec(
                    select(Backtest)
                    .where(col(Backtest.version_id).in_([v.id for v in versions]))
                    .order_by(col(Backtest.id).desc())
                    .limit(RECENT_BACKTESTS)
                )
            ).all()
        by_id = {v.id: v for v in versions}
        return self.console.render(
            request,
            "rule.html",
            {
                "rule": {"id": rule.id, "name": rule.name},
                "versions": shown,
                "newest": shown[0] if shown else None,
                "snoozes": [rule_views.snooze_view(s) for s in snoozes],
                "backtests": [rule_views.backtest_view(b, by_id[b.version_id]) for b in backtests],
                "failure": failed,
                "kinds": list(EventKind),
                "scopes": [s.value for s in SnoozeScope],
                "default_from": (now - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
                "default_to": now.strftime("%Y-%m-%dT%H:%M"),
                "default_until": (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
            },
            staff=staff,
            status_code=status_code,
        )

    async def _revise(self, staff: StaffSession, path: dict[str, str], form: dict[str, str]) -> str:
        version = await fraud_rules.revise_rule(
            self.console.db,
            actor=staff.actor,
            rule_id=path["rule_id"],
            rule=_rule_input(form),
            now=self.services.clock(),
        )
        return f"/admin/rules/{version.rule_id}"

    async def _status(self, staff: StaffSession, path: dict[str, str], form: dict[str, str]) -> str:
        try:
            status = RuleStatus(form.get("status", ""))
        except ValueError as exc:
            raise BadUserInput("choose SHADOW, LIVE or RETIRED", field="status") from exc
        version = await fraud_rules.set_status(
            self.console.db,
            actor=staff.actor,
            version_id=path["version_id"],
            status=status,
            now=self.services.clock(),
        )
        self.services.ingestor.rule_sets.invalidate()
        return f"/admin/rules/{version.rule_id}"

    # Snoozes.

    async def _snooze(self, staff: StaffSession, path: dict[str, str], form: dict[str, str]) -> str:
        try:
            scope = SnoozeScope(form.get("scope", ""))
        except ValueError as exc:
            raise BadUserInput("choose CUSTOMER, ACCOUNT or DEVICE", field="scope") from exc
        row = await fraud_rules.snooze(
            self.console.db,
            actor=staff.actor,
            rule_id=path["rule_id"],
            scope=scope,
            value=form.get("value", ""),
            until=_time(form, "until"),
            reason=form.get("reason", ""),
            now=self.services.clock(),
        )
        self.services.ingestor.rule_sets.invalidate()
        return f"/admin/rules/{row.rule_id}"

    async def _lift(self, staff: StaffSession, path: dict[str, str], form: dict[str, str]) -> str:
        row = await fraud_rules.lift_snooze(
            self.console.db,
            actor=staff.actor,
            snooze_id=path["snooze_id"],
            now=self.services.clock(),
        )
        self.services.ingestor.rule_sets.invalidate()
        return f"/admin/rules/{row.rule_id}"

    # Backtests.

    async def _backtest(
        self, staff: StaffSession, path: dict[str, str], form: dict[str, str]
    ) -> str:
        row = await self.services.backtests.start(
            actor=staff.actor,
            version_id=path["version_id"],
            start=_time(form, "from"),
            end=_time(form, "to"),
        )
        return f"/admin/backtests/{row.id}"

    async def _backtest_view(self, raw: str) -> dict[str, Any] | None:
        try:
            row = await self.services.backtests.get(raw)
        except ApiError:
            return None
        async with self.console.db.session() as session:
            version = await session.get(FraudRuleVersion, row.version_id)
        assert version is not None
        return rule_views.backtest_view(row, version)

    async def backtest(self, request: Request, staff: StaffSession) -> Response:
        raw = str(request.path_params["backtest_id"])
        view = await self._backtest_view(raw)
        if view is None:
            return self.console.missing(request, staff, f"backtest {raw}")
        return self.console.render(request, "backtest.html", {"run": view}, staff=staff)

    async def backtest_body(self, request: Request, staff: StaffSession) -> Response:
        """The part of the page htmx polls while the backtest runs."""
        raw = str(request.path_params["backtest_id"])
        view = await self._backtest_view(raw)
        if view is None:
            return self.console.missing(request, staff, f"backtest {raw}")
        return self.console.render(request, "backtest_body.html", {"run": view}, staff=staff)

    def routes(self) -> list[Route]:
        signed_in = self.console.signed_in

        def post(
            path: str, form_id: Callable[[dict[str, str]], str], action: Action, again: Again
        ) -> Route:
            return Route(path, signed_in(self.form(form_id, action, again)), methods=["POST"])

        rule = "/rules/{rule_id}"
        version = rule + "/versions/{version_id}"
        return [
            Route("/rules", signed_in(self.rules), methods=["GET"]),
            post("/rules", lambda _: "new", self._create, self.rules_page),
            Route(rule, signed_in(self.rule), methods=["GET"]),
            post(rule + "/revise", lambda _: "revise", self._revise, self.rule_page),
            post(
                version + "/status",
                lambda p: f"status-{p['version_id']}",
                self._status,
                self.rule_page,
            ),
            post(
                version + "/backtests",
                lambda p: f"backtest-{p['version_id']}",
                self._backtest,
                self.rule_page,
            ),
            post(rule + "/snoozes", lambda _: "snooze", self._snooze, self.rule_page),
            post(
                rule + "/snoozes/{snooze_id}/lift",
                lambda p: f"lift-{p['snooze_id']}",
                self._lift,
                self.rule_page,
            ),
            Route("/backtests/{backtest_id}", signed_in(self.backtest)),
            Route("/backtests/{backtest_id}/body", signed_in(self.backtest_body)),
        ]
