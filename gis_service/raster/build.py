"""``gis-service raster build``: real rasters derived from the vector layers, written as COGs.

Both rasters share one 100 m grid in UTM 48N (EPSG:32648: metres, so a cell is a hectare and distances
are true) over the 2025 wards; cells outside the wards are nodata. Files are written next to their
target and renamed into place, so a running server never reads half a COG.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
import shapely
from affine import Affine
from rasterio.features import rasterize
from rasterio.io import MemoryFile
from sqlalchemy import Connection, text

from gis_service.db import sync_engine
from gis_service.raster.catalog import NODATA, RasterCatalog, RasterSpec
from gis_service.settings import Settings

METRIC_SRID = 32648
WARD_DATE = dt.date(2025, 7, 1)
WARDS = text(
    "SELECT population / (ST_Area(geom::geography) / 1e6) AS density, "
    "ST_AsBinary(ST_Transform(geom, CAST(:srid AS integer))) AS wkb "
    "FROM admin_units WHERE valid_from = :day AND population IS NOT NULL AND geom IS NOT NULL"
)
LINES = text(
    "SELECT ST_AsBinary(ST_Transform(geom, CAST(:srid AS integer))) FROM transport_projects WHERE geom IS NOT NULL"
)
VERSIONS = text("SELECT layer, version FROM layer_versions WHERE layer IN ('admin_units', 'transport_projects')")


@dataclass(frozen=True)
class Grid:
    transform: Affine
    width: int
    height: int

    @classmethod
    def covering(cls, geoms: np.ndarray, resolution: float) -> Grid:
        xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
        left, top = math.floor(xmin / resolution) * resolution, math.ceil(ymax / resolution) * resolution
        width = math.ceil((xmax - left) / resolution)
        height = math.ceil((top - ymin) / resolution)
        return cls(Affine(resolution, 0, left, 0, -resolution, top), width, height)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        cols, rows = np.meshgrid(np.arange(self.width) + 0.5, np.arange(self.height) + 0.5)
        t = self.transform
        return t.c + cols * t.a, t.f + rows * t.e


def wards(conn: Connection) -> tuple[np.ndarray, np.ndarray]:
    rows = conn.execute(WARDS, {"srid": METRIC_SRID, "day": WARD_DATE}).all()
    if not rows:
        raise RuntimeError("no 2025 ward with a population: load the bundled layers first")
    return shapely.from_wkb([bytes(r.wkb) for r in rows]), np.array([r.density for r in rows], dtype=np.float64)


def population_density(geoms: np.ndarray, density: np.ndarray, grid: Grid) -> np.ndarray:
    """persons/km² of the ward whose polygon holds the cell centre."""
    shapes = list(zip(geoms, density, strict=True))
    return rasterize(
        shapes, out_shape=(grid.height, grid.width), transform=grid.transform, fill=NODATA, dtype="float32"
    )


def transport_distance(conn: Connection, inside: np.ndarray, grid: Grid) -> np.ndarray:
    """Metres from each cell centre inside the wards to the nearest project line (segment-exact)."""
    lines = shapely.from_wkb([bytes(r[0]) for r in conn.execute(LINES, {"srid": METRIC_SRID})])
    if not len(lines):
        raise RuntimeError("no transport project has a geometry")
    segments = []
    for part in shapely.get_parts(shapely.get_parts(lines)):
        coords = shapely.get_coordinates(part)
        if len(coords) >= 2:
            segments.append(shapely.linestrings(np.stack([coords[:-1], coords[1:]], axis=1)))
    tree = shapely.STRtree(np.concatenate(segments))
    xs, ys = grid.centres()
    points = shapely.points(xs[inside], ys[inside])
    (found, _), distances = tree.query_nearest(points, return_distance=True, all_matches=False)
    out = np.full((grid.height, grid.width), NODATA, dtype=np.float32)
    values = np.empty(len(points), dtype=np.float32)
    values[found] = distances
    out[inside] = values
    return out


def write_cog(path: Path, array: np.ndarray, grid: Grid, tags: dict[str, str]) -> None:
    profile = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": 1,
        "dtype": "float32",
        "crs": f"EPSG:{METRIC_SRID}",
        "transform": grid.transform,
        "nodata": NODATA,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.tif")
    with MemoryFile() as memory:
        with memory.open(**profile) as dataset:
            dataset.write(array, 1)
            dataset.update_tags(**tags)
        with memory.open() as source:
            options = {"COMPRESS": "DEFLATE", "PREDICTOR": "YES", "BLOCKSIZE": 256, "OVERVIEWS": "AUTO"}
            rasterio.shutil.copy(source, partial, driver="COG", RESAMPLING="AVERAGE", **options)
    os.replace(partial, path)


def build_all(settings: Settings, only: list[str] | None = None) -> Iterator[str]:
    catalog = RasterCatalog.from_file(settings.layers_dir / "rasters.yaml", settings.raster.directory)
    specs: list[RasterSpec] = [s for s in catalog if not only or s.id in only]
    engine = sync_engine(settings)
    try:
        with engine.connect() as conn:
            geoms, density = wards(conn)
            grid = Grid.covering(geoms, settings.raster.resolution_m)
            versions = {layer: str(version) for layer, version in conn.execute(VERSIONS)}
            density_grid = population_density(geoms, density, grid)
            for spec in specs:
                if spec.derive == "population_density":
                    array = density_grid
                else:
                    array = transport_distance(conn, density_grid != NODATA, grid)
                tags = {"units": spec.units, "built": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
                tags |= {f"{layer}_version": version for layer, version in versions.items()}
                write_cog(settings.raster.directory / spec.file, array, grid, tags)
                valid = array[array != NODATA]
                yield (
                    f"[raster] {spec.id}: {grid.width}x{grid.height} cells of {settings.raster.resolution_m:g} m, "
                    f"{valid.size} with data, {valid.min():.0f}..{valid.max():.0f} {spec.units}"
                )
    finally:
        engine.dispose()
