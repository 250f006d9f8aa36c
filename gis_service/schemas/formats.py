"""The formats of parameters the document can state exactly: patterns and enums, written once here.

Each pattern is the parser's grammar written out (``tests/hostile/test_documented_formats.py`` holds the two
to each other): RFC 3339 date-times as :func:`gis_service.literals.datetime_value` reads them (a real calendar
date, leap days included), ``If-Match`` as :class:`gis_service.edits.IfMatch` reads it, ``Content-Crs`` as
the supported CRS URIs, in angle brackets (OGC API Features Part 2) or bare (what QGIS sends). ECMA-262
syntax that Python's ``re`` reads the same way (no look-arounds, no named groups).
"""

from __future__ import annotations

from typing import Any

from gis_service.crs import SUPPORTED

_YEAR = "(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
#: Years divisible by 4, except centuries not divisible by 400 (0000 is no year).
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_DATE = f"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = "[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:[.][0-9]{1,9})?)?"
_OFFSET = "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?"
DATE_TIME = f"^{_DATE}{_TIME}{_OFFSET}$"
#: Instants the offset moves past the calendar's ends are read as those ends (``literals.datetime_value``).
IN_CALENDAR = "An instant past the calendar's ends in UTC (`0001-01-01T00:00+01:00`) is its first (or last) instant."

_TAG = '(?:W/)?"[^"]*"'
#: ``*``, or a list of entity tags: commas between them, spaces and tabs around them, empty elements allowed
#: (RFC 9110 5.6.1; an empty list holds no tag, so it never matches: 412).
IF_MATCH = f"^(?:[ \\t]*[*][ \\t]*|[ \\t,]*(?:{_TAG}[ \\t]*(?:,[ \\t,]*|$))*)$"

CONTENT_CRS = sorted(f"<{uri}>" for uri in SUPPORTED) + sorted(SUPPORTED)

#: name -> what the document says of a parameter of that name and place (``in``), wherever it appears.
PARAMETERS: dict[str, dict[str, Any]] = {
    "asOf": {
        "in": "query",
        "description": "Extension: the layer as it was at this RFC 3339 instant (`2025-07-01T00:00:00Z`; seconds "
        "and offset may be left out: `:00` and UTC). Editable collections only: they keep a history. " + IN_CALENDAR,
        "schema": {"type": "string", "pattern": DATE_TIME},
    },
    "from": {
        "in": "query",
        "description": "RFC 3339 instant (exclusive), e.g. `2025-07-01T00:00:00Z`; seconds and offset may be left "
        f"out (`:00` and UTC). {IN_CALENDAR}",
        "schema": {"type": "string", "pattern": DATE_TIME},
    },
    "to": {
        "in": "query",
        "description": "RFC 3339 instant (inclusive), as `from`; now when absent.",
        "schema": {"type": "string", "pattern": DATE_TIME},
    },
    "If-Match": {
        "in": "header",
        "description": 'The `ETag` the change is based on (`"v7"`), several (`"v7", "v8"`) or `*` (the feature '
        "exists). Weak tags (`W/…`) never match. No feature, or none of the tags current: 412 with the current "
        "`ETag`. Without it the change is unconditional (QGIS never sends it) unless the collection requires it "
        "(428).",
        "schema": {"type": "string", "maxLength": 500, "pattern": IF_MATCH},
    },
    "Content-Crs": {
        "in": "header",
        "description": "CRS of the coordinates in the body (OGC API Features Part 2): one of the CRS URIs the "
        "collection lists, in angle brackets or bare; CRS84 when absent. `EPSG/0/4326` is latitude first.",
        "schema": {"type": "string", "enum": CONTENT_CRS},
    },
    "Prefer": {
        "in": "header",
        "description": "`return=representation`: the answer carries the feature as stored (with "
        "`Preference-Applied`); without it there is no body. Other preferences are ignored (RFC 7240).",
        "schema": {"type": "string", "maxLength": 200},
    },
    "Idempotency-Key": {
        "in": "header",
        "description": "A key of the caller's choosing: sending the same create again with it answers the "
        "feature it made (200) instead of making another.",
        "schema": {"type": "string", "maxLength": 255},
    },
    "X-Change-Comment": {
        "in": "header",
        "description": "Why the change was made (kept in the change set of the history); UTF-8.",
        "schema": {"type": "string", "maxLength": 500},
    },
}
