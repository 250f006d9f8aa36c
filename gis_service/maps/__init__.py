"""Folium maps of the planning data, shared by the ``/maps`` routes, ``gis-service map export`` and the notebooks.

>>> from gis_service.analysis.api import Planner
>>> from gis_service import maps
>>> with Planner() as planner:
...     m = maps.notebook_map(planner, year=2030)   # a folium.Map, assets inlined (works in Jupyter, offline)

Data come from the project's own builders (:mod:`gis_service.maps.data`), the map from
:func:`gis_service.maps.build.build_map`; Leaflet and its plugins from our vendored, pinned copies. Data reach
the page only as escaped HTML or a JSON block read by static/maps.js, never through a folium element, whose
output branca compiles as a template (:mod:`gis_service.maps.controls`).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from gis_service.maps.assets import Assets
from gis_service.maps.build import MapOptions, RasterOverlay, build_map, render
from gis_service.maps.data import HORIZON_YEARS, PLANNING_LAYERS, MapData, MapRequest, fetch, fetch_async

if TYPE_CHECKING:
    import folium

    from gis_service.analysis.api import Planner

__all__ = [
    "HORIZON_YEARS",
    "PLANNING_LAYERS",
    "Assets",
    "MapData",
    "MapOptions",
    "MapRequest",
    "RasterOverlay",
    "build_map",
    "fetch",
    "fetch_async",
    "notebook_map",
    "render",
]


def notebook_map(planner: Planner, *, collections: tuple[str, ...] = PLANNING_LAYERS, **request: Any) -> folium.Map:
    """The planning map (or only ``collections``) for a notebook: data through the planner's engine,
    Leaflet inlined (a notebook cannot reach /static), no vector tiles unless ``tiles_url`` is given.

    ``request`` takes ``year``, ``units``, ``title``, ``tiles_url`` and ``results`` (``{name: GeoJSON}``:
    analysis answers drawn over the map)."""
    from gis_service.maps.pages import map_options, map_request

    tiles_url = request.pop("tiles_url", None)
    title = request.pop("title", "Planning map")
    results = tuple((request.pop("results", None) or {}).items())
    map_req = map_request(planner.settings, collections=collections, **request)
    with planner.engine.connect() as conn:
        data = fetch(conn, planner.catalog, map_req)
    options = map_options(planner.settings, Assets.embedded(), title=title, tiles_url=tiles_url)
    return build_map(data, dataclasses.replace(options, results=results))
