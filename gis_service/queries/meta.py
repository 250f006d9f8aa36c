"""Statements about the database itself: health, counts, data versions, extents."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, TextClause, column, func, literal, select, table, text, union_all

from gis_service.catalog import LayerSpec


def postgis_version() -> TextClause:
    return text("SELECT postgis_lib_version() AS postgis, current_setting('server_version') AS postgres")


def migration_head() -> TextClause:
    return text("SELECT version_num FROM alembic_version")


def feature_counts(layers: list[LayerSpec]) -> Select[Any]:
    parts = [
        select(literal(layer.id).label("layer"), func.count().label("n")).select_from(table(layer.table))
        for layer in layers
    ]
    return select(union_all(*parts).subquery())


def layer_versions() -> Select[Any]:
    t = table("layer_versions", column("layer"), column("version"), column("changed_at"))
    return select(t.c.layer, t.c.version, t.c.changed_at)
