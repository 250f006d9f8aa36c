"""Reading the COGs with rio-tiler: map tiles, the value at a point, zonal statistics.

Everything here is synchronous GDAL work: routers run it in the thread pool. rio-tiler's errors become
the service's (a tile or point outside the raster is a 404, a bad colour map a 400).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import morecantile
import numpy as np
import shapely
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.warp import transform_bounds
from rio_tiler.colormap import cmap
from rio_tiler.errors import InvalidColorMapName, PointOutsideBounds, TileOutsideBounds
from rio_tiler.io import Reader

from gis_service.errors import InvalidParameter, NotFound, PayloadTooLarge

WGS84 = CRS.from_epsg(4326)
FORMATS = {"png": ("PNG", "image/png"), "webp": ("WEBP", "image/webp")}
ZONE_TYPES = ("Polygon", "MultiPolygon")


class OutsideRaster(NotFound):
    title = "Outside the raster"


def colormap_query(name: str | None, default: str) -> str:
    name = (name or default).lower()
    if name not in cmap.list():
        raise InvalidParameter(f"colormap {name!r} is not one of rio-tiler's colour maps", parameter="colormap")
    return name


def rescale_query(text: str | None, default: tuple[float, float]) -> tuple[float, float]:
    if text is None:
        return default
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise InvalidParameter("rescale takes two numbers: min,max", parameter="rescale") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise InvalidParameter("rescale needs finite min < max", parameter="rescale")
    return (low, high)


def tile(
    path: Path,
    tms: morecantile.TileMatrixSet,
    z: int,
    x: int,
    y: int,
    *,
    fmt: str,
    colormap: str,
    rescale: tuple[float, float],
    size: int,
) -> bytes:
    """A coloured tile; cells without data are transparent."""
    with Reader(str(path), tms=tms) as src:
        try:
            image = src.tile(x, y, z, tilesize=size, resampling_method="bilinear")
        except TileOutsideBounds as exc:
            raise OutsideRaster(f"tile {z}/{x}/{y} does not touch the raster") from exc
    try:
        colours = cmap.get(colormap)
    except InvalidColorMapName as exc:
        raise InvalidParameter(str(exc), parameter="colormap") from exc
    return image.rescale(in_range=(rescale,)).render(img_format=FORMATS[fmt][0], colormap=colours)


def point(path: Path, lon: float, lat: float) -> float | None:
    """The cell value at lon/lat (CRS84); None on nodata."""
    with Reader(str(path)) as src:
        # Checked in lon/lat first: far from the raster a point may not project at all ("outside of
        # projection domain", a GDAL error) rather than fall outside it.
        left, bottom, right, top = src.get_geographic_bounds(WGS84)
        if not (left <= lon <= right and bottom <= lat <= top):
            raise OutsideRaster(f"{lon},{lat} is outside the raster")
        try:
            data = src.point(lon, lat)
        except PointOutsideBounds as exc:
            raise OutsideRaster(f"{lon},{lat} is outside the raster") from exc
    if np.ma.getmaskarray(data.array)[0]:
        return None
    return float(np.ma.getdata(data.array)[0])


def zonal(path: Path, geometry: dict[str, Any], max_pixels: int) -> dict[str, Any]:
    """Statistics of the cells whose centres fall in ``geometry`` (CRS84 Polygon/MultiPolygon)."""
    shape = shapely.geometry.shape(geometry)
    if shape.geom_type not in ZONE_TYPES or shape.is_empty or not shape.is_valid:
        raise InvalidParameter("the zone must be a valid, non-empty Polygon or MultiPolygon", parameter="body")
    with Reader(str(path)) as src:
        res_x, res_y = src.dataset.res
        raster_box = shapely.box(*src.get_geographic_bounds(WGS84))
        if not shapely.intersects(raster_box, shape):
            raise OutsideRaster("the zone does not overlap the raster")
        try:
            left, bottom, right, top = transform_bounds(WGS84, src.crs, *shape.bounds)
            pixels = (right - left) * (top - bottom) / (res_x * res_y)
        except CPLE_BaseError:  # a zone reaching beyond the projection's domain: thousands of km across
            pixels = math.inf
        if not pixels <= max_pixels:
            raise PayloadTooLarge(f"the zone covers about {pixels:.0f} cells; the limit is {max_pixels}")
        zone = _within(shape, raster_box)
        image = src.feature(shapely.geometry.mapping(zone), dst_crs=src.crs, shape_crs=WGS84, max_size=None)
    stats = image.statistics()["b1"].model_dump(exclude={"histogram"})
    cell_m2 = res_x * res_y
    return {**stats, "cell_area_m2": cell_m2, "sum_times_area_km2": stats["sum"] * cell_m2 / 1e6}


def _within(shape: Any, raster_box: Any) -> Any:
    """The polygons of ``shape`` over the raster: parts far away hold no cell and may not even project into
    the raster's CRS (a GDAL "outside of projection domain" error), so they are cut off before projecting."""
    polygons = [g for g in shapely.get_parts(shapely.intersection(shape, raster_box)) if g.geom_type == "Polygon"]
    polygons = [g for g in polygons if not g.is_empty and g.area > 0]
    if not polygons:
        raise OutsideRaster("the zone does not overlap the raster")
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)


def describe(path: Path, tms: morecantile.TileMatrixSet) -> dict[str, Any]:
    with Reader(str(path), tms=tms) as src:
        tags = src.dataset.tags()
        return {
            "bounds": list(src.get_geographic_bounds(WGS84)),
            "minzoom": src.minzoom,
            "maxzoom": src.maxzoom,
            "crs": src.crs.to_string(),
            "resolution_m": src.dataset.res[0],
            "width": src.dataset.width,
            "height": src.dataset.height,
            "built": tags.get("built"),
            "source_versions": {k: v for k, v in tags.items() if k.endswith("_version")},
        }
