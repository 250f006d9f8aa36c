"""Vector tiles: the tile matrix sets (morecantile), tile addressing, parameters, and the render path.

The render path is ``versions -> key -> If-None-Match -> cache (single flight) -> ST_AsMVT``; the key
carries the layers' data versions, the catalogue entries and every parameter, so it doubles as a strong
ETag. Tiles are cached gzip-compressed (most clients ask for gzip; the rest get them inflated). The
versions come from a per-process source (pushed by LISTEN/NOTIFY, else polled), so a cache hit never
queues for the request pool; a connection is taken only to render a miss. The statement that renders a
tile also reads its layers' versions, so the tile is stored under the versions it was rendered from (a
replica that lags renders older data: that never lands under a newer key). Versioned URLs
(``…/v{token}/{z}/{x}/{y}``, the token a digest of the layers' versions) are immutable; a stale token is
redirected to the current one.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import morecantile
from fastapi import Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from gis_service import repository, tilecache
from gis_service.catalog import Catalog, LayerSpec
from gis_service.db import async_engine, request_connection
from gis_service.dependencies import crs_query, datetime_query, reject_unknown
from gis_service.errors import InvalidParameter, NotFound
from gis_service.queries import cql, meta
from gis_service.queries import tiles as tq
from gis_service.responses import MVT, not_modified
from gis_service.settings import Settings
from gis_service.tile_statements import fingerprint, tile_statement
from gis_service.tilecache import LayerVersions, Loaded, PolledVersions, TileCache, Versions, versions_of

#: Tile matrix set id -> SRID of the geometry the tile query reads (3857: the stored ``geom_3857``).
SRIDS = {"WebMercatorQuad": 3857, "WorldCRS84Quad": 4326}
TILE_PARAMS = {"datetime", "filter", "filter-lang", "filter-crs"}
#: Bumped when the tile encoding changes, so every cached tile and ETag changes with it.
ENCODING_VERSION = "mvt-1"
#: gzip level 3: a 270 kB tile compresses in ~7 ms (level 5: ~13 ms) for 3 % more bytes.
GZIP_LEVEL = 3
OFF_LOOP_BYTES = 32_768
PUBLIC_SCOPE = ("public",)
#: Cache lifetime of versioned tile URLs (a year: RFC 9111's customary "never expires").
IMMUTABLE_MAX_AGE_S = 31_536_000
TOKEN_CHARS = 16


class UnknownTileMatrixSet(NotFound):
    title = "Unknown tile matrix set"


class TileNotFound(NotFound):
    title = "Tile not found"


class TileMatrixSets:
    """The tile matrix sets the service offers: a registry built once, not a module global."""

    def __init__(self, sets: dict[str, morecantile.TileMatrixSet]) -> None:
        self._sets = sets

    @classmethod
    def default(cls) -> TileMatrixSets:
        return cls({tms_id: morecantile.tms.get(tms_id) for tms_id in SRIDS})

    @property
    def ids(self) -> list[str]:
        return list(self._sets)

    def get(self, tms_id: str) -> morecantile.TileMatrixSet:
        try:
            return self._sets[tms_id]
        except KeyError:
            raise UnknownTileMatrixSet(
                f"tile matrix set {tms_id!r} is not offered; use one of {self.ids}", parameter="tileMatrixSetId"
            ) from None


@dataclass(frozen=True)
class TileAddress:
    tms_id: str
    z: int
    x: int
    y: int
    bounds: tuple[float, float, float, float]

    @property
    def srid(self) -> int:
        return SRIDS[self.tms_id]


def address(tms: morecantile.TileMatrixSet, z: int, x: int, y: int, minzoom: int, maxzoom: int) -> TileAddress:
    """The tile's bounds in the set's CRS; 404 outside the matrix or the layers' zoom range."""
    top = min(maxzoom, tms.maxzoom)
    if not max(minzoom, tms.minzoom) <= z <= top:
        raise TileNotFound(f"zoom {z} is outside {max(minzoom, tms.minzoom)}..{top} for these tiles")
    matrix = tms.matrix(z)
    if not (0 <= x < matrix.matrixWidth and 0 <= y < matrix.matrixHeight):
        raise TileNotFound(f"tile {z}/{x}/{y} is outside the {tms.id} matrix at zoom {z}")
    bounds = tms.xy_bounds(morecantile.Tile(x, y, z))
    return TileAddress(str(tms.id), z, x, y, (bounds.left, bounds.bottom, bounds.right, bounds.top))


class TileParams:
    """``datetime`` and a CQL2 ``filter`` on tiles, parsed (and so validated) before any key is made."""

    def __init__(
        self,
        datetime: str | None = None,
        filter: str | None = None,
        filter_lang: str | None = None,
        filter_crs: str | None = None,
    ) -> None:
        self.datetime, self.filter, self.filter_lang, self.filter_crs = datetime, filter, filter_lang, filter_crs
        self.interval = datetime_query(datetime)
        if filter is None and (filter_lang or filter_crs):
            raise InvalidParameter("filter-lang and filter-crs need a filter", parameter="filter")

    def where(self, spec: LayerSpec, settings: Settings) -> Any:
        if self.filter is None:
            return None
        limits = settings.features
        ast = cql.parse(
            self.filter, self.filter_lang, max_chars=limits.max_filter_chars, max_depth=limits.max_filter_depth
        )
        return cql.to_sql(spec, ast, crs_query(self.filter_crs, parameter="filter-crs").srid)

    def key(self) -> tuple[Any, ...]:
        return (self.interval, self.filter, self.filter_lang, self.filter_crs)


async def tile_params(
    request: Request,
    datetime: Annotated[str | None, Query(description="Instant or interval (`2025-07-01`, `2020/..`).")] = None,
    filter: Annotated[str | None, Query(description="CQL2 filter (text or JSON) on the collection.")] = None,
    filter_lang: Annotated[str | None, Query(alias="filter-lang", description="cql2-text or cql2-json.")] = None,
    filter_crs: Annotated[str | None, Query(alias="filter-crs", description="CRS of filter geometries.")] = None,
) -> TileParams:
    """The query parameters of one collection's tiles; any other parameter is a 400."""
    reject_unknown(request, TILE_PARAMS)
    return TileParams(datetime, filter, filter_lang, filter_crs)


def accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def read_versions(engine: AsyncEngine) -> Callable[[], Awaitable[Versions]]:
    """One query for the version and time of the last write of every layer."""

    async def read() -> Versions:
        async with request_connection(engine) as conn:
            return versions_of(await conn.execute(meta.layer_versions()))

    return read


def read_identity(engine: AsyncEngine) -> Callable[[], Awaitable[str]]:
    """The shared tile cache's namespace: the cluster's system identifier and the database name, the same on
    a primary and its physical replicas, whichever host, port or pooler alias a worker reaches them by."""

    async def read() -> str:
        async with request_connection(engine) as conn:
            return str((await conn.execute(tq.cluster_identity())).scalar_one())

    return read


def layer_versions(settings: Settings) -> PolledVersions:
    """The per-process version source of the tile keys, on one connection of its own: reading versions
    never waits behind requests that hold the pool."""
    engine = async_engine(settings, pool_size=1, max_overflow=0, name="gis_service versions")
    return PolledVersions(
        read_versions(engine),
        settings.cache.versions_max_age_ms / 1000,
        close=engine.dispose,
        identify=read_identity(engine),
    )


@dataclass(frozen=True)
class Rendered:
    """A tile as one statement read it: the gzip-compressed MVT and its layers' data versions then."""

    data: bytes
    versions: Versions


class VectorTiles:
    """Renders, caches and answers MVT tiles of one or more collections."""

    def __init__(self, engine: AsyncEngine, cache: TileCache, settings: Settings, versions: LayerVersions) -> None:
        self.engine, self.cache, self.settings, self.versions = engine, cache, settings, versions

    def query(self, addr: TileAddress, params: TileParams | None, spec: LayerSpec) -> tq.TileQuery:
        tiles = self.settings.tiles
        return tq.TileQuery(
            bounds=addr.bounds,
            srid=addr.srid,
            zoom=addr.z,
            extent=tiles.extent,
            buffer=tiles.buffer,
            max_features=tiles.max_features,
            simplify_below_zoom=tiles.simplify_below_zoom,
            interval=params.interval if params else None,
            where=params.where(spec, self.settings) if params else None,
        )

    async def key(self, specs: list[LayerSpec], addr: TileAddress, extra: tuple[Any, ...]) -> str:
        return self.key_of(specs, addr, extra, await self.versions.current(), await self.versions.identity())

    def key_of(
        self, specs: list[LayerSpec], addr: TileAddress, extra: tuple[Any, ...], versions: Versions, identity: str
    ) -> str:
        """The tile's cache key (and strong ETag) with the data ``versions`` of its layers."""
        parts = (
            self.data_parts(specs, versions),
            identity or self.settings.dsn.rpartition("@")[2],  # one shared Redis may serve several databases
            (addr.tms_id, addr.z, addr.x, addr.y),
            extra,
            access_scope(specs),
        )
        return hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()

    def token(self, specs: list[LayerSpec], versions: Versions) -> str:
        """The data version of versioned tile URLs (``…/v{token}/{z}/{x}/{y}``): it changes with any write to
        the layers, their catalogue entries, the tile settings or the encoding."""
        digest = hashlib.sha1(repr(self.data_parts(specs, versions)).encode(), usedforsecurity=False)
        return digest.hexdigest()[:TOKEN_CHARS]

    def data_parts(self, specs: list[LayerSpec], versions: Versions) -> tuple[Any, ...]:
        """What the layers' tiles are made of, in any cell: the encoding, the catalogue entries, the data
        versions and the tile settings (part of every tile key and of the versioned URLs' token)."""
        tiles = self.settings.tiles
        return (
            ENCODING_VERSION,
            fingerprint(specs),
            [(s.id, versions.get(s.table)) for s in specs],
            (tiles.extent, tiles.buffer, tiles.max_features, tiles.simplify_below_zoom),
        )

    async def current_token(self, specs: list[LayerSpec]) -> str:
        return self.token(specs, await self.versions.current())

    async def render(self, layers: list[tuple[LayerSpec, tq.TileQuery]], planning: bool = False) -> Rendered:
        """The tile, gzip-compressed (b"" when empty), and the data versions of its layers read by the same
        statement (so from the same snapshot, even on a replica that lags), on a connection of its own: the
        load outlives the request that started it when others wait for it (single flight). The planning
        tileset adds label points for ``tiles.label_layers``."""
        statement, values = tile_statement(layers, tuple(self.settings.tiles.label_layers) if planning else ())
        async with request_connection(self.engine) as conn:
            row = (await conn.execute(statement, values)).one()
        seen = versions_of(row.versions or ())
        data = row.mvt
        if not data:
            return Rendered(b"", seen)
        if len(data) < OFF_LOOP_BYTES:
            return Rendered(gzip.compress(bytes(data), compresslevel=GZIP_LEVEL, mtime=0), seen)
        # zlib releases the GIL: a big tile compresses on another core while the loop serves others.
        return Rendered(await asyncio.to_thread(gzip.compress, bytes(data), GZIP_LEVEL, mtime=0), seen)

    async def load(
        self, layers: list[tuple[LayerSpec, tq.TileQuery]], addr: TileAddress, extra: tuple[Any, ...]
    ) -> Loaded:
        """A render for the cache, keyed by the versions the render saw (not those the request's key asked
        for: a lagging replica's tile is never stored under a newer write's key)."""
        rendered = await self.render(layers, planning=extra[:1] == ("planning",))
        specs = [spec for spec, _ in layers]
        return Loaded(rendered.data, self.key_of(specs, addr, extra, rendered.versions, await self.versions.identity()))

    async def respond(
        self,
        request: Request,
        layers: list[tuple[LayerSpec, tq.TileQuery]],
        addr: TileAddress,
        extra: tuple[Any, ...],
        version: str | None = None,
        tileset: list[LayerSpec] | None = None,
    ) -> Response:
        """The tile; with ``version`` (a versioned URL) immutable when it is the current version of
        ``tileset`` (default: the tile's layers), else a redirect to the current one."""
        specs = [spec for spec, _ in layers]
        versions = await self.versions.current()
        if version is not None and version != (current := self.token(tileset or specs, versions)):
            return moved_to(request, version, current)
        key = self.key_of(specs, addr, extra, versions, await self.versions.identity())
        compressed = accepts_gzip(request)
        private = access_scope(specs) != PUBLIC_SCOPE
        headers = {
            "ETag": etag_of(key, compressed),
            "Cache-Control": self.cache_control(private, immutable=version is not None),
            "Vary": "Accept-Encoding",
        }
        if not_modified(request, headers["ETag"]):
            return Response(status_code=304, headers=headers)
        loaded = await self.cache.fetch(key, lambda: self.load(layers, addr, extra))
        if loaded.key != key:  # other data versions than asked for (a lagging replica): tagged as what it is
            headers["ETag"] = etag_of(loaded.key, compressed)
            if version is not None:
                headers["Cache-Control"] = "no-store"
        if not loaded.value:
            return Response(status_code=204, headers=headers)
        if compressed:
            return Response(loaded.value, media_type=MVT, headers={**headers, "Content-Encoding": "gzip"})
        return Response(gzip.decompress(loaded.value), media_type=MVT, headers=headers)

    def cache_control(self, private: bool = False, *, immutable: bool = False) -> str:
        """Versioned URLs never change: a year, ``immutable``. Unversioned ones are revalidated by ETag after a
        short ``max-age`` (a cache may answer stale meanwhile). ``private`` for tiles of non-public
        collections, revalidated every time: no shared cache may hand them to others."""
        if private:
            return "private, max-age=0, must-revalidate"
        if immutable:
            return f"public, max-age={IMMUTABLE_MAX_AGE_S}, immutable"
        tiles = self.settings.tiles
        if not tiles.max_age_s:
            return "public, max-age=0, must-revalidate"
        swr = f", stale-while-revalidate={tiles.stale_while_revalidate_s}" if tiles.stale_while_revalidate_s else ""
        return f"public, max-age={tiles.max_age_s}{swr}"


def etag_of(key: str, compressed: bool) -> str:
    return f'"{key[:32]}{"-gz" if compressed else ""}"'


def moved_to(request: Request, version: str, current: str) -> Response:
    """A stale versioned URL (the data changed since it was advertised): the current one, never old data."""
    path = quote(request.url.path.replace(f"/v{version}/", f"/v{current}/", 1), safe="/")
    location = f"{path}?{request.url.query}" if request.url.query else path
    return Response(status_code=307, headers={"Location": location, "Cache-Control": "no-store"})


def versioned(url: str, token: str) -> str:
    """A tile URL template ``…/{z}/{x}/{y}…`` as its versioned form ``…/v{token}/{z}/{x}/{y}…``."""
    return url.replace("/{z}/", f"/v{token}/{{z}}/", 1)


def access_scope(specs: list[LayerSpec]) -> tuple[str, ...]:
    """Who may see a tile: everyone, or the readers of its non-public collections. Part of every key and
    ETag, so an entry filled for a reader of a non-public layer is never the answer to anyone else's key."""
    return tuple(sorted(s.id for s in specs if not s.public)) or PUBLIC_SCOPE


def planning_layers(catalog: Catalog, settings: Settings, wanted: str | None) -> list[LayerSpec]:
    """The layers of the multi-layer planning tileset, optionally narrowed by ``collections=a,b``."""
    names = settings.tiles.planning_layers
    if wanted is not None:
        chosen = [n.strip() for n in wanted.split(",") if n.strip()]
        unknown = sorted(set(chosen) - set(names))
        if unknown or not chosen:
            raise InvalidParameter(f"collections: not in the planning tileset: {unknown}", parameter="collections")
        names = [n for n in names if n in chosen]
    return [catalog.get(n) for n in names]


# ---- offline: ``gis-service tiles seed`` and ``tiles export`` ---------------------------------------------

Sink = Callable[[morecantile.Tile, bytes], Awaitable[None]]


def zoom_levels(text: str) -> list[int]:
    """``12`` or ``10-14``."""
    low, _, high = text.partition("-")
    if not low.isdigit() or (high and not high.isdigit()):
        raise InvalidParameter(f"zoom {text!r} is not N or N-M", parameter="zoom")
    return list(range(int(low), int(high or low) + 1))


async def render_batch(
    settings: Settings,
    specs: list[LayerSpec],
    zooms: list[int],
    sink: Sink,
    *,
    planning: bool,
    concurrency: int = 4,
    on_total: Callable[[int], None] | None = None,
) -> int:
    """Render every WebMercatorQuad tile over the layers' extent through the tile cache (keys as the API
    makes them, so a seeded shared cache answers the API) and hand each tile to ``sink``; returns the count."""
    engine = async_engine(settings)
    cache = tilecache.from_settings(settings.cache)
    max_age_s = settings.cache.versions_max_age_ms / 1000
    versions = PolledVersions(read_versions(engine), max_age_s, identify=read_identity(engine))
    renderer, tms = VectorTiles(engine, cache, settings, versions), morecantile.tms.get("WebMercatorQuad")
    extra = ("planning", TileParams().key()) if planning else TileParams().key()
    try:
        async with request_connection(engine) as conn:
            boxes = [(await repository.extent(conn, spec)).bbox for spec in specs]
        found = [b for b in boxes if b]
        bbox = [min(b[0] for b in found), min(b[1] for b in found), max(b[2] for b in found), max(b[3] for b in found)]
        west, south, east, north = bbox
        jobs = [t for z in zooms for t in tms.tiles(west, south, east, north, zooms=[z], truncate=True)]
        if on_total is not None:
            on_total(len(jobs))
        gate = asyncio.Semaphore(concurrency)

        async def one(tile: morecantile.Tile) -> None:
            async with gate:
                addr = address(tms, tile.z, tile.x, tile.y, 0, 24)
                layers = [(s, renderer.query(addr, None, s)) for s in specs if s.minzoom <= tile.z <= s.maxzoom]
                if layers:
                    key = await renderer.key([spec for spec, _ in layers], addr, extra)
                    loaded = await cache.fetch(key, lambda: renderer.load(layers, addr, extra))
                    await sink(tile, loaded.value)
                else:
                    await sink(tile, b"")

        await asyncio.gather(*(one(t) for t in jobs))
        return len(jobs)
    finally:
        await cache.close()
        await engine.dispose()
