"""The analyses as plain Python functions, for notebooks and scripts: the same plans the API runs.

>>> from gis_service.analysis.api import Planner
>>> planner = Planner()          # settings from the environment / .data/gis.env
>>> planner.locate(106.7266, 10.9312)["units"]["ward"]["name"]
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd

from gis_service.analysis import plans, run, stats
from gis_service.catalog import Catalog
from gis_service.db import sync_engine
from gis_service.settings import Settings, load_settings


class Planner:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.catalog = Catalog.from_dir(self.settings.layers_dir)
        self.engine = sync_engine(self.settings)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Planner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, plan: Any) -> Any:
        with self.engine.connect() as conn:
            return run(conn, plan)

    def locate(self, lon: float, lat: float, date: dt.date | None = None) -> dict[str, Any]:
        return self._run(plans.locate(self.catalog, lon, lat, date))

    def nearby(
        self,
        collection: str,
        distance_m: float,
        *,
        lon: float | None = None,
        lat: float | None = None,
        feature: str | None = None,
        geometry: dict[str, Any] | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        from gis_service.analysis.inputs import geometry as checked

        if geometry is not None:
            reference = plans.Reference(geojson=checked(geometry))
        elif feature is not None:
            reference = plans.Reference.of_feature(feature)
        else:
            reference = plans.Reference(lon=lon, lat=lat)
        return self._run(plans.nearby(self.catalog, collection, reference, distance_m, limit))

    def corridor(self, project: str, width_m: float, date: dt.date | None = None) -> dict[str, Any]:
        return self._run(plans.corridor(self.catalog, project, width_m, date))

    def area_stats(
        self, collection: str, by: str = "unit", units: str = "2025", date: dt.date | None = None
    ) -> dict[str, Any]:
        return self._run(stats.area_stats(self.catalog, collection, by, units, date))

    def site_selection(self, **criteria: Any) -> dict[str, Any]:
        return self._run(stats.site_selection(self.catalog, stats.SiteCriteria(**criteria)))

    def crosswalk(self, code: str, direction: str = "forward", level: str = "ward") -> dict[str, Any]:
        return self._run(stats.crosswalk(code, direction, level))

    def reassign(self, collection: str, date: dt.date | None = None) -> dict[str, Any]:
        return self._run(stats.reassign(self.catalog, collection, date))

    def timeline(self, year: int) -> dict[str, Any]:
        return self._run(stats.timeline(self.catalog, year))

    @staticmethod
    def frame(feature_collection: dict[str, Any]) -> gpd.GeoDataFrame:
        """A GeoJSON answer (nearby, site selection) as a GeoDataFrame in CRS84."""
        return gpd.GeoDataFrame.from_features(feature_collection["features"], crs="OGC:CRS84")
