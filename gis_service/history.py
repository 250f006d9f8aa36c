"""Reading the history the database keeps (migration 0005), and reverting to an earlier version.

A revert never deletes history: it writes the old values as a NEW version (or re-creates a deleted
feature under its id), through the same triggers, in a change set of its own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import orjson
import shapely
from shapely.geometry import mapping, shape
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gis_service import edits
from gis_service.auth.dependency import writing_as
from gis_service.catalog import LayerSpec
from gis_service.crs import ServiceCrs
from gis_service.errors import FeatureNotFound, InvalidFeature, NotFound
from gis_service.ingest.reader import SourceCrs, to_lonlat
from gis_service.queries import edits as eq
from gis_service.queries import history as hq

OPERATIONS = {"I": "created", "U": "modified", "D": "deleted"}
MAX_CHANGES = 10_000


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _kept(spec: LayerSpec) -> None:
    if not spec.editable:
        raise NotFound(f"{spec.id} keeps no history: it is not editable", parameter="collectionId")


async def versions(conn: AsyncConnection, spec: LayerSpec, feature_key: str) -> list[dict[str, Any]]:
    _kept(spec)
    rows = (await conn.execute(hq.versions(spec, feature_key))).mappings().all()
    if not rows:
        raise FeatureNotFound(f"{spec.id} has no history for feature {feature_key!r}", parameter="featureId")
    names = spec.property_names
    extra = eq.extra_geometries(spec)
    return [
        {
            "version": r["version"],
            "operation": OPERATIONS[r["op"]],
            "validFrom": _iso(r["valid_from"]) if r["op"] != "D" else None,
            "validTo": _iso(r["valid_to"]) if r["op"] != "D" else None,
            "changedAt": _iso(r["changed_at"]),
            "changedBy": r["changed_by"],
            "changeSet": {
                "id": r["change_set_id"],
                "comment": r["comment"],
                "client": r["client"],
                "unconditional": r["unconditional"],
            },
            "properties": {n: r["row"].get(n) for n in names} | {n: _plain(r["row"].get(n)) for n in extra},
            "geometry": orjson.loads(r["geometry"]) if r["geometry"] else None,
        }
        for r in rows
    ]


def _plain(geojson: Any) -> Any:
    """GeoJSON without the ``crs`` member PostGIS's jsonb cast adds (the CRS is CRS84, as everywhere)."""
    return {k: v for k, v in geojson.items() if k != "crs"} if isinstance(geojson, dict) else geojson


async def changes(conn: AsyncConnection, spec: LayerSpec, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    _kept(spec)
    rows = (await conn.execute(hq.changes(spec, start, end, MAX_CHANGES))).mappings().all()
    added, modified, removed = [], [], []
    for r in rows:
        if r["version_before"] is None:
            added.append(r["feature_key"])
        elif r["version_after"] is None:
            removed.append(r["feature_key"])
        else:
            modified.append(
                {
                    "id": r["feature_key"],
                    "versions": [r["version_before"], r["version_after"]],
                    "changedProperties": sorted(r["changed"] or []),
                    "geometryMoved": bool(r["geometry_moved"]),
                }
            )
    return {"collection": spec.id, "from": _iso(start), "to": _iso(end), "added": added, "modified": modified,
            "removed": removed}  # fmt: skip


def patch_to_crs84(
    document: dict[str, Any], crs: ServiceCrs, extra: tuple[str, ...] = ("footprint",)
) -> dict[str, Any]:
    """The geometries of a merge patch sent in ``Content-Crs`` (the feature's, and ``extra`` members of its
    properties), in CRS84 (the merge happens on the stored feature); what is not GeoJSON is left for the
    checks to refuse."""
    result = {**document, "geometry": _crs84(document.get("geometry"), crs)} if "geometry" in document else document
    properties = document.get("properties")
    if isinstance(properties, dict) and any(isinstance(properties.get(n), dict) for n in extra):
        moved = {n: _crs84(v, crs) if n in extra else v for n, v in properties.items()}
        result = {**result, "properties": moved}
    return result


def _crs84(geometry: Any, crs: ServiceCrs) -> Any:
    if not isinstance(geometry, dict):
        return geometry
    try:
        geom = shape(geometry)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, shapely.errors.ShapelyError):
        return geometry
    if crs.lat_first:
        geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
    return mapping(to_lonlat(np.array([geom], dtype=object), SourceCrs.of(crs.srid))[0])


def _wkb(geojson: Any) -> bytes | None:
    """A geometry the history row keeps as GeoJSON (PostGIS's jsonb cast), as WKB for the write."""
    return shapely.to_wkb(shape(geojson)) if isinstance(geojson, dict) else None


async def revert(
    engine: AsyncEngine, spec: LayerSpec, ctx: edits.EditContext, feature_key: str, version: int
) -> edits.Written:
    feature_id = spec.feature_id(feature_key)
    async with writing_as(engine, ctx.principal) as conn:
        await conn.execute(eq.edit_context(ctx.comment, ctx.client, True))
        old = (await conn.execute(hq.version_row(spec, feature_key, version))).first()
        if old is None:
            raise FeatureNotFound(f"{spec.id} feature {feature_key!r} has no version {version}", parameter="version")
        if old.op == "D":
            raise InvalidFeature(f"version {version} is the deletion; revert to the version before it",
                                 parameter="version")  # fmt: skip
        values = {c: old.row.get(c) for c in eq.writable_columns(spec)}
        extra = {c: _wkb(old.row.get(c)) for c in eq.extra_geometries(spec)}
        wkb = bytes(old.wkb) if old.wkb is not None else None
        row = (await edits.run(conn, eq.update_feature(spec, feature_id, values, wkb, None, extra))).first()
        if row is None:
            values["id"] = old.feature_id
            row = (await edits.run(conn, eq.insert_feature(spec, values, wkb, extra))).first()
            new_version = int(row[1])
        else:
            new_version = int(row[0])
    return edits.Written(feature_id, new_version)
