"""The formats the document states (``gis_service.schemas.formats``) are the parsers' own: whatever matches a
pattern is accepted, whatever the parser accepts matches it. Schemathesis trusts the document to tell valid
from invalid; these properties keep the two from drifting apart.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis_service.crs import SUPPORTED
from gis_service.edits import IfMatch
from gis_service.errors import InvalidParameter
from gis_service.literals import DATE_TIME as PARSED_DATE_TIME
from gis_service.literals import datetime_value
from gis_service.routers.edits import content_crs
from gis_service.schemas import formats

SEARCH = settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def accepted(parse: Any, text: str) -> bool:
    try:
        parse(text)
    except InvalidParameter:
        return False
    return True


def documented(pattern: str, text: str) -> bool:
    """As a JSON Schema validator reads ``pattern`` (a search; the patterns anchor themselves)."""
    return re.search(pattern, text) is not None


@SEARCH
@given(st.from_regex(formats.DATE_TIME, fullmatch=True))
def test_every_documented_date_time_is_accepted(text: str) -> None:
    assert accepted(lambda t: datetime_value(t, parameter="asOf"), text)


@SEARCH
@given(st.from_regex(PARSED_DATE_TIME, fullmatch=True))
def test_a_date_time_the_parser_reads_is_documented_exactly_when_accepted(text: str) -> None:
    """The parser's grammar is looser (any two digits for a month); the calendar check decides."""
    assert documented(formats.DATE_TIME, text) == accepted(lambda t: datetime_value(t, parameter="from"), text)


@pytest.mark.parametrize(
    "text",
    [
        "2024-02-29T00:00:00Z",
        "2000-02-29T12:00",
        "1900-02-28t23:59:59.123456789+07:00",
        "2025-07-01 08:00-00:30",
        "0001-01-01T00:00+01:00",  # before the first instant in UTC: read as that instant
        "9999-12-31T23:59:59-23:59",
    ],
)
def test_leap_days_the_separators_and_the_ends_of_the_calendar(text: str) -> None:
    assert documented(formats.DATE_TIME, text) and accepted(lambda t: datetime_value(t, parameter="to"), text)


@pytest.mark.parametrize(
    "text",
    ["1900-02-29T00:00", "2023-02-29T00:00", "2025-04-31T00:00", "2025-07-01T24:00", "2025-07-01T08:00+05:60", ""],
)
def test_impossible_instants_are_neither_documented_nor_accepted(text: str) -> None:
    assert not documented(formats.DATE_TIME, text)
    assert not accepted(lambda t: datetime_value(t, parameter="asOf"), text)


#: Strings made of what entity-tag lists are made of, in any order (and a few that are not).
TAG_ALPHABET = st.sampled_from(['"', "W", "/", ",", " ", "\t", "*", "v", "7", "a", "²", "\u00a0"])


@SEARCH
@given(st.text(TAG_ALPHABET, max_size=24) | st.from_regex(formats.IF_MATCH, fullmatch=True))
def test_if_match_is_documented_exactly_when_it_parses(text: str) -> None:
    assert documented(formats.IF_MATCH, text) == accepted(IfMatch.parse, text)


def test_if_match_keeps_only_strong_tags_of_this_service() -> None:
    parsed = IfMatch.parse('"v7", W/"v8" ,"v²", "x9",')
    assert parsed is not None and parsed.versions == {7} and not parsed.star
    assert IfMatch.parse(" * ") == IfMatch(star=True)


def test_every_documented_content_crs_is_accepted_and_nothing_else() -> None:
    for value in formats.CONTENT_CRS:
        assert content_crs(value).uri in SUPPORTED
    assert content_crs("<http://www.opengis.net/def/crs/EPSG/0/3405>").srid == 3405
    for value in ("EPSG:3405", "<<http://www.opengis.net/def/crs/EPSG/0/3405>>", "[http://www.opengis.net/def/crs/EPSG/0/3405]",
                  "http://www.opengis.net/def/crs/EPSG/0/2154", "<CRS84>", "crs84"):  # fmt: skip
        assert value not in formats.CONTENT_CRS
        with pytest.raises(InvalidParameter) as refused:
            content_crs(value)
        assert refused.value.parameter == "Content-Crs"


# ---- what the document says of the editing operations ------------------------------------------------------

ITEMS = "/collections/{collectionId}/items"
ITEM = ITEMS + "/{featureId}"


@pytest.fixture(scope="module")
def doc(client: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/api").json()
    return body


def parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in operation["parameters"] if p.get("name") == name)
    return found


def test_writes_name_only_the_editable_collections_and_need_credentials(
    client: TestClient, doc: dict[str, Any]
) -> None:
    editable = [spec.id for spec in client.app.state.catalog if spec.editable]  # type: ignore[attr-defined]
    assert editable and "admin_units" not in editable and "rivers" not in editable
    items, item = doc["paths"][ITEMS], doc["paths"][ITEM]
    for operation in (items["post"], item["put"], item["patch"], item["delete"]):
        assert parameter(operation, "collectionId")["schema"]["enum"] == editable
        assert {} not in operation["security"] and {"basic": []} in operation["security"]
        assert {"401", "403", "404", "405"} <= set(operation["responses"])
    for operation in (items["post"], item["put"], item["patch"]):
        assert {"413", "415", "422"} <= set(operation["responses"])
    for operation in (item["put"], item["patch"], item["delete"]):
        assert {"412", "428"} <= set(operation["responses"])
    assert "rivers" in parameter(items["get"], "collectionId")["schema"]["enum"]
    assert "admin_units" in parameter(items["options"], "collectionId")["schema"]["enum"]


def test_bodies_and_answers_of_the_writes_are_described(doc: dict[str, Any]) -> None:
    items, item = doc["paths"][ITEMS], doc["paths"][ITEM]
    assert set(items["post"]["requestBody"]["content"]) == {"application/geo+json", "application/json"}
    assert set(item["patch"]["requestBody"]["content"]) == {"application/merge-patch+json"}
    assert {"415", "413"} <= set(item["patch"]["responses"])
    created = items["post"]["responses"]["201"]["headers"]
    assert (
        created["Location"]["required"]
        and created["ETag"]["required"]
        and not created["Preference-Applied"]["required"]
    )
    assert item["put"]["responses"]["204"]["headers"]["ETag"]["required"]
    assert item["patch"]["responses"]["200"]["headers"]["Preference-Applied"]["required"]
    assert set(item["delete"]["responses"]) & {"200", "201"} == set()
    for options in (items["options"], item["options"]):
        allow = options["responses"]["200"]["headers"]["Allow"]
        assert allow["required"] and "caller" in allow["description"]
    assert parameter(item["patch"], "If-Match")["schema"]["pattern"] == formats.IF_MATCH
    assert parameter(item["put"], "Content-Crs")["schema"]["enum"] == formats.CONTENT_CRS
    assert doc["components"]["responses"]["PreconditionFailed"]["headers"]["ETag"]
