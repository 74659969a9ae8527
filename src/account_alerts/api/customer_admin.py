"""The risk team's view of one customer (their alert history is ``accountAlerts`` with
``mobileUserId``)."""

from __future__ import annotations

import strawberry

from account_alerts.api.context import Info
from account_alerts.api.permissions import IsAdmin
from account_alerts.api.types.customer_overview import CustomerOverview
from account_alerts.engine.customer_views import customer_overview


@strawberry.type
class CustomerAdminQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="Accounts and their settings, channels, lock state, recent events, "
        "suspicious activity and cases of one customer; the read is audited.",
    )
    async def customer_overview(self, info: Info, mobile_user_id: int) -> CustomerOverview:
        view = await customer_overview(
            info.context.db,
            info.context.settings,
            actor=info.context.actor(),
            mobile_user_id=mobile_user_id,
            now=info.context.now(),
        )
        return CustomerOverview.build(view, now=info.context.now())
