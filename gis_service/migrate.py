"""Run Alembic programmatically: the only way the schema changes."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from geoalchemy2 import alembic_helpers
from sqlalchemy import text

from gis_service.db import sync_engine
from gis_service.settings import PROJECT_ROOT, Settings

#: Objects PostGIS and its extensions own, which the models do not describe.
FOREIGN_TABLES = {"spatial_ref_sys", "layer", "topology"}
#: Expression indexes (search keys, validity ranges) are written in the migration, not the models.
EXPRESSION_INDEX_SUFFIXES = ("_search", "_validity")


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """What Alembic compares: our tables, not PostGIS's; spatial indexes the GeoAlchemy2 way."""
    if type_ == "table" and name in FOREIGN_TABLES:
        return False
    if type_ == "index" and (name or "").endswith(EXPRESSION_INDEX_SUFFIXES):
        return False
    return bool(alembic_helpers.include_object(obj, name, type_, reflected, compare_to))


def alembic_config(settings: Settings) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", settings.sync_url.replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str = "base") -> None:
    command.downgrade(alembic_config(settings), revision)


def script_head(settings: Settings) -> str | None:
    """The newest revision the migration scripts define."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def current_head(settings: Settings) -> str | None:
    engine = sync_engine(settings)
    try:
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT to_regclass('alembic_version') IS NOT NULL")).scalar_one()
            if not exists:
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
