"""The pure parts of access control: key format and HMAC, header parsing, scopes, the decision, the throttle."""

from __future__ import annotations

import base64
import hmac

import pytest

from gis_service.auth import credentials, keys
from gis_service.auth.principal import Action, GrantInfo, Principal, Scope, ScopeError, merge_grants
from gis_service.auth.throttle import FailureThrottle
from gis_service.errors import NotAuthenticated
from gis_service.settings import AuthSettings

PEPPER = b"pepper-for-tests"


def test_a_new_key_has_256_random_bits_and_only_its_prefix_shows() -> None:
    new = keys.generate()
    prefix, _, secret = new.token.partition(".")
    assert keys.PREFIX.match(prefix) and keys.SECRET.match(secret)
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32
    assert secret not in repr(new) and secret not in str(new) and str(new) == f"{prefix}.***"
    assert keys.generate().token != new.token


def test_the_stored_hash_is_the_hmac_of_the_secret_under_the_pepper() -> None:
    new = keys.generate()
    stored = keys.digest(PEPPER, new.secret)
    assert stored == hmac.new(PEPPER, new.secret.encode(), "sha256").digest()
    assert keys.matches(PEPPER, new.secret, stored)
    assert not keys.matches(b"another pepper", new.secret, stored)
    assert not keys.matches(PEPPER, new.secret[:-1] + ("A" if new.secret[-1] != "A" else "B"), stored)


@pytest.mark.parametrize("text", ["", "gsk_0123456789", "gsk_0123456789.short", "abc.def", "gsk_XYZ." + "a" * 43])
def test_malformed_keys_are_refused_without_echoing_them(text: str) -> None:
    with pytest.raises(keys.KeyFormatError) as info:
        keys.parse(text)
    assert text not in str(info.value) or not text


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_every_scheme_a_client_can_send_is_parsed() -> None:
    token = keys.generate().token
    bearer = credentials.from_headers(f"Bearer {token}", None)
    header = credentials.from_headers(None, token)
    with_user = credentials.from_headers(basic("alice", token), None)
    without_user = credentials.from_headers(basic("", token), None)
    jwt = credentials.from_headers("Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln", None)
    assert isinstance(bearer, credentials.KeyCredential) and bearer.scheme == "bearer"
    assert isinstance(header, credentials.KeyCredential) and header.scheme == "x-api-key"
    assert isinstance(with_user, credentials.KeyCredential) and with_user.username == "alice"
    assert isinstance(without_user, credentials.KeyCredential) and without_user.username is None
    assert isinstance(jwt, credentials.TokenCredential)
    assert credentials.from_headers(None, None) is None
    assert token.partition(".")[2] not in repr(bearer)


@pytest.mark.parametrize(
    ("authorization", "api_key"),
    [
        ("Digest abc", None),
        ("Basic not-base64!", None),
        ("Basic " + base64.b64encode(b"no colon").decode(), None),
        ("Bearer", None),
        ("Bearer gsk_0123456789.tooshort", None),
        ("Bearer x", "y"),
    ],
)
def test_malformed_credentials_are_a_401(authorization: str, api_key: str | None) -> None:
    with pytest.raises(NotAuthenticated):
        credentials.from_headers(authorization, api_key)


def test_scopes_narrow_a_key_never_widen_it() -> None:
    grants = {"parcels": GrantInfo("editor"), "planning_zones": GrantInfo("viewer")}
    unscoped = Principal(1, "a", grants=grants)
    scoped = Principal(1, "a", grants=grants, scopes=(Scope.parse("parcels:viewer"), Scope.parse("rivers")))
    everywhere = Principal(1, "a", grants=grants, scopes=(Scope.parse("*:layer-admin"),))
    assert unscoped.role_for("parcels") == "editor" and unscoped.may("parcels", Action.EDIT)
    assert scoped.role_for("parcels") == "viewer" and not scoped.may("parcels", Action.EDIT)
    assert scoped.role_for("planning_zones") is None  # not in the key's scopes
    assert scoped.role_for("rivers") is None  # in the scopes, but no grant
    assert everywhere.role_for("parcels") == "editor"  # the scope caps, the grant decides
    admin = Principal(2, "root", admin=True, scopes=(Scope.parse("parcels:viewer"),))
    assert admin.may("parcels", Action.READ) and not admin.may("parcels", Action.EDIT)
    with pytest.raises(ScopeError):
        Scope.parse("parcels:owner")


def test_grants_merge_to_the_strongest_role_and_an_unlimited_editor_grant_frees_the_area() -> None:
    merged = merge_grants(
        [
            ("parcels", "viewer", False),
            ("parcels", "editor", True),
            ("planning_zones", "editor", True),
            ("planning_zones", "curator", False),
        ]
    )
    assert merged == {"parcels": GrantInfo("editor", True), "planning_zones": GrantInfo("curator", False)}


def test_failures_slow_down_after_the_limit_and_the_counters_stay_bounded() -> None:
    settings = AuthSettings(failure_limit=2, failure_delay_s=0.5, failure_max_delay_s=2.0, throttle_entries=10)
    throttle = FailureThrottle(settings)
    throttle.failed("address:1")
    assert throttle.delay("address:1") == 0.0
    throttle.failed("address:1")
    assert throttle.delay("address:1") == 0.5
    throttle.failed("address:1")
    assert throttle.delay("address:1", "key:x") == 1.0
    for _ in range(10):
        throttle.failed("address:1")
    assert throttle.delay("address:1") == 2.0  # capped, never a lock-out
    for n in range(50):
        throttle.failed(f"address:other{n}")
    assert len(throttle._counts) == 10 and throttle.delay("address:1") == 0.0  # evicted: oldest first


def test_shared_secret_and_none_algorithms_cannot_be_configured() -> None:
    for wrong in (["HS256"], ["none"], ["RS256", "HS512"], []):
        with pytest.raises(ValueError):
            AuthSettings(oidc_algorithms=wrong)
