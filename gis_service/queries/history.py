"""Statements that read the history tables (migration 0005): a feature's versions, the layer as of an
instant, the changes between two instants, and the row a revert restores. Pure builders, bound values.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
    Integer,
    Select,
    Table,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP
from sqlalchemy.sql.expression import ColumnElement

from gis_service.catalog import LayerSpec
from gis_service.models.history import HISTORY_MODELS
from gis_service.queries.tables import SQL_TYPES

#: Row members that are bookkeeping, not what a planner changed.
BOOKKEEPING = ("id", "version", "updated_at", "updated_by", "area_ha")


def history_table(spec: LayerSpec) -> Table:
    return HISTORY_MODELS[spec.table].__table__  # type: ignore[return-value]


def _instant(when: dt.datetime) -> ColumnElement[Any]:
    return literal(when, TIMESTAMP(timezone=True))


def as_of(spec: LayerSpec, when: dt.datetime) -> CTE:
    """The layer as it was at ``when``, named like the layer: added to an items statement, it stands in
    for the table, so every other items parameter (bbox, filter, sortby, q, crs) works unchanged."""
    h = history_table(spec)
    columns: list[Any] = []
    names = {p.name: p.type for p in spec.properties}
    for name, kind in names.items():
        columns.append(cast(h.c.row[name].astext, SQL_TYPES[kind]).label(name))
    if spec.id_column not in names:
        columns.append(cast(h.c.row[spec.id_column].astext, BigInteger).label(spec.id_column))
    columns.append(h.c.geom.label(spec.geometry_column))
    for extra in spec.extra_geometry_columns:
        columns.append(func.ST_GeomFromGeoJSON(h.c.row[extra].astext).label(extra))
    columns.append(h.c.version.label("version"))
    rows = select(*columns).where(h.c.valid.contains(_instant(when)), h.c.op != "D")
    return rows.cte(spec.table)


def versions(spec: LayerSpec, feature_key: str) -> Select[Any]:
    """Every version of one feature, oldest first, with its change set."""
    from gis_service.models.history import ChangeSet

    h = history_table(spec)
    cs = ChangeSet.__table__
    return (
        select(
            h.c.version,
            h.c.op,
            func.lower(h.c.valid).label("valid_from"),
            func.upper(h.c.valid).label("valid_to"),
            h.c.changed_at,
            h.c.changed_by,
            h.c.change_set_id,
            cs.c.comment,
            cs.c.client,
            cs.c.unconditional,
            h.c.row,
            func.ST_AsGeoJSON(h.c.geom, literal(7, Integer), literal(0, Integer)).label("geometry"),
        )
        .join(cs, cs.c.id == h.c.change_set_id)
        .where(h.c.feature_key == feature_key)
        .order_by(h.c.version, h.c.hist_id)
    )


def version_row(spec: LayerSpec, feature_key: str, version: int) -> Select[Any]:
    """(feature_id, op, row, geometry) of one version: what a revert writes back."""
    h = history_table(spec)
    return (
        select(h.c.feature_id, h.c.op, h.c.row, func.ST_AsBinary(h.c.geom).label("wkb"))
        .where(h.c.feature_key == feature_key, h.c.version == version)
        .order_by(h.c.hist_id.desc())
        .limit(1)
    )


def changes(spec: LayerSpec, start: dt.datetime, end: dt.datetime, limit: int) -> Select[Any]:
    """Features changed in ``(start, end]``: their state at each end (NULL: absent then), the members of
    the row that differ and whether the geometry moved."""
    h = history_table(spec)
    touched = select(h.c.feature_id).where(h.c.changed_at > _instant(start), h.c.changed_at <= _instant(end))
    touched_ids = touched.distinct().scalar_subquery()

    def state(when: dt.datetime, name: str) -> Any:
        return (
            select(h.c.feature_id, h.c.feature_key, h.c.version, h.c.row, h.c.geom)
            .where(h.c.valid.contains(_instant(when)), h.c.op != "D", h.c.feature_id.in_(touched_ids.element))
            .subquery(name)
        )

    before, after = state(start, "before"), state(end, "after")
    empty = cast(literal("{}"), JSONB)
    keys = func.jsonb_object_keys(
        func.coalesce(before.c.row, empty).op("||")(func.coalesce(after.c.row, empty))
    ).column_valued("k")
    differing = (
        select(func.array_agg(keys))
        .where(before.c.row[keys].is_distinct_from(after.c.row[keys]), keys.not_in(BOOKKEEPING))
        .scalar_subquery()
    )
    return (
        select(
            func.coalesce(after.c.feature_key, before.c.feature_key).label("feature_key"),
            before.c.version.label("version_before"),
            after.c.version.label("version_after"),
            differing.label("changed"),
            and_(
                before.c.geom.is_not(None) | after.c.geom.is_not(None),
                or_(
                    before.c.geom.is_(None),
                    after.c.geom.is_(None),
                    ~func.ST_Equals(before.c.geom, after.c.geom),
                ),
            ).label("geometry_moved"),
        )
        .select_from(before.join(after, before.c.feature_id == after.c.feature_id, full=True))
        .where(before.c.version.is_distinct_from(after.c.version))
        .order_by(func.coalesce(after.c.feature_key, before.c.feature_key))
        .limit(limit)
    )
