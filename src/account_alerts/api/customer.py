"""The mobile app's operations. The user is always the token's subject, never an argument."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime, timedelta

import strawberry

from account_alerts.api.context import Info
from account_alerts.api.permissions import IsCustomer, IsCustomerOrAdmin
from account_alerts.api.types.alerts import AccountAlertsResult, AccountAlertView
from account_alerts.api.types.settings import AccountAlertSettings, AccountAlertSettingsInput
from account_alerts.domain.enums import AlertType, NotificationChannel, Role, UserAction
from account_alerts.engine.acknowledgement import acknowledge_alert
from account_alerts.engine.customer_views import record_customer_read
from account_alerts.engine.devices import register_push_device
from account_alerts.engine.preferences import read_preferences, update_preferences
from account_alerts.engine.test_alerts import send_test_alert
from account_alerts.engine.verification import (
    VerificationUnavailable,
    confirm_verification,
    start_verification,
)
from account_alerts.errors import (
    BadUserInput,
    Forbidden,
    NotFound,
    ReauthRequired,
    ServiceUnavailable,
)
from account_alerts.store.accounts import owned_account
from account_alerts.store.alert_history import (
    AlertFilter,
    owned_alert,
    page_of_alerts,
    unacknowledged_count,
)

MAX_PAGE = 100


def _user_id(info: Info) -> int:
    assert info.context.caller is not None  # IsCustomer ran first
    return info.context.caller.mobile_user_id


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise BadUserInput(
            f"{field} must include a time zone offset, e.g. Z or +02:00", field=field
        )
    return value


async def _whose_alerts(info: Info, mobile_user_id: int | None) -> int:
    caller = info.context.caller
    assert caller is not None  # IsCustomerOrAdmin ran first
    if caller.role is not Role.ADMIN:
        if mobile_user_id is not None:
            raise Forbidden("mobileUserId is for the risk team; your own alerts need none")
        return caller.mobile_user_id
    if mobile_user_id is None:
        raise BadUserInput("name the customer whose alerts to read", field="mobileUserId")
    await record_customer_read(
        info.context.db,
        actor=info.context.actor(),
        mobile_user_id=mobile_user_id,
        view="accountAlerts",
        now=info.context.now(),
    )
    return mobile_user_id


@strawberry.type
class CustomerQuery:
    @strawberry.field(permission_classes=[IsCustomer])
    async def account_alert_settings(
        self, info: Info, account_number: str
    ) -> AccountAlertSettings | None:
        prefs, updated_at = await read_preferences(
            info.context.db,
            info.context.settings,
            mobile_user_id=_user_id(info),
            account_number=account_number,
        )
        return AccountAlertSettings.build(
            account_number, prefs, updated_at, mobile_user_id=_user_id(info)
        )

    @strawberry.field(
        permission_classes=[IsCustomerOrAdmin],
        description="Newest first. The risk team names the customer with mobileUserId (the "
        "read is audited); a customer reads only their own and may not pass it.",
    )
    async def account_alerts(
        self,
        info: Info,
        account_number: str | None = None,
        alert_type: AlertType | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        limit: int | None = 20,
        offset: int | None = 0,
        mobile_user_id: int | None = None,
    ) -> AccountAlertsResult:
        limit = 20 if limit is None else limit
        offset = 0 if offset is None else offset
        if not 1 <= limit <= MAX_PAGE:
            raise BadUserInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        if offset < 0:
            raise BadUserInput("offset cannot be negative", field="offset")
        start, end = _aware(start_date, "startDate"), _aware(end_date, "endDate")
        if start is not None and end is not None and start > end:
            raise BadUserInput("startDate must not be after endDate", field="startDate")
        user_id = await _whose_alerts(info, mobile_user_id)
        async with info.context.db.session() as session:
            if (
                account_number is not None
                and await owned_account(
                    session, account_number=account_number, mobile_user_id=user_id
                )
                is None
            ):
                raise NotFound(f"no account {account_number} among your accounts")
            rows, total = await page_of_alerts(
                session,
                AlertFilter(
                    mobile_user_id=user_id,
                    account_number=account_number,
                    alert_type=alert_type,
                    start=start,
                    end=end,
                ),
                limit=limit,
                offset=offset,
            )
            items = await AccountAlertView.many(info, rows, session=session)
        return AccountAlertsResult(items=items, total_count=total, limit=limit, offset=offset)

    @strawberry.field(permission_classes=[IsCustomer], description="The app's badge count.")
    async def unacknowledged_alert_count(self, info: Info) -> int:
        async with info.context.db.session() as session:
            return await unacknowledged_count(session, _user_id(info))


@strawberry.type
class CustomerMutation:
    @strawberry.mutation(
        permission_classes=[IsCustomer],
        description="Needs a sign-in within the last five minutes (REAUTH_REQUIRED otherwise).",
    )
    async def update_account_alert_settings(
        self, info: Info, account_number: str, settings: AccountAlertSettingsInput
    ) -> AccountAlertSettings:
        context = info.context
        assert context.caller is not None
        now = context.now()
        max_age = timedelta(seconds=context.settings.reauth_max_age_seconds)
        if not context.caller.authenticated_recently(now, max_age):
            raise ReauthRequired(
                "confirm it's you: sign in again to change alert settings "
                f"(needed within {context.settings.reauth_max_age_seconds // 60} minutes)"
            )
        prefs, updated_at = await update_preferences(
            context.db,
            context.settings,
            actor=info.context.actor(),
            mobile_user_id=_user_id(info),
            account_number=account_number,
            change=settings.as_change(),
            now=now,
        )
        return AccountAlertSettings.build(
            account_number, prefs, updated_at, mobile_user_id=_user_id(info)
        )

    @strawberry.mutation(permission_classes=[IsCustomer])
    async def acknowledge_alert(
        self, info: Info, alert_id: strawberry.ID, action: UserAction | None = None
    ) -> bool:
        return await acknowledge_alert(
            info.context.db,
            actor=info.context.actor(),
            mobile_user_id=_user_id(info),
            alert_id=str(alert_id),
            action=action,
            now=info.context.now(),
            case_ack_sla=info.context.settings.case_ack_sla,
        )

    @strawberry.mutation(
        permission_classes=[IsCustomer],
        description="Send an isTest alert of this type through the customer's channels for it.",
    )
    async def test_alert(self, info: Info, account_number: str, alert_type: AlertType) -> bool:
        alert = await send_test_alert(
            info.context.db,
            info.context.settings,
            actor=info.context.actor(),
            mobile_user_id=_user_id(info),
            account_number=account_number,
            alert_type=alert_type,
            now=info.context.now(),
        )
        assert alert.id is not None
        return True

    @strawberry.mutation(permission_classes=[IsCustomer])
    async def register_push_device(
        self, info: Info, device_id: str, token: str, platform: str
    ) -> bool:
        await register_push_device(
            info.context.db,
            actor=info.context.actor(),
            mobile_user_id=_user_id(info),
            device_id=device_id,
            token=token,
            platform=platform,
            now=info.context.now(),
        )
        return True

    @strawberry.mutation(
        permission_classes=[IsCustomer],
        description="Send a 6-digit code to a phone number (SMS) or email address (EMAIL).",
    )
    async def start_channel_verification(
        self, info: Info, channel: NotificationChannel, destination: str
    ) -> bool:
        context = info.context
        try:
            await start_verification(
                context.db,
                actor=info.context.actor(),
                mobile_user_id=_user_id(info),
                channel=channel,
                destination=destination,
                sender=context.services.channels[channel],
                verification_key=context.settings.code_hash_key,
                now=context.now(),
            )
        except VerificationUnavailable as exc:
            raise ServiceUnavailable(
                "the code could not be sent right now; try again in a minute"
            ) from exc
        return True

    @strawberry.mutation(permission_classes=[IsCustomer])
    async def confirm_channel_verification(
        self, info: Info, channel: NotificationChannel, code: str
    ) -> bool:
        await confirm_verification(
            info.context.db,
            actor=info.context.actor(),
            mobile_user_id=_user_id(info),
            channel=channel,
            code=code,
            verification_key=info.context.settings.code_hash_key,
            now=info.context.now(),
        )
        return True


@strawberry.type
class CustomerSubscription:
    @strawberry.subscription(
        permission_classes=[IsCustomer], description="The signed-in customer's new alerts."
    )
    async def alert_created(self, info: Info) -> AsyncGenerator[AccountAlertView, None]:
        user_id = _user_id(info)
        async for alert_id in info.context.services.broker.subscribe(user_id):
            async with info.context.db.session() as session:
                row = await owned_alert(session, alert_id=alert_id, mobile_user_id=user_id)
            if row is not None:
                [view] = await AccountAlertView.many(info, [row])
                yield view
