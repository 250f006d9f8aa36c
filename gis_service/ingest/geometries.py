"""The geometries of a file, checked and repaired: each becomes a valid EPSG:4326 geometry of its layer's
type, or its feature is rejected with the reason.

Repairs that keep the planner's intent (make_valid on a bow-tie, closing a ring, Polygon -> MultiPolygon)
are applied with a warning; a geometry that would put a wrong feature on the map (wrong CRS, NaN
coordinates, the wrong type) rejects its feature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from gis_service.ingest.reader import RawLayer, SourceCrs, to_lonlat

if TYPE_CHECKING:
    from gis_service.ingest.validate import Notes, TableSpec

#: Former Binh Duong (lon_min, lat_min, lon_max, lat_max) and how far outside it a feature may lie.
PROVINCE_BOX = (106.3, 10.85, 107.0, 11.55)
BOX_MARGIN = 0.5
ACCEPTED_TYPES = {"MULTIPOLYGON": ("Polygon", "MultiPolygon"), "POINT": ("Point", "MultiPoint")}
TYPE_WORDS = {"MULTIPOLYGON": "polygons", "POINT": "points"}


def check_geometries(
    raw: RawLayer, spec: TableSpec, source: SourceCrs, reasons: list[list[str]], notes: Notes
) -> np.ndarray:
    """Geometries in EPSG:4326, valid and of the layer's type; problems become reasons or notes."""
    geoms = raw.geometries.copy()
    bad = _reject(reasons, raw.unreadable, "unreadable geometry")
    bad |= _reject(reasons, ~bad & np.array([g is None for g in geoms], dtype=bool), "no geometry")
    ok = ~bad
    bad[ok] = _reject_at(reasons, ok, shapely.is_empty(geoms[ok]), "empty geometry")
    ok = ~bad
    bad[ok] = _reject_at(reasons, ok, ~_finite(geoms[ok]), "a coordinate is NaN or infinite")
    notes.feature("unclosed ring closed", np.flatnonzero(raw.ring_closed & ~bad))
    ok = ~bad
    bad[ok] = _wrong_type(geoms[ok], spec, reasons, np.flatnonzero(ok))
    ok = ~bad
    if shapely.has_z(geoms[ok]).any():
        notes.lines.append(f"{raw.name}: Z coordinates dropped ({spec.table} is 2D)")
        geoms[ok] = shapely.force_2d(geoms[ok])
    geoms[ok] = to_lonlat(geoms[ok], source)
    bad[ok] = _reject_at(reasons, ok, ~_finite(geoms[ok]), "coordinates could not be transformed to lon/lat")
    ok = ~bad
    bad[ok] = _reject_at(reasons, ok, _outside_province(geoms[ok]), outside_message(source))
    ok = ~bad
    geoms[ok], failed = _repair(geoms[ok], spec, notes, np.flatnonzero(ok))
    bad[ok] = _reject_at(reasons, ok, failed, "invalid geometry that cannot be repaired")
    return geoms


def outside_message(source: SourceCrs) -> str:
    crs = f"EPSG:{source.srid}" if source.srid else source.crs.name
    return f"lies far outside Binh Duong when read as {crs} (wrong CRS?)"


def _reject(reasons: list[list[str]], mask: np.ndarray, reason: str) -> np.ndarray:
    for i in np.flatnonzero(mask):
        reasons[i].append(reason)
    return np.asarray(mask, dtype=bool).copy()


def _reject_at(reasons: list[list[str]], subset: np.ndarray, mask: np.ndarray, reason: str) -> np.ndarray:
    """``mask`` is over the features in ``subset``; returns it (as bool) after noting the reason."""
    mask = np.asarray(mask, dtype=bool)
    for i in np.flatnonzero(subset)[mask]:
        reasons[i].append(reason)
    return mask


def _finite(geoms: np.ndarray) -> np.ndarray:
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    ok = np.ones(len(geoms), dtype=bool)
    ok[index[~np.isfinite(coords).all(axis=1)]] = False
    return ok


def _wrong_type(geoms: np.ndarray, spec: TableSpec, reasons: list[list[str]], where: np.ndarray) -> np.ndarray:
    accepted = ACCEPTED_TYPES.get(spec.geometry_type)
    if accepted is None:
        return np.zeros(len(geoms), dtype=bool)
    kinds = np.array([g.geom_type for g in geoms], dtype=object)
    wrong = ~np.isin(kinds, accepted)
    if spec.geometry_type == "POINT":
        wrong |= (kinds == "MultiPoint") & (shapely.get_num_geometries(geoms) != 1)
    for i, kind in zip(where[wrong], kinds[wrong], strict=True):
        reasons[i].append(f"a {kind}, but {spec.table} takes {TYPE_WORDS[spec.geometry_type]}")
    return wrong


def _outside_province(geoms: np.ndarray) -> np.ndarray:
    low, high = np.array(PROVINCE_BOX[:2]) - BOX_MARGIN, np.array(PROVINCE_BOX[2:]) + BOX_MARGIN
    bounds = shapely.bounds(geoms).reshape(-1, 4)
    return (bounds[:, :2] < low).any(axis=1) | (bounds[:, 2:] > high).any(axis=1)


def _repair(geoms: np.ndarray, spec: TableSpec, notes: Notes, where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """make_valid where needed, then the layer's type; returns geometries and a failure mask."""
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        for i, reason in zip(where[invalid], shapely.is_valid_reason(geoms[invalid]), strict=True):
            notes.feature(f"invalid geometry repaired with make_valid ({reason.split('[')[0]})", i)
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    if spec.geometry_type == "MULTIPOLYGON":
        return _as_multipolygons(geoms, notes, where)
    if spec.geometry_type == "POINT":
        single = shapely.get_type_id(geoms) == shapely.GeometryType.MULTIPOINT
        geoms[single] = shapely.get_geometry(geoms[single], 0)
        notes.feature("MultiPoint of one point stored as Point", where[single])
    return geoms, shapely.is_empty(geoms) | ~shapely.is_valid(geoms)


def _as_multipolygons(geoms: np.ndarray, notes: Notes, where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    types = shapely.get_type_id(geoms)
    single = types == shapely.GeometryType.POLYGON
    if single.any():
        notes.feature("Polygon stored as MultiPolygon", where[single])
        geoms[single] = shapely.multipolygons(geoms[single], indices=np.arange(int(single.sum())))
    mixed = ~np.isin(types, [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])
    for i in np.flatnonzero(mixed):  # what make_valid returned: a collection, or a collapsed line
        parts = [p for p in _flat_parts(geoms[i]) if p.geom_type == "Polygon" and not p.is_empty]
        merged = shapely.union_all(parts) if parts else None
        geoms[i] = shapely.multipolygons(shapely.get_parts(merged)) if merged is not None else None
        notes.feature("non-polygon parts dropped after repair", where[i])
    failed = np.array([g is None for g in geoms], dtype=bool)
    failed[~failed] = shapely.is_empty(geoms[~failed]) | ~shapely.is_valid(geoms[~failed])
    return geoms, failed


def _flat_parts(geom: Any) -> list[Any]:
    if geom.geom_type.startswith("Multi") or geom.geom_type == "GeometryCollection":
        return [p for part in shapely.get_parts(geom) for p in _flat_parts(part)]
    return [geom]
