"""OWSLib's OGC API Features client (fixed paths, ``Accept: */*``)."""

from __future__ import annotations

import pytest
from owslib.ogcapi.features import Features
from sqlalchemy import Engine

from gis_service.catalog import Catalog
from tests.clients.conftest import db_count, db_ids

pytestmark = pytest.mark.clients

TIMEOUT_S = 30
CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
GEOJSON = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"


@pytest.fixture(scope="module")
def api(server: str) -> Features:
    return Features(server, timeout=TIMEOUT_S)


def test_collections_are_listed(api: Features, collection_ids: list[str]) -> None:
    assert sorted(c["id"] for c in api.collections()["collections"]) == sorted(collection_ids)
    assert sorted(api.feature_collections()) == sorted(collection_ids)


def test_conformance_declares_core_and_geojson(api: Features) -> None:
    assert {CORE, GEOJSON} <= set(api.conformance()["conformsTo"])


def test_collection_items_honours_limit(api: Features, bundled: Engine, catalog: Catalog) -> None:
    spec = catalog.get("industrial_parks")
    page = api.collection_items("industrial_parks", limit=5)
    assert page["type"] == "FeatureCollection"
    assert len(page["features"]) == page["numberReturned"] == 5
    assert page["numberMatched"] == db_count(bundled, spec)
    ids = [f["id"] for f in page["features"]]
    assert len(set(ids)) == 5 and set(ids) <= set(db_ids(bundled, spec))
    assert any(link["rel"] == "next" for link in page["links"])


def test_collection_item_by_id(api: Features, bundled: Engine, catalog: Catalog) -> None:
    feature_id = db_ids(bundled, catalog.get("industrial_parks"))[0]
    feature = api.collection_item("industrial_parks", feature_id)
    assert feature["type"] == "Feature"
    assert feature["id"] == feature_id


def test_collection_queryables_name_every_property(api: Features, catalog: Catalog) -> None:
    spec = catalog.get("industrial_parks")
    queryables = api.collection_queryables("industrial_parks")
    props = queryables["properties"]
    geometry = [name for name, schema in props.items() if schema.get("x-ogc-role") == "primary-geometry"]
    assert len(geometry) == 1
    assert sorted(set(props) - set(geometry)) == sorted(spec.property_names)
