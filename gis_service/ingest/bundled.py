"""Load the bundled Binh Duong layers (``layers/data``) in one transaction; running it twice changes nothing.

Every row keeps its source, licence and ``geometry_quality``; features without a known location keep a
NULL geometry. See ``layers/data/PROVENANCE.md`` for where each file comes from.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiLineString, MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, Table, and_, delete, or_, text
from sqlalchemy.dialects.postgresql import insert

from gis_service.db import sync_engine
from gis_service.errors import LoadError
from gis_service.ingest import located, parks
from gis_service.models import (
    SRID,
    AdminUnit,
    Base,
    FeatureSource,
    IndustrialCluster,
    IndustrialPark,
    NameAlias,
    River,
    TransportProject,
)
from gis_service.settings import Settings

#: Industrial parks (KCN) and clusters (CCN): the two tables of estates.
ESTATE_KINDS = ("KCN", "CCN")
REFORM_DAY = dt.date(2025, 7, 1)
LAST_LEGACY_DAY = dt.date(2025, 6, 30)
ALIASES = {
    "industrial_parks": {
        "VSIP": ["VSIP1", "VSIP2", "VSIP2A", "VSIP3"],
        "VSIP I": ["VSIP1"],
        "VSIP 1": ["VSIP1"],
        "VSIP II": ["VSIP2"],
        "VSIP 2": ["VSIP2"],
        "VSIP III": ["VSIP3"],
        "VSIP 3": ["VSIP3"],
        "Mỹ Phước 3": ["MP3"],
        "Sóng Thần 3": ["ST3"],
    },
    "transport_projects": {
        "VĐ3": ["RR3"],
        "Vành đai 3": ["RR3"],
        "Ring Road 3": ["RR3"],
        "VĐ4": ["RR4"],
        "Vành đai 4": ["RR4"],
        "Ring Road 4": ["RR4"],
        "QL13": ["QL13"],
        "NH13": ["QL13"],
        "Đại lộ Bình Dương": ["QL13"],
        "QL1A": ["QL1A"],
        "Cao tốc Chơn Thành": ["CT_TDM_CT"],
        "Mỹ Phước – Tân Vạn": ["MPTV"],
        "Cảng An Tây": ["PORT_ANTAY"],
    },
}


def table_of(model: type[Base]) -> Table:
    table: Table = model.__table__  # type: ignore[assignment]
    return table


def _features(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text(encoding="utf-8"))["features"])


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _wkb(geom: BaseGeometry | None) -> Any:
    return from_shape(geom, srid=SRID) if geom is not None else None


def _multipolygon(geojson: dict[str, Any]) -> Any:
    geom = shape(geojson)
    return _wkb(MultiPolygon([geom]) if isinstance(geom, Polygon) else geom)


def upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], key: Sequence[str]) -> tuple[int, int]:
    """INSERT ... ON CONFLICT (key) DO UPDATE of the rows that differ; returns (inserted, updated)."""
    if not rows:
        return 0, 0
    stmt = insert(table).values(list(rows))
    columns = [c for c in rows[0] if c not in key]
    changed = or_(*[table.c[c].is_distinct_from(stmt.excluded[c]) for c in columns])
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key), set_={c: stmt.excluded[c] for c in columns}, where=changed
    )
    flags = conn.execute(stmt.returning(text("(xmax = 0)"))).scalars().all()
    inserted = sum(1 for f in flags if f)
    return inserted, len(flags) - inserted


def _admin_common(props: dict[str, Any], quality: str) -> dict[str, Any]:
    return {
        "name": props["name"],
        "name_ascii": props["name_ascii"],
        "unit_type": props.get("unit_type"),
        "geometry_quality": quality,
        "geometry_note": props.get("geometry_quality") if quality != "approximate" else props.get("geometry_note"),
        "source": props["source"],
        "license": props.get("license"),
    }


#: The administrative files: (file, level, geometry quality, code field, parent field, valid from, valid to).
ADMIN_FILES = (
    ("bd_province_pre2025.geojson", "province", "official", "gso_code", None, None, LAST_LEGACY_DAY),
    ("bd_districts_pre2025.geojson", "district", "official", "gso_code", "province_gso", None, LAST_LEGACY_DAY),
    ("bd_wards_pre2025.geojson", "ward", "approximate", "gso_code", "district_gso", None, LAST_LEGACY_DAY),
    ("bd_wards_2025_hcmc.geojson", "ward", "simplified", "gso_code_2025", "province_gso", REFORM_DAY, None),
)


def _optional(props: dict[str, Any], key: str, kind: type) -> Any:
    return kind(props[key]) if props.get(key) not in (None, "") else None


def admin_rows(data: Path) -> list[dict[str, Any]]:
    rows = []
    for name, level, quality, code_key, parent_key, valid_from, valid_to in ADMIN_FILES:
        for f in _features(data / name):
            p = f["properties"]
            rows.append(
                {
                    **_admin_common(p, quality),
                    "code": p[code_key],
                    "level": level,
                    "parent_code": p[parent_key] if parent_key else None,
                    "valid_from": valid_from,
                    "valid_to": valid_to,
                    "population": _optional(p, "population_2025", int),
                    "area_km2_official": _optional(p, "area_km2_official", float),
                    "geom": _multipolygon(f["geometry"]),
                }
            )
    keys = set().union(*rows)
    return [{k: r.get(k) for k in sorted(keys)} for r in rows]


SUCCESSION_SQL = """
INSERT INTO admin_unit_successions
    (old_unit_id, new_unit_id, old_code, new_code, old_unit_split, share_of_old, share_of_new, source)
SELECT o.id, n.id, o.code, n.code, s.split, a.inter / NULLIF(ST_Area(o.geom::geography), 0),
       a.inter / NULLIF(ST_Area(n.geom::geography), 0), s.source
FROM (SELECT * FROM unnest(CAST(:old AS text[]), CAST(:new AS text[]), CAST(:split AS boolean[]),
                           CAST(:source AS text[])) AS t(old_code, new_code, split, source)) s
JOIN admin_units o ON o.code = s.old_code AND o.level = 'ward' AND o.valid_to = :legacy_end
JOIN admin_units n ON n.code = s.new_code AND n.level = 'ward' AND n.valid_from = :reform
CROSS JOIN LATERAL (SELECT ST_Area(ST_Intersection(o.geom, n.geom)::geography) AS inter) a
"""


def load_successions(conn: Connection, data: Path) -> int:
    rows = _rows(data / "bd_wards_old_to_new_2025.csv")
    conn.execute(text("DELETE FROM admin_unit_successions"))
    result = conn.execute(
        text(SUCCESSION_SQL),
        {
            "old": [r["old_gso_code"] for r in rows],
            "new": [r["new_gso_code"] for r in rows],
            "split": [r["old_unit_split"] == "yes" for r in rows],
            "source": [r["source"] for r in rows],
            "legacy_end": LAST_LEGACY_DAY,
            "reform": REFORM_DAY,
        },
    )
    return int(result.rowcount)


def estate_rows(data: Path) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The parks and clusters (one row per sources-table id, then the parks made from a pass-3 point) and
    the sources table itself."""
    sources = _rows(data / "bd_industrial_parks_sources.csv")
    districts = {f["properties"]["name"]: f["properties"]["gso_code"] for f in _features(data / located.DISTRICTS)}
    points = {f["properties"]["park_id"]: f for f in _features(data / located.FIRST_PASS_POINTS)}
    sites = {p.park: p for p in located.park_points(data) if p.use == "site"}
    rows = []
    for code, estate in parks.group_estates(sources, ESTATE_KINDS).items():
        record = parks.estate_record(estate, districts)
        record["footprint"] = None
        if code in points and code in sites:
            raise LoadError(f"park {code} has a site point in two files")
        if code in points:
            _first_pass_location(record, points[code])
        elif code in sites:
            _pass3_location(record, sites[code])
        else:
            record |= {"geom": None, "geometry_quality": "none", "geometry_note": "no sourced location"}
            record |= {"location_kind": None, "location_confidence": None}
        rows.append(record)
    taken = {s["park_id"] for s in sources} | set(points)
    for park in located.new_parks(data):
        if park.point.park in taken:
            raise LoadError(f"park {park.point.park} is made from a point but already has a row or a site point")
        record = park.record()
        record["footprint"] = None
        _pass3_location(record, park.point)
        rows.append(record)
    return rows, sources


def _first_pass_location(record: dict[str, Any], point: dict[str, Any]) -> None:
    """A bounding-box centre of the park's OSM area (first pass, PROVENANCE.md §6)."""
    p = point["properties"]
    record["geom"] = _wkb(shape(point["geometry"]))
    record["geometry_quality"] = "approximate"
    record["geometry_note"] = p["geometry_quality"]
    record["location_kind"] = f"centre of the bounding box of the park's OSM landuse=industrial area ({p['osm_ref']})"
    record["location_confidence"] = "fair"
    record["source"] += f"; location: {p['source']}"
    record["license"] += f"; location: {p['license']}"


def _pass3_location(record: dict[str, Any], point: located.ParkPoint) -> None:
    """A named OSM object at or in the park (third pass, PROVENANCE.md §12): not the park's centre."""
    record["geom"] = _wkb(Point(point.lon, point.lat))
    record["geometry_quality"] = "approximate"
    record["geometry_note"] = point.point_kind
    record["location_kind"] = point.kind
    record["location_confidence"] = point.confidence
    record["source"] += f"; location: OSM node/{point.node} ({point.url}), {located.POINT_PUBLISHER}"
    record["license"] += f"; location: {located.POINT_LICENCE}"


def transport_rows(data: Path) -> list[dict[str, Any]]:
    normalised = yaml.safe_load((data / "bd_transport_projects_normalised.yaml").read_text(encoding="utf-8"))
    lines = {f["properties"]["ref"] or "RAIL_NS": f for f in _features(data / "bd_roads_national_coarse.geojson")}
    schematic = located.schematic_lines(data)
    if set(lines) & set(schematic):
        raise LoadError(f"projects with both a coarse and a schematic line: {sorted(set(lines) & set(schematic))}")
    rows = []
    for r in _rows(data / "bd_transport_projects.csv"):
        extra = normalised[r["id"]]
        row = _transport(r["id"], r["name_vi"], r["name_ascii"], r["name_en"], extra, r, lines.pop(r["id"], None))
        if r["id"] in schematic:
            _schematic(row, schematic.pop(r["id"]))
        rows.append(row)
    if schematic:
        raise LoadError(f"waypoints of projects with no row: {sorted(schematic)}")
    for code, line in lines.items():  # sourced lines with no project row: existing national links
        p = line["properties"]
        extra = {"kind": "rail" if code == "RAIL_NS" else "national highway", "status": "existing"}
        rows.append(_transport(code, p["name"], p["name_ascii"], p["name_en"], extra, None, line))
    return rows


def _transport(
    code: str,
    name: str,
    name_ascii: str,
    name_en: str,
    extra: dict[str, Any],
    row: dict[str, str] | None,
    line: dict[str, Any] | None,
) -> dict[str, Any]:
    geom = MultiLineString(list(shape(line["geometry"]).geoms)) if line else None
    sources = [row["sources"]] if row else []
    licenses = ["facts quoted with citation"] if row else []
    if line:
        sources.append(f"line: {line['properties']['source']}")
        licenses.append(f"line: {line['properties']['license']}")
    return {
        "code": code,
        "name": name,
        "name_ascii": name_ascii,
        "name_en": name_en,
        "kind": extra["kind"],
        "status": extra["status"],
        "status_note": row["status"] if row else None,
        "start_year": extra.get("start_year"),
        "completion_year": extra.get("completion_year"),
        "length_km": extra.get("length_km"),
        "length_note": row["length_or_extent"] if row else None,
        "lanes": extra.get("lanes"),
        "design": row["design"] if row else None,
        "budget_vnd_bn": extra.get("budget_vnd_bn"),
        "geom": _wkb(geom),
        "geometry_quality": "approximate" if line else "none",
        "geometry_note": line["properties"]["geometry_note"] if line else "no sourced geometry yet",
        "accuracy_m": None,
        "geometry_stub": False,
        "geometry_missing": None,
        "source": "; ".join(sources),
        "license": "; ".join(licenses),
    }


def _schematic(row: dict[str, Any], line: located.SchematicLine) -> None:
    """A line through the project's OSM waypoints; the sourced ``length_km`` stays the project's length."""
    row["geom"] = _wkb(line.geometry)
    row["geometry_quality"] = "schematic"
    row["geometry_note"] = line.note()
    row["accuracy_m"] = line.accuracy_m
    row["geometry_stub"] = line.stub
    row["geometry_missing"] = line.missing() or None
    row["source"] += f"; {line.source()}"
    row["license"] += f"; line: {located.POINT_LICENCE}"


def river_rows(data: Path) -> list[dict[str, Any]]:
    codes = {"Saigon River": "SAIGON", "Dong Nai River": "DONGNAI", "Thi Tinh River": "THITINH"}
    rows = []
    for path, kind in (("bd_rivers_wdbii.geojson", "river"), ("bd_river_areas_gshhg.geojson", "river area")):
        for f in _features(data / path):
            p = f["properties"]
            code = codes.get(p["name_en"], "DONGNAI_AREA")
            rows.append(
                {
                    "code": code,
                    "name": p["name"],
                    "name_ascii": p["name_ascii"],
                    "name_en": p["name_en"],
                    "kind": kind,
                    "geom": _wkb(shape(f["geometry"])),
                    "geometry_quality": "approximate",
                    "geometry_note": p["geometry_note"],
                    "source": p["source"],
                    "license": p["license"],
                }
            )
    return rows


def alias_rows() -> list[dict[str, str]]:
    return [
        {"alias": alias, "layer": layer, "feature_code": code}
        for layer, aliases in ALIASES.items()
        for alias, codes in aliases.items()
        for code in codes
    ]


def load_all(settings: Settings, data: Path | None = None) -> Iterator[str]:
    """Upsert every bundled layer in one transaction and say what changed, a line per layer."""
    data = data or settings.layers_dir / "data"
    estates, sources = estate_rows(data)
    parks_rows = [r for r in estates if r["kind"] == "KCN"]
    cluster_rows = [r for r in estates if r["kind"] == "CCN"]
    engine = sync_engine(settings)
    report = []
    try:
        with engine.begin() as conn:
            report.append(("admin_units", upsert(conn, table_of(AdminUnit), admin_rows(data), ("code", "valid_from"))))
            successions = load_successions(conn, data)
            report.append(("industrial_parks", upsert(conn, table_of(IndustrialPark), parks_rows, ("code",))))
            report.append(("industrial_clusters", upsert(conn, table_of(IndustrialCluster), cluster_rows, ("code",))))
            report.append(
                (
                    "transport_projects",
                    upsert(conn, table_of(TransportProject), transport_rows(data), ("code",)),
                )
            )
            report.append(("rivers", upsert(conn, table_of(River), river_rows(data), ("code",))))
            cited = _load_sources(conn, data, sources, parks_rows + cluster_rows)
            aliases = insert(table_of(NameAlias)).values(alias_rows()).on_conflict_do_nothing()
            conn.execute(aliases)
    finally:
        engine.dispose()
    for layer, (inserted, updated) in report:
        yield f"{layer}: {inserted} inserted, {updated} updated"
    yield f"admin_unit_successions: {successions} rows; feature_sources: {cited} statements"


def _load_sources(conn: Connection, data: Path, sources: list[dict[str, str]], estates: list[dict[str, Any]]) -> int:
    """Every cited statement of the bundled features, replaced as a whole; returns how many."""
    canonical = {}
    for estate in estates:
        cited = [
            s for s in sources if s["park_id"] == estate["code"] and s["area_definition"] == estate["area_definition"]
        ]
        if cited and estate["planned_area_ha"] is not None:
            canonical[estate["code"]] = (cited[0]["source_key"], cited[0]["area_ha"])
    records = parks.source_records(sources, canonical) + located.location_sources(data)
    records += [r for line in located.schematic_lines(data).values() for r in line.source_records()]
    table = table_of(FeatureSource)
    codes = sorted({s["park_id"] for s in sources} | {e["code"] for e in estates})
    lines = sorted({r["feature_code"] for r in records if r["layer"] == "transport_projects"})
    conn.execute(
        delete(table).where(
            or_(
                table.c.feature_code.in_(codes),
                and_(table.c.layer == "transport_projects", table.c.feature_code.in_(lines)),
            )
        )
    )
    conn.execute(insert(table), records)
    return len(records)
