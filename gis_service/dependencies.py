"""Small named parsers and dependency aliases that read like the domain.

Every number and date a user sends is read strictly (ASCII digits, RFC 3339: :mod:`gis_service.literals`),
here for query parameters and JSON bodies (``AsciiInt``, ``AsciiFloat``, ``AsciiDate``), in the CQL2
translator for filter literals.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from pydantic import AfterValidator, BeforeValidator
from sqlalchemy.ext.asyncio import AsyncConnection

from gis_service.catalog import Catalog, LayerSpec
from gis_service.crs import OGC_CRS84, SUPPORTED, ServiceCrs, inside_domain, srid_of
from gis_service.errors import InvalidParameter, UnknownParameter
from gis_service.literals import (
    YEAR,
    boolean_value,
    date_value,
    datetime_value,
    instant_value,
    integer_value,
    number_value,
    shown,
    text_value,
)
from gis_service.queries import cql
from gis_service.queries.features import ItemsQuery
from gis_service.replicas import read_connection
from gis_service.settings import Settings

#: More property names than this in ``properties`` is a request to be refused, not a SQL function call
#: with more arguments than PostgreSQL's 100.
MAX_PROPERTIES = 50
MAX_SORT_KEYS = 8
#: The ``request.state`` attribute of the request's connection to the primary, while it holds one.
PRIMARY_CONNECTION = "primary_connection"


def _pydantic(parse: Any) -> Any:
    """A pydantic ``BeforeValidator`` from a strict parser: strings are parsed by it, its error explains."""

    def validate(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return parse(value, parameter="value")
        except InvalidParameter as exc:
            raise ValueError(exc.detail.removeprefix("value: ")) from None

    return BeforeValidator(validate)


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


#: Types for query parameters and JSON bodies: strict ASCII parsing, the OpenAPI type unchanged.
AsciiInt = Annotated[int, _pydantic(integer_value)]
AsciiFloat = Annotated[float, _pydantic(number_value), AfterValidator(_finite)]
AsciiDate = Annotated[dt.date, _pydantic(date_value)]
#: Text for JSON bodies that reaches SQL as a bound value: NUL refused by name.
PlainText = Annotated[str, _pydantic(text_value)]


async def plain_text_params(request: Request) -> None:
    """PostgreSQL text cannot hold NUL: a ``%00`` in any path or query parameter is refused by name. Every
    route depends on it (``create_app``), before any connection is taken."""
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if "\x00" in name or "\x00" in str(value):
            culprit = name if "\x00" not in name else name.replace("\x00", "\\x00")
            raise InvalidParameter(f"{culprit}: NUL characters (%00) are not allowed", parameter=culprit)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


async def get_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """The request's read connection: a replica when configured (gis_service.replicas), else the primary.

    One on the primary is also what authentication runs on when it comes later (``request.state``, see
    :func:`gis_service.auth.dependency.auth_connection`): a request never holds one pooled connection while
    waiting for a second, which, with every connection of the pool held so, would wait forever."""
    async with read_connection(request) as conn:
        if conn.sync_engine is request.app.state.engine.sync_engine:
            setattr(request.state, PRIMARY_CONNECTION, conn)
        try:
            yield conn
        finally:
            setattr(request.state, PRIMARY_CONNECTION, None)


async def collection_param(
    catalog: Annotated[Catalog, Depends(get_catalog)],
    collectionId: Annotated[str, Path(description="Collection id (a table name, no dots).", max_length=64)],
) -> LayerSpec:
    return catalog.get(collectionId)


SettingsDep = Annotated[Settings, Depends(get_settings)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
ConnDep = Annotated[AsyncConnection, Depends(get_connection)]
CollectionDep = Annotated[LayerSpec, Depends(collection_param)]


# ---- small named parsers -------------------------------------------------------------------------


def bbox_query(
    text: str | None, *, parameter: str = "bbox", crs: ServiceCrs | None = None
) -> tuple[float, float, float, float] | None:
    """4 or 6 finite numbers in ``crs`` (CRS84 when None), min <= max (6: the heights are dropped); returned
    x first. Lon/lat must be in range; a projected box must lie in its projection's domain."""
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise InvalidParameter(f"{parameter} takes 4 or 6 numbers, got {len(parts)}", parameter=parameter)
    values = [number_value(p.strip(), parameter=parameter) for p in parts]
    x1, y1, x2, y2 = (values[0], values[1], values[3], values[4]) if len(values) == 6 else values
    if crs is not None and crs.lat_first:
        x1, y1, x2, y2 = y1, x1, y2, x2
    if x1 > x2 or y1 > y2:
        raise InvalidParameter(f"{parameter} is inverted: the lower corner comes first", parameter=parameter)
    srid = 4326 if crs is None else crs.srid
    if inside_domain(srid, [(x1, y1), (x1, y2), (x2, y1), (x2, y2)]):
        return (x1, y1, x2, y2)
    if srid == 4326:
        raise InvalidParameter(f"{parameter} is outside longitude/latitude range", parameter=parameter)
    raise InvalidParameter(
        f"{parameter} reaches outside the domain of EPSG:{srid} (no longitude/latitude there)", parameter=parameter
    )


def _instant(text: str, *, end: bool) -> dt.date | None:
    if text in ("", ".."):
        return None
    text = text.removesuffix("T")  # GDAL sends "2025-07-01T" for a date-only comparison
    if YEAR.fullmatch(text):
        return dt.date(int(text), 12, 31) if end else dt.date(int(text), 1, 1)
    value = instant_value(text, parameter="datetime")
    return value.date() if isinstance(value, dt.datetime) else value


def datetime_query(text: str | None) -> tuple[dt.date | None, dt.date | None] | None:
    """An instant, or an interval ``start/end`` where either end may be open (``..`` or empty)."""
    if text is None:
        return None
    if "/" not in text:
        if text in ("", ".."):
            raise InvalidParameter("datetime: an instant cannot be open; use start/end", parameter="datetime")
        day = _instant(text, end=False)
        return (day, _instant(text, end=True)) if len(text) == 4 else (day, day)
    start_text, _, end_text = text.partition("/")
    start, end = _instant(start_text, end=False), _instant(end_text, end=True)
    if start and end and start > end:
        raise InvalidParameter("datetime interval ends before it starts", parameter="datetime")
    return (start, end)


def crs_query(text: str | None, *, parameter: str = "crs") -> ServiceCrs:
    """One of the CRSs listed in the collection; CRS84 when absent."""
    if text is None:
        return SUPPORTED[OGC_CRS84]
    text = text.strip().strip("[]")
    if text in SUPPORTED:
        return SUPPORTED[text]
    try:
        srid = srid_of(text)
    except (KeyError, ValueError):
        srid = -1
    for candidate in SUPPORTED.values():
        if candidate.srid == srid and not candidate.lat_first and text.upper() != "EPSG:4326":
            return candidate
    if text.upper() == "EPSG:4326":
        return SUPPORTED["http://www.opengis.net/def/crs/EPSG/0/4326"]
    raise InvalidParameter(
        f"{parameter} {shown(text, 80)} is not supported; use one of {sorted(SUPPORTED)}", parameter=parameter
    )


def filter_query(spec: LayerSpec, settings: Settings, text: str, lang: str | None, crs: str | None) -> Any:
    """A CQL2 filter (text or JSON, its geometries in ``crs``) as a condition on the collection's table."""
    limits = settings.features
    ast = cql.parse(text, lang, max_chars=limits.max_filter_chars, max_depth=limits.max_filter_depth)
    return cql.to_sql(spec, ast, crs_query(crs, parameter="filter-crs").srid)


def names_query(text: str | None, allowed: list[str], *, parameter: str) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if len(names) > MAX_PROPERTIES:
        raise InvalidParameter(
            f"{parameter}: {len(names)} names; at most {MAX_PROPERTIES} may be listed", parameter=parameter
        )
    unknown = [shown(n) for n in names if n not in allowed]
    if unknown:
        raise InvalidParameter(f"{parameter}: unknown properties {', '.join(unknown[:5])}", parameter=parameter)
    return names


def sortby_query(text: str | None, allowed: list[str]) -> tuple[tuple[str, bool], ...]:
    if text is None:
        return ()
    keys: dict[str, bool] = {}
    for raw in text.split(","):
        raw = raw.strip()
        name = raw[1:] if raw[:1] in ("+", "-") else raw
        if name not in allowed:
            raise InvalidParameter(f"sortby: {shown(name)} is not a sortable property", parameter="sortby")
        keys.setdefault(name, raw.startswith("-"))
    if len(keys) > MAX_SORT_KEYS:
        raise InvalidParameter(f"sortby: at most {MAX_SORT_KEYS} keys", parameter="sortby")
    return tuple(keys.items())


def typed_value(spec: LayerSpec, name: str, text: str) -> Any:
    """A ``name=value`` property filter, typed like the property."""
    prop = spec.property(name)
    kind = prop.type if prop else "string"
    if kind == "integer":
        return integer_value(text, parameter=name)
    if kind == "number":
        return number_value(text, parameter=name)
    if kind == "boolean":
        return boolean_value(text, parameter=name)
    if kind == "date":
        return date_value(text, parameter=name)
    return text


# ---- items parameters -----------------------------------------------------------------------------

ITEMS_PARAMS = {
    "f",
    "bbox",
    "bbox-crs",
    "datetime",
    "limit",
    "offset",
    "properties",
    "sortby",
    "q",
    "filter",
    "filter-lang",
    "filter-crs",
    "crs",
    "asOf",
}
FORMATS = ("json", "geojson", "html", "csv", "geojsonseq", "gpkg")


class ItemsParams:
    """Every query parameter of ``/items``, documented in the OpenAPI, plus ``name=value`` filters."""

    def __init__(
        self,
        request: Request,
        f: Annotated[
            str | None,
            Query(
                description="Output format (default: html for browsers, else json).",
                json_schema_extra={"enum": [*FORMATS]},
            ),
        ] = None,
        bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy (or 6 numbers with heights).")] = None,
        bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="CRS of bbox (default CRS84).")] = None,
        datetime: Annotated[str | None, Query(description="Instant or interval (`2025-07-01`, `2020/..`).")] = None,
        limit: Annotated[AsciiInt | None, Query(description="Page size (larger values are clamped).")] = None,
        offset: Annotated[AsciiInt, Query(ge=0, description="Features to skip.")] = 0,
        properties: Annotated[str | None, Query(description="Comma-separated properties to return.")] = None,
        sortby: Annotated[str | None, Query(description="Comma-separated keys, `-` for descending.")] = None,
        q: Annotated[str | None, Query(max_length=200, description="Name search, with or without diacritics.")] = None,
        filter: Annotated[str | None, Query(description="CQL2 filter (text or JSON).")] = None,
        filter_lang: Annotated[str | None, Query(alias="filter-lang", description="cql2-text or cql2-json.")] = None,
        filter_crs: Annotated[str | None, Query(alias="filter-crs", description="CRS of filter geometries.")] = None,
        crs: Annotated[str | None, Query(description="Output CRS (Part 2).")] = None,
        as_of: Annotated[
            str | None, Query(alias="asOf", description="Extension: the layer as it was at this RFC 3339 instant.")
        ] = None,
    ) -> None:
        self.request = request
        self.f, self.bbox, self.bbox_crs, self.datetime = f, bbox, bbox_crs, datetime
        self.limit, self.offset, self.properties, self.sortby, self.q = limit, offset, properties, sortby, q
        self.filter, self.filter_lang, self.filter_crs, self.crs = filter, filter_lang, filter_crs, crs
        self.as_of = as_of

    def output_format(self) -> str:
        return output_format(self.request, self.f)

    def to_query(self, spec: LayerSpec, settings: Settings, *, download: bool = False) -> ItemsQuery:
        allowed = spec.property_names
        equals = {}
        for name, value in self.request.query_params.items():
            if name in ITEMS_PARAMS:
                continue
            if name not in allowed:
                raise UnknownParameter(f"unknown query parameter {name!r}", parameter=name)
            equals[name] = typed_value(spec, name, value)
        limit = (
            self.limit
            if self.limit is not None
            else (settings.features.max_limit if download else settings.features.default_limit)
        )
        if limit <= 0:
            raise InvalidParameter("limit must be a positive integer", parameter="limit")
        bbox_crs = crs_query(self.bbox_crs, parameter="bbox-crs")
        bbox = bbox_query(self.bbox, crs=bbox_crs)
        out = crs_query(self.crs)
        if self.datetime is not None and spec.temporal is None:
            raise InvalidParameter(f"datetime: {spec.id} has no time field to select on", parameter="datetime")
        return ItemsQuery(
            bbox=bbox,
            bbox_srid=bbox_crs.srid,
            interval=datetime_query(self.datetime),
            equals=equals,
            where=self._filter(spec, settings),
            q=self.q,
            sortby=sortby_query(self.sortby, [*allowed, spec.id_column]),
            properties=names_query(self.properties, allowed, parameter="properties"),
            limit=min(limit, settings.features.max_limit),
            offset=self.offset,
            out_srid=out.srid,
            lat_first=out.lat_first,
            as_of=self._as_of(spec),
        )

    def _as_of(self, spec: LayerSpec) -> dt.datetime | None:
        if self.as_of is None:
            return None
        if not spec.editable:
            raise InvalidParameter(f"asOf: {spec.id} keeps no history (it is not editable)", parameter="asOf")
        return datetime_value(self.as_of, parameter="asOf")

    def _filter(self, spec: LayerSpec, settings: Settings) -> Any:
        if self.filter is None:
            if self.filter_lang or self.filter_crs:
                raise InvalidParameter("filter-lang and filter-crs need a filter", parameter="filter")
            return None
        return filter_query(spec, settings, self.filter, self.filter_lang, self.filter_crs)


def output_format(request: Request, f: str | None) -> str:
    """``f`` wins; otherwise a browser asking for HTML gets HTML, everyone else GeoJSON/JSON."""
    if f is not None:
        if f not in FORMATS:
            raise InvalidParameter(f"f must be one of {', '.join(FORMATS)}", parameter="f")
        return "json" if f == "geojson" else f
    accept = request.headers.get("accept", "")
    if "text/html" in accept and "json" not in accept.split(",")[0]:
        return "html"
    return "json"


def reject_unknown(request: Request, allowed: set[str]) -> None:
    for name in request.query_params:
        if name not in allowed:
            raise UnknownParameter(f"unknown query parameter {name!r}", parameter=name)


ItemsDep = Annotated[ItemsParams, Depends(ItemsParams)]
