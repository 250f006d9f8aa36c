"""The raster catalogue (``layers/rasters.yaml``): ids, files inside the raster directory, display defaults.

A raster request names a catalogue id; the file is the catalogue's name joined to the configured
directory. No URL or path from a request ever reaches GDAL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from gis_service.errors import NotFound

NODATA = -9999.0


class UnknownRaster(NotFound):
    title = "Unknown raster"


class RasterNotBuilt(NotFound):
    title = "Raster not built"


class RasterSpec(BaseModel):
    id: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    title: str
    description: str = ""
    file: str = Field(pattern=r"^[a-z0-9_]+\.tif$")
    derive: Literal["population_density", "transport_distance"]
    units: str
    colormap: str = "viridis"
    rescale: tuple[float, float] = (0.0, 1.0)
    attribution: str = ""


class RasterCatalog:
    def __init__(self, rasters: list[RasterSpec], directory: Path) -> None:
        self._rasters = {r.id: r for r in rasters}
        self.directory = directory

    @classmethod
    def from_file(cls, path: Path, directory: Path) -> RasterCatalog:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
        return cls([RasterSpec.model_validate(r) for r in data.get("rasters", [])], directory)

    def get(self, raster_id: str) -> RasterSpec:
        try:
            return self._rasters[raster_id]
        except KeyError:
            raise UnknownRaster(f"raster {raster_id!r} does not exist", parameter="rasterId") from None

    def path(self, spec: RasterSpec) -> Path:
        """The COG of ``spec``; 404 until ``gis-service raster build`` has written it."""
        path = self.directory / spec.file
        if not path.exists():
            raise RasterNotBuilt(f"raster {spec.id!r} is not built yet: run `gis-service raster build`")
        return path

    def __iter__(self) -> Iterator[RasterSpec]:
        return iter(self._rasters.values())
