"""The console's routes: sign-in and sign-out, the queue, a case, a customer.

Pages read like the GraphQL operations they mirror and call the same engine functions;
what the templates get is plain data (admin.views), escaped by Jinja2 everywhere."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import jinja2
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from account_alerts.admin import signing_in, views
from account_alerts.admin.dashboard import WINDOWS, dashboard_page
from account_alerts.admin.rule_pages import RulePages
from account_alerts.admin.signing_in import SignInRefused, StaffSession
from account_alerts.api.auth import TokenVerifier
from account_alerts.api.context import Services
from account_alerts.domain.cases import CaseOutcome
from account_alerts.engine import cases as case_flow
from account_alerts.engine.customer_views import customer_overview
from account_alerts.errors import ApiError, BadUserInput
from account_alerts.store.base import row_key
from account_alerts.store.case_queries import (
    one_case,
    queue_page,
    timelines,
)
from account_alerts.store.dashboard import counts as dashboard_counts
from account_alerts.store.database import Database
from account_alerts.store.sla_report import alert_sla, case_sla

HERE = Path(__file__).parent
QUEUE_SIZE = 100
SIGN_IN = "/admin/sign-in"
STATUS_OF = {"NOT_FOUND": 404, "CONFLICT": 409, "FORBIDDEN": 403}
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """Every console response: nothing from elsewhere runs, nothing is framed or cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


Page = Callable[[Request, StaffSession], Awaitable[Response]]


class Console:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.tokens = TokenVerifier(services.settings)
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True
        )
        self.templates = Jinja2Templates(env=environment)

    @property
    def db(self) -> Database:
        return self.services.db

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any],
        *,
        staff: StaffSession | None = None,
        status_code: int = 200,
    ) -> Response:
        values = {
            "staff": staff.staff if staff else None,
            "csrf": staff.csrf_token if staff else "",
        }
        return self.templates.TemplateResponse(
            request, name, {**values, **context}, status_code=status_code
        )

    def signed_in(self, page: Page) -> Callable[[Request], Awaitable[Response]]:
        """A page for a signed-in staff member; anyone else is sent to sign in (a
        refreshing fragment is told to send the whole page there)."""

        async def endpoint(request: Request) -> Response:
            staff = await signing_in.current(request, self.db, self.services.clock())
            if staff is None:
                if request.method != "GET":
                    return Response("sign in to the console first", status_code=403)
                if request.headers.get("hx-request"):
                    return Response(status_code=401, headers={"hx-redirect": SIGN_IN})
                return RedirectResponse(SIGN_IN, status_code=303)
            return await page(request, staff)

        return endpoint

    def acting(
        self, action: Callable[[StaffSession, int, dict[str, str]], Awaitable[object]]
    ) -> Page:
        """A form on a case page: the CSRF token checked first; then the action, and back
        to the case, or the case again with what went wrong."""

        async def page(request: Request, staff: StaffSession) -> Response:
            form = await signing_in.read_form(request)
            if not signing_in.csrf_matches(form, request, staff.csrf_token):
                return Response(
                    "the form's security token is missing or wrong: reload the page",
                    status_code=403,
                )
            try:
                case_id = case_flow.case_key(request.path_params["case_id"])
            except ApiError:
                return self.missing(request, staff, "that review case")
            try:
                await action(staff, case_id, form)
            except ApiError as exc:
                return await self.case_response(
                    request,
                    staff,
                    case_id,
                    error=exc.message,
                    status_code=STATUS_OF.get(exc.extensions["code"], 400),
                )
            return RedirectResponse(f"/admin/cases/{case_id}", status_code=303)

        return page

    # Sign-in and sign-out.

    async def sign_in_page(self, request: Request) -> Response:
        return self.sign_in_form(request)

    def sign_in_form(self, request: Request, error: str = "", status_code: int = 200) -> Response:
        token = signing_in.sign_in_token()
        response = self.render(
            request,
            "sign_in.html",
            {"error": error, "sign_in_csrf": token},
            status_code=status_code,
        )
        signing_in.remember_sign_in_token(response, self.services.settings, token)
        return response

    async def sign_in(self, request: Request) -> Response:
        form = await signing_in.read_form(request)
        if not signing_in.sign_in_csrf_matches(request, form):
            return self.sign_in_form(
                request, "The form expired or was not sent from this page: try again.", 403
            )
        response = RedirectResponse("/admin/cases", status_code=303)
        try:
            await signing_in.sign_in(
                self.db,
                self.tokens,
                self.services.settings,
                bearer=form.get("token", ""),
                now=self.services.clock(),
                response=response,
            )
        except SignInRefused as exc:
            return self.sign_in_form(request, str(exc), 403)
        return response

    async def sign_out(self, request: Request, staff: StaffSession) -> Response:
        form = await signing_in.read_form(request)
        if not signing_in.csrf_matches(form, request, staff.csrf_token):
            return Response("the form's security token is missing or wrong", status_code=403)
        response = RedirectResponse(SIGN_IN, status_code=303)
        await signing_in.sign_out(self.db, staff, now=self.services.clock(), response=response)
        return response

    # The queue.

    async def queue_rows(self) -> list[dict[str, Any]]:
        now = self.services.clock()
        async with self.db.session() as session:
            rows = await queue_page(session, limit=QUEUE_SIZE)
        return [views.queue_row(row, customer_locked=locked, now=now) for row, locked in rows]

    async def queue(self, request: Request, staff: StaffSession) -> Response:
        return self.render(request, "queue.html", {"rows": await self.queue_rows()}, staff=staff)

    async def queue_fragment(self, request: Request, staff: StaffSession) -> Response:
        return self.render(
            request, "queue_rows.html", {"rows": await self.queue_rows()}, staff=staff
        )

    # A case.

    async def case_response(
        self,
        request: Request,
        staff: StaffSession,
        case_id: int,
        *,
        error: str = "",
        status_code: int = 200,
    ) -> Response:
        now = self.services.clock()
        async with self.db.session() as session:
            found = await one_case(session, case_id)
            if found is None:
                return self.render(
                    request,
                    "missing.html",
                    {"what": f"review case {case_id}"},
                    staff=staff,
                    status_code=404,
                )
            history = await timelines(session, [case_id])
        case = views.case_page(
            found[0], customer_locked=found[1], timeline=history[case_id], now=now
        )
        return self.render(
            request,
            "case.html",
            {"case": case, "error": error, "outcomes": [o.value for o in CaseOutcome]},
            staff=staff,
            status_code=status_code,
        )

    async def case(self, request: Request, staff: StaffSession) -> Response:
        raw = request.path_params["case_id"]
        try:
            case_id = case_flow.case_key(raw)
        except ApiError:
            return self.render(
                request,
                "missing.html",
                {"what": "that review case"},
                staff=staff,
                status_code=404,
            )
        return await self.case_response(request, staff, case_id)

    async def _acknowledge(self, staff: StaffSession, case_id: int, form: dict[str, str]) -> None:
        await case_flow.acknowledge_case(
            self.db, actor=staff.actor, case_id=str(case_id), now=self.services.clock()
        )

    async def _assign(self, staff: StaffSession, case_id: int, form: dict[str, str]) -> None:
        await case_flow.assign_case(
            self.db,
            actor=staff.actor,
            case_id=str(case_id),
            to=form.get("to", ""),
            now=self.services.clock(),
        )

    async def _comment(self, staff: StaffSession, case_id: int, form: dict[str, str]) -> None:
        await case_flow.comment_case(
            self.db,
            actor=staff.actor,
            case_id=str(case_id),
            text=form.get("text", ""),
            now=self.services.clock(),
        )

    async def _resolve(self, staff: StaffSession, case_id: int, form: dict[str, str]) -> None:
        try:
            outcome = CaseOutcome(form.get("outcome", ""))
        except ValueError as exc:
            raise BadUserInput("choose CONFIRMED_FRAUD or FALSE_POSITIVE", field="outcome") from exc
        await case_flow.resolve_case(
            self.db,
            actor=staff.actor,
            case_id=str(case_id),
            outcome=outcome,
            notes=form.get("notes") or None,
            now=self.services.clock(),
        )

    # The dashboard.

    async def dashboard(self, request: Request, staff: StaffSession) -> Response:
        raw = request.query_params.get("days", "7")
        days = int(raw) if raw.isdigit() and int(raw) in WINDOWS else 7
        end = self.services.clock()
        start = end - timedelta(days=days)
        async with self.db.session() as session:
            counts = await dashboard_counts(session, start=start, end=end)
            cases = await case_sla(session, start=start, end=end, now=end)
            alerts = await alert_sla(session, start=start, end=end)
        return self.render(
            request,
            "dashboard.html",
            dashboard_page(counts, cases, alerts, days=days, end=end),
            staff=staff,
        )

    # A customer.

    async def customer(self, request: Request, staff: StaffSession) -> Response:
        raw = request.path_params["user_id"]
        mobile_user_id = row_key(raw)
        if mobile_user_id is None:
            return self.render(
                request, "missing.html", {"what": "that customer"}, staff=staff, status_code=404
            )
        now = self.services.clock()
        try:
            view = await customer_overview(
                self.db,
                self.services.settings,
                actor=staff.actor,
                mobile_user_id=mobile_user_id,
                now=now,
            )
        except ApiError:
            return self.render(
                request,
                "missing.html",
                {"what": f"customer {raw}"},
                staff=staff,
                status_code=404,
            )
        return self.render(
            request,
            "customer.html",
            {"customer": views.customer_page(view, now=now)},
            staff=staff,
        )

    def missing(self, request: Request, staff: StaffSession, what: str) -> Response:
        return self.render(request, "missing.html", {"what": what}, staff=staff, status_code=404)

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/admin/cases", status_code=303)

    def routes(self) -> Mount:
        def post(path: str, page: Page) -> Route:
            return Route(path, self.signed_in(page), methods=["POST"])

        return Mount(
            "/admin",
            routes=[
                Route("/", self.home),
                Route("/sign-in", self.sign_in_page, methods=["GET"]),
                Route("/sign-in", self.sign_in, methods=["POST"]),
                post("/sign-out", self.sign_out),
                Route("/cases", self.signed_in(self.queue)),
                Route("/cases/rows", self.signed_in(self.queue_fragment)),
                Route("/cases/{case_id}", self.signed_in(self.case)),
                post("/cases/{case_id}/acknowledge", self.acting(self._acknowledge)),
                post("/cases/{case_id}/assign", self.acting(self._assign)),
                post("/cases/{case_id}/comment", self.acting(self._comment)),
                post("/cases/{case_id}/resolve", self.acting(self._resolve)),
                Route("/customers/{user_id}", self.signed_in(self.customer)),
                Route("/dashboard", self.signed_in(self.dashboard)),
                *RulePages(self).routes(),
                Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
            ],
            middleware=[Middleware(SecurityHeaders)],
        )


def console_routes(services: Services) -> Mount:
    return Console(services).routes()
