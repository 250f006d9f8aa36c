"""GDAL/OGR as a client: Debian's ``ogrinfo``/``ogr2ogr`` (GDAL 3.6) and the GDAL inside pyogrio (3.12)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pyogrio
import pytest
from sqlalchemy import Engine, Integer, func, literal, select

from gis_service.catalog import Catalog, LayerSpec
from tests.clients.conftest import GDAL_HTTP_TIMEOUT_S, db_ids, layer_table, require_executable, run
from tests.serverproc import get_json

pytestmark = pytest.mark.clients

#: Small enough that admin_units (137 features) takes many pages, so ``next`` links are followed.
PAGE_SIZE = 7
GDAL_ENV = {"GDAL_HTTP_TIMEOUT": str(GDAL_HTTP_TIMEOUT_S), "CPL_DEBUG": "OFF"}
#: VSIP I (Thuan An), CRS84.
VSIP_I = (106.7266, 10.9312)
#: The 2025 reform: units valid from this day are the Ho Chi Minh City wards (admin_units description).
REFORM_DAY = dt.date(2025, 7, 1)
#: A comparison on a Date field, written as a date-time and as a date (GDAL serialises the two differently).
DATE_CONSTANTS = {"date-time": f"{REFORM_DAY.isoformat()}T00:00:00Z", "date": REFORM_DAY.isoformat()}


def ogrinfo(*args: str) -> str:
    return run([require_executable("ogrinfo"), "-ro", *args], env=GDAL_ENV, error_marker="ERROR")


def assert_pages(server: str, collection_id: str, page_size: int) -> None:
    """The request a paging client starts with really is one page among several, with a ``next`` link."""
    status, media_type, page = get_json(f"{server}/collections/{collection_id}/items?limit={page_size}")
    assert status == 200, page
    assert media_type.startswith("application/geo+json")
    assert page["numberReturned"] == page_size < page["numberMatched"]
    assert [link["type"] for link in page["links"] if link["rel"] == "next"] == ["application/geo+json"]


# ---- Debian GDAL 3.6: ogrinfo / ogr2ogr ------------------------------------------------------------


def test_ogrinfo_lists_every_collection(server: str, collection_ids: list[str]) -> None:
    out = ogrinfo("-so", f"OAPIF:{server}")
    listed = re.findall(r"^\d+: (\S+)", out, flags=re.MULTILINE)
    assert sorted(listed) == sorted(collection_ids)


def test_ogrinfo_feature_counts_match_the_database(server: str, db_counts: dict[str, int]) -> None:
    out = ogrinfo("-so", "-al", f"OAPIF:{server}")
    reported = dict(re.findall(r"^Layer name: (\S+)\n(?:.*\n)*?Feature Count: (\d+)$", out, flags=re.MULTILINE))
    assert {name: int(n) for name, n in reported.items()} == db_counts


def test_ogrinfo_reads_every_feature(server: str, db_counts: dict[str, int]) -> None:
    """Count the features OGR actually iterates (through every page), not the ``numberMatched`` it reports."""
    out = ogrinfo("-al", "-q", "-geom=NO", f"OAPIF:{server}")
    read = Counter(re.findall(r"^OGRFeature\((\w+)\):", out, flags=re.MULTILINE))
    assert {name: read.get(name, 0) for name in db_counts} == db_counts


def test_ogr2ogr_pages_through_next_and_gets_every_feature_once(
    server: str, bundled: Engine, catalog: Catalog, tmp_path: Path
) -> None:
    assert_pages(server, "admin_units", PAGE_SIZE)
    out = tmp_path / "admin_units.json"
    # -preserve_fid: OGR takes the integer GeoJSON ``id`` as FID; this writes it back as ``id``.
    ogr2ogr = require_executable("ogr2ogr")
    command = [ogr2ogr, "-preserve_fid", "-f", "GeoJSON", str(out), f"OAPIF:{server}", "admin_units"]
    run([*command, "-oo", f"PAGE_SIZE={PAGE_SIZE}"], env=GDAL_ENV, error_marker="ERROR")
    features = json.loads(out.read_text(encoding="utf-8"))["features"]
    assert sorted(f["id"] for f in features) == db_ids(bundled, catalog.get("admin_units"))


# ---- GDAL 3.12 inside pyogrio ------------------------------------------------------------------------


def test_pyogrio_lists_every_collection(server: str, collection_ids: list[str]) -> None:
    assert sorted(pyogrio.list_layers(f"OAPIF:{server}")[:, 0]) == sorted(collection_ids)


def test_pyogrio_reads_every_feature(server: str, db_counts: dict[str, int]) -> None:
    """GDAL 3.12 asks ``limit=1000`` whatever the API declares; the service must clamp, not reject."""
    read = {name: len(pyogrio.read_dataframe(f"OAPIF:{server}", layer=name, read_geometry=False)) for name in db_counts}
    assert read == db_counts


@pytest.mark.parametrize("collection_id", ["admin_units", "industrial_parks"])
def test_pyogrio_pages_through_next_and_gets_every_feature_once(
    server: str, bundled: Engine, catalog: Catalog, collection_id: str
) -> None:
    """Integer ids become OGR FIDs; string ids (industrial_parks: ``code``) become an ``id`` field."""
    assert_pages(server, collection_id, PAGE_SIZE)
    frame = pyogrio.read_dataframe(
        f"OAPIF:{server}", layer=collection_id, fid_as_index=True, read_geometry=False, PAGE_SIZE=PAGE_SIZE
    )
    expected = db_ids(bundled, catalog.get(collection_id))
    got = [int(fid) for fid in frame.index] if isinstance(expected[0], int) else list(frame["id"])
    assert sorted(got) == expected


# ---- filters and CRS, both GDALs -----------------------------------------------------------------------


def units_valid_from_reform(engine: Engine, spec: LayerSpec) -> int:
    t = layer_table(spec, "valid_from")
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(t.c.valid_from >= REFORM_DAY)).scalar_one())


@pytest.mark.parametrize("constant", DATE_CONSTANTS.values(), ids=DATE_CONSTANTS.keys())
def test_ogrinfo_where_on_a_date_field(server: str, bundled: Engine, catalog: Catalog, constant: str) -> None:
    """GDAL sends a comparison on a Date field as ``datetime=``: for a date-only constant GDAL (3.6 and
    3.12) writes ``datetime=2025-07-01T/..``, a bare ``T``; the service should read it as the date."""
    out = ogrinfo("-q", "-geom=NO", f"OAPIF:{server}", "admin_units", "-where", f"valid_from >= '{constant}'")
    read = len(re.findall(r"^OGRFeature\(admin_units\):", out, flags=re.MULTILINE))
    assert read == units_valid_from_reform(bundled, catalog.get("admin_units"))


@pytest.mark.parametrize("constant", DATE_CONSTANTS.values(), ids=DATE_CONSTANTS.keys())
def test_pyogrio_where_on_a_date_field(server: str, bundled: Engine, catalog: Catalog, constant: str) -> None:
    frame = pyogrio.read_dataframe(
        f"OAPIF:{server}", layer="admin_units", where=f"valid_from >= '{constant}'", read_geometry=False
    )
    assert len(frame) == units_valid_from_reform(bundled, catalog.get("admin_units"))


def test_pyogrio_reads_in_vn2000_and_filters_with_bbox_crs(server: str, bundled: Engine, catalog: Catalog) -> None:
    """OGC API Features Part 2 as GDAL 3.12 speaks it: ``crs`` and ``bbox-crs`` in VN-2000 / TM-3 105°45' (9210)."""
    srid = 9210
    lon_lat = func.ST_SetSRID(func.ST_MakePoint(*VSIP_I), literal(4326, Integer))
    point = func.ST_Transform(lon_lat, literal(srid, Integer))
    with bundled.connect() as conn:
        x, y = conn.execute(select(func.ST_X(point), func.ST_Y(point))).one()
    bbox = (x - 1000, y - 1000, x + 1000, y + 1000)
    spec = catalog.get("admin_units")
    expected = db_ids(bundled, spec, bbox, srid)
    assert 0 < len(expected) < len(db_ids(bundled, spec))
    frame = pyogrio.read_dataframe(
        f"OAPIF:{server}", layer="admin_units", CRS=f"EPSG:{srid}", bbox=bbox, fid_as_index=True
    )
    assert frame.crs is not None and frame.crs.to_epsg() == srid
    assert sorted(int(fid) for fid in frame.index) == expected
