"""OIDC bearer tokens through the real app: JWTs signed here and published by a JWKS endpoint of the test
(a real HTTP server: discovery document + keys), and a real login at ``oidc-provider-mock`` for the id-token
path. Every token that must not hold is refused with a 401 that says why.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from gis_service.auth.admin import Admin
from gis_service.settings import Settings
from tests.accessdata import PROTECTED, unique
from tests.serverproc import oidc_provider

AUDIENCE = "gis-web"
ITEMS = f"/collections/{PROTECTED}/items?limit=1"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


class Issuer:
    """Discovery and JWKS over HTTP on a free port; keys can be added (rotation) and fetches are counted."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {"k1": new_key()}
        self.jwks_fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body: dict[str, Any]
                if self.path == "/.well-known/openid-configuration":
                    body = {
                        "issuer": issuer.url,
                        "jwks_uri": f"{issuer.url}/jwks",
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }
                elif self.path == "/jwks":
                    issuer.jwks_fetches += 1
                    body = {"keys": [public_jwk(k, kid) for kid, k in issuer.keys.items()]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def token(self, *, kid: str = "k1", key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        now = dt.datetime.now(dt.UTC)
        body = {"iss": self.url, "aud": AUDIENCE, "sub": "nobody", "iat": now, "exp": now + dt.timedelta(minutes=5)}
        body.update(claims)
        return jwt.encode(body, key or self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    running = Issuer()
    yield running
    running.close()


def oidc_settings(access_settings: Settings, issuer_url: str, **auth: Any) -> Settings:
    options = {
        "oidc_issuer": issuer_url,
        "oidc_audience": [AUDIENCE],
        "oidc_refresh_min_interval_s": 0.0,
        "admin_groups": ["gis-admins"],
        "oidc_group_map": {"Planning Dept": "planners-oidc"},
        **auth,
    }
    return access_settings.model_copy(update={"auth": access_settings.auth.model_copy(update=options)})


@pytest.fixture(scope="module")
def oidc_client(access_settings: Settings, issuer: Issuer, bundled: Engine, parcel_ids: object) -> Iterator[TestClient]:
    from gis_service.main import create_app

    with TestClient(create_app(oidc_settings(access_settings, issuer.url))) as client:
        yield client


@pytest.fixture(scope="module")
def person(admin: Admin) -> str:
    """An account bound to an OIDC subject, with a viewer grant."""
    name = unique("oidc")
    admin.add_user(name, oidc_subject=f"sub-{name}")
    admin.set_grant(name, PROTECTED, "viewer")
    return f"sub-{name}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_valid_token_of_a_known_subject_reads_the_layer(oidc_client: TestClient, issuer: Issuer, person: str) -> None:
    answer = oidc_client.get(ITEMS, headers=bearer(issuer.token(sub=person)))
    assert answer.status_code == 200, answer.text


def test_groups_from_claims_carry_grants_and_admin(oidc_client: TestClient, issuer: Issuer, admin: Admin) -> None:
    admin.set_grant("group:planners-oidc", PROTECTED, "viewer")
    mapped = issuer.token(sub=unique("stranger"), groups=["Planning Dept"])
    assert oidc_client.get(ITEMS, headers=bearer(mapped)).status_code == 200
    unmapped = issuer.token(sub=unique("stranger"), groups=["Somewhere Else"])
    assert oidc_client.get(ITEMS, headers=bearer(unmapped)).status_code == 403
    boss = issuer.token(sub=unique("boss"), groups=["gis-admins"])
    assert oidc_client.get(ITEMS, headers=bearer(boss)).status_code == 200


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], claims: dict[str, Any], sign: Any = None) -> str:
    """A JWT put together by hand, as an attacker would: ``sign(signing_input) -> bytes`` or no signature."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()) if sign else b'')}"


def forged_tokens(issuer: Issuer, person: str) -> dict[str, tuple[str, str]]:
    """Tokens that must be refused, with a word of the reason the answer must give."""
    now = dt.datetime.now(dt.UTC)
    claims = {
        "iss": issuer.url,
        "aud": AUDIENCE,
        "sub": person,
        "exp": int((now + dt.timedelta(minutes=5)).timestamp()),
    }
    public_pem = (
        issuer.keys["k1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    unsigned = handmade({"alg": "none", "typ": "JWT"}, claims)
    # The classic confusion: HMAC-signed with the issuer's public key, which a careless verifier would take
    # as the HMAC secret.
    confused = handmade(
        {"alg": "HS256", "typ": "JWT", "kid": "k1"}, claims, lambda data: hmac.new(public_pem, data, "sha256").digest()
    )
    return {
        "expired": (issuer.token(sub=person, exp=now - dt.timedelta(minutes=5)), "expired"),
        "not yet valid": (issuer.token(sub=person, nbf=now + dt.timedelta(minutes=10)), "not valid yet"),
        "wrong audience": (issuer.token(sub=person, aud="another-app"), "audience"),
        "wrong issuer": (issuer.token(sub=person, iss="https://evil.example"), "issuer"),
        "unknown kid": (issuer.token(sub=person, kid="k9", key=new_key()), "no key 'k9'"),
        "alg none": (unsigned, "'none'"),
        "HS256 with the public key": (confused, "'HS256'"),
        "bad signature": (issuer.token(sub=person, key=new_key()), "signature"),
        "not a JWT": ("abc.def.ghi", "not a JWT"),
    }


def test_tokens_that_do_not_hold_are_refused(oidc_client: TestClient, issuer: Issuer, person: str) -> None:
    for name, (token, reason) in forged_tokens(issuer, person).items():
        answer = oidc_client.get(ITEMS, headers=bearer(token))
        assert answer.status_code == 401, (name, answer.text)
        assert reason in answer.json()["detail"], (name, answer.json()["detail"])
        assert any(c.startswith("Bearer") for c in answer.headers.get_list("www-authenticate"))


def test_a_disabled_account_or_a_token_without_grant(oidc_client: TestClient, issuer: Issuer, admin: Admin) -> None:
    name = unique("gone")
    admin.add_user(name, oidc_subject=f"sub-{name}")
    admin.set_grant(name, PROTECTED, "viewer")
    admin.disable_user(name)
    assert oidc_client.get(ITEMS, headers=bearer(issuer.token(sub=f"sub-{name}"))).status_code == 401
    assert oidc_client.get(ITEMS, headers=bearer(issuer.token(sub=unique("nobody")))).status_code == 403


def test_a_rotated_key_is_fetched_once_when_a_token_names_it(
    oidc_client: TestClient, issuer: Issuer, person: str
) -> None:
    oidc_client.get(ITEMS, headers=bearer(issuer.token(sub=person)))
    fetched = issuer.jwks_fetches
    assert oidc_client.get(ITEMS, headers=bearer(issuer.token(sub=person))).status_code == 200
    assert issuer.jwks_fetches == fetched  # cached
    issuer.keys["k2"] = new_key()
    assert oidc_client.get(ITEMS, headers=bearer(issuer.token(sub=person, kid="k2"))).status_code == 200
    assert issuer.jwks_fetches == fetched + 1


def test_unknown_kids_cannot_make_the_service_hammer_the_issuer(
    access_settings: Settings, issuer: Issuer, person: str
) -> None:
    from gis_service.main import create_app

    settings = oidc_settings(access_settings, issuer.url, oidc_refresh_min_interval_s=3600.0)
    with TestClient(create_app(settings)) as client:
        assert client.get(ITEMS, headers=bearer(issuer.token(sub=person))).status_code == 200
        fetched = issuer.jwks_fetches
        for n in range(5):
            made_up = issuer.token(sub=person, kid=f"x{n}", key=new_key())
            assert client.get(ITEMS, headers=bearer(made_up)).status_code == 401
        assert issuer.jwks_fetches == fetched


def test_the_openapi_document_names_the_issuer(oidc_client: TestClient, issuer: Issuer) -> None:
    schemes = oidc_client.get("/api").json()["components"]["securitySchemes"]
    assert schemes["oidc"] == {
        "type": "openIdConnect",
        "openIdConnectUrl": f"{issuer.url}/.well-known/openid-configuration",
    }


@pytest.fixture(scope="module")
def mock_provider() -> Iterator[str]:
    with oidc_provider() as issuer:
        yield issuer


def login(provider: str, subject: str, claims: dict[str, Any]) -> str:
    """The authorization-code flow a browser would go through; returns the id token."""
    redirect = "http://localhost/callback"
    with httpx.Client(base_url=provider, timeout=10) as http:
        assert http.put(f"/users/{subject}", json=claims).status_code == 204
        query = {
            "client_id": AUDIENCE,
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": "openid profile",
            "state": "s1",
            "nonce": "n1",
        }
        consent = http.post("/oauth2/authorize", params=query, data={"sub": subject, "action": "allow"})
        assert consent.status_code == 302, consent.text
        code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
        tokens = http.post(
            "/oauth2/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
            auth=(AUDIENCE, "any-secret"),
        )
        assert tokens.status_code == 200, tokens.text
        id_token: str = tokens.json()["id_token"]
        return id_token


def test_an_id_token_from_a_real_login_reads_the_layer(
    access_settings: Settings, mock_provider: str, admin: Admin, bundled: Engine, parcel_ids: object
) -> None:
    from gis_service.main import create_app

    group = unique("mock-planners")
    admin.set_grant(f"group:{group}", PROTECTED, "viewer")
    id_token = login(mock_provider, unique("planner"), {"groups": [group], "preferred_username": "Chị Lan"})
    assert "kid" not in jwt.get_unverified_header(id_token)  # the mock signs without kid: its single key is used
    settings = oidc_settings(access_settings, mock_provider)
    with TestClient(create_app(settings)) as client:
        assert client.get(ITEMS, headers=bearer(id_token)).status_code == 200
        assert client.get(ITEMS).status_code == 401
        stranger = login(mock_provider, unique("stranger"), {"groups": ["elsewhere"]})
        assert client.get(ITEMS, headers=bearer(stranger)).status_code == 403
