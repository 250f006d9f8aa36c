"""Runs the statements the query builders make and maps rows to wire shapes.

The only request-path module that executes SQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from gis_service.catalog import Catalog, LayerSpec
from gis_service.errors import FeatureNotFound, NotFound
from gis_service.queries import analysis as aq
from gis_service.queries import features as fq
from gis_service.queries import meta


@dataclass(frozen=True)
class Page:
    body: str  # features joined, without brackets
    matched: int
    returned: int


@dataclass(frozen=True)
class Extent:
    bbox: list[float] | None
    interval: list[str | None] | None


async def health(conn: AsyncConnection, catalog: Catalog) -> dict[str, Any]:
    versions = (await conn.execute(meta.postgis_version())).mappings().one()
    head = (await conn.execute(meta.migration_head())).scalar()
    counts: dict[str, int] = {row[0]: row[1] for row in await conn.execute(meta.feature_counts(list(catalog)))}
    return {
        "postgis": versions["postgis"],
        "postgres": versions["postgres"],
        "migration": head,
        "layers": {layer_id: counts.get(layer_id, 0) for layer_id in catalog.ids},
    }


async def layer_versions(conn: AsyncConnection) -> dict[str, int]:
    return {row[0]: row[1] for row in await conn.execute(meta.layer_versions())}


async def items(conn: AsyncConnection, spec: LayerSpec, query: fq.ItemsQuery, sep: str = ",") -> Page:
    matched = await count(conn, spec, query)
    if query.offset >= matched:
        return Page("", matched, 0)
    body, returned = (await conn.execute(fq.items_text(spec, query, sep))).one()
    return Page(body or "", matched, int(returned))


async def item(conn: AsyncConnection, spec: LayerSpec, feature_id: Any, query: fq.ItemsQuery) -> str:
    text = (await conn.execute(fq.item_text(spec, feature_id, query))).scalar()
    if text is None:
        raise FeatureNotFound(f"{spec.id} has no feature {feature_id!r}", parameter="featureId")
    return str(text)


async def item_rows(conn: AsyncConnection, spec: LayerSpec, query: fq.ItemsQuery) -> list[dict[str, Any]]:
    rows = (await conn.execute(fq.items_rows(spec, query))).mappings().all()
    return [
        {
            "id": r["id"],
            "geometry": orjson.loads(r["geometry"]) if r["geometry"] else None,
            "wkt": r["wkt"],
            "properties": r["properties"] if isinstance(r["properties"], dict) else orjson.loads(r["properties"]),
        }
        for r in rows
    ]


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int):
        return f"{value:04d}-01-01T00:00:00Z"
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00Z"
    return str(value)


async def unit_geometry(conn: AsyncConnection, code: str) -> dict[str, Any]:
    text = (await conn.execute(aq.unit_geometry(code))).scalar()
    if text is None:
        raise NotFound(f"no administrative unit with code {code!r}", parameter="admin_code")
    geometry: dict[str, Any] = orjson.loads(text)
    return geometry


async def count(conn: AsyncConnection, spec: LayerSpec, query: fq.ItemsQuery) -> int:
    return int((await conn.execute(fq.count(spec, query))).scalar_one())


async def extents(conn: AsyncConnection, cache: dict[str, Any], specs: list[LayerSpec]) -> dict[str, Extent]:
    """Extents kept per process (``cache``), keyed by each layer's data version and time of last write, so a
    write (or a rebuilt database) refreshes them; the versions are read once for all the layers."""
    versions = {row[0]: (row[1], row[2]) for row in await conn.execute(meta.layer_versions())}
    out = {}
    for spec in specs:
        key = versions.get(spec.table)
        hit = cache.get(spec.id)
        if hit is None or hit[0] != key:
            hit = cache[spec.id] = (key, await extent(conn, spec))
        out[spec.id] = hit[1]
    return out


async def extent(conn: AsyncConnection, spec: LayerSpec) -> Extent:
    row = (await conn.execute(fq.extent(spec))).one()
    bbox = [float(v) for v in row[:4]] if row[0] is not None else None
    interval = None
    if spec.temporal:
        interval = [_iso(row[4]), _iso(row[5])]
    return Extent(bbox, interval)
