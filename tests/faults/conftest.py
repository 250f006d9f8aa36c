"""Fixtures of the fault tests: a PostgreSQL cluster of their own that they may stop, crash and restart."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from gis_service import migrate
from gis_service.ingest import bundled
from gis_service.settings import Settings, load_settings
from tests.faults.cluster import ThrowawayCluster


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[tuple[ThrowawayCluster, Settings]]:
    """A throwaway cluster with PostGIS, migrated, with the bundled layers: never the shared one."""
    cluster = ThrowawayCluster()
    try:
        cluster.init()
        cluster.start()
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE gis")
        with psycopg.connect(cluster.url("gis"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        settings = load_settings(database_url=cluster.url("gis"))
        migrate.upgrade(settings)
        list(bundled.load_all(settings))
        yield cluster, settings
    finally:
        cluster.destroy()
