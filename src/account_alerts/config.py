"""Settings from the environment (prefix ``ALERTS_``), read once by the composition root."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from account_alerts.domain.alert_settings import ThresholdDefaults
from account_alerts.domain.sms import MAX_SEGMENTS, segments
from account_alerts.domain.webhooks import DEFAULT_RETRY_SCHEDULE

# 5 000 / 50 000 MWK and their rough equivalents: (low balance, large transaction).
DEFAULT_THRESHOLDS: dict[str, tuple[Decimal, Decimal]] = {
    "MWK": (Decimal(5000), Decimal(50000)),
    "USD": (Decimal(3), Decimal(30)),
    "EUR": (Decimal(3), Decimal(30)),
    "GBP": (Decimal("2.5"), Decimal(25)),
    "ZAR": (Decimal(50), Decimal(500)),
    "ZMW": (Decimal(75), Decimal(750)),
    "TZS": (Decimal(7500), Decimal(75000)),
    "KES": (Decimal(375), Decimal(3750)),
}

DEVELOPMENT_JWT_SECRET = "development-only-secret-change-me-0123456789"  # noqa: S105


class EscalationLevel(BaseModel):
    """One level of the risk team's escalation chain: who is told, by which channels."""

    name: str = Field(min_length=1, max_length=64)
    emails: list[str] = Field(default_factory=list)
    # Slack incoming-webhook URLs (they are secrets: never logged, never shown).
    slack_webhooks: list[SecretStr] = Field(default_factory=list)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALERTS_", extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite:///account_alerts.db"
    jwt_secret: SecretStr = SecretStr(DEVELOPMENT_JWT_SECRET)
    jwt_algorithm: str = "HS256"
    jwt_public_key_file: Path | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # Keys the one-time codes' hashes; defaults to the JWT secret.
    verification_key: SecretStr | None = None
    reauth_max_age_seconds: int = Field(default=300, gt=0)
    timezone: str = "Africa/Blantyre"
    default_currency: str = "MWK"
    # JSON in the environment, e.g. ALERTS_DEFAULT_THRESHOLDS='{"USD": ["3", "30"]}'.
    default_thresholds: dict[str, tuple[Decimal, Decimal]] = Field(
        default_factory=lambda: dict(DEFAULT_THRESHOLDS)
    )
    sink_file: Path | None = None
    db_pool_size: int = Field(default=20, ge=1)
    # Group commit: single events that arrive while event_group_writers transactions of
    # their caller's are in flight are written together in the next one, up to
    # event_group_max of them (1: each on its own). Larger groups hold more customers'
    # locks for longer, which other processes' groups then wait for.
    event_group_max: int = Field(default=16, ge=1, le=500)
    event_group_writers: int = Field(default=1, ge=1, le=32)
    # An event that would be written alone while other requests are in progress in the
    # process waits up to this long for those that are events of its caller's too, and
    # shares its transaction with them (0: never waits).
    event_group_wait_ms: float = Field(default=2.0, ge=0, le=50)
    # Batches (recordTransactions, recordLogins, ...) of one caller that arrive while
    # event_batch_group_writers of its batch transactions are in flight are written together
    # in the next one, up to event_batch_group_max batches (1: each on its own): they
    # would wait for each other's customer locks anyway, and together they lock, read and
    # write each customer once. One writer: a second one's batches mostly waited for the
    # first's locks, and went in smaller groups.
    event_batch_group_max: int = Field(default=4, ge=1, le=32)
    event_batch_group_writers: int = Field(default=1, ge=1, le=32)
    # Customers whose activity profile this process keeps as it last wrote it, so that
    # their next event need not decode it again (PostgreSQL; engine.profile_cache). 0: off.
    activity_profile_cache_size: int = Field(default=10_000, ge=0, le=1_000_000)
    public_url: str = "http://localhost:8000"
    # The risk team's rules: a change made in one process reaches the others' live
    # traffic within this many seconds (at once in the process that made it).
    fraud_rules_refresh_seconds: float = Field(default=1.0, ge=0, le=60)
    # A backtest's window: at most this many days of stored events.
    backtest_max_days: int = Field(default=366, ge=1, le=3660)
    # A backtest judges its events in this many child processes, each owning a share of
    # the customers, beside the server's reading of them; 0: in a thread of the server.
    backtest_processes: int = Field(default=2, ge=0, le=16)
    # Delivery worker.
    worker_batch_size: int = Field(default=500, ge=1, le=1000)
    worker_concurrency: int = Field(default=2, ge=1, le=16)
    worker_poll_seconds: float = Field(default=0.5, gt=0)
    # Under a stream of alerts every commit wakes the worker; a claim loop woken again
    # less than this after a claim that found deliveries waits out the rest, so that the
    # alerts of that moment go out in one claim (a claim costs far more than a delivery
    # in it). An alert on a quiet worker goes out at once.
    worker_wave_interval_ms: float = Field(default=250.0, ge=0, le=1000)
    worker_lease_seconds: int = Field(default=60, ge=5)
    worker_max_attempts: int = Field(default=6, ge=1)
    provider_concurrency: int = Field(default=32, ge=1, le=64)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=30, gt=0)
    # Providers: a channel without credentials writes to the sink instead.
    fcm_credentials_file: Path | None = None
    fcm_endpoint: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base: str | None = None
    # The answer to a customer who texts HELP: who sends these alerts and how to stop them.
    sms_help_text: str = (
        "Account alerts from your bank. Reply STOP to opt out, START to opt back in. "
        "For help, call your bank or open the app."
    )
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Account Alerts <alerts@localhost>"
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = 10
    provider_timeout_seconds: float = 10
    # The risk team's cases: acknowledged within this long, or the chain escalates. The
    # chain is JSON, e.g. ALERTS_CASE_ESCALATION_CHAIN='[{"name": "analysts", "emails":
    # ["risk@bank.example"], "slack_webhooks": ["https://..."]}, {"name": "supervisors",
    # "emails": ["head.of.risk@bank.example"]}]'; past its top level, the top level is
    # told again up to case_escalation_repeats times.
    case_ack_sla_seconds: int = Field(default=300, ge=1)
    case_escalation_chain: list[EscalationLevel] = Field(default_factory=list)
    case_escalation_repeats: int = Field(default=2, ge=0, le=20)
    case_notify_poll_seconds: float = Field(default=1.0, gt=0)
    case_notify_lease_seconds: int = Field(default=30, ge=1)
    case_notify_max_attempts: int = Field(default=8, ge=1)
    # The console's sign-in lasts this long (then the staff member signs in again).
    admin_session_seconds: int = Field(default=8 * 3600, ge=60, le=7 * 24 * 3600)
    # Webhooks (DESIGN 5.3). Fernet keys, comma-separated: the first encrypts endpoint
    # secrets, every one decrypts (a new key goes first, the old stays until re-encrypted).
    # Without it production refuses webhooks; development derives one from the JWT secret.
    webhook_encryption_key: SecretStr | None = None
    # CIDR blocks, comma-separated, that webhook destinations may resolve to although
    # private, loopback or link-local (e.g. "127.0.0.1/32" for local tests).
    webhook_allowed_networks: str = ""
    # Seconds to wait after each failed try; JSON in the environment, e.g. "[5, 300]".
    webhook_retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    webhook_timeout_seconds: float = Field(default=15, gt=0)
    # Requests in flight to one endpoint at once: a slow endpoint holds only these.
    webhook_endpoint_concurrency: int = Field(default=8, ge=1, le=64)
    webhook_batch_size: int = Field(default=500, ge=1, le=1000)
    webhook_lease_seconds: int = Field(default=60, ge=5)
    webhook_poll_seconds: float = Field(default=0.5, gt=0)
    # Under a stream of events every commit wakes the dispatcher; woken again less than
    # this after a pass that found work, it waits out the rest and takes them together.
    webhook_wave_interval_ms: float = Field(default=250.0, ge=0, le=1000)
    # How long the previous secret still signs after a rotation (two signatures).
    webhook_rotation_overlap_seconds: int = Field(default=24 * 3600, ge=0)
    # The part of a receiver's answer kept with an attempt.
    webhook_max_response_bytes: int = Field(default=1024, ge=0, le=65536)
    graphql_max_depth: int = Field(default=10, ge=1)
    graphql_max_aliases: int = Field(default=30, ge=1)
    graphql_max_tokens: int = Field(default=2000, ge=10)
    # The executor's short path for plain fields (api/execution.py); off, graphql-core
    # executes every field its own way.
    graphql_short_path: bool = True
    # A document's length in characters, comments and whitespace included (the token
    # limit does not count them).
    graphql_max_document_chars: int = Field(default=100_000, ge=100)
    # The edge. The largest legitimate call is a batch of 500 login events with every
    # text at its limit: about 2.8 MB of JSON even in 4-byte UTF-8. A websocket message
    # may carry the same operations. The head is the request line and its headers.
    max_request_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_websocket_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_header_bytes: int = Field(default=32 * 1024, ge=1024)

    @field_validator("database_url")
    @classmethod
    def _force_psycopg3(cls, value: str) -> str:
        # psycopg 3 serves both the sync (migrations) and async (API) engines.
        for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("sms_help_text")
    @classmethod
    def _help_fits_one_text(cls, value: str) -> str:
        if not value.strip() or segments(value) > MAX_SEGMENTS:
            raise ValueError(f"ALERTS_SMS_HELP_TEXT must fit in {MAX_SEGMENTS} SMS segments")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        try:
            _parse_networks(value)
        except ValueError as exc:
            raise ValueError(f"ALERTS_WEBHOOK_ALLOWED_NETWORKS: {exc}") from exc
        return value

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _schedule(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(seconds < 0 for seconds in value):
            raise ValueError("ALERTS_WEBHOOK_RETRY_SCHEDULE: waits cannot be negative")
        return value

    @field_validator("jwt_algorithm")
    @classmethod
    def _supported_algorithm(cls, value: str) -> str:
        if value not in ("HS256", "RS256"):
            raise ValueError("ALERTS_JWT_ALGORITHM must be HS256 or RS256")
        return value

    @model_validator(mode="after")
    def _refuse_defaults_in_production(self) -> Settings:
        if self.env is Environment.PRODUCTION and self.jwt_algorithm == "HS256":
            secret = self.jwt_secret.get_secret_value()
            if secret == DEVELOPMENT_JWT_SECRET or len(secret) < 32:
                raise ValueError(
                    "ALERTS_JWT_SECRET must be set to a secret of at least 32 characters "
                    "in production"
                )
        if self.jwt_algorithm == "RS256" and self.jwt_public_key_file is None:
            raise ValueError("ALERTS_JWT_PUBLIC_KEY_FILE is required with RS256")
        return self

    @property
    def case_ack_sla(self) -> timedelta:
        return timedelta(seconds=self.case_ack_sla_seconds)

    def case_url(self, case_id: int) -> str:
        """The case's page in the console."""
        return f"{self.public_url.rstrip('/')}/admin/cases/{case_id}"

    def thresholds_for(self, currency: str) -> ThresholdDefaults | None:
        pair = self.default_thresholds.get(currency)
        return ThresholdDefaults(*pair) if pair else None

    @property
    def code_hash_key(self) -> str:
        return (self.verification_key or self.jwt_secret).get_secret_value()

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @cached_property
    def jwt_verification_key(self) -> str:
        if self.jwt_algorithm == "RS256":
            assert self.jwt_public_key_file is not None
            return self.jwt_public_key_file.read_text()
        return self.jwt_secret.get_secret_value()

    @property
    def webhook_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return _parse_networks(self.webhook_allowed_networks)

    @property
    def webhook_keys(self) -> list[str]:
        """The Fernet keys of endpoint secrets, the encrypting one first; none in production
        unless set (webhooks are then refused, the rest of the service runs)."""
        if self.webhook_encryption_key is not None:
            value = self.webhook_encryption_key.get_secret_value()
            return [key.strip() for key in value.split(",") if key.strip()]
        if self.is_production:
            return []
        digest = hashlib.sha256(b"webhook-secrets:" + self.jwt_secret.get_secret_value().encode())
        return [base64.urlsafe_b64encode(digest.digest()).decode()]


def _parse_networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False)
        for part in value.split(",")
        if part.strip()
    )
