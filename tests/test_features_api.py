"""OGC API Features through the real app: paging, filters, CRS, formats, and every kind of bad input."""

from __future__ import annotations

import csv
import io

import orjson
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import Engine, text

from gis_service.crs import to_wgs84
from gis_service.models import VERSIONED_TABLES

ITEMS = "/collections/industrial_parks/items"


def ids(client: TestClient, url: str, **params: object) -> list[str]:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return [f["id"] for f in response.json()["features"]]


def db_codes(engine: Engine, sql: str, **params: object) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(text(sql), params).scalars())


def test_collections_list_every_catalogue_layer_with_extent(client: TestClient) -> None:
    body = client.get("/collections").json()
    by_id = {c["id"]: c for c in body["collections"]}
    assert set(by_id) == set(VERSIONED_TABLES)
    bbox = by_id["admin_units"]["extent"]["spatial"]["bbox"][0]
    assert 106.2 < bbox[0] < 106.4 and 11.4 < bbox[3] < 11.6
    # legacy units have no known start, new ones no end: the interval is open at both ends
    assert by_id["admin_units"]["extent"]["temporal"]["interval"] == [[None, None]]
    items_links = [link for link in by_id["industrial_parks"]["links"] if link["rel"] == "items"]
    assert items_links[0]["type"] == "application/geo+json"


def test_items_page_through_next_links_exactly_once(client: TestClient, bundled: Engine) -> None:
    seen: list[str] = []
    url: str | None = "/collections/admin_units/items?limit=25"
    while url:
        body = client.get(url).json()
        assert body["numberMatched"] == 137
        assert body["numberReturned"] == len(body["features"])
        seen += [str(f["id"]) for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        assert all(link["type"] == "application/geo+json" for link in body["links"] if link["rel"] == "next")
        url = nxt[0] if nxt else None
    assert sorted(seen) == sorted(str(i) for i in db_codes(bundled, "SELECT id FROM admin_units"))


def test_limit_above_the_maximum_is_clamped(client: TestClient) -> None:
    body = client.get("/collections/admin_units/items", params={"limit": 100_000}).json()
    assert body["numberReturned"] == 137


def test_bbox_selects_what_postgis_selects(client: TestClient, bundled: Engine) -> None:
    got = ids(client, "/collections/admin_units/items", bbox="106.70,10.90,106.75,10.95", limit=1000)
    expected = db_codes(
        bundled,
        "SELECT id FROM admin_units WHERE ST_Intersects(geom, ST_MakeEnvelope(106.70, 10.90, 106.75, 10.95, 4326))",
    )
    assert sorted(got) == expected and expected


def test_datetime_picks_the_units_in_force(client: TestClient) -> None:
    before = client.get("/collections/admin_units/items", params={"datetime": "2025-06-30", "limit": 1}).json()
    after = client.get("/collections/admin_units/items", params={"datetime": "2025-07-01", "limit": 1}).json()
    interval = client.get("/collections/admin_units/items", params={"datetime": "2025-01-01/..", "limit": 1}).json()
    assert before["numberMatched"] == 101  # province + 9 districts + 91 wards
    assert after["numberMatched"] == 36
    assert interval["numberMatched"] == 137


def test_property_filter_sortby_and_properties(client: TestClient, bundled: Engine) -> None:
    body = client.get(
        ITEMS,
        params={
            "status": "operating",
            "sortby": "-planned_area_ha",
            "properties": "name,planned_area_ha",
            "limit": 100,
        },
    ).json()
    areas = [f["properties"]["planned_area_ha"] for f in body["features"]]
    assert set(body["features"][0]["properties"]) == {"name", "planned_area_ha"}
    known = [a for a in areas if a is not None]
    assert known == sorted(known, reverse=True)
    assert sorted(f["id"] for f in body["features"]) == db_codes(
        bundled, "SELECT code FROM industrial_parks WHERE status = 'operating'"
    )


@pytest.mark.parametrize(
    ("q", "code"), [("Song Than 3", "ST3"), ("sóng thần 3", "ST3"), ("VSIP II", "VSIP2"), ("KCN Bàu Bàng", "BB")]
)
def test_q_ignores_diacritics_and_knows_aliases(client: TestClient, q: str, code: str) -> None:
    assert code in ids(client, ITEMS, q=q)


def test_q_finds_transport_aliases(client: TestClient) -> None:
    assert ids(client, "/collections/transport_projects/items", q="VĐ3") == ["RR3"]


def test_cql2_text_and_json_agree_with_sql(client: TestClient, bundled: Engine) -> None:
    expected = db_codes(
        bundled,
        "SELECT code FROM industrial_parks WHERE planned_area_ha BETWEEN 300 AND 1000 "
        "AND status IN ('operating', 'under construction')",
    )
    text_filter = "planned_area_ha BETWEEN 300 AND 1000 AND status IN ('operating', 'under construction')"
    json_filter = {
        "op": "and",
        "args": [
            {"op": "between", "args": [{"property": "planned_area_ha"}, 300, 1000]},
            {"op": "in", "args": [{"property": "status"}, ["operating", "under construction"]]},
        ],
    }
    assert sorted(ids(client, ITEMS, filter=text_filter)) == expected
    assert (
        sorted(ids(client, ITEMS, filter=orjson.dumps(json_filter).decode(), **{"filter-lang": "cql2-json"}))
        == expected
    )


def test_cql2_spatial_and_temporal(client: TestClient, bundled: Engine) -> None:
    polygon = "POLYGON((106.6 10.85, 106.8 10.85, 106.8 11.0, 106.6 11.0, 106.6 10.85))"
    got = ids(client, ITEMS, filter=f"S_INTERSECTS(geom, {polygon})")
    expected = db_codes(
        bundled, "SELECT code FROM industrial_parks WHERE ST_Intersects(geom, ST_GeomFromText(:p, 4326))", p=polygon
    )
    assert sorted(got) == expected and expected
    new_units = ids(
        client, "/collections/admin_units/items", limit=1000, filter="T_AFTER(valid_from, DATE('2025-06-30'))"
    )
    assert len(new_units) == 36
    assert ids(client, ITEMS, filter="name LIKE '%VSIP%' AND NOT (code = 'VSIP1')")


def test_cql2_accent_and_case_insensitive(client: TestClient) -> None:
    assert ids(client, ITEMS, filter="ACCENTI(name) LIKE ACCENTI('%song than%')")


@pytest.mark.parametrize(
    "crs", ["http://www.opengis.net/def/crs/EPSG/0/3405", "http://www.opengis.net/def/crs/EPSG/0/9210"]
)
def test_output_crs_uses_the_pinned_vn2000_shift(client: TestClient, crs: str) -> None:
    response = client.get(f"{ITEMS}/VSIP1", params={"crs": crs})
    assert response.headers["content-crs"] == f"<{crs}>"
    x, y = response.json()["geometry"]["coordinates"]
    lonlat = client.get(f"{ITEMS}/VSIP1").json()["geometry"]["coordinates"]
    lon, lat = to_wgs84(int(crs.rsplit("/", 1)[1])).transform(x, y)
    assert lon == pytest.approx(lonlat[0], abs=1e-6) and lat == pytest.approx(lonlat[1], abs=1e-6)


def test_epsg4326_is_lat_lon_and_web_mercator_works(client: TestClient) -> None:
    lon, lat = client.get(f"{ITEMS}/VSIP1").json()["geometry"]["coordinates"]
    flipped = client.get(f"{ITEMS}/VSIP1", params={"crs": "http://www.opengis.net/def/crs/EPSG/0/4326"}).json()
    assert flipped["geometry"]["coordinates"] == [lat, lon]
    merc = client.get(f"{ITEMS}/VSIP1", params={"crs": "http://www.opengis.net/def/crs/EPSG/0/3857"}).json()
    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)
    assert merc["geometry"]["coordinates"] == pytest.approx([x, y], abs=0.01)


def test_bbox_crs_in_utm(client: TestClient) -> None:
    to_utm = Transformer.from_crs(4326, 32648, always_xy=True)
    x1, y1 = to_utm.transform(106.72, 10.92)
    x2, y2 = to_utm.transform(106.74, 10.94)
    got = ids(client, ITEMS, bbox=f"{x1},{y1},{x2},{y2}", **{"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/3405"})
    assert "VSIP1" in got


def test_csv_geojsonseq_and_geopackage(client: TestClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(client.get(ITEMS, params={"f": "csv"}).text))}
    assert len(rows) == 36
    assert rows["VSIP1"]["geometry_wkt"].startswith("POINT(106.7")
    assert rows["RIV"]["geometry_wkt"] == ""
    seq = client.get(ITEMS, params={"f": "geojsonseq"})
    records = [r for r in seq.text.split("\x1e") if r.strip()]
    assert seq.headers["content-type"].startswith("application/geo+json-seq") and len(records) == 36
    gpkg = client.get(ITEMS, params={"f": "gpkg", "status": "operating"})
    path = tmp_path / "parks.gpkg"
    path.write_bytes(gpkg.content)
    import pyogrio

    frame = pyogrio.read_dataframe(path)
    operating = client.get(ITEMS, params={"status": "operating"}).json()["numberMatched"]
    assert len(frame) == operating


def test_features_without_location_are_listed_with_null_geometry(client: TestClient) -> None:
    feature = client.get("/collections/transport_projects/items/HCM_CTDH").json()
    assert feature["geometry"] is None and feature["properties"]["kind"] == "national highway"


def test_head_and_cors(client: TestClient) -> None:
    head = client.head(ITEMS)
    assert head.status_code == 200 and head.content == b""
    cors = client.get(ITEMS, headers={"Origin": "http://example.org"})
    assert cors.headers["access-control-allow-origin"] == "*"


def test_queryables_are_json_schema(client: TestClient) -> None:
    body = client.get("/collections/industrial_parks/queryables").json()
    assert body["properties"]["planned_area_ha"]["type"] == "number"
    assert body["properties"]["geom"]["x-ogc-role"] == "primary-geometry"


BAD = [
    ("bbox", {"bbox": "1,2,3"}, 400),
    ("bbox", {"bbox": "1,2,3,4,5"}, 400),
    ("bbox", {"bbox": "107,11,106,10"}, 400),
    ("bbox", {"bbox": "106,10,200,11"}, 400),
    ("bbox", {"bbox": "nan,10,107,11"}, 400),
    ("bbox", {"bbox": "a,b,c,d"}, 400),
    ("limit", {"limit": "0"}, 400),
    ("limit", {"limit": "-5"}, 400),
    ("limit", {"limit": "ten"}, 400),
    ("offset", {"offset": "-1"}, 400),
    ("crs", {"crs": "EPSG:99999"}, 400),
    ("bbox-crs", {"bbox-crs": "urn:nope", "bbox": "1,2,3,4"}, 400),
    ("datetime", {"datetime": "yesterday"}, 400),
    ("datetime", {"datetime": "2025-01-01/2020-01-01"}, 400),
    ("filter", {"filter": "nosuchprop = 1"}, 400),
    ("filter", {"filter": "status = "}, 400),
    ("filter", {"filter": "(" * 3000 + "status = 'x'" + ")" * 3000}, 400),
    ("filter", {"filter": " OR ".join(f"code = 'X{i}'" for i in range(1500))}, 400),
    ("filter", {"filter": "1; DROP TABLE industrial_parks"}, 400),
    ("filter-lang", {"filter": "status = 'x'", "filter-lang": "sql"}, 400),
    ("filter", {"filter": "planned_area_ha = 'abc'"}, 400),
    ("sortby", {"sortby": "nosuch"}, 400),
    ("sortby", {"sortby": "name; DROP TABLE x"}, 400),
    ("properties", {"properties": "name,secret"}, 400),
    ("established_year", {"established_year": "20x5"}, 400),
    ("evil", {"evil": "1"}, 400),
    ("f", {"f": "xml"}, 400),
    # strict parsers: no underscores, no non-ASCII digits, no ISO week dates, nothing beyond 64 bits
    ("established_year", {"established_year": "1_06"}, 400),
    ("established_year", {"established_year": "\u0661\u0669\u0669\u0666"}, 400),
    ("established_year", {"established_year": "36893488147419103232"}, 400),
    ("planned_area_ha", {"planned_area_ha": "1_0"}, 400),
    ("limit", {"limit": "1_0"}, 400),
    ("bbox", {"bbox": "1_06,10,107,11"}, 400),
    ("datetime", {"datetime": "2020-W01-1"}, 400),
    ("datetime", {"datetime": "2020-001"}, 400),
    ("bbox-crs", {"bbox": "1,2,3,4", "bbox-crs": "EPSG:4_326"}, 400),
    ("bbox", {"bbox": "-1e30,-1e30,1e30,1e30", "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/3405"}, 400),
    ("properties", {"properties": ",".join(f"p{i}" for i in range(51))}, 400),
    ("q", {"q": "a\x00b"}, 400),
    ("status", {"status": "a\x00b"}, 400),
    ("filter", {"filter": "name = 'a\x00b'"}, 400),
    ("filter", {"filter": "geom = 5"}, 400),
    ("filter", {"filter": "name = planned_area_ha"}, 400),
    ("filter", {"filter": "established_year = 36893488147419103232"}, 400),
    ("filter", {"filter": "name LIKE 'abc\\'"}, 400),
    ("filter", {"filter": "S_INTERSECTS(geom)"}, 400),
    ("filter", {"filter": "S_INTERSECTS(geom, POLYGON EMPTY)"}, 400),
    ("filter", {"filter": "S_INTERSECTS(geom, POLYGON((106 10, 107 10, 107 11, 106 11)))"}, 400),
    ("filter", {"filter": "T_AFTER(established_year, DATE('2020-01-01'))"}, 400),
    ("filter", {"filter": "{}", "filter-lang": "cql2-json"}, 400),
    ("filter", {"filter": '{"op": "nosuch", "args": [1]}', "filter-lang": "cql2-json"}, 400),
    ("filter", {"filter": "NOT " * 4500 + "planned_area_ha > 1"}, 400),
]


@pytest.mark.parametrize(("parameter", "params", "status"), BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_is_a_clear_problem(client: TestClient, parameter: str, params: dict, status: int) -> None:  # type: ignore[type-arg]
    response = client.get(ITEMS, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["parameter"] == parameter


def test_datetime_on_a_layer_without_time_is_refused(client: TestClient) -> None:
    response = client.get("/collections/rivers/items", params={"datetime": "2020-01-01"})
    assert response.status_code == 400 and response.json()["parameter"] == "datetime"


def test_a_boolean_property_compares_with_booleans_only(client: TestClient) -> None:
    response = client.get("/collections/parcels/items", params={"filter": "synthetic = 'maybe'"})
    assert response.status_code == 400 and response.json()["parameter"] == "filter"
    assert client.get("/collections/parcels/items", params={"filter": "synthetic = TRUE"}).status_code == 200


def test_non_ascii_digits_are_no_feature_id(client: TestClient) -> None:
    assert client.get("/collections/admin_units/items/1").status_code == 200
    response = client.get("/collections/admin_units/items/\u0661")  # Arabic-Indic one
    assert response.status_code == 404 and response.json()["parameter"] == "featureId"


def test_a_feature_id_with_a_slash_is_fetched_through_percent_2f(client: TestClient, bundled: Engine) -> None:
    code = "PZ/2040/Z-01"
    square = "MULTIPOLYGON(((106.70 10.90, 106.71 10.90, 106.71 10.91, 106.70 10.91, 106.70 10.90)))"
    with bundled.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO planning_zones (code, plan, zone_type, geom, geometry_quality, source) "
                "VALUES (:code, 'test', 'industrial', ST_GeomFromText(:wkt, 4326), 'schematic', 'test')"
            ),
            {"code": code, "wkt": square},
        )
    try:
        response = client.get("/collections/planning_zones/items/PZ%2F2040%2FZ-01")
        assert response.status_code == 200, response.text
        assert response.json()["id"] == code
    finally:
        with bundled.begin() as conn:
            conn.execute(text("DELETE FROM planning_zones WHERE code = :code"), {"code": code})


def test_offset_beyond_the_end_is_an_empty_page(client: TestClient) -> None:
    body = client.get(ITEMS, params={"offset": 10_000}).json()
    assert body["numberReturned"] == 0 and body["features"] == []


@pytest.mark.parametrize(
    "url",
    [
        "/collections/nope/items",
        "/collections/nope",
        f"{ITEMS}/NOPE",
        "/collections/admin_units/items/abc",
        "/collections/industrial_parks.x/items",
    ],
)
def test_unknown_collection_or_feature_is_404(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_sql_in_q_is_just_text(client: TestClient, bundled: Engine) -> None:
    before = db_codes(bundled, "SELECT code FROM industrial_parks")
    body = client.get(ITEMS, params={"q": "'; DROP TABLE industrial_parks; --"}).json()
    assert body["numberMatched"] == 0
    assert db_codes(bundled, "SELECT code FROM industrial_parks") == before


def test_located_features_come_first_so_clients_see_the_geometry_type(client: TestClient) -> None:
    first = client.get(ITEMS, params={"limit": 3}).json()["features"]
    assert all(f["geometry"] is not None for f in first)


def test_gdal_date_only_datetime_is_understood(client: TestClient) -> None:
    body = client.get("/collections/admin_units/items", params={"datetime": "2025-07-01T/..", "limit": 1}).json()
    assert body["numberMatched"] == 36


def test_collection_links_to_its_tiles_and_map(client: TestClient) -> None:
    links = client.get("/collections/industrial_parks").json()["links"]
    hrefs = {link["rel"] + ":" + link["type"]: link["href"] for link in links}
    tiles = hrefs["http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector:application/json"]
    assert client.get(tiles.replace("http://testserver", "")).status_code == 200
    landing = {link["rel"]: link["href"] for link in client.get("/").json()["links"]}
    for rel in ("http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes", "stylesheet"):
        assert client.get(landing[rel].replace("http://testserver", "")).status_code == 200
