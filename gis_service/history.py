"""Reading the history the database keeps (migration 0005), and reverting to an earlier version.

A revert never deletes history: it writes the old values as a NEW version (or re-creates a deleted
feature under its id), through the same triggers, in a change set of its own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import shapely
from shapely.geometry import shape
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gis_service import edits
from gis_service.catalog import LayerSpec
from gis_service.edit_input import Candidate
from gis_service.errors import FeatureNotFound, InvalidFeature, NotFound
from gis_service.queries import edits as eq
from gis_service.queries import history as hq

OPERATIONS = {"I": "created", "U": "modified", "D": "deleted"}
MAX_CHANGES = 10_000


def rfc3339(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def kept(spec: LayerSpec) -> None:
    """Only the editable layers keep a history (404 for the others)."""
    if not spec.editable:
        raise NotFound(f"{spec.id} keeps no history: it is not editable", parameter="collectionId")


async def versions(conn: AsyncConnection, spec: LayerSpec, feature_key: str) -> list[dict[str, Any]]:
    kept(spec)
    rows = (await conn.execute(hq.versions(spec, feature_key))).mappings().all()
    if not rows:
        raise FeatureNotFound(f"{spec.id} has no history for feature {feature_key!r}", parameter="featureId")
    names = spec.property_names
    extra = eq.extra_geometries(spec)
    return [
        {
            "version": r["version"],
            "operation": OPERATIONS[r["op"]],
            "validFrom": rfc3339(r["valid_from"]) if r["op"] != "D" else None,
            "validTo": rfc3339(r["valid_to"]) if r["op"] != "D" else None,
            "changedAt": rfc3339(r["changed_at"]),
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
    kept(spec)
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
    return {"collection": spec.id, "from": rfc3339(start), "to": rfc3339(end), "added": added, "modified": modified,
            "removed": removed}  # fmt: skip


def _wkb(geojson: Any) -> bytes | None:
    """A geometry the history row keeps as GeoJSON (PostGIS's jsonb cast), as WKB for the write."""
    return shapely.to_wkb(shape(geojson)) if isinstance(geojson, dict) else None


async def revert(
    engine: AsyncEngine, spec: LayerSpec, ctx: edits.EditContext, feature_key: str, version: int
) -> edits.Written:
    """The feature as it was at ``version``, written as its next version (re-created where it was deleted).
    ``ctx`` has no If-Match: the change set is marked unconditional."""
    feature_id = spec.feature_id(feature_key)
    async with edits.transaction(engine, ctx) as conn:
        old = (await conn.execute(hq.version_row(spec, feature_key, version))).first()
        if old is None:
            raise FeatureNotFound(f"{spec.id} feature {feature_key!r} has no version {version}", parameter="version")
        if old.op == "D":
            raise InvalidFeature(f"version {version} is the deletion; revert to the version before it",
                                 parameter="version")  # fmt: skip
        values = {c: old.row.get(c) for c in eq.writable_columns(spec)}
        extra = {c: _wkb(old.row.get(c)) for c in eq.extra_geometries(spec)}
        restored = Candidate(values, bytes(old.wkb) if old.wkb is not None else None, extra=extra)
        new_version = await edits.update(conn, spec, feature_id, restored, None)
        if new_version is None:
            restored.values["id"] = old.feature_id
            _, new_version = await edits.insert(conn, spec, restored)
    return edits.Written(feature_id, new_version)
