"""geopandas (pyogrio engine, GDAL 3.12) reading collections through ``OAPIF:``, with and without ``bbox``."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import box
from sqlalchemy import Engine

from gis_service.catalog import Catalog
from tests.clients.conftest import db_count, db_ids

pytestmark = pytest.mark.clients

#: VSIP I (Thuan An) as the planners locate it; the bbox reaches ±0.01° (about ±1.1 km) around it, in CRS84.
VSIP_I = (106.7266, 10.9312)
HALF_SIDE = 0.01
BBOX = (VSIP_I[0] - HALF_SIDE, VSIP_I[1] - HALF_SIDE, VSIP_I[0] + HALF_SIDE, VSIP_I[1] + HALF_SIDE)


def read(server: str, layer: str, **kwargs: object) -> gpd.GeoDataFrame:
    # fid_as_index: integer feature ids are OGR FIDs; string ids arrive as an ``id`` column.
    return gpd.read_file(f"OAPIF:{server}", layer=layer, engine="pyogrio", fid_as_index=True, **kwargs)


def test_read_file_returns_every_industrial_park(server: str, bundled: Engine, catalog: Catalog) -> None:
    spec = catalog.get("industrial_parks")
    frame = read(server, "industrial_parks")
    assert len(frame) == db_count(bundled, spec)
    assert sorted(frame["id"]) == db_ids(bundled, spec)
    assert sorted(frame["code"]) == sorted(frame["id"])
    assert frame.crs is not None and frame.crs.to_authority() == ("OGC", "CRS84")


def test_read_file_bbox_around_vsip_i_matches_postgis(server: str, bundled: Engine, catalog: Catalog) -> None:
    spec = catalog.get("industrial_parks")
    expected = db_ids(bundled, spec, BBOX)
    assert 0 < len(expected) < db_count(bundled, spec), "the bbox should select some parks, not all"
    frame = read(server, "industrial_parks", bbox=BBOX)
    assert sorted(frame["id"]) == expected
    assert frame.geometry.intersects(box(*BBOX)).all()


def test_read_file_bbox_on_admin_units_matches_postgis(server: str, bundled: Engine, catalog: Catalog) -> None:
    spec = catalog.get("admin_units")
    expected = db_ids(bundled, spec, BBOX)
    assert 0 < len(expected) < db_count(bundled, spec), "the bbox should select some units, not all"
    frame = read(server, "admin_units", bbox=BBOX)
    assert sorted(int(fid) for fid in frame.index) == expected
