"""The live-alerts websocket (graphql-transport-ws), guarded by the customer's token.

The token comes in ``connection_init`` (browsers cannot set headers on a websocket). A
missing, invalid, expired or non-customer token closes the socket with 4403 Forbidden
and the reason, before anything is acknowledged; an accepted one keeps the connection
only until it expires, when the socket closes with 4403 and "the token has expired",
so that the app signs in again and reconnects."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from account_alerts.api.auth import EXPIRED, Caller, InvalidToken, TokenVerifier, bearer_token
from account_alerts.api.context import Context
from account_alerts.domain.enums import Role

FORBIDDEN = 4403
NO_TOKEN = 'connection_init needs the payload {"Authorization": "Bearer <token>"}'  # noqa: S105
NOT_A_CUSTOMER = "live alerts are for customers' tokens"


def admit(params: dict[str, object], tokens: TokenVerifier) -> tuple[Caller, float]:
    """The customer ``connection_init``'s payload names, and when their token expires
    (Unix time); InvalidToken with the reason otherwise."""
    header = params.get("Authorization") or params.get("authorization")
    if header is None and params.get("token"):
        header = f"Bearer {params['token']}"
    token = bearer_token(header) if isinstance(header, str) else None
    if not token:
        raise InvalidToken(NO_TOKEN)
    caller, valid_until = tokens.verify_until(token)
    if caller.role is not Role.CUSTOMER:
        raise InvalidToken(NOT_A_CUSTOMER)
    return caller, valid_until


class CustomerSocket(BaseGraphQLTransportWSHandler[Context, None]):
    tokens: TokenVerifier
    expiry: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload") or {}
        # Anything else (a second init, a payload that is not an object) the protocol
        # itself answers.
        if self.connection_init_received or not isinstance(payload, dict):
            await super().handle_connection_init(message)
            return
        try:
            caller, valid_until = admit(payload, self.tokens)
        except InvalidToken as exc:
            self.connection_init_received = True
            await self.websocket.close(code=FORBIDDEN, reason=str(exc))
            return
        self.context.caller, self.context.auth_error = caller, None
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self.expiry = asyncio.create_task(self.close_at(valid_until))

    async def close_at(self, valid_until: float) -> None:
        await asyncio.sleep(max(valid_until - time.time(), 0))
        await self.websocket.close(code=FORBIDDEN, reason=EXPIRED)

    async def shutdown(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
            with suppress(asyncio.CancelledError):
                await self.expiry
        await super().shutdown()
