"""Push through firebase-admin (FCM HTTP v1): a notification plus data for the app."""

from __future__ import annotations

import asyncio
import itertools
import warnings
from datetime import datetime
from pathlib import Path

import firebase_admin
import google.auth.exceptions
import requests
from firebase_admin import credentials, exceptions, messaging
from requests.adapters import HTTPAdapter

from account_alerts.delivery.channels.base import (
    DeliveryError,
    OutgoingMessage,
    Receipt,
    ThreadedChannel,
)
from account_alerts.domain.enums import NotificationChannel

_app_names = itertools.count(1)

TRANSIENT = (
    exceptions.UnavailableError,
    exceptions.InternalError,
    exceptions.DeadlineExceededError,
    exceptions.ResourceExhaustedError,
    exceptions.UnknownError,
)


class FcmPush(ThreadedChannel):
    channel = NotificationChannel.PUSH
    provider = "fcm"

    def __init__(
        self,
        *,
        credentials_file: Path,
        endpoint: str | None = None,
        timeout: float = 10,
        concurrency: int = 8,
    ) -> None:
        super().__init__(concurrency)
        self.app = firebase_admin.initialize_app(
            credentials.Certificate(str(credentials_file)),
            {"httpTimeout": timeout},
            name=f"account-alerts-{next(_app_names)}",
        )
        service = messaging._get_messaging_service(self.app)
        base = (endpoint or "https://fcm.googleapis.com").rstrip("/")
        if endpoint:
            # firebase-admin has no option for the FCM address (an emulator, a test peer).
            project = service._project_id
            service._fcm_url = f"{base}/v1/projects/{project}/messages:send"
        # Our worker retries with backoff; the library's own retries would hold a send for
        # as long as any Retry-After says. As many connections kept open as sends at once.
        service._client.session.mount(base, HTTPAdapter(max_retries=0, pool_maxsize=concurrency))

    def _send(self, message: OutgoingMessage) -> Receipt:
        with warnings.catch_warnings():
            # 7.x prefers "fid"; the registration token is what the apps hold and FCM v1 takes.
            warnings.simplefilter("ignore", DeprecationWarning)
            fcm_message = self._message(message)
        try:
            name = messaging.send(fcm_message, app=self.app)
        except (messaging.UnregisteredError, messaging.SenderIdMismatchError) as exc:
            raise DeliveryError(
                "fcm: the device token is no longer registered",
                transient=False,
                stale_destination=True,
            ) from exc
        except exceptions.InvalidArgumentError as exc:
            raise DeliveryError(
                "fcm: invalid message or token", transient=False, stale_destination=True
            ) from exc
        except TRANSIENT as exc:
            retry_after = _retry_after(exc)
            raise DeliveryError(
                f"fcm: {exc.code}", transient=True, retry_after=retry_after
            ) from exc
        except exceptions.FirebaseError as exc:
            raise DeliveryError(f"fcm: {exc.code}", transient=False) from exc
        except google.auth.exceptions.RefreshError as exc:
            retryable = bool(getattr(exc, "retryable", False))
            raise DeliveryError(
                "fcm: could not obtain an access token", transient=retryable
            ) from exc
        except requests.RequestException as exc:
            raise DeliveryError(f"fcm unreachable: {type(exc).__name__}", transient=True) from exc
        return Receipt(provider_message_id=name)

    @staticmethod
    def _message(message: OutgoingMessage) -> messaging.Message:
        # The alert's collapse identity: a repeat (a send in doubt, sent again) replaces the
        # first notification on the device instead of showing a second one.
        key = message.delivery_key
        return messaging.Message(
            token=message.to,
            notification=messaging.Notification(title=message.title, body=message.body),
            data=message.data,
            android=messaging.AndroidConfig(
                priority="high",
                collapse_key=key,
                notification=messaging.AndroidNotification(tag=key) if key else None,
            ),
            apns=messaging.APNSConfig(
                headers={"apns-collapse-id": key} if key else None,
                payload=messaging.APNSPayload(
                    aps=messaging.Aps(category=message.data.get("category"))
                ),
            ),
        )

    async def close(self) -> None:
        await super().close()
        await asyncio.to_thread(firebase_admin.delete_app, self.app)


def _skip_google_region_lookup(google_credential: object) -> None:
    """google-auth asks Google's IAM service which regions a service account may use; that
    is meaningless (and unreachable) for a non-Google FCM endpoint, so mark it as looked up."""
    manager = getattr(google_credential, "_rab_manager", None)
    if manager is not None:
        manager._data = manager._data._replace(cooldown_expiry=datetime.max)


def _retry_after(exc: exceptions.FirebaseError) -> float | None:
    response = exc.http_response
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None
