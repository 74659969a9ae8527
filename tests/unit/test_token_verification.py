"""Which bearer tokens are trusted, and the settings the service refuses to start with."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr, ValidationError

from account_alerts.api.auth import (
    InvalidToken,
    TokenVerifier,
    bearer_token,
    issue_token,
    verify_token,
)
from account_alerts.config import DEVELOPMENT_JWT_SECRET, Environment, Settings
from account_alerts.domain.enums import Role

SECRET = "unit-test-secret-that-is-long-enough-0123456789"
LONG_PRODUCTION_SECRET = "production-secret-" + "x" * 40


@pytest.fixture(autouse=True)
def _no_alerts_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("ALERTS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings() -> Settings:
    return Settings(jwt_secret=SecretStr(SECRET))


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def segment(document: dict[str, Any]) -> str:
    return b64url(json.dumps(document, separators=(",", ":")).encode())


def now_ts(offset: timedelta = timedelta(0)) -> int:
    return int((datetime.now(UTC) + offset).timestamp())


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sub": "7",
        "role": "customer",
        "iat": now_ts(),
        "auth_time": now_ts(),
        "exp": now_ts(timedelta(hours=1)),
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def signed(payload: dict[str, Any], key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


def hand_signed_hs256(payload: dict[str, Any], key: bytes) -> str:
    signing_input = f"{segment({'alg': 'HS256', 'typ': 'JWT'})}.{segment(payload)}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def refusal(token: str, settings: Settings) -> str:
    with pytest.raises(InvalidToken) as caught:
        verify_token(token, settings)
    return str(caught.value)


@pytest.fixture(scope="module")
def rsa_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def public_key_pem(rsa_private_key: rsa.RSAPrivateKey, tmp_path: Path) -> Path:
    pem = rsa_private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path = tmp_path / "auth-service.pub.pem"
    path.write_bytes(pem)
    return path


@pytest.fixture
def rs256_settings(public_key_pem: Path) -> Settings:
    return Settings(jwt_algorithm="RS256", jwt_public_key_file=public_key_pem)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


# Accepted tokens


def test_a_valid_customer_token_names_the_mobile_user(settings: Settings) -> None:
    caller = verify_token(signed(claims(sub="7")), settings)
    assert caller.subject == "7"
    assert caller.role is Role.CUSTOMER
    assert caller.mobile_user_id == 7


def test_a_token_issued_by_the_service_helper_verifies(settings: Settings) -> None:
    token = issue_token(settings, subject="42")
    assert verify_token(token, settings).mobile_user_id == 42


def test_a_token_without_a_role_is_a_customer_token(settings: Settings) -> None:
    assert verify_token(signed(claims(role=None)), settings).role is Role.CUSTOMER


def test_a_service_token_may_name_a_system_rather_than_a_user(settings: Settings) -> None:
    caller = verify_token(signed(claims(sub="core-banking", role="service")), settings)
    assert (caller.subject, caller.role) == ("core-banking", Role.SERVICE)


def test_an_admin_token_is_accepted(settings: Settings) -> None:
    caller = verify_token(signed(claims(sub="risk-analyst-1", role="admin")), settings)
    assert (caller.subject, caller.role) == ("risk-analyst-1", Role.ADMIN)


def test_auth_time_is_read_as_a_utc_moment(settings: Settings) -> None:
    signed_in = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    caller = verify_token(signed(claims(auth_time=int(signed_in.timestamp()))), settings)
    assert caller.auth_time == signed_in
    assert caller.authenticated_recently(signed_in + timedelta(minutes=4), timedelta(minutes=5))
    assert not caller.authenticated_recently(signed_in + timedelta(minutes=6), timedelta(minutes=5))


def test_a_token_without_auth_time_has_never_recently_signed_in(settings: Settings) -> None:
    caller = verify_token(signed(claims(auth_time=None)), settings)
    assert caller.auth_time is None
    assert not caller.authenticated_recently(datetime.now(UTC), timedelta(days=365))


def test_a_token_expired_within_the_leeway_is_still_accepted(settings: Settings) -> None:
    token = signed(claims(exp=now_ts(-timedelta(seconds=10))))
    assert verify_token(token, settings).subject == "7"


def test_a_token_for_the_configured_audience_is_accepted() -> None:
    settings = Settings(jwt_secret=SecretStr(SECRET), jwt_audience="account-alerts")
    assert verify_token(signed(claims(aud="account-alerts")), settings).subject == "7"


# Refused tokens


def test_an_expired_token_is_refused_as_expired(settings: Settings) -> None:
    token = signed(claims(exp=now_ts(-timedelta(seconds=settings.jwt_leeway_seconds + 30))))
    assert "expired" in refusal(token, settings)


def test_a_token_signed_with_another_secret_is_refused(settings: Settings) -> None:
    token = signed(claims(), key="someone-elses-secret-that-is-long-enough-0123")
    assert "signature" in refusal(token, settings)


def test_a_token_with_a_tampered_payload_is_refused(settings: Settings) -> None:
    header, _, signature = signed(claims(sub="7")).split(".")
    forged = f"{header}.{segment(claims(sub='8'))}.{signature}"
    assert "signature" in refusal(forged, settings)


def test_an_unsigned_alg_none_token_is_refused(settings: Settings) -> None:
    token = f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims())}."
    assert "algorithm" in refusal(token, settings)


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_in_any_spelling_is_refused(settings: Settings, alg: str) -> None:
    token = f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(claims())}."
    refusal(token, settings)


def test_a_token_signed_with_another_hmac_algorithm_is_refused(settings: Settings) -> None:
    token = signed(claims(), key=SECRET * 2, algorithm="HS512")
    assert "algorithm" in refusal(token, settings)


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "a.b"])
def test_garbage_is_refused_without_echoing_it(settings: Settings, token: str) -> None:
    message = refusal(token, settings)
    assert message == "the token is not valid"


def test_a_token_without_expiry_is_refused(settings: Settings) -> None:
    assert "'exp'" in refusal(signed(claims(exp=None)), settings)


def test_a_token_without_a_subject_is_refused(settings: Settings) -> None:
    assert "'sub'" in refusal(signed(claims(sub=None)), settings)


@pytest.mark.parametrize(
    "subject",
    [
        "abc",
        "0",
        "-7",
        "7.5",
        " 7",
        "7a",
        "",
        "\u00b2",
        "\u00b9\u00b2",
        "\u0667",
        "2147483648",
        "9223372036854775808",
    ],
)
def test_a_customer_token_needs_a_positive_numeric_subject(
    settings: Settings, subject: str
) -> None:
    assert "numeric mobile user id" in refusal(signed(claims(sub=subject)), settings)


def test_the_largest_mobile_user_id_is_accepted(settings: Settings) -> None:
    assert verify_token(signed(claims(sub="2147483647")), settings).mobile_user_id == 2**31 - 1


@pytest.mark.parametrize("role", ["superuser", "ADMIN", "", "Customer"])
def test_a_token_with_an_unknown_role_is_refused(settings: Settings, role: str) -> None:
    assert "role" in refusal(signed(claims(role=role)), settings)


@pytest.mark.parametrize("auth_time", ["this morning", "1767225600", [1767225600]])
def test_a_token_whose_auth_time_is_not_a_timestamp_is_refused(
    settings: Settings, auth_time: object
) -> None:
    assert "auth_time" in refusal(signed(claims(auth_time=auth_time)), settings)


@pytest.mark.parametrize("auth_time", [1e20, 253402300800, -1e15])
def test_a_token_whose_auth_time_is_out_of_range_is_refused(
    settings: Settings, auth_time: float
) -> None:
    assert "auth_time" in refusal(signed(claims(auth_time=auth_time)), settings)


def test_a_token_for_another_audience_is_refused() -> None:
    settings = Settings(jwt_secret=SecretStr(SECRET), jwt_audience="account-alerts")
    refusal(signed(claims(aud="payments")), settings)
    refusal(signed(claims()), settings)


def test_a_token_not_yet_valid_is_refused(settings: Settings) -> None:
    refusal(signed(claims(nbf=now_ts(timedelta(hours=1)))), settings)


# RS256 and algorithm confusion


def test_a_correct_rs256_token_is_accepted(
    rs256_settings: Settings, rsa_private_key: rsa.RSAPrivateKey
) -> None:
    token = signed(claims(sub="7"), key=private_pem(rsa_private_key), algorithm="RS256")
    assert verify_token(token, rs256_settings).mobile_user_id == 7


def test_issue_token_with_the_private_key_verifies_under_rs256(
    rs256_settings: Settings, rsa_private_key: rsa.RSAPrivateKey
) -> None:
    token = issue_token(rs256_settings, subject="9", private_key=private_pem(rsa_private_key))
    assert verify_token(token, rs256_settings).mobile_user_id == 9


def test_hs256_signed_with_the_public_key_is_refused_under_rs256(
    rs256_settings: Settings, public_key_pem: Path
) -> None:
    token = hand_signed_hs256(claims(), public_key_pem.read_bytes())
    assert "algorithm" in refusal(token, rs256_settings)


def test_hs256_with_the_old_shared_secret_is_refused_under_rs256(rs256_settings: Settings) -> None:
    assert "algorithm" in refusal(signed(claims()), rs256_settings)


def test_rs256_signed_by_another_key_is_refused(rs256_settings: Settings) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = signed(claims(), key=private_pem(stranger), algorithm="RS256")
    assert "signature" in refusal(token, rs256_settings)


def test_an_rs256_token_is_refused_when_hs256_is_configured(
    settings: Settings, rsa_private_key: rsa.RSAPrivateKey
) -> None:
    token = signed(claims(), key=private_pem(rsa_private_key), algorithm="RS256")
    assert "algorithm" in refusal(token, settings)


# The Authorization header


def test_no_authorization_header_means_no_token() -> None:
    assert bearer_token(None) is None
    assert bearer_token("") is None


@pytest.mark.parametrize(
    "header", ["Bearer abc.def.ghi", "bearer abc.def.ghi", "BEARER  abc.def.ghi "]
)
def test_the_bearer_scheme_is_case_insensitive(header: str) -> None:
    assert bearer_token(header) == "abc.def.ghi"


@pytest.mark.parametrize(
    "header", ["Token abc", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "abc"]
)
def test_a_header_that_is_not_bearer_is_refused(header: str) -> None:
    with pytest.raises(InvalidToken, match="Bearer <token>"):
        bearer_token(header)


# Settings


def test_production_refuses_to_start_with_the_development_secret() -> None:
    with pytest.raises(ValidationError, match="ALERTS_JWT_SECRET"):
        Settings(env=Environment.PRODUCTION)


def test_production_refuses_the_development_secret_given_explicitly() -> None:
    with pytest.raises(ValidationError, match="ALERTS_JWT_SECRET"):
        Settings(env=Environment.PRODUCTION, jwt_secret=SecretStr(DEVELOPMENT_JWT_SECRET))


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(env=Environment.PRODUCTION, jwt_secret=SecretStr("x" * 31))


def test_production_starts_with_a_long_custom_secret() -> None:
    settings = Settings(env=Environment.PRODUCTION, jwt_secret=SecretStr(LONG_PRODUCTION_SECRET))
    assert settings.is_production
    assert settings.jwt_verification_key == LONG_PRODUCTION_SECRET


def test_production_reads_its_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTS_ENV", "production")
    monkeypatch.setenv("ALERTS_JWT_SECRET", LONG_PRODUCTION_SECRET)
    assert Settings().is_production


def test_production_refuses_to_start_from_an_environment_without_a_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALERTS_ENV", "production")
    with pytest.raises(ValidationError):
        Settings()


def test_development_may_use_the_development_secret() -> None:
    assert not Settings().is_production


def test_rs256_needs_a_public_key_file() -> None:
    with pytest.raises(ValidationError, match="ALERTS_JWT_PUBLIC_KEY_FILE"):
        Settings(jwt_algorithm="RS256")


@pytest.mark.parametrize("algorithm", ["none", "HS512", "ES256", "hs256"])
def test_only_hs256_and_rs256_can_be_configured(algorithm: str) -> None:
    with pytest.raises(ValidationError, match="HS256 or RS256"):
        Settings(jwt_algorithm=algorithm)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://alerts:pw@db.internal:5432/alerts",
        "postgres://alerts:pw@db.internal:5432/alerts",
        "postgresql+psycopg2://alerts:pw@db.internal:5432/alerts",
    ],
)
def test_a_postgresql_url_from_the_environment_uses_psycopg3(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("ALERTS_DATABASE_URL", url)
    assert Settings().database_url == "postgresql+psycopg://alerts:pw@db.internal:5432/alerts"


def test_a_psycopg3_or_sqlite_url_is_kept_as_given() -> None:
    for url in ("postgresql+psycopg://a@h/d", "sqlite:///alerts.db"):
        assert Settings(database_url=url).database_url == url


def test_an_unknown_time_zone_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        Settings(timezone="Mars/Olympus")


# The app's verifier: tokens found good are remembered until they expire


class FakeTime:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_remembered_token_is_verified_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[str] = []
    real_decode = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    verifier = TokenVerifier(settings)
    token = signed(claims(sub="7"))
    callers = {verifier.verify(token) for _ in range(5)}
    assert callers == {verify_token(token, settings)}
    assert decoded.count(token) == 2  # the verifier's one, and verify_token's above


def test_a_remembered_token_is_refused_once_it_expires(settings: Settings) -> None:
    clock = FakeTime()
    verifier = TokenVerifier(settings, clock=clock)
    token = signed(claims(sub="7", exp=int(clock.now) + 60))
    assert verifier.verify(token).mobile_user_id == 7
    clock.now += 60 + settings.jwt_leeway_seconds - 1
    assert verifier.verify(token).mobile_user_id == 7  # still within the leeway
    clock.now += 2
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(token)


@pytest.mark.parametrize(
    "token",
    [
        signed(claims(), key="someone-elses-secret-that-is-long-enough-0123"),
        signed(claims(exp=int(time.time()) - 3600)),
        "not.a.token",
    ],
)
def test_a_refused_token_is_refused_every_time(settings: Settings, token: str) -> None:
    verifier = TokenVerifier(settings)
    first = refusal(token, settings)
    for _ in range(3):
        with pytest.raises(InvalidToken) as caught:
            verifier.verify(token)
        assert str(caught.value) == first
    assert not verifier._good


def test_the_verifier_forgets_the_oldest_tokens_first(settings: Settings) -> None:
    verifier = TokenVerifier(settings, size=3)
    tokens = [signed(claims(sub=str(n))) for n in range(1, 6)]
    for token in tokens:
        verifier.verify(token)
    assert list(verifier._good) == tokens[2:]
