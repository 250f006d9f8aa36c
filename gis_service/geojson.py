"""Structural checks of GeoJSON geometries that users send (posted bodies, CQL2 geometry literals).

The walk is iterative and bounded, so nothing a client sends can exhaust a stack: a GeometryCollection
nested hundreds of levels deep, a Feature where a geometry is expected, an empty or unclosed polygon, a
position that is not two or three finite numbers, all become a 400 naming the parameter, before shapely,
orjson or PostGIS (whose parse errors would be 500s) see the value.
"""

from __future__ import annotations

import math
from typing import Any

from gis_service.errors import InvalidParameter, PayloadTooLarge

#: Depth of the coordinate arrays of each geometry type (a position is depth 1).
COORDINATE_DEPTH = {"Point": 1, "MultiPoint": 2, "LineString": 2, "MultiLineString": 3, "Polygon": 3, "MultiPolygon": 4}
#: GeometryCollections inside GeometryCollections (RFC 7946 §3.1.8 advises against any nesting).
MAX_COLLECTION_NESTING = 4
#: No coordinate of any CRS the service speaks comes near this (metres of a projection included); beyond
#: it a number is garbage, and beyond 64 bits an integer cannot even be serialised again.
MAX_COORDINATE = 1e12
NOT_GEOMETRIES = ("Feature", "FeatureCollection")


def check_geometry(
    value: Any,
    *,
    parameter: str,
    max_vertices: int = 100_000,
    types: tuple[str, ...] | None = None,
) -> int:
    """Refuse anything that is not a well-formed, non-empty GeoJSON geometry; the number of positions."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    positions = 0
    while pending:
        node, nesting = pending.pop()
        kind = _geometry_type(node, parameter)
        if kind == "GeometryCollection":
            members = node.get("geometries")
            if nesting >= MAX_COLLECTION_NESTING:
                raise _invalid(parameter, f"GeometryCollections nest deeper than {MAX_COLLECTION_NESTING} levels")
            if not isinstance(members, list) or not members:
                raise _invalid(parameter, "a GeometryCollection needs a non-empty 'geometries' array")
            pending.extend((member, nesting + 1) for member in members)
            continue
        if types is not None and kind not in types:
            raise _invalid(parameter, f"a {kind} is not accepted here; send one of {', '.join(types)}")
        positions += _check_coordinates(node.get("coordinates"), kind, parameter)
        if positions > max_vertices:
            raise PayloadTooLarge(f"{parameter} has more than {max_vertices} positions", parameter=parameter)
    if types is not None and _geometry_type(value, parameter) == "GeometryCollection":
        raise _invalid(parameter, f"a GeometryCollection is not accepted here; send one of {', '.join(types)}")
    return positions


def bare_geometry(value: dict[str, Any]) -> dict[str, Any]:
    """A checked geometry with only its geometry members: foreign members (``crs``, ``bbox``, anything nested
    deep enough to defeat a serialiser) are not passed on; RFC 7946 positions are CRS84 whatever they say."""
    if value["type"] == "GeometryCollection":
        return {"type": "GeometryCollection", "geometries": [bare_geometry(g) for g in value["geometries"]]}
    return {"type": value["type"], "coordinates": value["coordinates"]}


def points_of(value: dict[str, Any]) -> list[tuple[float, float]]:
    """Every (x, y) of a checked geometry, found without recursion."""
    out: list[tuple[float, float]] = []
    pending: list[Any] = [value.get("coordinates", []), *value.get("geometries", [])]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend([item.get("coordinates", []), *item.get("geometries", [])])
        elif item and isinstance(item[0], int | float):
            out.append((float(item[0]), float(item[1])))
        else:
            pending.extend(item)
    return out


def _geometry_type(node: Any, parameter: str) -> str:
    if not isinstance(node, dict):
        raise _invalid(parameter, "a GeoJSON geometry is an object with 'type' and 'coordinates'")
    kind = node.get("type")
    if kind in NOT_GEOMETRIES:
        raise _invalid(parameter, f"a {kind} was sent where a geometry is expected; send its geometry member")
    if kind != "GeometryCollection" and kind not in COORDINATE_DEPTH:
        shown = repr(kind)[:40] if isinstance(kind, str) else "missing"
        raise _invalid(parameter, f"geometry type {shown} is not one of {', '.join(COORDINATE_DEPTH)}")
    return str(kind)


def _check_coordinates(coordinates: Any, kind: str, parameter: str) -> int:
    """Walk the arrays level by level (no recursion); each level is a non-empty list."""
    depth = COORDINATE_DEPTH[kind]
    level: list[Any] = [coordinates]
    for remaining in range(depth, 1, -1):
        below: list[Any] = []
        for array in level:
            if not isinstance(array, list) or not array:
                raise _invalid(parameter, f"the {kind} is empty, or its coordinates are not arrays {depth} deep")
            below.extend(array)
        if remaining == 2:
            _check_parts(level, kind, parameter)
        level = below
    for position in level:
        _check_position(position, kind, parameter)
    if len({len(position) for position in level}) > 1:
        raise _invalid(parameter, f"the {kind} mixes 2D and 3D positions")
    return len(level)


def _check_parts(parts: list[list[Any]], kind: str, parameter: str) -> None:
    """Lines need two positions; polygon rings four, the last equal to the first."""
    for part in parts:
        if kind in ("LineString", "MultiLineString") and len(part) < 2:
            raise _invalid(parameter, f"a line of the {kind} has fewer than 2 positions")
        if kind in ("Polygon", "MultiPolygon"):
            if len(part) < 4:
                raise _invalid(parameter, f"a ring of the {kind} has fewer than 4 positions")
            if part[0] != part[-1]:
                raise _invalid(
                    parameter, f"a ring of the {kind} is not closed (its last position differs from its first)"
                )


def _check_position(position: Any, kind: str, parameter: str) -> None:
    if not isinstance(position, list) or not 2 <= len(position) <= 3:
        raise _invalid(parameter, f"a position of the {kind} is not an array of 2 or 3 numbers")
    for number in position:
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise _invalid(parameter, f"a position of the {kind} holds {str(number)[:20]!r}, not a number")
        if abs(number) > MAX_COORDINATE or not math.isfinite(number):
            raise _invalid(parameter, f"a position of the {kind} is not finite or beyond ±{MAX_COORDINATE:g}")


def _invalid(parameter: str, reason: str) -> InvalidParameter:
    return InvalidParameter(f"{parameter}: {reason}", parameter=parameter)
