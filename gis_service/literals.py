"""Strict readings of the numbers, dates and flags users send: ASCII digits and RFC 3339 only.

Python's ``int()``, ``float()`` and ``fromisoformat()`` accept ``1_06``, Arabic-Indic and other non-ASCII
digits, ``nan`` and ISO week dates (``2020-W01-1``); no OGC standard or RFC 3339 does, so user input is
never read with them. Pure functions (no FastAPI) so the query-parameter parsers of
:mod:`gis_service.dependencies` and the CQL2 translator of :mod:`gis_service.queries.cql` share them.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from gis_service.errors import InvalidParameter

INT64 = (-(2**63), 2**63 - 1)
INTEGER = re.compile(r"[+-]?[0-9]+")
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
YEAR = re.compile(r"(?!0000)[0-9]{4}")
#: RFC 3339 date-time; seconds and the offset may be left out (read as :00 and UTC).
DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?"
    r"([Zz]|[+-][0-9]{2}:[0-5][0-9])?"
)


def shown(text: str, width: int = 40) -> str:
    """A user value quoted for an error message, cut to ``width`` characters."""
    return repr(text[:width] + "…") if len(text) > width else repr(text)


def integer_value(text: str, *, parameter: str, low: int = INT64[0], high: int = INT64[1]) -> int:
    """A decimal integer of ASCII digits with an optional sign, within [low, high] (a 64-bit integer)."""
    if len(text) > 24 or not INTEGER.fullmatch(text):
        raise InvalidParameter(f"{parameter}: {shown(text)} is not an integer (ASCII digits)", parameter=parameter)
    value = int(text)
    if not low <= value <= high:
        raise InvalidParameter(f"{parameter}: {shown(text)} is outside {low}..{high}", parameter=parameter)
    return value


def number_value(text: str, *, parameter: str) -> float:
    """A finite decimal number of ASCII digits (``12``, ``-0.5``, ``1e3``); no ``inf``, ``nan`` or ``1_0``."""
    if len(text) > 64 or not NUMBER.fullmatch(text):
        raise InvalidParameter(f"{parameter}: {shown(text)} is not a decimal number", parameter=parameter)
    value = float(text)
    if not math.isfinite(value):
        raise InvalidParameter(f"{parameter}: {shown(text)} is not a finite number", parameter=parameter)
    return value


def date_value(text: str, *, parameter: str) -> dt.date:
    """``YYYY-MM-DD`` (RFC 3339 full-date) only."""
    match = DATE.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        return dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        raise InvalidParameter(f"{parameter}: {shown(text)} is not a date (YYYY-MM-DD)", parameter=parameter) from None


def datetime_value(text: str, *, parameter: str) -> dt.datetime:
    """An RFC 3339 date-time, timezone-aware (UTC when the offset is left out)."""
    match = DATE_TIME.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        year, month, day, hour, minute, second, fraction, offset = match.groups()
        zone = dt.UTC
        if offset and offset not in "Zz":
            sign = -1 if offset[0] == "-" else 1
            zone = dt.timezone(sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
        micro = int((fraction or "0").ljust(6, "0")[:6])
        parts = (int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
        value = dt.datetime(*parts, micro, tzinfo=zone)
        try:
            value.astimezone(dt.UTC)
        except OverflowError:  # 9999-12-31T23:59-01:00 or 0001-01-01T00:00+01:00: an RFC 3339 instant past the
            # calendar's ends; as a bound it means "the earliest" or "the latest", which is what it becomes
            return (dt.datetime.min if value.year == 1 else dt.datetime.max).replace(tzinfo=dt.UTC)
        return value
    except (ValueError, OverflowError):
        raise InvalidParameter(
            f"{parameter}: {shown(text)} is not an RFC 3339 date-time", parameter=parameter
        ) from None


def instant_value(text: str, *, parameter: str) -> dt.date | dt.datetime:
    """A date or an RFC 3339 date-time."""
    return date_value(text, parameter=parameter) if len(text) <= 10 else datetime_value(text, parameter=parameter)


def text_value(text: str, *, parameter: str) -> str:
    """Text PostgreSQL can hold: no NUL character (a database error otherwise, naming nothing)."""
    if "\x00" in text:
        raise InvalidParameter(f"{parameter}: NUL characters are not allowed", parameter=parameter)
    return text


def boolean_value(text: str, *, parameter: str) -> bool:
    flag = {"true": True, "false": False}.get(text.lower())
    if flag is None:
        raise InvalidParameter(f"{parameter}: {shown(text)} is not true or false", parameter=parameter)
    return flag
