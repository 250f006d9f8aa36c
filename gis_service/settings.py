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
