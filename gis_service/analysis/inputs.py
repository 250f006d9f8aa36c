"""Validation of analysis inputs: the region, radii, corridor widths and posted geometries."""

from __future__ import annotations

import math
from typing import Any

import orjson
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gis_service.errors import InvalidParameter, PayloadTooLarge
from gis_service.geojson import bare_geometry, check_geometry

#: Former Binh Duong with a margin of about 10 km; points outside are not ours to answer.
REGION = (106.2, 10.75, 107.1, 11.6)
MAX_RADIUS_M = 50_000.0
#: Below a centimetre a distance means nothing here, and PostgreSQL's float arithmetic refuses subnormal
#: numbers such as 5e-324 ("value out of range: underflow").
MIN_RADIUS_M = 0.01
MAX_CORRIDOR_M = 1_000.0
MAX_VERTICES = 10_000
MAX_GEOMETRY_BYTES = 1_000_000


def in_region(lon: float, lat: float) -> tuple[float, float]:
    x1, y1, x2, y2 = REGION
    for name, value, low, high in (("lon", lon, x1, x2), ("lat", lat, y1, y2)):
        if not math.isfinite(value) or not low <= value <= high:
            raise InvalidParameter(f"{name}={value} is outside the planning region ({low}..{high})", parameter=name)
    return lon, lat


def radius(metres: float, *, parameter: str = "distance_m") -> float:
    if not math.isfinite(metres) or not MIN_RADIUS_M <= metres <= MAX_RADIUS_M:
        raise InvalidParameter(
            f"{parameter} must be between {MIN_RADIUS_M} and {MAX_RADIUS_M:.0f} m", parameter=parameter
        )
    return metres


def corridor_width(metres: float) -> float:
    if not math.isfinite(metres) or not MIN_RADIUS_M <= metres <= MAX_CORRIDOR_M:
        raise InvalidParameter(
            f"width_m must be between {MIN_RADIUS_M} and {MAX_CORRIDOR_M:.0f} m", parameter="width_m"
        )
    return metres


def geometry(value: Any, *, parameter: str = "geometry") -> str:
    """A posted GeoJSON geometry: well formed (a geometry, not a Feature; bounded nesting), bounded size and
    vertices, finite, valid, in the region. Returns GeoJSON text."""
    check_geometry(value, parameter=parameter, max_vertices=MAX_VERTICES)
    value = bare_geometry(value)
    raw = orjson.dumps(value)
    if len(raw) > MAX_GEOMETRY_BYTES:
        raise PayloadTooLarge(
            f"{parameter} is {len(raw)} bytes; the limit is {MAX_GEOMETRY_BYTES}", parameter=parameter
        )
    try:
        geom: BaseGeometry = shape(value)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.ShapelyError) as exc:
        raise InvalidParameter(f"{parameter} is not a GeoJSON geometry: {exc}", parameter=parameter) from exc
    if not geom.is_valid:  # non-empty, finite and within MAX_VERTICES: check_geometry saw to it
        reason = shapely.is_valid_reason(geom)
        raise InvalidParameter(f"{parameter} is not a valid, finite geometry ({reason})", parameter=parameter)
    x1, y1, x2, y2 = geom.bounds
    if not (REGION[0] <= x1 and x2 <= REGION[2] and REGION[1] <= y1 and y2 <= REGION[3]):
        raise InvalidParameter(f"{parameter} reaches outside the planning region", parameter=parameter)
    return raw.decode()
