"""OIDC bearer JWTs, validated with PyJWT against the issuer's published keys.

The issuer's discovery document names its JWKS; both are cached (``oidc_jwks_max_age_s``) and the keys are
fetched again when a token names a ``kid`` we do not know (key rotation), at most every
``oidc_refresh_min_interval_s`` so a stream of made-up ``kid`` values cannot make us hammer the issuer.
Only the configured asymmetric algorithms are accepted: ``alg: none`` and HS256 signed with the public key
(the classic confusion) never reach a key. ``iss``, ``aud``, ``exp`` and ``nbf`` are checked with a small
leeway. A token without ``kid`` is accepted only when the issuer publishes a single usable key.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from gis_service.settings import AuthSettings

#: Key types each algorithm family signs with.
KTY = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


class TokenRejected(Exception):
    """Why a token is not accepted, in words fit for the client (never the token itself)."""


@dataclass(frozen=True)
class SigningKey:
    """A published key with what its JWK declares (``alg`` is optional in a JWK)."""

    kid: str | None
    kty: str
    alg: str | None
    key: jwt.PyJWK

    def fits(self, alg: str) -> bool:
        return self.alg == alg if self.alg else KTY.get(alg[:2]) == self.kty


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    name: str
    groups: tuple[str, ...]
    claims: dict[str, Any]


def claim_path(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def groups_of(claims: dict[str, Any], settings: AuthSettings) -> tuple[str, ...]:
    raw = claim_path(claims, settings.oidc_groups_claim)
    values = raw.split() if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return tuple(dict.fromkeys(settings.oidc_group_map.get(str(v), str(v)) for v in values))


class OidcVerifier:
    """One per worker (``app.state``): it caches the issuer's keys between requests."""

    def __init__(self, settings: AuthSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.transport = transport
        self._keys: list[SigningKey] = []
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.settings.oidc_issuer)

    async def verify(self, token: str) -> TokenClaims:
        if not self.enabled:
            raise TokenRejected("bearer tokens are not accepted here (no OIDC issuer is configured)")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise TokenRejected("the bearer token is not a JWT") from None
        alg = header.get("alg")
        if alg not in self.settings.oidc_algorithms:
            raise TokenRejected(f"tokens signed with {alg!r} are not accepted")
        key = await self._key(header.get("kid"), str(alg))
        claims = self._decode(token, key, str(alg))
        subject = claims["sub"]
        name = str(claims.get(self.settings.oidc_name_claim) or subject)
        return TokenClaims(str(subject), name, groups_of(claims, self.settings), claims)

    def _decode(self, token: str, key: SigningKey, alg: str) -> dict[str, Any]:
        settings = self.settings
        audience = settings.oidc_audience or None
        required = ["exp", "iss", "sub"] + (["aud"] if audience else [])
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key.key,
                algorithms=[alg],
                audience=audience,
                issuer=settings.oidc_issuer,
                leeway=settings.oidc_leeway_s,
                options={"require": required},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("the token is not valid yet (nbf/iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("the token was issued for another audience") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("the token comes from another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(f"the token has no {exc.claim!r} claim") from None
        except jwt.InvalidTokenError:
            raise TokenRejected("the token's signature or contents are not valid") from None
        return claims

    async def _key(self, kid: str | None, alg: str) -> SigningKey:
        found = self._pick(await self._current_keys(), kid, alg)
        if found is None and kid is not None:
            found = self._pick(await self._current_keys(rotated=True), kid, alg)
        if found is None:
            what = f"key {kid!r}" if kid else "a single key for tokens without kid"
            raise TokenRejected(f"the issuer publishes no {what} for {alg}")
        return found

    @staticmethod
    def _pick(keys: list[SigningKey], kid: str | None, alg: str) -> SigningKey | None:
        usable = [k for k in keys if k.fits(alg)]
        if kid is None:
            return usable[0] if len(usable) == 1 else None
        return next((k for k in usable if k.kid == kid), None)

    async def _current_keys(self, rotated: bool = False) -> list[SigningKey]:
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            stale = age > self.settings.oidc_jwks_max_age_s
            if stale or (rotated and age >= self.settings.oidc_refresh_min_interval_s):
                self._keys = await self._fetch_keys()
                self._fetched_at = time.monotonic()
            return self._keys

    async def _fetch_keys(self) -> list[SigningKey]:
        issuer = str(self.settings.oidc_issuer).rstrip("/")
        try:
            async with httpx.AsyncClient(
                timeout=self.settings.oidc_http_timeout_s, transport=self.transport, follow_redirects=False
            ) as http:
                discovery = await _get_json(http, f"{issuer}/.well-known/openid-configuration")
                if str(discovery.get("issuer", "")).rstrip("/") != issuer:
                    raise TokenRejected("the issuer's discovery document names another issuer")
                jwks = await _get_json(http, str(discovery["jwks_uri"]))
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise TokenRejected(f"the issuer's keys cannot be fetched ({type(exc).__name__})") from None
        keys = []
        for data in jwks.get("keys", []):
            if data.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(data)
            except jwt.PyJWKError:
                continue  # a key type or curve we cannot use: skip it, keep the others
            keys.append(SigningKey(data.get("kid"), str(data.get("kty")), data.get("alg"), key))
        return keys


async def _get_json(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await http.get(url, headers={"Accept": "application/json"})
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data
