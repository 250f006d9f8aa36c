"""What a client sent to say who it is, parsed from the headers; nothing is checked against the database here.

Every scheme a real client can send: ``Authorization: Bearer <api key>`` or ``Bearer <OIDC JWT>``,
``X-API-Key: <api key>``, and HTTP Basic with the key as the password (QGIS 3.22 and GDAL's ``USERPWD``
can send nothing else; the user part may be empty or the principal's name).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from gis_service.auth import keys
from gis_service.errors import NotAuthenticated

MAX_HEADER_CHARS = 8192


@dataclass(frozen=True)
class KeyCredential:
    key: keys.PresentedKey
    scheme: str  # bearer, x-api-key, basic
    username: str | None = None

    @property
    def label(self) -> str:
        """What the audit log and the throttle may know of it: the prefix, never the secret."""
        return self.key.prefix


@dataclass(frozen=True)
class TokenCredential:
    token: str = field(repr=False)
    scheme: str = "oidc"

    @property
    def label(self) -> str:
        return "bearer-token"


Credential = KeyCredential | TokenCredential


def from_headers(authorization: str | None, api_key: str | None) -> Credential | None:
    """The one credential of a request (None: anonymous); two different ones, or a malformed one, is a 401."""
    if authorization is not None and api_key is not None:
        raise NotAuthenticated("send one credential: Authorization or X-API-Key, not both")
    if api_key is not None:
        return KeyCredential(_key(api_key), "x-api-key")
    if authorization is None:
        return None
    if len(authorization) > MAX_HEADER_CHARS:
        raise NotAuthenticated("the Authorization header is too long")
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return KeyCredential(_key(value), "bearer") if keys.looks_like_key(value) else TokenCredential(value)
    if scheme.lower() == "basic" and value:
        return _basic(value)
    raise NotAuthenticated("the Authorization header must be `Bearer <key or token>` or `Basic <user:key>`")


def _basic(value: str) -> KeyCredential:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise NotAuthenticated("the Basic credentials are not base64 of user:password") from None
    user, colon, password = decoded.partition(":")
    if not colon:
        raise NotAuthenticated("the Basic credentials are not base64 of user:password")
    return KeyCredential(_key(password), "basic", user or None)


def _key(text: str) -> keys.PresentedKey:
    try:
        return keys.parse(text)
    except keys.KeyFormatError as exc:
        raise NotAuthenticated(str(exc)) from None
