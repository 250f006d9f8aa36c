"""Typed settings, read once from the environment (prefix ``GIS_``) and passed down.

Nothing reads the environment at import time: call :func:`load_settings` where a process starts.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: ``gis-service db up`` writes the URL of the database it provisioned here.
PROVISIONED_ENV = PROJECT_ROOT / ".data" / "gis.env"


class DatabaseSettings(BaseModel):
    url: str = "postgresql://postgres@127.0.0.1:5432/gis"
    pool_size: int = Field(10, ge=1, le=200)
    max_overflow: int = Field(10, ge=0, le=200)
    statement_timeout_ms: int = Field(15_000, ge=100, le=600_000)
    #: PostgreSQL's max_parallel_workers_per_gather for request queries (0: one core per request).
    parallel_workers: int = Field(0, ge=0, le=64)


class FeatureSettings(BaseModel):
    default_limit: int = Field(100, ge=1)
    max_limit: int = Field(10_000, ge=1)
    max_filter_chars: int = Field(20_000, ge=100)
    max_filter_depth: int = Field(64, ge=4)


class ApiSettings(BaseModel):
    title: str = "Binh Duong planning GIS"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    cors_origins: list[str] = ["*"]
    workers: int = Field(1, ge=1, le=64)
    max_body_bytes: int = Field(1_100_000, ge=1_000)


class TileSettings(BaseModel):
    """Vector tiles: MVT grid, per-tile feature cap, when to pre-simplify, HTTP caching, the planning tileset."""

    extent: int = Field(4096, ge=256, le=16384)
    buffer: int = Field(64, ge=0, le=1024)
    max_features: int = Field(20_000, ge=1, description="Features per layer per tile; the rest are dropped.")
    simplify_below_zoom: int = Field(14, ge=0, le=30, description="Lines and polygons are simplified below it.")
    max_age_s: int = Field(0, ge=0, description="Cache-Control max-age; 0 = revalidate (ETag) every time.")
    planning_layers: list[str] = [
        "admin_units",
        "planning_zones",
        "parcels",
        "rivers",
        "transport_projects",
        "industrial_clusters",
        "industrial_parks",
    ]
    label_layers: list[str] = Field(["admin_units"], description="Polygon layers with a label-point layer.")
    glyphs_dir: Path = PROJECT_ROOT / ".data" / "glyphs"
    font_file: Path | None = Field(None, description="TTF for label glyphs; default DejaVu Sans (Debian).")


class CacheSettings(BaseModel):
    """The tile cache: in-process LRU bounded in bytes, plus Redis shared by workers when ``redis_url`` is set."""

    enabled: bool = True
    max_bytes: int = Field(128 * 2**20, ge=0)
    redis_url: str | None = None
    redis_ttl_s: int = Field(7 * 86_400, ge=1)


class RasterSettings(BaseModel):
    """Cloud-Optimized GeoTIFFs built from the vector layers (``gis-service raster build``)."""

    directory: Path = PROJECT_ROOT / ".data" / "rasters"
    resolution_m: float = Field(100.0, gt=0, le=10_000)
    tile_size: int = Field(256, ge=64, le=1024)
    max_stats_pixels: int = Field(25_000_000, ge=1)


class MapSettings(BaseModel):
    """The Folium maps (``/maps``, ``gis-service map export``, notebooks)."""

    osm_tiles_url: str | None = Field(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="Online basemap offered next to the offline one; empty on closed networks.",
    )
    osm_attribution: str = "© OpenStreetMap contributors"
    tiles_url: str = Field("/tiles/{collection}/{z}/{x}/{y}.pbf", description="Our vector tiles (parcels).")
    horizon_years: list[int] = [2020, 2025, 2030, 2035, 2040]
    default_year: int = Field(2040, ge=2000, le=2060)
    max_features: int = Field(5_000, ge=1, le=100_000, description="Features embedded per layer.")

    @field_validator("osm_tiles_url")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("horizon_years")
    @classmethod
    def _years_in_range(cls, value: list[int]) -> list[int]:
        if not value or any(not 2000 <= year <= 2060 for year in value):
            raise ValueError("horizon_years must be years between 2000 and 2060")
        return sorted(set(value))


class Settings(BaseSettings):
    """All configuration; nested sections use ``__`` (``GIS_DB__POOL_SIZE=20``)."""

    model_config = SettingsConfigDict(
        env_prefix="GIS_",
        env_nested_delimiter="__",
        env_file=(str(PROVISIONED_ENV), ".env"),
        extra="ignore",
    )

    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("GIS_DATABASE_URL", "DATABASE_URL"),
        description="PostgreSQL/PostGIS URL; overrides db.url. DATABASE_URL is honoured too.",
    )
    db: DatabaseSettings = DatabaseSettings()
    features: FeatureSettings = FeatureSettings()
    api: ApiSettings = ApiSettings()
    tiles: TileSettings = TileSettings()
    cache: CacheSettings = CacheSettings()
    raster: RasterSettings = RasterSettings()
    maps: MapSettings = MapSettings()
    layers_dir: Path = PROJECT_ROOT / "layers"

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql", "postgres://")):
            raise ValueError("database_url must be a postgresql:// URL")
        return value

    @cached_property
    def dsn(self) -> str:
        """The libpq URL (``postgresql://...``) without any SQLAlchemy driver suffix."""
        url = self.database_url or self.db.url
        for prefix in ("postgresql+psycopg://", "postgresql+asyncpg://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql://" + url[len(prefix) :]
        return url

    @property
    def sync_url(self) -> str:
        return self.dsn.replace("postgresql://", "postgresql+psycopg://", 1)

    @property
    def async_url(self) -> str:
        return self.dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
