"""``gis-service map export``: the maps as HTML files that open without the service or the internet.

Each page links Leaflet and its plugins from an ``assets/`` folder copied next to it (or carries them inline
with ``inline=True``: one file per map, larger). Vector tiles (parcels) need the service: give its base URL
to keep them, else they are left out and the legend says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gis_service.catalog import Catalog
from gis_service.db import sync_engine
from gis_service.html import esc
from gis_service.maps.assets import Assets
from gis_service.maps.build import build_map, render
from gis_service.maps.data import MapRequest, fetch
from gis_service.maps.pages import PLANNING_TITLE, map_options, map_request, raster_overlays
from gis_service.settings import Settings

ASSETS_FOLDER = "assets"
PLANNING_FILE = "planning-2040.html"


@dataclass(frozen=True)
class Exported:
    path: Path
    title: str


def export(
    settings: Settings,
    out: Path,
    *,
    inline: bool = False,
    server: str | None = None,
    year: int | None = None,
    units: str | None = None,
) -> list[Exported]:
    """Write ``planning-2040.html``, ``collections/<id>.html`` and ``index.html`` under ``out``."""
    assets = Assets.embedded() if inline else Assets.relative(ASSETS_FOLDER)
    assets.check()
    catalog = Catalog.from_dir(settings.layers_dir)
    tiles_url = f"{server.rstrip('/')}/tiles/{{collection}}/{{z}}/{{x}}/{{y}}.pbf" if server else None
    rasters = raster_overlays(settings, server) if server else ()
    out.mkdir(parents=True, exist_ok=True)
    engine = sync_engine(settings)
    written: list[Exported] = []

    def write(request: MapRequest, target: Path, title: str, depth: int = 0) -> None:
        where = assets if inline else Assets.relative("../" * depth + ASSETS_FOLDER)
        options = map_options(settings, where, title=title, tiles_url=tiles_url, rasters=rasters)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(build_map(fetch(conn, catalog, request), options)), encoding="utf-8")
        written.append(Exported(target, title))

    try:
        with engine.connect() as conn:
            write(map_request(settings, year=year, units=units), out / PLANNING_FILE, PLANNING_TITLE)
            for spec in catalog:
                one = map_request(settings, year=year, units=units, collections=(spec.id,))
                write(one, out / "collections" / f"{spec.id}.html", spec.title, depth=1)
    finally:
        engine.dispose()
    if not inline:
        assets.copy_to(out / ASSETS_FOLDER)
    index = out / "index.html"
    index.write_text(index_html(written, out), encoding="utf-8")
    return [*written, Exported(index, "Index")]


def index_html(pages: list[Exported], out: Path) -> str:
    items = "".join(f'<li><a href="{esc(p.path.relative_to(out).as_posix())}">{esc(p.title)}</a></li>' for p in pages)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Maps of former Binh Duong</title>'
        f"</head><body><h1>Maps of former Binh Duong</h1><ul>{items}</ul></body></html>"
    )
