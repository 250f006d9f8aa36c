"""The maps index page, and map options and requests made from the settings."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from gis_service import html
from gis_service.catalog import Catalog
from gis_service.html import esc
from gis_service.maps.assets import Assets
from gis_service.maps.build import MapOptions, RasterOverlay
from gis_service.maps.data import PLANNING_LAYERS, UNIT_SETS, MapRequest
from gis_service.raster.catalog import RasterCatalog, RasterSpec
from gis_service.settings import Settings

PLANNING_TITLE = "Former Binh Duong: planning to 2040"


def map_options(
    settings: Settings,
    assets: Assets,
    *,
    title: str,
    tiles_url: str | None = "",
    rasters: tuple[RasterOverlay, ...] = (),
    root: str = "",
) -> MapOptions:
    """Options from the settings; ``tiles_url=""`` means the configured one (under ``root``, the service's
    root path, when it is a path), ``None`` none (offline export)."""
    if tiles_url == "":
        tiles_url = settings.maps.tiles_url
        tiles_url = root.rstrip("/") + tiles_url if tiles_url.startswith("/") else tiles_url
    return MapOptions(
        assets=assets,
        tiles_url=tiles_url,
        osm_url=settings.maps.osm_tiles_url,
        osm_attribution=settings.maps.osm_attribution,
        title=title,
        rasters=rasters,
    )


def raster_overlays(
    settings: Settings,
    base: str = "",
    rasters: RasterCatalog | None = None,
    shown: Callable[[RasterSpec], bool] = lambda spec: True,
) -> tuple[RasterOverlay, ...]:
    """Our raster tiles (``layers/rasters.yaml``, or the catalogue the service loaded at start-up) that have
    been built (unbuilt ones would only answer 404) and that ``shown`` lets the viewer see (a page served to
    a caller lists only the rasters whose source collections the caller may read)."""
    if rasters is None:
        rasters = RasterCatalog.from_file(settings.layers_dir / "rasters.yaml", settings.raster.directory)
    return tuple(
        RasterOverlay(
            name=spec.title,
            url=f"{base.rstrip('/')}/rasters/{spec.id}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png",
            attribution=spec.attribution,
        )
        for spec in rasters
        if (rasters.directory / spec.file).is_file() and shown(spec)
    )


def map_request(
    settings: Settings,
    *,
    year: int | None = None,
    units: str | None = None,
    collections: tuple[str, ...] = PLANNING_LAYERS,
) -> MapRequest:
    """A validated request (``InvalidParameter`` for a year outside 2000-2060 or an unknown unit set)."""
    return MapRequest(
        year=settings.maps.default_year if year is None else year,
        units=units,
        collections=collections,
        horizon=tuple(settings.maps.horizon_years),
        max_features=settings.maps.max_features,
    )


def link(path: str, **params: object) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return esc(f"{path}?{query}" if query else path)


def index_html(catalog: Catalog, settings: Settings) -> str:
    years = settings.maps.horizon_years
    by_year = " ".join(f'<a href="{link("/maps/planning-2040", year=y)}">{y}</a>' for y in years)
    by_units = " ".join(f'<a href="{link("/maps/planning-2040", units=u)}">{esc(u)}</a>' for u in UNIT_SETS)
    rows = "".join(
        f'<tr><td><a href="{link(f"/maps/collections/{spec.id}")}">{esc(spec.title)}</a></td>'
        f"<td>{esc(spec.description)}</td></tr>"
        for spec in catalog
    )
    body = (
        f'<h2><a href="/maps/planning-2040">{esc(PLANNING_TITLE)}</a></h2>'
        '<p><a href="/edit">Editor (Biên tập)</a>: draw and edit features, propose changes for review.</p>'
        "<p>Administrative units before and after the 2025 reform, industrial parks and clusters, transport "
        "projects, planning zones and parcels, with a time control over the horizon years, a choropleth of "
        "industrial hectares per unit, search, measure and an offline basemap.</p>"
        f"<p>Open at year: {by_year}</p><p>Choropleth units: {by_units}</p>"
        "<h2>One collection</h2><table><tr><th>collection</th><th>description</th></tr>"
        f"{rows}</table><p>Parameters: <code>year</code> (2000–2060) and <code>units</code> "
        f"({esc(', '.join(UNIT_SETS))}). Offline copies: <code>gis-service map export --out DIR</code>.</p>"
    )
    return html.page("Maps", body)
