"""Vector tiles: the tile matrix sets (morecantile), tile addressing, parameters, and the render path.

The render path is ``versions -> key -> If-None-Match -> cache (single flight) -> ST_AsMVT``; the key
carries the layers' data versions, the catalogue entries and every parameter, so it doubles as a strong
ETag. Tiles are cached gzip-compressed (most clients ask for gzip; the rest get them inflated). The
versions come from a per-process source on a connection of its own, so a cache hit never queues for the
request pool; a connection is taken only to render a miss.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import morecantile
import orjson
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
from gis_service.tilecache import LayerVersions, PolledVersions, TileCache, Versions, versions_of

#: Tile matrix set id -> SRID of the geometry the tile query reads (3857: the stored ``geom_3857``).
SRIDS = {"WebMercatorQuad": 3857, "WorldCRS84Quad": 4326}
TILE_PARAMS = {"datetime", "filter", "filter-lang", "filter-crs"}
#: Bumped when the tile encoding changes, so every cached tile and ETag changes with it.
ENCODING_VERSION = "mvt-1"
#: gzip level 3: a 270 kB tile compresses in ~7 ms (level 5: ~13 ms) for 3 % more bytes.
GZIP_LEVEL = 3
OFF_LOOP_BYTES = 32_768
PUBLIC_SCOPE = ("public",)


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


def fingerprint(specs: list[LayerSpec]) -> str:
    """Catalogue entries change what a tile holds (properties per zoom): they are part of every key."""
    text = "|".join(spec.model_dump_json() for spec in specs)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]


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


def layer_versions(settings: Settings) -> PolledVersions:
    """The per-process version source of the tile keys, on one connection of its own: reading versions
    never waits behind requests that hold the pool."""
    engine = async_engine(settings, pool_size=1, max_overflow=0, name="gis_service versions")
    return PolledVersions(read_versions(engine), settings.cache.versions_max_age_ms / 1000, close=engine.dispose)


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
        versions = await self.versions.current()
        tiles = self.settings.tiles
        parts = (
            ENCODING_VERSION,
            self.settings.dsn.rpartition("@")[2],  # one shared Redis may serve several databases
            fingerprint(specs),
            [(s.id, versions.get(s.table)) for s in specs],
            (addr.tms_id, addr.z, addr.x, addr.y),
            (tiles.extent, tiles.buffer, tiles.max_features, tiles.simplify_below_zoom),
            extra,
            access_scope(specs),
        )
        return hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()

    async def render(self, layers: list[tuple[LayerSpec, tq.TileQuery]], planning: bool = False) -> bytes:
        """The tile, gzip-compressed (b"" when empty), on a connection of its own: the load outlives
        the request that started it when others wait for it (single flight). The planning tileset
        adds label points for ``tiles.label_layers``."""
        statement = tq.tile(layers, tuple(self.settings.tiles.label_layers) if planning else ())
        async with request_connection(self.engine) as conn:
            data = (await conn.execute(statement)).scalar()
        if not data:
            return b""
        if len(data) < OFF_LOOP_BYTES:
            return gzip.compress(bytes(data), compresslevel=GZIP_LEVEL, mtime=0)
        # zlib releases the GIL: a big tile compresses on another core while the loop serves others.
        return await asyncio.to_thread(gzip.compress, bytes(data), GZIP_LEVEL, mtime=0)

    async def respond(
        self, request: Request, layers: list[tuple[LayerSpec, tq.TileQuery]], addr: TileAddress, extra: tuple[Any, ...]
    ) -> Response:
        key = await self.key([spec for spec, _ in layers], addr, extra)
        compressed = accepts_gzip(request)
        etag = f'"{key[:32]}{"-gz" if compressed else ""}"'
        private = access_scope([spec for spec, _ in layers]) != PUBLIC_SCOPE
        headers = {"ETag": etag, "Cache-Control": self.cache_control(private), "Vary": "Accept-Encoding"}
        if not_modified(request, etag):
            return Response(status_code=304, headers=headers)
        data = await self.cache.get_or_load(key, lambda: self.render(layers, planning=extra[:1] == ("planning",)))
        if not data:
            return Response(status_code=204, headers=headers)
        if compressed:
            return Response(data, media_type=MVT, headers={**headers, "Content-Encoding": "gzip"})
        return Response(gzip.decompress(data), media_type=MVT, headers=headers)

    def cache_control(self, private: bool = False) -> str:
        """``private`` for tiles of non-public collections: no shared cache may hand them to others."""
        max_age = self.settings.tiles.max_age_s
        visibility = "private" if private else "public"
        return f"{visibility}, max-age={max_age}" if max_age else f"{visibility}, max-age=0, must-revalidate"


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


# ---- documents: TileJSON 3.0, the MapLibre style ------------------------------------------------

FIELD_TYPES = {"string": "String", "integer": "Number", "number": "Number", "boolean": "Boolean", "date": "String"}


def vector_layer(spec: LayerSpec, suffix: str = "") -> dict[str, Any]:
    """A TileJSON ``vector_layers`` entry: every property a tile of the layer may carry."""
    return {
        "id": spec.id + suffix,
        "description": spec.title,
        "minzoom": spec.minzoom,
        "maxzoom": spec.maxzoom,
        "fields": {p.name: FIELD_TYPES[p.type] for p in spec.properties},
    }


def tilejson(
    name: str,
    tiles_url: str,
    specs: list[LayerSpec],
    bbox: list[float],
    *,
    description: str = "",
    labels: tuple[str, ...] = (),
) -> dict[str, Any]:
    minzoom, maxzoom = min(s.minzoom for s in specs), min(max(s.maxzoom for s in specs), 24)
    attribution = "; ".join(dict.fromkeys(s.attribution for s in specs if s.attribution))
    center_zoom = max(minzoom, min(10, maxzoom))
    return {
        "tilejson": "3.0.0",
        "name": name,
        "description": description,
        "version": "1.0.0",
        "attribution": attribution,
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": bbox,
        "center": [(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2, center_zoom],
        "vector_layers": [vector_layer(s) for s in specs]
        + [vector_layer(s, "_labels") for s in specs if s.id in labels]
        + [vector_layer(s, "_footprints") for s in specs if tq.has_footprint(s)],
    }


def planning_style(base: str, settings: Settings, catalog: Catalog) -> dict[str, Any]:
    """The MapLibre style (``layers/styles/planning.json``) with this server's URLs and the catalogue's
    palettes: ``{"$palette": layer}`` becomes a ``match`` on the layer's ``color_by`` property."""
    text = (settings.layers_dir / "styles" / "planning.json").read_text(encoding="utf-8")
    style: dict[str, Any] = orjson.loads(text.replace("{base}", base))
    for layer in style["layers"]:
        for name, value in layer.get("paint", {}).items():
            if isinstance(value, dict) and "$palette" in value:
                layer["paint"][name] = palette(catalog.get(value["$palette"]))
    return style


def palette(spec: LayerSpec) -> Any:
    style = spec.style
    if not style.color_by or not style.palette:
        return style.color
    pairs = [item for key, colour in style.palette.items() for item in (key, colour)]
    return ["match", ["get", style.color_by], *pairs, style.color]


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
    versions = PolledVersions(read_versions(engine), settings.cache.versions_max_age_ms / 1000)
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
                    data = await cache.get_or_load(key, lambda: renderer.render(layers, planning=planning))
                    await sink(tile, data)
                else:
                    await sink(tile, b"")

        await asyncio.gather(*(one(t) for t in jobs))
        return len(jobs)
    finally:
        await cache.close()
        await engine.dispose()
