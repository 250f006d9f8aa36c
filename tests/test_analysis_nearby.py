"""``nearby`` answers from the nearest-first candidates when it can prove that none beyond them belongs to the
answer, else from the full scan; either way the answer is the definition's: every feature within the radius
on the ellipsoid, nearest first (then by id), with the same distances. Checked on a few thousand synthetic
parcels, against that definition written out in SQL."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gis_service.analysis import plans
from gis_service.catalog import Catalog
from gis_service.ingest import synth
from gis_service.settings import Settings

BOX = (106.45, 10.90, 106.85, 11.35)
#: The answer by definition, with no index, box or bound: what ``nearby`` must return.
DEFINITION = """
    SELECT {key} AS id, ST_Distance(geom::geography, ref::geography) AS distance_m
    FROM {table}, (SELECT {ref} AS ref) r
    WHERE ST_DWithin(geom::geography, ref::geography, :metres)
    ORDER BY distance_m, {key} LIMIT :limit
"""
POINT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_dir(Path("layers"))


@pytest.fixture(scope="module")
def parcels(migrated: Settings, bundled: Engine) -> Iterator[None]:
    """4,000 synthetic parcels over the province (removed at the end): about 1.5 per km2, denser in small wards."""
    synth.load_parcels(migrated, count=4_000, seed=23)
    yield
    with bundled.begin() as conn:
        conn.execute(text("DELETE FROM parcels WHERE synthetic"))


def definition(engine: Engine, table: str, ref: str, key: str = "id", **params: Any) -> list[tuple[Any, float]]:
    with engine.connect() as conn:
        rows = conn.execute(text(DEFINITION.format(table=table, ref=ref, key=key)), params)
        return [(r.id, r.distance_m) for r in rows]


def answered(engine: Engine, plan: Any) -> tuple[list[tuple[Any, float]], set[str]]:
    """The plan's feature rows (id, distance) and which path answered."""
    with engine.connect() as conn:
        rows = list(conn.execute(plan.statements["features"], plan.params).mappings())
    return [(r["id"], r["distance_m"]) for r in rows], {r["path"] for r in rows}


def cases(n: int, seed: int) -> list[tuple[float, float, float, int]]:
    rng = random.Random(seed)
    return [
        (round(rng.uniform(BOX[0], BOX[2]), 5), round(rng.uniform(BOX[1], BOX[3]), 5), metres, limit)
        for metres, limit in [(300, 5), (2_000, 10), (5_000, 100), (5_000, 3), (20_000, 40), (50_000, 1)]
        for _ in range(n)
    ]


def test_nearby_parcels_equal_the_definition(catalog: Catalog, bundled: Engine, parcels: None) -> None:
    paths: set[str] = set()
    for lon, lat, metres, limit in cases(6, seed=5):
        plan = plans.nearby(catalog, "parcels", plans.Reference(lon=lon, lat=lat), metres, limit)
        rows, used = answered(bundled, plan)
        assert rows == definition(bundled, "parcels", POINT, lon=lon, lat=lat, metres=metres, limit=limit)
        paths |= used
    assert "knn" in paths  # the fast path answered (and equalled the definition)


def test_too_few_candidates_fall_back_to_the_scan(catalog: Catalog, bundled: Engine, parcels: None) -> None:
    """With a handful of candidates the bound cannot hold: the scan answers, and still the definition's."""
    paths: set[str] = set()
    for lon, lat, metres, limit in cases(3, seed=6):
        plan = plans.nearby(catalog, "parcels", plans.Reference(lon=lon, lat=lat), metres, limit)
        plan.params["candidates"] = 2
        rows, used = answered(bundled, plan)
        assert rows == definition(bundled, "parcels", POINT, lon=lon, lat=lat, metres=metres, limit=limit)
        paths |= used
    assert paths == {"knn", "scan"}  # both: complete small answers, and scans where the bound failed


def test_nearby_from_a_line_and_a_polygon(catalog: Catalog, bundled: Engine, parcels: None) -> None:
    line = "(SELECT geom FROM transport_projects WHERE code = :code)"
    for code in ("QL13", "MPTV"):
        plan = plans.nearby(catalog, "parcels", plans.Reference.of_feature(f"transport_projects/{code}"), 1_500, 50)
        rows, _ = answered(bundled, plan)
        assert rows == definition(bundled, "parcels", line, code=code, metres=1_500, limit=50)
        assert len(rows) == 50
    polygon = {"type": "Polygon", "coordinates": [[[106.6, 11.0], [106.7, 11.0], [106.7, 11.1], [106.6, 11.0]]]}
    text_ = json.dumps(polygon)
    plan = plans.nearby(catalog, "parcels", plans.Reference(geojson=text_), 3_000, 200)
    rows, _ = answered(bundled, plan)
    shape = "ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326)"
    assert rows == definition(bundled, "parcels", shape, g=text_, metres=3_000, limit=200)


def test_nearby_points_of_a_small_layer(catalog: Catalog, bundled: Engine) -> None:
    for lon, lat, metres, limit in cases(2, seed=7):
        plan = plans.nearby(catalog, "industrial_parks", plans.Reference(lon=lon, lat=lat), metres, limit)
        rows, _ = answered(bundled, plan)
        expected = definition(bundled, "industrial_parks", POINT, "code", lon=lon, lat=lat, metres=metres, limit=limit)
        assert rows == expected


def test_the_http_answer_is_the_definition(client: TestClient, bundled: Engine, parcels: None) -> None:
    lon, lat = 106.66, 11.05
    body = client.get(
        "/analysis/nearby", params={"collection": "parcels", "distance_m": 5000, "lon": lon, "lat": lat, "limit": 100}
    ).json()
    expected = definition(bundled, "parcels", POINT, lon=lon, lat=lat, metres=5000, limit=100)
    assert [(f["id"], f["properties"]["distance_m"]) for f in body["features"]] == [
        (i, round(d, 2)) for i, d in expected
    ]
    assert body["numberReturned"] == len(expected) > 0
