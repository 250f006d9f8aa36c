"""Canonical test geometries in and around former Binh Duong, and the small layer files built from them."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj.enums import TransformDirection
from shapely.geometry import Polygon, box

from gis_service.crs import to_wgs84

#: Lon/lat near the Thu Dau Mot ward office.
THU_DAU_MOT = (106.6545, 10.9800)
#: About 11 m in degrees at this latitude.
STEP = 0.0001
#: Every row the loader tests write carries this prefix in its key, so cleaning up touches nothing else.
PREFIX = "TLD"
NAMES = ["Phường Thủ Dầu Một", "Xã Định Hoà", "Khu công nghiệp Mỹ Phước", "Đất ở đô thị", "Bến Cát"]


def square(lon: float, lat: float, size: float = 3 * STEP) -> Polygon:
    """An axis-aligned square lot with its south-west corner at (lon, lat)."""
    return box(lon, lat, lon + size, lat + size)


def lots(n: int, origin: tuple[float, float] = THU_DAU_MOT, size: float = 3 * STEP) -> list[Polygon]:
    """``n`` disjoint square lots on a grid of 100 columns, starting at ``origin``."""
    lon, lat = origin
    return [square(lon + (i % 100) * 2 * size, lat + (i // 100) * 2 * size, size) for i in range(n)]


def bow_tie(lon: float = THU_DAU_MOT[0], lat: float = THU_DAU_MOT[1]) -> Polygon:
    """Self-intersecting ring (a figure eight); make_valid turns it into two triangles."""
    d = 5 * STEP
    return Polygon([(lon, lat), (lon + d, lat + d), (lon + d, lat), (lon, lat + d), (lon, lat)])


def unclosed_ring(lon: float = THU_DAU_MOT[0], lat: float = THU_DAU_MOT[1]) -> list[list[float]]:
    """GeoJSON ring coordinates whose last point is not the first."""
    d = 3 * STEP
    return [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d]]


def to_utm48_vn2000(lon: float, lat: float) -> tuple[float, float]:
    """EPSG:3405 (VN-2000 / UTM 48N) easting/northing of a WGS 84 point, with the pinned shift."""
    x, y = to_wgs84(3405).transform(lon, lat, direction=TransformDirection.INVERSE)
    return float(x), float(y)


def write_quietly(frame: gpd.GeoDataFrame, path: Path, **options: Any) -> None:
    """Writing a Shapefile warns about truncated names and encodings; the reading is under test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame.to_file(path, **options)


def parcels(n: int, admin_code: str = f"{PREFIX}1", geoms: list[Any] | None = None) -> gpd.GeoDataFrame:
    """``n`` parcels of one sheet, keyed (admin_code, '12', 1..n), lon/lat."""
    return gpd.GeoDataFrame(
        {
            "admin_code": [admin_code] * n,
            "sheet_no": ["12"] * n,
            "parcel_no": [str(i + 1) for i in range(n)],
            "land_use_code": ["ONT"] * n,
        },
        geometry=geoms if geoms is not None else lots(n),
        crs=4326,
    )


def zones(n: int) -> gpd.GeoDataFrame:
    """Up to five planning zones with Vietnamese names, lon/lat."""
    return gpd.GeoDataFrame(
        {
            "code": [f"{PREFIX}-Z{i}" for i in range(n)],
            "name": NAMES[:n],
            "plan": ["QH 2021-2030"] * n,
            "zone_type": ["industrial"] * n,
            "horizon_year": [2030] * n,
        },
        geometry=lots(n, size=0.002),
        crs=4326,
    )


def geojson(path: Path, features: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> Path:
    """A GeoJSON file written by hand, for what geopandas refuses to write (NaN, open rings)."""
    doc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in features],
    }
    path.write_text(json.dumps(doc))
    return path


def props(i: int, admin_code: str = f"{PREFIX}1") -> dict[str, Any]:
    return {"admin_code": admin_code, "sheet_no": "3", "parcel_no": str(i), "land_use_code": "CLN"}


def polygon_json(geom: Any) -> dict[str, Any]:
    return json.loads(shapely.to_geojson(geom))


def vn2000_utm48(lonlat: Any) -> Any:
    """Vectorised :func:`to_utm48_vn2000`, for ``shapely.transform``."""
    x, y = to_wgs84(3405).transform(lonlat[:, 0], lonlat[:, 1], direction=TransformDirection.INVERSE)
    return np.column_stack([x, y])
