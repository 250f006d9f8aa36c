"""Integrity of the bundled Binh Duong layers, checked against the source files and independent maths."""

from __future__ import annotations

import csv
import json

import pytest
import yaml
from pyproj import Geod
from shapely.geometry import shape
from sqlalchemy import Engine, text

from gis_service.ingest import bundled as bundled_layers
from gis_service.settings import PROJECT_ROOT, Settings
from tests.conftest import scalar

DATA = PROJECT_ROOT / "layers" / "data"
GEOD = Geod(ellps="WGS84")


def _area_ha(geojson: dict) -> float:  # type: ignore[type-arg]
    return abs(GEOD.geometry_area_perimeter(shape(geojson))[0]) / 10_000


def test_unit_counts_per_level_and_period(bundled: Engine) -> None:
    with bundled.connect() as conn:
        rows = dict(
            conn.execute(
                text(
                    "SELECT level || ':' || CASE WHEN valid_from IS NULL THEN 'legacy' ELSE 'new' END, count(*) "
                    "FROM admin_units GROUP BY 1"
                )
            ).all()
        )
    assert rows == {"province:legacy": 1, "district:legacy": 9, "ward:legacy": 91, "ward:new": 36}


def test_districts_sum_to_the_province_within_half_a_percent(bundled: Engine) -> None:
    province = scalar(bundled, "SELECT area_ha FROM admin_units WHERE level = 'province'")
    districts = scalar(bundled, "SELECT sum(area_ha) FROM admin_units WHERE level = 'district'")
    assert abs(districts / province - 1) < 0.005  # type: ignore[operator]


def test_province_area_matches_an_independent_geodesic_computation(bundled: Engine) -> None:
    feature = json.loads((DATA / "bd_province_pre2025.geojson").read_text())["features"][0]
    expected = _area_ha(feature["geometry"])
    stored = scalar(bundled, "SELECT area_ha FROM admin_units WHERE level = 'province'")
    assert stored == pytest.approx(expected, rel=0.001)
    assert 269_000 < stored < 270_000  # type: ignore[operator]  # published 2,694-2,696 km²


def test_every_new_ward_intersects_the_province(bundled: Engine) -> None:
    outside = scalar(
        bundled,
        """
        SELECT count(*) FROM admin_units w, admin_units p
        WHERE w.valid_from = '2025-07-01' AND p.level = 'province' AND NOT ST_Intersects(w.geom, p.geom)""",
    )
    assert outside == 0


def test_every_park_in_the_sources_is_present_exactly_once(bundled: Engine) -> None:
    with (DATA / "bd_industrial_parks_sources.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    parks = {r["park_id"] for r in rows if r["kind"] in ("KCN", "complex") and r["park_id"] != "CPLX"}
    use = yaml.safe_load((DATA / "bd_located_pass3.yaml").read_text(encoding="utf-8"))["park_points"].values()
    made = {d["park"] for d in use if d["use"] == "park"}  # parks made from a pass-3 point (PROVENANCE.md §15)
    assert made == {"ST2", "DC"} and not made & parks
    clusters = {r["park_id"] for r in rows if r["kind"] == "CCN"}
    with bundled.connect() as conn:
        got_parks = conn.execute(text("SELECT code FROM industrial_parks")).scalars().all()
        got_clusters = conn.execute(text("SELECT code FROM industrial_clusters")).scalars().all()
        statements = dict(conn.execute(text("SELECT attribute, count(*) FROM feature_sources GROUP BY 1")).all())
    assert sorted(got_parks) == sorted(parks | made)
    assert sorted(got_clusters) == sorted(clusters)
    assert statements.pop("area_ha") + statements.pop("status") == len(rows) + len(made)  # + the §6 gap line
    with (DATA / "bd_transport_waypoints_osm.csv").open(encoding="utf-8") as f:
        waypoints = len(list(csv.DictReader(f)))
    # 4 first-pass site points, 6 third-pass site points and 2 corroborations of VSIP I; every waypoint.
    assert statements == {"location": 12, "waypoint": waypoints}


def test_conflicting_figures_are_all_kept_and_one_is_canonical(bundled: Engine) -> None:
    with bundled.connect() as conn:
        kim_huy = conn.execute(
            text("SELECT value_num, is_canonical FROM feature_sources WHERE feature_code = 'KH' ORDER BY value_num")
        ).all()
        planned = conn.execute(text("SELECT planned_area_ha FROM industrial_parks WHERE code = 'KH'")).scalar()
    assert [v for v, _ in kim_huy] == [172.0, 237.0]
    assert sum(1 for _, c in kim_huy if c) == 1
    assert planned in (172.0, 237.0)
    assert dict(kim_huy)[planned] is True


def test_no_invented_locations(bundled: Engine) -> None:
    with bundled.connect() as conn:
        located = set(conn.execute(text("SELECT code FROM industrial_parks WHERE geom IS NOT NULL")).scalars())
        unlocated_quality = set(
            conn.execute(text("SELECT geometry_quality FROM industrial_parks WHERE geom IS NULL")).scalars()
        )
        lines = dict(
            conn.execute(
                text("SELECT code, geometry_quality || ':' || ST_GeometryType(geom) FROM transport_projects")
            ).all()
        )
        unlocated_lines = set(
            conn.execute(text("SELECT geometry_quality FROM transport_projects WHERE geom IS NULL")).scalars()
        )
    points = {
        f["properties"]["park_id"]
        for f in json.loads((DATA / "bd_industrial_parks_points.geojson").read_text())["features"]
    }
    sites = yaml.safe_load((DATA / "bd_located_pass3.yaml").read_text(encoding="utf-8"))["park_points"].values()
    assert located == points | {s["park"] for s in sites if s["use"] in ("site", "park")}
    assert len(located) == 10
    assert unlocated_quality == {"none"}
    assert {c: q for c, q in lines.items() if q} == {
        "QL13": "approximate:ST_MultiLineString",
        "QL1A": "approximate:ST_MultiLineString",
        "RAIL_NS": "approximate:ST_MultiLineString",
        "RR3": "schematic:ST_MultiLineString",
        "RR4": "schematic:ST_MultiLineString",
        "MPTV": "schematic:ST_MultiLineString",
        "CT_TDM_CT": "schematic:ST_MultiLineString",
    }
    assert unlocated_lines == {"none"}


def test_every_bundled_feature_carries_source_and_quality(bundled: Engine) -> None:
    for table in ("admin_units", "industrial_parks", "industrial_clusters", "transport_projects", "rivers"):
        missing = scalar(bundled, f"SELECT count(*) FROM {table} WHERE source = '' OR geometry_quality = ''")
        assert missing == 0, table


def test_successions_carry_area_shares_that_add_up(bundled: Engine) -> None:
    with bundled.connect() as conn:
        rows = conn.execute(
            text("SELECT old_code, sum(share_of_old) FROM admin_unit_successions GROUP BY old_code")
        ).all()
    assert len(rows) == 91
    totals = sorted(float(s) for _, s in rows)
    # Shares of each old ward over its successors: near 1 except where the two sources' lines differ.
    assert totals[len(totals) // 2] > 0.95
    assert all(0 < t <= 1.01 for t in totals[5:])


SOURCES_DIGEST = (
    "SELECT md5(string_agg(concat_ws('|', layer, feature_code, attribute, value_num, value_text, url, is_canonical), "
    "'#' ORDER BY layer, feature_code, attribute, source_key, value_text)) FROM feature_sources"
)


def test_reloading_changes_nothing(bundled: Engine, migrated: Settings) -> None:
    # Other tests of the session edit bundled rows; a first load brings them back to the files, and a second
    # load must then find nothing to do.
    list(bundled_layers.load_all(migrated))
    with bundled.connect() as conn:
        before = dict(conn.execute(text("SELECT layer, version FROM layer_versions")).all())
    sources = scalar(bundled, SOURCES_DIGEST)
    lines = list(bundled_layers.load_all(migrated))
    assert all(", 0 inserted, 0 updated" in f", {line.split(': ', 1)[1]}" for line in lines[:-1])
    with bundled.connect() as conn:
        assert dict(conn.execute(text("SELECT layer, version FROM layer_versions")).all()) == before
    assert scalar(bundled, SOURCES_DIGEST) == sources
    assert scalar(bundled, "SELECT count(*) FROM admin_units") == 137
