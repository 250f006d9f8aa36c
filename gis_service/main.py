"""``create_app(settings)``: lifespan, middleware, routers and error handlers. Nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from gis_service import admission, handlers, migrate, notify, openapi, replicas, tilecache
from gis_service.auth.middleware import AccessHeaders
from gis_service.auth.verify import AuthState
from gis_service.catalog import Catalog
from gis_service.db import async_engine
from gis_service.dependencies import plain_text_params
from gis_service.maps.assets import STATIC_DIR
from gis_service.middleware import BodyLimit, HeadAsGet
from gis_service.raster.catalog import RasterCatalog
from gis_service.routers import analysis, common, editor, edits, features, maps, proposals, raster, tiles
from gis_service.settings import Settings, load_settings
from gis_service.tiles import TileMatrixSets, layer_versions

#: Answer headers a browser page on another origin may read (the editor's ETags, Locations, WAL positions).
EXPOSED_HEADERS = ("ETag", "Content-Crs", "Link", "Location", "Preference-Applied", "X-Edit-Warnings", "X-WAL-LSN")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(
        title=settings.api.title,
        version="0.1.0",
        description="OGC API Features and Tiles, planning analyses and maps for former Binh Duong province.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(plain_text_params)],
    )
    app.state.settings = settings
    app.state.catalog = Catalog.from_dir(settings.layers_dir)
    app.state.migration_head = migrate.script_head(settings)
    app.state.extents = {}  # per-process cache of layer extents, keyed by data version (repository.extents)
    app.state.tms = TileMatrixSets.default()
    app.state.auth = AuthState.from_settings(settings)  # the issuer's cached keys, failure counters
    app.state.rasters = RasterCatalog.from_file(settings.layers_dir / "rasters.yaml", settings.raster.directory)
    add_middleware(app, settings)
    handlers.install(app)
    include_routers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The worker's connections and caches (``app.state.settings`` is set by :func:`create_app`)."""
    settings: Settings = app.state.settings
    app.state.engine = async_engine(settings)
    app.state.reads = replicas.ReadEngines.from_settings(settings, app.state.engine)
    # pushed by LISTEN/NOTIFY; polled while the listener is not connected
    app.state.layer_versions = await notify.listening_versions(settings, layer_versions(settings))
    app.state.tile_cache = tilecache.from_settings(settings.cache)
    app.state.admission = admission.Admission(settings.admission)
    try:
        yield
    finally:
        await app.state.tile_cache.close()
        await app.state.layer_versions.close()
        await app.state.reads.dispose()
        await app.state.engine.dispose()


def add_middleware(app: FastAPI, settings: Settings) -> None:
    """Innermost first: the last one added sees a request first."""
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.api.cors_origins,
        allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=EXPOSED_HEADERS,
    )
    openapi.install(app, settings)
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodyLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(AccessHeaders, realm=settings.auth.realm)
    if settings.db.replica_urls:  # a read that lost its replica mid-request runs again on the primary
        app.add_middleware(replicas.PrimaryRetry, reads=lambda: getattr(app.state, "reads", None))


def include_routers(app: FastAPI) -> None:
    app.include_router(common.router)
    app.include_router(edits.router)  # before features: its …/items/{id}/history is not a feature id
    app.include_router(features.router)
    app.include_router(proposals.router)
    app.include_router(editor.router)
    heavy = [Depends(admission.admit_heavy)]  # analyses and maps queue for slots of their own (admission.py)
    app.include_router(analysis.router, dependencies=heavy)
    app.include_router(tiles.router)
    app.include_router(raster.router, dependencies=heavy)
    app.include_router(maps.router, dependencies=heavy)
