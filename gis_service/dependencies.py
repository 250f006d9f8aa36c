"""Small named parsers and dependency aliases that read like the domain."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from gis_service.catalog import Catalog, LayerSpec
from gis_service.crs import OGC_CRS84, SUPPORTED, ServiceCrs, srid_of
from gis_service.db import request_connection
from gis_service.errors import InvalidParameter, UnknownParameter
from gis_service.queries import cql
from gis_service.queries.features import ItemsQuery
from gis_service.settings import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


async def get_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request_connection(request.app.state.engine) as conn:
        yield conn


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


def bbox_query(text: str | None, *, parameter: str = "bbox", geographic: bool = True) -> tuple[float, ...] | None:
    """4 or 6 finite numbers, min <= max (6: the two heights are dropped)."""
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise InvalidParameter(f"{parameter} takes 4 or 6 numbers, got {len(parts)}", parameter=parameter)
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InvalidParameter(f"{parameter} must be comma-separated numbers", parameter=parameter) from None
    if not all(math.isfinite(v) for v in values):
        raise InvalidParameter(f"{parameter} must be finite numbers", parameter=parameter)
    x1, y1, x2, y2 = (values[0], values[1], values[3], values[4]) if len(values) == 6 else values
    if x1 > x2 or y1 > y2:
        raise InvalidParameter(f"{parameter} is inverted: the lower corner comes first", parameter=parameter)
    if geographic and not (-180 <= x1 <= 180 and -180 <= x2 <= 180 and -90 <= y1 <= 90 and -90 <= y2 <= 90):
        raise InvalidParameter(f"{parameter} is outside longitude/latitude range", parameter=parameter)
    return (x1, y1, x2, y2)


def _instant(text: str, *, end: bool) -> dt.date | None:
    if text in ("", ".."):
        return None
    text = text.removesuffix("T")  # GDAL sends "2025-07-01T" for a date-only comparison
    try:
        if "T" in text or " " in text:
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        if len(text) == 4 and text.isdigit():
            return dt.date(int(text), 12, 31) if end else dt.date(int(text), 1, 1)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidParameter(
            f"datetime: {text!r} is not an RFC 3339 date or date-time", parameter="datetime"
        ) from None


def datetime_query(text: str | None) -> tuple[dt.date | None, dt.date | None] | None:
    """An instant, or an interval ``start/end`` where either end may be open (``..`` or empty)."""
    if text is None:
        return None
    if "/" not in text:
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
        f"{parameter} {text!r} is not supported; use one of {sorted(SUPPORTED)}", parameter=parameter
    )


def names_query(text: str | None, allowed: list[str], *, parameter: str) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise InvalidParameter(f"{parameter}: unknown properties {unknown}", parameter=parameter)
    return names


def sortby_query(text: str | None, allowed: list[str]) -> tuple[tuple[str, bool], ...]:
    if text is None:
        return ()
    keys = []
    for raw in text.split(","):
        raw = raw.strip()
        name = raw.lstrip("+-")
        if name not in allowed:
            raise InvalidParameter(f"sortby: {name!r} is not a sortable property", parameter="sortby")
        keys.append((name, raw.startswith("-")))
    return tuple(keys)


def typed_value(spec: LayerSpec, name: str, text: str) -> Any:
    prop = spec.property(name)
    kind = prop.type if prop else "string"
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
            return value
        if kind == "boolean":
            return {"true": True, "false": False}[text.lower()]
        if kind == "date":
            return dt.date.fromisoformat(text)
    except (KeyError, ValueError):
        raise InvalidParameter(f"{name}: {text!r} is not a valid {kind}", parameter=name) from None
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
}
FORMATS = ("json", "geojson", "html", "csv", "geojsonseq", "gpkg")


class ItemsParams:
    """Every query parameter of ``/items``, documented in the OpenAPI, plus ``name=value`` filters."""

    def __init__(
        self,
        request: Request,
        f: Annotated[str | None, Query(description=f"Output format: one of {', '.join(FORMATS)}.")] = None,
        bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy (or 6 numbers with heights).")] = None,
        bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="CRS of bbox (default CRS84).")] = None,
        datetime: Annotated[str | None, Query(description="Instant or interval (`2025-07-01`, `2020/..`).")] = None,
        limit: Annotated[int | None, Query(description="Page size (larger values are clamped).")] = None,
        offset: Annotated[int, Query(ge=0, description="Features to skip.")] = 0,
        properties: Annotated[str | None, Query(description="Comma-separated properties to return.")] = None,
        sortby: Annotated[str | None, Query(description="Comma-separated keys, `-` for descending.")] = None,
        q: Annotated[str | None, Query(max_length=200, description="Name search, with or without diacritics.")] = None,
        filter: Annotated[str | None, Query(description="CQL2 filter (text or JSON).")] = None,
        filter_lang: Annotated[str | None, Query(alias="filter-lang", description="cql2-text or cql2-json.")] = None,
        filter_crs: Annotated[str | None, Query(alias="filter-crs", description="CRS of filter geometries.")] = None,
        crs: Annotated[str | None, Query(description="Output CRS (Part 2).")] = None,
    ) -> None:
        self.request = request
        self.f, self.bbox, self.bbox_crs, self.datetime = f, bbox, bbox_crs, datetime
        self.limit, self.offset, self.properties, self.sortby, self.q = limit, offset, properties, sortby, q
        self.filter, self.filter_lang, self.filter_crs, self.crs = filter, filter_lang, filter_crs, crs

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
        bbox = bbox_query(self.bbox, geographic=bbox_crs.srid == 4326)
        if bbox is not None and bbox_crs.lat_first:
            bbox = (bbox[1], bbox[0], bbox[3], bbox[2])
        out = crs_query(self.crs)
        return ItemsQuery(
            bbox=bbox,  # type: ignore[arg-type]
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
        )

    def _filter(self, spec: LayerSpec, settings: Settings) -> Any:
        if self.filter is None:
            if self.filter_lang or self.filter_crs:
                raise InvalidParameter("filter-lang and filter-crs need a filter", parameter="filter")
            return None
        ast = cql.parse(
            self.filter,
            self.filter_lang,
            max_chars=settings.features.max_filter_chars,
            max_depth=settings.features.max_filter_depth,
        )
        filter_crs = crs_query(self.filter_crs, parameter="filter-crs")
        return cql.to_sql(spec, ast, filter_crs.srid)


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
