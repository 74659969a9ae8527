"""The app registers the device's push token."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select

from account_alerts.engine.actor import Actor
from account_alerts.errors import BadUserInput
from account_alerts.store import audit_trail
from account_alerts.store.base import table_of
from account_alerts.store.customers import Device, MobileUser
from account_alerts.store.database import Database

PLATFORMS = frozenset({"android", "ios", "web"})


async def register_push_device(
    db: Database,
    *,
    actor: Actor,
    mobile_user_id: int,
    device_id: str,
    token: str,
    platform: str,
    now: datetime,
) -> None:
    platform = platform.strip().lower()
    if platform not in PLATFORMS:
        raise BadUserInput("platform must be one of android, ios, web", field="platform")
    if not device_id.strip() or len(device_id) > 255:
        raise BadUserInput("deviceId must be 1 to 255 characters", field="deviceId")
    if not token.strip() or len(token) > 4096:
        raise BadUserInput("token must be 1 to 4096 characters", field="token")
    async with db.transaction() as session:
        if await session.get(MobileUser, mobile_user_id) is None:
            session.add(MobileUser(id=mobile_user_id, created_at=now, updated_at=now))
            await session.flush()
        # A token belongs to one installation: if it moved (a shared or resold phone), the
        # previous owner's record of it stops receiving pushes.
        table = table_of(Device)
        await session.exec(
            sa.update(table)
            .where(table.c.push_token == token, table.c.mobile_user_id != mobile_user_id)
            .values(push_token_active=False, updated_at=now)
        )
        device = (
            await session.exec(
                select(Device).where(
                    col(Device.mobile_user_id) == mobile_user_id, col(Device.device_id) == device_id
                )
            )
        ).first()
        if device is None:
            device = Device(mobile_user_id=mobile_user_id, device_id=device_id, created_at=now)
        device.push_token = token
        device.push_platform = platform
        device.push_token_active = True
        device.updated_at = now
        session.add(device)
        audit_trail.record(
            session,
            actor_role=actor.role.value,
            actor_id=actor.id,
            action="device.push_registered",
            occurred_at=now,
            mobile_user_id=mobile_user_id,
            subject_type="device",
            subject_id=device_id,
            details={"platform": platform},
        )
