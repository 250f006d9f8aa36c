"""Where a worker LISTENs for layer versions: ``db.listen_url`` (the primary itself), else the request URL;
behind PgBouncer in transaction mode (which accepts LISTEN and never delivers) without a listen URL, nowhere:
the polled versions answer and the log says why, once. The database's identity is read at start-up.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import Engine

from gis_service import notify
from gis_service.settings import Settings
from gis_service.tiles import layer_versions


def with_db(settings: Settings, **db: object) -> Settings:
    return settings.model_copy(update={"db": settings.db.model_copy(update=db)})


def test_the_listen_url_wins_and_pgbouncer_alone_is_not_listened_on(migrated: Settings) -> None:
    direct = "postgresql+psycopg://gis_app:secret@127.0.0.1:5432/gis"
    assert notify.listen_dsn(with_db(migrated, listen_url=direct)) == "postgresql://gis_app:secret@127.0.0.1:5432/gis"
    assert notify.listen_dsn(with_db(migrated, listen_url=direct, pooler="pgbouncer")).startswith(
        "postgresql://gis_app"
    )
    assert notify.listen_dsn(with_db(migrated, pooler="pgbouncer")) is None
    plain = notify.listen_dsn(migrated)
    assert plain is not None and plain.startswith("postgresql://") and plain.endswith(migrated.dsn.rpartition("@")[2])


def test_settings_refuse_a_listen_url_that_is_not_postgresql(migrated: Settings) -> None:
    from pydantic import ValidationError

    from gis_service.settings import DatabaseSettings

    with pytest.raises(ValidationError):
        DatabaseSettings(listen_url="redis://127.0.0.1:6379/0")


def test_behind_pgbouncer_without_a_listen_url_versions_are_polled(
    migrated: Settings, bundled: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    settings = with_db(migrated, pooler="pgbouncer")

    async def scenario() -> tuple[object, str, bool]:
        fallback = layer_versions(migrated)
        source = await notify.listening_versions(settings, fallback)
        try:
            versions = await source.current()
            return source, await source.identity(), "industrial_parks" in versions
        finally:
            await source.close()

    with caplog.at_level(logging.WARNING, logger="gis_service.notify"):
        source, identity, has_parks = asyncio.run(scenario())
    assert not isinstance(source, notify.NotifiedVersions) and has_parks and identity
    assert sum("not listening" in r.getMessage() for r in caplog.records) == 1
    assert "db.listen_url" in caplog.text


def test_a_listen_url_is_listened_on(migrated: Settings, bundled: Engine) -> None:
    settings = with_db(migrated, pooler="pgbouncer", listen_url=migrated.dsn)

    async def scenario() -> bool:
        source = await notify.listening_versions(settings, layer_versions(migrated))
        try:
            return isinstance(source, notify.NotifiedVersions) and source.live
        finally:
            await source.close()

    assert asyncio.run(scenario())
