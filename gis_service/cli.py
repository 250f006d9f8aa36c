"""The ``gis-service`` command: database, migrations, loads, server, synthetic data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gis_service import provision
from gis_service.settings import PROJECT_ROOT, PROVISIONED_ENV, load_settings

app = typer.Typer(help="Binh Duong planning GIS.", no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Provision and stop the PostGIS database.", no_args_is_help=True)
synth_app = typer.Typer(help="Synthetic data for scale tests (always labelled synthetic).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(synth_app, name="synth")

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
    typer.echo(f"[db] PostGIS ready ({server.how}): {main_url}")


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

        report = loader.load_file(settings, file, layer, crs=crs, mode=mode, rejects_path=rejects)
        typer.echo(report.summary())
    except GisServiceError as exc:
        _fail(exc.detail)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Serve the API and maps with uvicorn."""
    import uvicorn

    settings = load_settings()
    host = host or settings.api.host
    port = port or settings.api.port
    base = f"http://{host}:{port}"
    typer.echo(f"Serving {base}/  (API docs {base}/api.html, health {base}/health, maps {base}/maps)")
    uvicorn.run(
        "gis_service.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers or settings.api.workers,
        log_level="info",
    )


@synth_app.command("parcels")
def synth_parcels(
    count: Annotated[int, typer.Option(min=1, max=20_000_000, help="How many parcels.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same parcels).")] = 7,
    replace: Annotated[bool, typer.Option(help="Delete earlier synthetic parcels first.")] = True,
) -> None:
    """Generate synthetic parcels inside the real 2025 ward polygons (flagged synthetic)."""
    from gis_service.ingest import synth

    typer.echo(synth.load_parcels(load_settings(), count=count, seed=seed, replace=replace).summary())


def main() -> None:  # pragma: no cover - console entry
    app()
