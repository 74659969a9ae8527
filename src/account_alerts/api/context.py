"""One typed context per request: the caller, the database, fresh DataLoaders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from account_alerts.api.auth import Caller
from account_alerts.config import Settings
from account_alerts.delivery.channels.base import Channel
from account_alerts.delivery.in_app import AlertBroker
from account_alerts.domain.enums import NotificationChannel
from account_alerts.engine.actor import Actor
from account_alerts.engine.backtests import Backtests
from account_alerts.engine.ingest import Ingestor
from account_alerts.store.alert_history import DeliveryRecord, deliveries_by_alert
from account_alerts.store.database import Database


@dataclass
class Services:
    """What the app is built from, shared by every request."""

    settings: Settings
    db: Database
    broker: AlertBroker
    clock: Callable[[], datetime]
    ingestor: Ingestor
    channels: dict[NotificationChannel, Channel]
    backtests: Backtests


class Loaders:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.deliveries: DataLoader[int, list[DeliveryRecord]] = DataLoader(
            load_fn=self._load_deliveries
        )

    async def _load_deliveries(self, alert_ids: Sequence[int]) -> list[list[DeliveryRecord]]:
        async with self._db.session() as session:
            grouped = await deliveries_by_alert(session, alert_ids)
        return [grouped.get(alert_id, []) for alert_id in alert_ids]


@dataclass
class Context:
    services: Services
    caller: Caller | None
    auth_error: str | None
    # Set by the websocket protocol from connection_init: how subscriptions authenticate.
    connection_params: dict[str, object] | None = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.services.db)

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def now(self) -> datetime:
        return self.services.clock()

    def actor(self) -> Actor:
        """The signed-in caller as the audit log records them (permissions ran first)."""
        assert self.caller is not None
        return Actor(role=self.caller.role, id=self.caller.subject)


Info: TypeAlias = StrawberryInfo[Context, None]
