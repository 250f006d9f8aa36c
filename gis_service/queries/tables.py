"""Typed SQLAlchemy table clauses built from catalogue specs: the only identifiers queries may use."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, Boolean, Date, Float, Integer, Text, column, table
from sqlalchemy.sql.expression import ColumnClause, TableClause
from sqlalchemy.types import TypeEngine

from gis_service.catalog import LayerSpec

SQL_TYPES: dict[str, TypeEngine[Any]] = {
    "string": Text(),
    "integer": BigInteger(),
    "number": Float(),
    "boolean": Boolean(),
    "date": Date(),
}


@lru_cache(maxsize=64)
def _table(name: str, props: tuple[tuple[str, str], ...], id_column: str, geoms: tuple[str, ...]) -> TableClause:
    columns = [column(n, SQL_TYPES[t]) for n, t in props]
    if id_column not in dict(props):
        columns.append(column(id_column, BigInteger()))
    columns += [column(g, Geometry(srid=4326)) for g in geoms]
    return table(name, *columns)


def layer_table(spec: LayerSpec) -> TableClause:
    props = tuple((p.name, p.type) for p in spec.properties)
    return _table(spec.table, props, spec.id_column, (spec.geometry_column, *spec.extra_geometry_columns))


def geom_col(spec: LayerSpec) -> ColumnClause[object]:
    return layer_table(spec).c[spec.geometry_column]


def id_col(spec: LayerSpec) -> ColumnClause[object]:
    return layer_table(spec).c[spec.id_column]


#: The two tables analyses reach whatever the collection: administrative units and transport lines.
def units_table() -> Any:
    return table(
        "admin_units",
        column("id", Integer),
        column("code", Text),
        column("name", Text),
        column("level", Text),
        column("valid_from", Date),
        column("valid_to", Date),
        column("geom", Geometry(srid=4326)),
        column("area_ha", Float),
        column("population", Integer),
    ).alias("u")


def transport_table() -> Any:
    return table(
        "transport_projects",
        column("code", Text),
        column("kind", Text),
        column("status", Text),
        column("geom", Geometry(srid=4326)),
        column("start_year", Integer),
        column("completion_year", Integer),
        column("name", Text),
    )
