"""The ``gis-service`` command: database, migrations, loads, server, synthetic data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gis_service import cli_access, partitions, provision
from gis_service.settings import PROJECT_ROOT, PROVISIONED_ENV, load_settings

app = typer.Typer(help="Binh Duong planning GIS.", no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Provision and stop the PostGIS database.", no_args_is_help=True)
synth_app = typer.Typer(help="Synthetic data for scale tests (always labelled synthetic).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(synth_app, name="synth")
cluster_app = typer.Typer(help="A primary, two replicas, PgBouncer, Redis, two APIs and nginx on loopback.")
app.add_typer(cluster_app, name="cluster")
cli_access.register(app)  # users, keys, grants, audit
partitions.register(app)  # partitions demo

TEST_ENV = PROJECT_ROOT / ".data" / "test.env"


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@db_app.command("up")
def db_up() -> None:
    """Find or start PostGIS; write .data/gis.env (service) and .data/test.env (tests)."""
    try:
        server = provision.provision()
    except provision.ProvisionError as exc:
        _fail(str(exc))
        return
    env_url = load_settings().database_url if server.how == "DATABASE_URL" else None
    main_url = env_url or server.url("gis")
    database = main_url.rpartition("/")[2].split("?")[0]
    test_url = server.url(f"{database}_test" if server.how == "DATABASE_URL" else "gis_test")
    if server.how == "DATABASE_URL":
        provision.ensure_databases(server, (f"{database}_test",))
    PROVISIONED_ENV.parent.mkdir(exist_ok=True)
    PROVISIONED_ENV.write_text(f"GIS_DATABASE_URL={main_url}\n")
    TEST_ENV.write_text(f"GIS_DATABASE_URL={test_url}\n")
    roles = provision.ensure_roles(main_url)  # the API's own role and the pepper, in .data/secrets.env
    typer.echo(f"[db] PostGIS ready ({server.how}): {main_url}" + ("" if roles else " (requests run as this user)"))


@db_app.command("stop")
def db_stop() -> None:
    """Stop the private cluster in .data/postgres, if it runs."""
    stopped = provision.LocalCluster().stop()
    typer.echo("[db] stopped" if stopped else "[db] no private cluster is running")


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="Alembic target revision.")] = "head") -> None:
    """Upgrade the schema (Alembic) to REVISION."""
    from gis_service import migrate as migrations

    migrations.upgrade(load_settings(), revision)


@app.command()
def load(
    file: Annotated[Path | None, typer.Argument(help="GeoJSON, GeoPackage, Shapefile or CSV.")] = None,
    layer: Annotated[str | None, typer.Option(help="Target layer (table), e.g. parcels.")] = None,
    crs: Annotated[str | None, typer.Option(help="CRS of the file when it does not say (EPSG:9210 ...).")] = None,
    mode: Annotated[str, typer.Option(help="upsert (by natural key) or replace (whole layer).")] = "upsert",
    bundled: Annotated[bool, typer.Option("--bundled", help="Load the bundled Binh Duong layers.")] = False,
    rejects: Annotated[Path | None, typer.Option(help="Where to write the reject report.")] = None,
    comment: Annotated[str | None, typer.Option(help="Why: recorded in the history's change set.")] = None,
) -> None:
    """Load a file into a layer in one transaction, or the bundled layers with --bundled."""
    from gis_service.errors import GisServiceError

    settings = load_settings()
    try:
        if bundled:
            from gis_service.ingest import bundled as bundled_layers

            for line in bundled_layers.load_all(settings):
                typer.echo(line)
            return
        if file is None or layer is None:
            _fail("give FILE and --layer, or --bundled")
            return
        from gis_service.ingest import loader

        report = loader.load_file(settings, file, layer, crs=crs, mode=mode, rejects_path=rejects, comment=comment)
        typer.echo(report.summary())
    except GisServiceError as exc:
        _fail(exc.detail)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="Worker processes (default: cores).")] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
) -> None:
    """Serve the API and maps: uvicorn workers under a supervisor that replaces any worker that dies."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    settings = load_settings()
    host = host or settings.api.host
    port = port or settings.api.port
    count = workers or settings.api.workers
    base = f"http://{host}:{port}"
    typer.echo(
        f"Serving {base}/ with {count} workers (API docs {base}/api.html, health {base}/health, maps {base}/maps)"
    )
    config = uvicorn.Config(
        "gis_service.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=count,
        log_level="info",
        access_log=access_log,
    )
    # The supervisor even for one worker: a worker that dies (OOM killer, SIGKILL) is replaced.
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        raise typer.Exit(STARTUP_FAILURE)


@synth_app.command("parcels")
def synth_parcels(
    count: Annotated[int, typer.Option(min=1, max=20_000_000, help="How many parcels.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same parcels).")] = 7,
    replace: Annotated[bool, typer.Option(help="Delete earlier synthetic parcels first.")] = True,
) -> None:
    """Generate synthetic parcels inside the real 2025 ward polygons (flagged synthetic)."""
    from gis_service.ingest import synth

    typer.echo(synth.load_parcels(load_settings(), count=count, seed=seed, replace=replace).summary())


tiles_app = typer.Typer(help="Vector tiles offline: seed the shared cache, export PMTiles, label glyphs.")
raster_app = typer.Typer(help="Rasters derived from the layers: Cloud-Optimized GeoTIFFs.", no_args_is_help=True)
app.add_typer(tiles_app, name="tiles")
app.add_typer(raster_app, name="raster")
LayerOpt = Annotated[list[str] | None, typer.Option("--layer", help="Collection id (repeatable).")]
PlanningOpt = Annotated[bool, typer.Option("--planning", help="The multi-layer planning tileset.")]
ZoomOpt = Annotated[str, typer.Option(help="Zoom level or range, e.g. 10-14.")]


def _tile_batch(layer: list[str] | None, planning: bool, zoom: str, sink: object, concurrency: int) -> int:
    """Render tiles with a rich progress bar; ``sink(tile, gzip_bytes)`` receives each one."""
    import asyncio

    from rich.progress import Progress

    from gis_service import tiles
    from gis_service.catalog import Catalog

    settings = load_settings()
    catalog = Catalog.from_dir(settings.layers_dir)
    if planning == bool(layer):
        _fail("give --layer (one or more) or --planning")
    specs = tiles.planning_layers(catalog, settings, None) if planning else [catalog.get(name) for name in layer or []]
    with Progress() as progress:
        task = progress.add_task("tiles", total=None)

        async def advance(tile: object, data: bytes) -> None:
            await sink(tile, data)  # type: ignore[operator]
            progress.advance(task)

        def total(n: int) -> None:
            progress.update(task, total=n)

        run = tiles.render_batch(
            settings,
            specs,
            tiles.zoom_levels(zoom),
            advance,
            planning=planning,
            concurrency=concurrency,
            on_total=total,
        )
        return asyncio.run(run)


@tiles_app.command("seed")
def tiles_seed(
    layer: LayerOpt = None, planning: PlanningOpt = False, zoom: ZoomOpt = "0-14", concurrency: int = 4
) -> None:
    """Render tiles into the tile cache; with GIS_CACHE__REDIS_URL the running workers then serve them."""
    if not load_settings().cache.redis_url:
        typer.secho("no GIS_CACHE__REDIS_URL: tiles are rendered but no worker will see them", fg="yellow", err=True)
    counts = {"tiles": 0, "empty": 0}

    async def count(tile: object, data: bytes) -> None:
        counts["tiles" if data else "empty"] += 1

    _tile_batch(layer, planning, zoom, count, concurrency)
    typer.echo(f"[tiles] seeded {counts['tiles']} tiles ({counts['empty']} empty)")


@tiles_app.command("export")
def tiles_export(
    pmtiles: Annotated[Path, typer.Option("--pmtiles", help="Output .pmtiles archive.")],
    layer: LayerOpt = None,
    planning: PlanningOpt = False,
    zoom: ZoomOpt = "0-14",
    concurrency: int = 4,
) -> None:
    """Write the tiles into one PMTiles archive for offline use (gzip MVT, clustered)."""
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import write

    rendered: dict[int, bytes] = {}

    async def keep(tile: object, data: bytes) -> None:
        if data:
            rendered[zxy_to_tileid(tile.z, tile.x, tile.y)] = data  # type: ignore[attr-defined]

    _tile_batch(layer, planning, zoom, keep, concurrency)
    if not rendered:
        _fail("no tile has data at these zooms")
    header = {"tile_type": TileType.MVT, "tile_compression": Compression.GZIP, **_pmtiles_bounds(list(rendered))}
    metadata = {"name": "planning" if planning else ",".join(layer or []), "attribution": "gis_service"}
    with write(str(pmtiles)) as writer:
        for tile_id in sorted(rendered):
            writer.write_tile(tile_id, rendered[tile_id])
        writer.finalize(header, metadata)
    typer.echo(f"[tiles] {len(rendered)} tiles -> {pmtiles}")


def _pmtiles_bounds(tile_ids: list[int]) -> dict[str, int]:
    """The archive's header bounds and centre: the lon/lat box of the tiles written, at the lowest zoom."""
    import morecantile
    from pmtiles.tile import tileid_to_zxy

    tms = morecantile.tms.get("WebMercatorQuad")
    boxes = [tms.bounds(morecantile.Tile(x, y, z)) for z, x, y in map(tileid_to_zxy, tile_ids)]
    west, south = min(b.left for b in boxes), min(b.bottom for b in boxes)
    east, north = max(b.right for b in boxes), max(b.top for b in boxes)
    e7 = {"min_lon_e7": west, "min_lat_e7": south, "max_lon_e7": east, "max_lat_e7": north}
    centre = {"center_lon_e7": (west + east) / 2, "center_lat_e7": (south + north) / 2}
    return {k: round(v * 10_000_000) for k, v in (e7 | centre).items()} | {
        "center_zoom": tileid_to_zxy(min(tile_ids))[0]
    }


@tiles_app.command("glyphs")
def tiles_glyphs() -> None:
    """Render the SDF label glyphs (Vietnamese ranges) from DejaVu Sans into GIS_TILES__GLYPHS_DIR."""
    from gis_service.raster import glyphs

    paths = glyphs.build(load_settings())
    typer.echo(f"[tiles] {len(paths)} glyph ranges in {paths[0].parent.parent}")


@raster_app.command("build")
def raster_build(
    only: Annotated[list[str] | None, typer.Option("--only", help="Raster id (repeatable).")] = None,
) -> None:
    """Derive the rasters of layers/rasters.yaml from the vector layers and write them as COGs."""
    from gis_service.raster import build

    for line in build.build_all(load_settings(), only):
        typer.echo(line)


map_app = typer.Typer(help="Folium maps: offline HTML exports, vendored Leaflet.", no_args_is_help=True)
app.add_typer(map_app, name="map")


@map_app.command("export")
def map_export(
    out: Annotated[Path, typer.Option(help="Folder for the HTML files (created).")],
    inline: Annotated[bool, typer.Option(help="Put Leaflet inside each page instead of an assets/ folder.")] = False,
    server: Annotated[str | None, typer.Option(help="Base URL of the service, to keep its vector tiles.")] = None,
    year: Annotated[int | None, typer.Option(help="Year the time control opens on (2000-2060).")] = None,
    units: Annotated[str | None, typer.Option(help="Choropleth units: legacy, legacy-wards or 2025.")] = None,
) -> None:
    """Write the planning map and one map per collection as HTML files that work offline."""
    from gis_service.errors import GisServiceError
    from gis_service.maps.export import export

    try:
        pages = export(load_settings(), out, inline=inline, server=server, year=year, units=units)
    except GisServiceError as exc:
        _fail(exc.detail)
        return
    for page in pages:
        typer.echo(f"[map] {page.path}")


@map_app.command("vendor")
def map_vendor(force: Annotated[bool, typer.Option(help="Fetch again even when present.")] = False) -> None:
    """Copy the pinned Leaflet, its plugins and Swagger UI from npm into gis_service/static/vendor."""
    from gis_service.maps import vendor

    try:
        for line in vendor.vendor(force=force):
            typer.echo(line)
    except vendor.VendorError as exc:
        _fail(str(exc))


@cluster_app.command("up")
def cluster_up(
    base_port: Annotated[int, typer.Option(min=1024, max=65000, help="First of 8 consecutive ports.")] = 55432,
    home: Annotated[Path | None, typer.Option(help="Directory of the topology (default under /tmp).")] = None,
    load: Annotated[bool, typer.Option(help="Load the bundled layers into the primary.")] = True,
) -> None:
    """Start the scale-out topology as local processes (docs: README, Scale-out)."""
    import json

    from gis_service import cluster

    try:
        topo = cluster.up(base_port, home, load=load, say=typer.echo)
    except cluster.ClusterError as exc:
        _fail(str(exc))
        return
    typer.echo(json.dumps(cluster.summary(topo), indent=2))


@cluster_app.command("down")
def cluster_down(
    base_port: Annotated[int, typer.Option(min=1024, max=65000, help="The base port it was started with.")] = 55432,
    home: Annotated[Path | None, typer.Option(help="Directory of the topology (default under /tmp).")] = None,
    keep: Annotated[bool, typer.Option(help="Keep the directory (data and logs).")] = False,
) -> None:
    """Stop every process of the topology."""
    from gis_service import cluster

    if not cluster.down(home or cluster.default_home(base_port), purge=not keep, say=typer.echo):
        typer.echo("[cluster] nothing recorded there; nothing to stop")


def main() -> None:  # pragma: no cover - console entry
    app()
