"""The third located pass: park site points and schematic transport lines, checked against the source files
(read here independently of the loader), the province and its legacy districts, and the licence notes."""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import morecantile
import pytest
import yaml
from fastapi.testclient import TestClient
from pyproj import Geod
from shapely import wkb
from shapely.geometry import Point, shape
from sqlalchemy import Engine, text

from gis_service.errors import LoadError
from gis_service.ingest import located
from gis_service.settings import PROJECT_ROOT, Settings
from tests.chromium import assert_local
from tests.test_maps_browser import open_map, rasters_dir, server, set_year

__all__ = ["rasters_dir", "server"]  # the map server of test_maps_browser

DATA = PROJECT_ROOT / "layers" / "data"
GEOD = Geod(ellps="WGS84")
WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")
NODE = re.compile(r"openstreetmap\.org/node/(\d+)")
USE = yaml.safe_load((DATA / "bd_located_pass3.yaml").read_text(encoding="utf-8"))
SITES = {"VSIP2A", "VSIP3", "NTU", "NTUMR"}
FIRST_PASS = {"VSIP1", "VSIP2", "ST1", "PT"}
#: Parks made from their pass-3 point: code -> (OSM node, legacy district the point lies in, as the brief checks).
NEW_PARKS = {"ST2": ("4615317990", "Thành phố Dĩ An"), "DC": ("4730574925", "Huyện Bắc Tân Uyên")}
PARK_POINTS = "SELECT code, ST_X(geom) AS x, ST_Y(geom) AS y FROM industrial_parks WHERE geom IS NOT NULL"


def rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def features(name: str) -> list[dict[str, Any]]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))["features"]  # type: ignore[no-any-return]


def pass3_by_node() -> dict[str, dict[str, str]]:
    return {NODE.search(r["source_url_or_repo_path"]).group(1): r for r in rows(located.PASS3_POINTS)}  # type: ignore[union-attr]


def waypoints() -> dict[str, list[dict[str, str]]]:
    codes = USE["transport_waypoints"]["projects"]
    out: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows(located.WAYPOINTS):
        out[codes[r["project"]]].append(r)
    return {code: sorted(points, key=lambda r: int(r["seq"])) for code, points in out.items()}


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


def db_rows(engine: Engine, sql: str, **params: object) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


# ---- parks ------------------------------------------------------------------------------------------


def test_located_parks_are_the_sourced_points_and_nothing_else(bundled: Engine) -> None:
    got = {r["code"]: (r["x"], r["y"]) for r in db_rows(bundled, PARK_POINTS)}
    expected = {
        f["properties"]["park_id"]: tuple(f["geometry"]["coordinates"]) for f in features(located.FIRST_PASS_POINTS)
    }
    for node, decision in USE["park_points"].items():
        if decision["use"] in ("site", "park"):
            row = pass3_by_node()[node]
            expected[decision["park"]] = (float(row["lon"]), float(row["lat"]))
    assert set(got) == FIRST_PASS | SITES | set(NEW_PARKS) == set(expected)
    for code, xy in got.items():
        assert xy == pytest.approx(expected[code], abs=1e-9), code
    assert db_rows(bundled, "SELECT count(*) AS n FROM industrial_parks")[0]["n"] == 36


def test_every_new_point_lies_in_the_province_and_in_its_parks_legacy_district(bundled: Engine) -> None:
    province = shape(features("bd_province_pre2025.geojson")[0]["geometry"])
    districts = {f["properties"]["gso_code"]: shape(f["geometry"]) for f in features("bd_districts_pre2025.geojson")}
    by_name = {f["properties"]["name"]: f["properties"]["gso_code"] for f in features("bd_districts_pre2025.geojson")}
    named = {r["park_id"]: r["district_pre2025"].split(";")[0].strip() for r in rows("bd_industrial_parks_sources.csv")}
    named |= {code: district for code, (_, district) in NEW_PARKS.items()}
    checked = 0
    for park in db_rows(bundled, PARK_POINTS + " AND code = ANY(:codes)", codes=sorted(SITES | set(NEW_PARKS))):
        here = Point(park["x"], park["y"])
        assert province.contains(here), park["code"]
        assert districts[by_name[named[park["code"]]]].contains(here), park["code"]
        assert [c for c, g in districts.items() if g.contains(here)] == [by_name[named[park["code"]]]]
        checked += 1
    assert checked == len(SITES) + len(NEW_PARKS)
    # The database agrees: each located park's point lies in the district polygon of its district_code.
    outside = db_rows(
        bundled,
        "SELECT p.code FROM industrial_parks p JOIN admin_units d ON d.level = 'district' AND d.code = p.district_code "
        "WHERE p.geom IS NOT NULL AND NOT ST_Contains(d.geom, p.geom)",
    )
    assert outside == []


def test_quality_kind_and_weak_confidence_follow_the_file(bundled: Engine) -> None:
    parks = {r["code"]: r for r in db_rows(bundled, "SELECT * FROM industrial_parks WHERE geom IS NOT NULL")}
    for node, decision in USE["park_points"].items():
        if decision["use"] not in ("site", "park"):
            continue
        park, row = parks[decision["park"]], pass3_by_node()[node]
        assert park["geometry_quality"] == "approximate"
        assert park["location_kind"] == decision["kind"] and park["geometry_note"] == row["point_kind"]
        assert park["location_confidence"] == ("weak" if "(weak)" in row["point_kind"] else "fair")
        assert f"node/{node}" in park["source"] and "ODbL" in park["license"]
    assert parks["NTUMR"]["location_confidence"] == "weak"
    assert parks["DC"]["location_confidence"] == "weak" and parks["ST2"]["location_confidence"] == "fair"
    assert {parks[c]["location_confidence"] for c in FIRST_PASS} == {"fair"}
    unlocated = db_rows(
        bundled, "SELECT DISTINCT location_confidence, location_kind FROM industrial_parks WHERE geom IS NULL"
    )
    assert unlocated == [{"location_confidence": None, "location_kind": None}]


def test_vsip1_corroborations_are_sources_not_points(bundled: Engine) -> None:
    cited = db_rows(
        bundled,
        "SELECT url, is_canonical, value_text FROM feature_sources "
        "WHERE layer = 'industrial_parks' AND feature_code = 'VSIP1' AND attribute = 'location' ORDER BY url",
    )
    corroborating = {n for n, d in USE["park_points"].items() if d["use"] == "corroborates"}
    assert {c["url"].rsplit("/", 1)[1] for c in cited if not c["is_canonical"]} == corroborating
    assert [c["url"] for c in cited if c["is_canonical"]] == ["https://www.openstreetmap.org/way/291267149"]
    weak = pass3_by_node()["4120153889"]
    assert any(c["value_text"].startswith(f"POINT({weak['lon']} {weak['lat']})") for c in cited)
    # The site point is still the first pass's one, not a corroborating node.
    vsip1 = db_rows(bundled, PARK_POINTS + " AND code = 'VSIP1'")[0]
    assert (vsip1["x"], vsip1["y"]) == (106.7266241, 10.9312292)


def test_parks_made_from_a_point_carry_both_statements_and_no_invented_figure(bundled: Engine) -> None:
    assert {d["park"] for d in USE["park_points"].values() if d["use"] == "park"} == set(NEW_PARKS)
    assert all(d["use"] != "unmatched" for d in USE["park_points"].values())  # every pass-3 row is loaded now
    gap = re.search(
        r"^Gaps: no sourced area was found for (.+?)\n\n", (DATA / "PROVENANCE.md").read_text(), re.M | re.S
    )
    listed = [name.strip() for name in " ".join(gap.group(1).split()).split(",")]  # type: ignore[union-attr]
    by_name = {f["properties"]["name"]: f["properties"]["gso_code"] for f in features("bd_districts_pre2025.geojson")}
    assert not {r["park_id"] for r in rows("bd_industrial_parks_sources.csv")} & set(NEW_PARKS)
    for code, (node, district) in NEW_PARKS.items():
        row = pass3_by_node()[node]
        park = db_rows(bundled, "SELECT * FROM industrial_parks WHERE code = :c", c=code)[0]
        assert park["name"] == row["name_vi"] and park["kind"] == "KCN"
        assert park["name_ascii"] == {"ST2": "Khu cong nghiep Song Than 2", "DC": "Khu cong nghiep Dat Cuoc"}[code]
        assert (park["district_code"], park["district_name"]) == (by_name[district], district)
        assert park["status"] == "unknown" and "no cited statement" in park["status_note"]
        unset = ("planned_area_ha", "leased_area_ha", "occupancy_pct", "established_year", "horizon_year", "developer")
        assert [park[c] for c in unset] == [None] * len(unset), code
        assert park["geometry_quality"] == "approximate" and f"node/{node}" in park["source"]
        assert "PROVENANCE.md §6" in park["source"] and "ODbL" in park["license"]
        cited = db_rows(
            bundled,
            "SELECT attribute, value_num, value_text, url, source_key, is_canonical, note FROM feature_sources "
            "WHERE layer = 'industrial_parks' AND feature_code = :c ORDER BY attribute",
            c=code,
        )
        assert [c["attribute"] for c in cited] == ["area_ha", "location"]
        area, location = cited
        assert area["value_num"] is None and area["source_key"] == "PROVENANCE_6_GAPS" and not area["is_canonical"]
        assert area["note"].startswith("Gaps: no sourced area was found for")
        assert row["name_vi"].removeprefix("Khu công nghiệp ") in listed
        assert location["url"] == f"https://www.openstreetmap.org/node/{node}" and location["is_canonical"]
        assert location["value_text"] == f"POINT({row['lon']} {row['lat']}): {row['point_kind']}"
    # Sóng Thần 1 (the existing point) lies south of the Sóng Thần 2 address point, as the park's neighbours say.
    st1 = db_rows(bundled, PARK_POINTS + " AND code = 'ST1'")[0]
    st2 = db_rows(bundled, PARK_POINTS + " AND code = 'ST2'")[0]
    assert st1["y"] < st2["y"] and metres((st1["x"], st1["y"]), (st2["x"], st2["y"])) > 3_000


def test_new_parks_change_no_area_total_and_count_in_statistics(client: TestClient, bundled: Engine) -> None:
    sourced = db_rows(
        bundled, "SELECT sum(planned_area_ha) AS ha FROM industrial_parks WHERE code <> ALL(:c)", c=list(NEW_PARKS)
    )
    body = client.get("/analysis/area-stats", params={"collection": "industrial_parks", "units": "legacy"}).json()
    assert body["total"]["count"] == 36
    assert body["total"]["hectares"] == pytest.approx(sourced[0]["ha"])
    by_unit = {g["unit_code"]: g["count"] for g in body["groups"]}
    assert by_unit["724"] >= 2 and by_unit["726"] >= 2  # Dĩ An: ST1 + ST2 at least; Bắc Tân Uyên: VSIP3 + DC
    item = client.get("/collections/industrial_parks/items/DC").json()
    assert item["properties"]["status"] == "unknown" and item["properties"]["location_confidence"] == "weak"
    assert "ST2" in [
        f["id"]
        for f in client.get("/collections/industrial_parks/items", params={"q": "Song Than 2"}).json()["features"]
    ]
    timeline = client.get("/analysis/timeline", params={"year": 2040}).json()["industrial_parks"]["features"]
    assert {f["code"]: f["state"] for f in timeline if f["code"] in NEW_PARKS} == {"ST2": "unknown", "DC": "unknown"}


def test_loading_twice_leaves_the_new_parks_and_their_sources_as_they_were(migrated: Settings, bundled: Engine) -> None:
    from gis_service.ingest import bundled as bundled_layers

    query = (
        "SELECT p.code, p.name, p.district_code, p.status, ST_AsText(p.geom) AS geom, "
        "(SELECT count(*) FROM feature_sources s WHERE s.layer = 'industrial_parks' AND s.feature_code = p.code) AS n "
        "FROM industrial_parks p WHERE p.code = ANY(:c) ORDER BY p.code"
    )
    before = db_rows(bundled, query, c=list(NEW_PARKS))
    assert [r["n"] for r in before] == [2, 2]
    lines = list(bundled_layers.load_all(migrated))
    assert "industrial_parks: 0 inserted, 0 updated" in lines
    assert db_rows(bundled, query, c=list(NEW_PARKS)) == before


def test_location_columns_are_published_in_json_and_html(client: TestClient) -> None:
    item = client.get("/collections/industrial_parks/items/NTUMR").json()
    assert item["properties"]["location_confidence"] == "weak"
    assert item["properties"]["geometry_quality"] == "approximate"
    assert item["properties"]["location_kind"].startswith("artwork node")
    page = client.get("/collections/industrial_parks/items", params={"f": "html", "limit": 50}).text
    assert "location_confidence" in page and ">weak<" in page and "location_kind" in page
    queryables = client.get("/collections/transport_projects/queryables").json()["properties"]
    assert "schematic" in queryables["geometry_quality"]["enum"]


# ---- transport --------------------------------------------------------------------------------------


def pieces_from_source(points: list[dict[str, str]]) -> list[list[tuple[float, float]]]:
    out: list[list[tuple[float, float]]] = [[]]
    for r in points:
        out[-1].append((float(r["lon"]), float(r["lat"])))
        if "GAP to seq" in r["waypoint_name"]:
            out.append([])
    return out


def line_parts(engine: Engine, code: str) -> list[list[tuple[float, float]]]:
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT ST_AsBinary(geom) FROM transport_projects WHERE code = :c"), {"c": code})
        geom = wkb.loads(bytes(raw.scalar_one()))
    return [list(part.coords) for part in geom.geoms]


def test_ring_road_3_is_exactly_two_pieces_and_the_gap_stays_open(bundled: Engine) -> None:
    parts = line_parts(bundled, "RR3")
    assert len(parts) == 2
    source = pieces_from_source(waypoints()["RR3"])
    assert parts == [[pytest.approx(xy, abs=1e-9) for xy in piece] for piece in source]
    end_of_first, start_of_second = parts[0][-1], parts[1][0]
    assert metres(end_of_first, start_of_second) > 15_000  # the gap no source names the road across
    for a, b in pairwise(parts[0]):
        assert metres(a, b) < 15_000
    for a, b in pairwise(parts[1]):
        assert metres(a, b) < 15_000


def test_no_line_crosses_a_gap_longer_than_its_largest_source_spacing(bundled: Engine) -> None:
    for code, points in waypoints().items():
        pieces = pieces_from_source(points)
        spacings = [metres(a, b) for piece in pieces for a, b in pairwise(piece)]
        drawn = [metres(a, b) for part in line_parts(bundled, code) for a, b in pairwise(part)]
        assert drawn and max(drawn) <= max(spacings) + 1.0, code
        vertices = {(round(x, 7), round(y, 7)) for part in line_parts(bundled, code) for x, y in part}
        assert vertices == {(round(float(r["lon"]), 7), round(float(r["lat"]), 7)) for r in points}, code


def test_schematic_lines_carry_quality_accuracy_stub_and_sourced_length(bundled: Engine) -> None:
    normalised = yaml.safe_load((DATA / "bd_transport_projects_normalised.yaml").read_text(encoding="utf-8"))
    stored = {r["code"]: r for r in db_rows(bundled, "SELECT * FROM transport_projects")}
    for code, points in waypoints().items():
        row = stored[code]
        worst = max(float(re.search(r"accuracy_radius_m=([\d.]+)", r["source"]).group(1)) for r in points)  # type: ignore[union-attr]
        assert row["geometry_quality"] == "schematic"
        assert row["accuracy_m"] == pytest.approx(worst)
        assert row["length_km"] == normalised[code].get("length_km")  # the project's length, not the line's
        assert row["geometry_stub"] is (len(points) == 2)
        assert row["geometry_missing"], code
        assert "ODbL" in row["license"]
    assert [c for c, r in stored.items() if r["geometry_stub"]] == ["CT_TDM_CT"]
    assert "stub" in stored["CT_TDM_CT"]["geometry_note"]
    assert "16.1 km" in stored["RR3"]["geometry_missing"]
    assert stored["QL13"]["geometry_quality"] == "approximate" and stored["QL13"]["accuracy_m"] is None


def test_osm_way_ids_are_kept_in_the_sources(bundled: Engine) -> None:
    for code, points in waypoints().items():
        ways = {w for r in points for w in re.search(r"OSM way\(s\) ([\d,]+)", r["source"]).group(1).split(",")}  # type: ignore[union-attr]
        source = db_rows(bundled, "SELECT source FROM transport_projects WHERE code = :c", c=code)[0]["source"]
        cited = db_rows(
            bundled,
            "SELECT note, value_num FROM feature_sources WHERE layer = 'transport_projects' AND feature_code = :c",
            c=code,
        )
        assert len(cited) == len(points)
        assert ways == {w for c in cited for w in c["note"].removeprefix("OSM way(s) ").split(", ")}
        assert all(f"way/{w}" in source for w in ways), code


def test_web_mercator_copy_and_tiles_carry_the_new_geometries(bundled: Engine, client: TestClient) -> None:
    off = db_rows(
        bundled,
        "SELECT code FROM transport_projects WHERE geometry_quality = 'schematic' "
        "AND NOT ST_Equals(geom_3857, ST_Transform(geom, 3857))",
    )
    assert off == []
    waypoint = waypoints()["RR4"][3]
    tile = WEB_MERCATOR.tile(float(waypoint["lon"]), float(waypoint["lat"]), 10)
    response = client.get(f"/tiles/transport_projects/10/{tile.x}/{tile.y}.pbf")
    assert response.status_code == 200
    found = {
        f["properties"]["code"]: f["properties"]
        for f in mapbox_vector_tile.decode(response.content)["transport_projects"]["features"]
    }
    assert found["RR4"]["geometry_quality"] == "schematic" and found["RR4"]["accuracy_m"] == pytest.approx(2470.1)


# ---- licences and provenance ------------------------------------------------------------------------


def test_attribution_and_provenance_name_odbl_and_every_new_osm_id() -> None:
    attribution = (DATA / "ATTRIBUTION.md").read_text(encoding="utf-8")
    provenance = (DATA / "PROVENANCE.md").read_text(encoding="utf-8")
    for name in (located.PASS3_POINTS, located.WAYPOINTS):
        line = next(li for li in attribution.splitlines() if name in li)
        assert "ODbL" in line and "OpenStreetMap" in line
    loaded_nodes = [n for n, d in USE["park_points"].items() if d["use"] != "unmatched"]
    ways = {
        w for r in rows(located.WAYPOINTS) for w in re.search(r"OSM way\(s\) ([\d,]+)", r["source"]).group(1).split(",")
    }  # type: ignore[union-attr]
    for osm_id in [*loaded_nodes, *ways]:
        assert osm_id in provenance, osm_id
    assert "ODbL" in provenance and "Sóng Thần 1" in provenance


# ---- the loader refuses what it cannot place honestly -----------------------------------------------


def copy_data(tmp_path: Path) -> Path:
    names = (located.PASS3_POINTS, located.WAYPOINTS, located.USE, located.FIRST_PASS_POINTS, located.PROVENANCE)
    for name in (*names, located.DISTRICTS):
        shutil.copy(DATA / name, tmp_path / name)
    return tmp_path


def test_an_undecided_point_row_is_refused(tmp_path: Path) -> None:
    data = copy_data(tmp_path)
    use = yaml.safe_load((data / located.USE).read_text(encoding="utf-8"))
    del use["park_points"]["4131787589"]
    (data / located.USE).write_text(yaml.safe_dump(use, allow_unicode=True), encoding="utf-8")
    with pytest.raises(LoadError, match="4131787589"):
        located.park_points(data)


def test_a_park_is_made_from_a_point_only_where_section_6_names_it_and_the_district_holds_its_point(
    tmp_path: Path,
) -> None:
    data = copy_data(tmp_path)
    assert {p.point.park: p.district_code for p in located.new_parks(data)} == {"DC": "726", "ST2": "724"}
    use = yaml.safe_load((data / located.USE).read_text(encoding="utf-8"))
    use["park_points"]["4615317990"]["district"] = "Thành phố Thuận An"
    (data / located.USE).write_text(yaml.safe_dump(use, allow_unicode=True), encoding="utf-8")
    with pytest.raises(LoadError, match=r"ST2: OSM node 4615317990 lies in .*Dĩ An"):
        located.new_parks(data)
    use["park_points"]["4615317990"]["district"] = "Thành phố Dĩ An"
    (data / located.USE).write_text(yaml.safe_dump(use, allow_unicode=True), encoding="utf-8")
    provenance = (data / located.PROVENANCE).read_text(encoding="utf-8")
    (data / located.PROVENANCE).write_text(provenance.replace("Bình Đường, Đất Cuốc, An Tây", "Bình Đường, An Tây"))
    with pytest.raises(LoadError, match="DC: 'Đất Cuốc' is not in the gap list"):
        located.new_parks(data)


def test_a_gap_is_never_bridged_and_a_lone_waypoint_is_no_line(tmp_path: Path) -> None:
    data = copy_data(tmp_path)
    assert len(located.schematic_lines(data)["RR3"].pieces) == 2
    text_ = (data / located.WAYPOINTS).read_text(encoding="utf-8")
    moved = text_.replace(
        "Dĩ An/Bình An – on OSM VĐ3 main line (schematic); GAP to seq 3", "Dĩ An/Bình An – x (schematic); GAP to seq 4"
    )
    (data / located.WAYPOINTS).write_text(moved, encoding="utf-8")
    with pytest.raises(LoadError, match="not the next"):
        _ = located.schematic_lines(data)["RR3"].pieces
    lone = text_.replace(
        "Thuận An/Bình Chuẩn – on OSM VĐ3 frontage road at Bình Chuẩn junction (schematic)",
        "x (schematic); GAP to seq 4",
    )
    (data / located.WAYPOINTS).write_text(lone, encoding="utf-8")
    with pytest.raises(LoadError, match="fewer than two"):
        _ = located.schematic_lines(data)["RR3"].pieces


# ---- the planning map -------------------------------------------------------------------------------


def test_map_draws_schematic_lines_dashed_and_approximate_points_thin(migrated: Settings, bundled: Engine) -> None:
    from gis_service.analysis.api import Planner
    from gis_service.maps import MapRequest, build_map, fetch, render, style
    from tests.test_maps import page_data

    with Planner(migrated) as planner, planner.engine.connect() as conn:
        data = fetch(conn, planner.catalog, MapRequest(year=2030))
    html = render(build_map(data))
    layers = {layer["role"]: layer for layer in page_data(html)["layers"]}
    lines = {f["properties"]["code"]: f["properties"] for f in layers["state:transport_projects"]["data"]["features"]}
    for code in ("RR3", "RR4", "MPTV", "CT_TDM_CT"):
        assert lines[code]["pinned"] == style.SCHEMATIC and lines[code]["style"]["dashArray"] == "14 5 2 5"
        assert "schematic" in lines[code]["popup"] and "Accuracy (m)" in lines[code]["popup"]
    assert "pinned" not in lines["QL13"] and "dashArray" not in lines["QL13"]["style"]
    assert "Thủ Biên" in lines["RR4"]["popup"]  # what is not located, in the popup
    parks = {f["properties"]["code"]: f["properties"] for f in layers["state:industrial_parks"]["data"]["features"]}
    assert {p["style"]["weight"] for p in parks.values()} == {style.POINT_WEIGHTS["approximate"]}
    assert parks["NTUMR"]["style"]["fillColor"] == style.WEAK_FILL != parks["NTU"]["style"]["fillColor"]
    assert "weak" in parks["NTUMR"]["popup"] and "Location confidence" in parks["NTUMR"]["popup"]
    legend = html[html.index('class="gis-panel gis-legend"') :]
    assert "schematic line: straight segments through OSM waypoints" in legend
    assert "approximate site point" in legend and "weak location" in legend
    titles = [layer["nameHtml"] for layer in layers.values()]
    assert "Transport projects (7 of 11 located)" in titles and "Industrial parks (KCN) (10 of 36 located)" in titles


def test_maplibre_style_draws_schematic_lines_dashed(client: TestClient) -> None:
    style_json = client.get("/styles/planning.json").json()
    by_id = {layer["id"]: layer for layer in style_json["layers"]}
    dashed = by_id["transport-schematic"]
    assert dashed["filter"] == ["==", ["get", "geometry_quality"], "schematic"] and dashed["paint"]["line-dasharray"]
    assert by_id["transport"]["filter"] == ["!=", ["get", "geometry_quality"], "schematic"]
    assert by_id["transport"]["paint"]["line-color"] == dashed["paint"]["line-color"]  # the catalogue palette


@pytest.mark.clients
def test_schematic_lines_stay_dashed_through_the_years_in_a_browser(browser: Any, server: str) -> None:
    page, seen = open_map(browser, f"{server}/maps/planning-2040?year=2030")
    looks = (
        "() => GisMaps.maps[0]._gis.layers['state:transport_projects'].getLayers()"
        ".map(l => [l.feature.properties.code, l.options.dashArray])"
    )
    for year in (2020, 2030, 2040):
        set_year(page, year)
        dashes = dict(page.evaluate(looks))
        assert {dashes[c] for c in ("RR4", "MPTV") if c in dashes} == {"14 5 2 5"}, (year, dashes)
        assert dashes.get("QL13") != "14 5 2 5"
    parks = (
        "() => GisMaps.maps[0]._gis.layers['state:industrial_parks'].getLayers()"
        ".map(l => [l.feature.properties.code, l.options.weight, l.options.fillColor])"
    )
    drawn = {code: (weight, fill) for code, weight, fill in page.evaluate(parks)}
    assert drawn["NTUMR"] == (1.2, "#ffffff") and drawn["NTU"][0] == 1.2 and drawn["NTU"][1] != "#ffffff"
    assert_local(seen, server)
    page.close()
