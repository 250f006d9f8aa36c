"""API keys: ``<prefix>.<secret>``, 256 random bits, shown once; stored as prefix + HMAC-SHA256(pepper, secret).

A fast keyed hash is enough for keys this random (argon2 is for passwords people choose); the pepper lives
in the settings, not in the database, so a copy of the table alone cannot test a guess. Comparison is
constant-time. Nothing here prints a secret: reprs are masked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

PREFIX_TAG = "gsk_"
#: ``gsk_`` + 10 hex digits: enough to find the row; not secret.
PREFIX = re.compile(r"^gsk_[0-9a-f]{10}$")
#: 32 random bytes, URL-safe base64 without padding: 43 characters.
SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")
SECRET_BYTES = 32


class KeyFormatError(ValueError):
    """Not shaped like one of our keys (the message never repeats the input)."""


@dataclass(frozen=True)
class PresentedKey:
    """A key as a client sent it, split; ``secret`` stays out of reprs and logs."""

    prefix: str
    secret: str = field(repr=False)

    def __str__(self) -> str:
        return f"{self.prefix}.***"


@dataclass(frozen=True)
class NewKey:
    prefix: str
    secret: str = field(repr=False)

    @property
    def token(self) -> str:
        """What the client sends; shown once, when the key is made."""
        return f"{self.prefix}.{self.secret}"

    def __str__(self) -> str:
        return f"{self.prefix}.***"


def generate() -> NewKey:
    return NewKey(PREFIX_TAG + secrets.token_hex(5), secrets.token_urlsafe(SECRET_BYTES))


def looks_like_key(text: str) -> bool:
    return text.startswith(PREFIX_TAG)


def parse(text: str) -> PresentedKey:
    prefix, dot, secret = text.strip().partition(".")
    if not dot or not PREFIX.match(prefix) or not SECRET.match(secret):
        raise KeyFormatError("not an API key of this service (expected gsk_<10 hex>.<43 characters>)")
    return PresentedKey(prefix, secret)


def digest(pepper: bytes, secret: str) -> bytes:
    return hmac.new(pepper, secret.encode("ascii"), hashlib.sha256).digest()


def matches(pepper: bytes, secret: str, stored: bytes) -> bool:
    """Constant-time: how long this takes says nothing about how much of the secret was right."""
    return hmac.compare_digest(digest(pepper, secret), stored)
