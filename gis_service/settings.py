"""Typed settings, read once from the environment (prefix ``GIS_``) and passed down.

Nothing reads the environment at import time: call :func:`load_settings` where a process starts.
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: ``gis-service db up`` writes the URL of the database it provisioned here.
PROVISIONED_ENV = PROJECT_ROOT / ".data" / "gis.env"
#: ... and the database roles' passwords and the API-key pepper here (mode 0600).
SECRETS_ENV = PROJECT_ROOT / ".data" / "secrets.env"
#: How the URLs of PostgreSQL begin (libpq's and SQLAlchemy's spellings).
POSTGRES_URL = ("postgresql", "postgres://")


class DatabaseSettings(BaseModel):
    url: str = "postgresql://postgres@127.0.0.1:5432/gis"
    pool_size: int = Field(10, ge=1, le=200)
    max_overflow: int = Field(10, ge=0, le=200)
    statement_timeout_ms: int = Field(15_000, ge=100, le=600_000)
    #: PostgreSQL's max_parallel_workers_per_gather for request queries (0: one core per request).
    parallel_workers: int = Field(0, ge=0, le=64)
    pool_timeout_s: float = Field(
        2.0, gt=0, le=60, description="Longest wait for a pooled connection; then 503 with Retry-After."
    )
    connect_timeout_s: float = Field(2.0, gt=0, le=60, description="Longest wait for a new connection to open.")
    client_check_interval_ms: int = Field(
        1000,
        ge=0,
        le=3_600_000,
        description="PostgreSQL's client_connection_check_interval: a session whose client died ends (and "
        "releases its locks) within this time instead of at the end of its statement. 0: off.",
    )
    app_role: str | None = Field(
        None, description="Role requests run as: not an owner, so row-level security applies (provisioned)."
    )
    app_password: SecretStr | None = None
    replica_urls: Annotated[list[str], NoDecode] = Field(
        [],
        description="Streaming replicas (hot standbys) of the primary: reads are spread over them round-robin, "
        "writes and reads that must see a write go to the primary. Empty: everything on the primary.",
    )
    replica_timeout_s: float = Field(
        0.5, gt=0, le=30, description="Longest wait to connect to, or check, a replica; then the next one is tried."
    )
    replica_retry_s: float = Field(5.0, gt=0, le=3600, description="A replica that failed is skipped this long.")
    replica_wait_ms: int = Field(
        200,
        ge=0,
        le=10_000,
        description="A read carrying a write's WAL position waits at most this long for a replica to have "
        "replayed it, then reads from the primary.",
    )
    wal_cookie_max_age_s: int = Field(
        300, ge=1, le=86_400, description="Lifetime of the cookie that carries a writer's WAL position."
    )
    pooler: Literal["none", "pgbouncer"] = Field(
        "none",
        description="pgbouncer: the engines connect through PgBouncer in transaction mode (no prepared "
        "statement cache; statement timeout and jit come from the role, `ALTER ROLE … SET`).",
    )
    listen_url: str | None = Field(
        None,
        description="Where workers LISTEN for layer version changes: a direct connection to the primary (a "
        "pooler in transaction mode cannot deliver notifications). Default: the request URL, except with "
        "`pooler=pgbouncer`, where versions are then polled.",
    )

    @field_validator("listen_url")
    @classmethod
    def _listen_postgres(cls, value: str | None) -> str | None:
        if value and not value.startswith(POSTGRES_URL):
            raise ValueError("listen_url must be a postgresql:// URL")
        return value or None

    @field_validator("replica_urls", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """A JSON list or a comma-separated string of postgresql:// URLs."""
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
        if isinstance(value, list) and any(not str(url).startswith(POSTGRES_URL) for url in value):
            raise ValueError("replica_urls must be postgresql:// URLs")
        return value


class FeatureSettings(BaseModel):
    default_limit: int = Field(100, ge=1)
    max_limit: int = Field(10_000, ge=1)
    max_filter_chars: int = Field(20_000, ge=100)
    max_filter_depth: int = Field(64, ge=4, le=64)  # deeper runs out of Python's stack (queries/cql_bounds.py)


def _cores() -> int:
    """Cores this process may run on (the affinity mask, which containers and taskset narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class ApiSettings(BaseModel):
    title: str = "Binh Duong planning GIS"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    cors_origins: list[str] = ["*"]
    workers: int = Field(
        default_factory=lambda: min(_cores(), 64),
        ge=1,
        le=64,
        description="Worker processes of `gis-service serve` (a supervisor restarts any that dies); default: cores.",
    )
    max_body_bytes: int = Field(1_100_000, ge=1_000)


class TileSettings(BaseModel):
    """Vector tiles: MVT grid, per-tile feature cap, when to pre-simplify, HTTP caching, the planning tileset."""

    extent: int = Field(4096, ge=256, le=16384)
    buffer: int = Field(64, ge=0, le=1024)
    max_features: int = Field(20_000, ge=1, description="Features per layer per tile; the rest are dropped.")
    simplify_below_zoom: int = Field(14, ge=0, le=30, description="Lines and polygons are simplified below it.")
    max_age_s: int = Field(
        5, ge=0, description="Cache-Control max-age of unversioned tile URLs; 0 = revalidate (ETag) every time."
    )
    stale_while_revalidate_s: int = Field(
        30,
        ge=0,
        description="Cache-Control stale-while-revalidate of unversioned tile URLs: a cache may answer with the "
        "tile it holds this long past max-age while it revalidates (ETag). Versioned URLs are immutable.",
    )
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
    versions_max_age_ms: int = Field(
        500,
        ge=0,
        le=60_000,
        description="The layers' data versions (part of every tile key) are re-read at most this often per "
        "process, so a cached tile needs no pooled connection; a write shows in tiles within this time.",
    )
    lock_ms: int = Field(
        10_000, ge=100, le=600_000, description="Lifetime of a worker's Redis lock on a cold tile it renders."
    )
    lock_wait_ms: int = Field(
        3_000,
        ge=0,
        le=60_000,
        description="How long a worker waits for a cold tile another worker is rendering before it renders it.",
    )


class AdmissionSettings(BaseModel):
    """Heavy analyses (site selection, area statistics, corridor, reassignment, nearby over a large distance,
    raster zonal statistics) and Folium map pages pass through bounded queues of their own, per worker, so
    they cannot take every connection and core from cheap requests."""

    concurrency: int = Field(
        1,
        ge=1,
        le=64,
        description="Heavy analyses running at once per worker; with a worker per core, one per core, so "
        "they leave cores to cheap requests and to PostgreSQL's other queries.",
    )
    map_concurrency: int = Field(
        1, ge=1, le=64, description="Folium map pages rendered at once per worker (Python holding the loop's lock)."
    )
    queue: int = Field(8, ge=0, le=10_000, description="Heavy requests waiting at most; more get 503 at once.")
    wait_s: float = Field(2.0, gt=0, le=60, description="Longest wait for a slot; then 503 with Retry-After.")
    nearby_heavy_m: float = Field(5_000, ge=0, description="`nearby` beyond this distance counts as heavy.")


class AuthSettings(BaseModel):
    """Who is calling: API keys (HMAC-SHA256 under ``pepper``), OIDC bearer JWTs, anonymous reads, throttling."""

    pepper: SecretStr | None = Field(None, description="Key of the API-key HMAC; `gis-service db up` makes one.")
    anonymous_reads: bool = Field(True, description="Public collections can be read without credentials.")
    realm: str = "gis_service"
    oidc_issuer: str | None = Field(None, description="OIDC issuer URL; bearer JWTs are refused without one.")
    oidc_audience: list[str] = Field([], description="Accepted `aud` values (the client ids of our apps).")
    oidc_algorithms: list[str] = ["RS256", "PS256", "ES256"]
    oidc_leeway_s: int = Field(30, ge=0, le=300, description="Clock skew allowed on exp/nbf/iat.")
    oidc_jwks_max_age_s: int = Field(3600, ge=10, description="How long discovery and signing keys are kept.")
    oidc_refresh_min_interval_s: float = Field(
        30.0, ge=0, description="An unknown `kid` refetches the keys at most this often."
    )
    oidc_http_timeout_s: float = Field(5.0, gt=0, le=60)
    oidc_name_claim: str = "preferred_username"
    oidc_groups_claim: str = Field("groups", description="Claim (dotted path) whose values are group names.")
    oidc_group_map: dict[str, str] = Field({}, description="Claim value -> group name; others are kept as is.")
    oidc_editor_client_id: str | None = Field(
        None,
        description="Public client id of the editor page (`/edit`, its own redirect URI): authorization code with "
        "PKCE in the browser, no secret. With `oidc_issuer` the page offers OIDC sign-in; the id is an accepted "
        "audience (the page sends the id token, whose `aud` it is).",
    )
    oidc_editor_scopes: list[str] = Field(["openid", "profile"], description="Scopes the editor page asks for.")
    admin_groups: list[str] = Field([], description="Groups whose members are global admins.")
    failure_limit: int = Field(5, ge=1, description="Failures per address or key before answers slow down.")
    failure_window_s: int = Field(300, ge=1)
    failure_delay_s: float = Field(0.25, ge=0, description="First delay; it doubles with every further failure.")
    failure_max_delay_s: float = Field(4.0, ge=0, le=60)
    throttle_entries: int = Field(10_000, ge=10, description="Addresses and keys tracked per worker (LRU).")
    key_touch_interval_s: int = Field(60, ge=0, description="`last_used_at` of a key is written at most this often.")

    @property
    def pepper_bytes(self) -> bytes | None:
        """The HMAC key of API keys (None: keys cannot be made or checked)."""
        return self.pepper.get_secret_value().encode() if self.pepper else None

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        """`none` and shared-secret algorithms would let anyone holding the public key sign tokens."""
        allowed = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
        wrong = sorted(set(value) - allowed)
        if wrong or not value:
            raise ValueError(f"oidc_algorithms must be asymmetric ({sorted(allowed)}), not {wrong}")
        return value

    @model_validator(mode="after")
    def _editor_is_an_audience(self) -> AuthSettings:
        """The editor page's id tokens carry its client id as ``aud`` (a token with an ``aud`` is refused
        unless its audience is listed), so the client id is always an accepted audience."""
        client = self.oidc_editor_client_id
        if client and client not in self.oidc_audience:
            self.oidc_audience = [*self.oidc_audience, client]
        return self

    @field_validator("oidc_editor_scopes")
    @classmethod
    def _openid_scope(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("oidc_editor_scopes must include 'openid' (the page signs in with the id token)")
        return value


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
        env_file=(str(PROVISIONED_ENV), str(SECRETS_ENV), ".env"),
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
    admission: AdmissionSettings = AdmissionSettings()
    raster: RasterSettings = RasterSettings()
    auth: AuthSettings = AuthSettings()
    maps: MapSettings = MapSettings()
    layers_dir: Path = PROJECT_ROOT / "layers"

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value and not value.startswith(POSTGRES_URL):
            raise ValueError("database_url must be a postgresql:// URL")
        return value

    @cached_property
    def dsn(self) -> str:
        """The libpq URL (``postgresql://...``) without any SQLAlchemy driver suffix."""
        return _libpq(self.database_url or self.db.url)

    @property
    def sync_url(self) -> str:
        return self.dsn.replace("postgresql://", "postgresql+psycopg://", 1)

    @property
    def request_url(self) -> str:
        """The request engine's URL: ``dsn`` as ``db.app_role`` when one is configured (asyncpg)."""
        return self._as_app(self.dsn)

    @property
    def replica_request_urls(self) -> list[str]:
        """The replicas' URLs for requests: as ``db.app_role`` too (roles replicate with the data)."""
        return [self._as_app(_libpq(url)) for url in self.db.replica_urls]

    def _as_app(self, dsn: str) -> str:
        if not self.db.app_role:
            return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        password = self.db.app_password.get_secret_value() if self.db.app_password else ""
        userinfo = quote(self.db.app_role, safe="") + (":" + quote(password, safe="") if password else "")
        rest = dsn.partition("://")[2]
        return f"postgresql+asyncpg://{userinfo}@{rest.rpartition('@')[2]}"


def _libpq(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
