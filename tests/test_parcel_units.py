"""Each parcel's administrative units, kept by the triggers of migration 0008 for every writer (SQL, the bulk
loader, the editing API) and when the units themselves change; area statistics of parcels read them and
answer what the spatial query answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gis_service.analysis import stats
from gis_service.auth.admin import Admin
from gis_service.catalog import Catalog
from gis_service.ingest import synth
from gis_service.queries import analysis_stats as sq
from gis_service.settings import Settings
from tests.accessdata import Account, account, auth
from tests.conftest import scalar
from tests.editdata import GEOJSON, MERGE

SOURCE = "test: parcel units"
ITEMS = "/collections/parcels/items"
#: A parcel's units by definition: every unit whose geometry holds a point on the parcel's surface.
DEFINITION = """
    SELECT p.id, p.area_ha,
           coalesce((SELECT array_agg(u.id ORDER BY u.id) FROM admin_units u
                     WHERE ST_Intersects(u.geom, ST_PointOnSurface(p.geom))), '{}') AS unit_ids
    FROM parcels p
"""
DISAGREEMENTS = f"""
    SELECT count(*) FROM ({DEFINITION}) d FULL JOIN parcel_units pu ON pu.parcel_id = d.id
    WHERE d.id IS NULL OR pu.parcel_id IS NULL OR d.unit_ids <> pu.unit_ids OR d.area_ha IS DISTINCT FROM pu.area_ha
"""


def disagreements(engine: Engine) -> int:
    return int(scalar(engine, DISAGREEMENTS))  # type: ignore[arg-type]


def straddling(engine: Engine, n: int = 12) -> list[int]:
    """Squares of about 400 m centred on vertices of 2025 ward boundaries: each lies across two or more units."""
    with engine.begin() as conn:
        return list(
            conn.execute(
                text(
                    "INSERT INTO parcels (admin_code, sheet_no, parcel_no, land_use_code, geom, geometry_quality, "
                    "source) SELECT u.code, 'S', u.code || '-' || v.path[1], 'ODT', "
                    "ST_Multi(ST_Expand(v.geom, 0.0018)), 'approximate', :source "
                    "FROM (SELECT code, geom FROM admin_units WHERE level = 'ward' AND valid_from = '2025-07-01' "
                    "      ORDER BY code LIMIT :n) u, "
                    "LATERAL (SELECT * FROM ST_DumpPoints(ST_ExteriorRing(ST_GeometryN(u.geom, 1))) d "
                    "         WHERE d.path[1] % 37 = 1 LIMIT 2) v RETURNING id"
                ),
                {"source": SOURCE, "n": n},
            ).scalars()
        )


@pytest.fixture(scope="module")
def parcels(migrated: Settings, bundled: Engine) -> Iterator[list[int]]:
    """2,000 synthetic parcels (inside their wards) and a few dozen across ward boundaries; all removed after."""
    synth.load_parcels(migrated, count=2_000, seed=17)
    across = straddling(bundled)
    yield across
    with bundled.begin() as conn:
        conn.execute(text("DELETE FROM parcels WHERE synthetic OR source = :source"), {"source": SOURCE})


def spatial_groups(engine: Engine, catalog: Catalog, units: str, day: dt.date | None = None) -> list[dict[str, Any]]:
    """What the statistics answered before the assignments were kept: units asked per parcel, in SQL."""
    level, default_day = stats.UNIT_SETS[units]
    day = day or default_day
    spec = catalog.get("parcels")
    with engine.connect() as conn:
        groups = [dict(r) for r in conn.execute(sq.polygons_by_unit(spec, level, day)).mappings()]
        total = dict(conn.execute(sq.layer_totals(spec)).mappings().one())
    located = sum(g["count"] for g in groups)
    if total["count"] > located:
        hectares = total["hectares"] - sum(round(g["hectares"], 4) for g in groups)  # as the answer rounds them
        groups.append({"unit_code": "unlocated", "unit_name": None, "count": total["count"] - located,
                       "hectares": hectares, "count_with_area": total["count"] - located})  # fmt: skip
    return groups


def assert_same_groups(answer: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert [g["unit_code"] for g in answer] == [g["unit_code"] for g in expected]
    for got, want in zip(answer, expected, strict=True):
        assert (got["unit_name"], got["count"], got["count_with_area"]) == (
            want["unit_name"],
            want["count"],
            want["count_with_area"],
        )
        assert got["hectares"] == pytest.approx(round(want["hectares"], 4), abs=1.5e-4), got["unit_code"]


@pytest.mark.parametrize(
    ("units", "day"), [("2025", None), ("legacy", None), ("legacy-wards", None), ("legacy", dt.date(2024, 1, 1))]
)
def test_area_stats_of_parcels_equal_the_spatial_answer(
    client: TestClient, bundled: Engine, parcels: list[int], units: str, day: dt.date | None
) -> None:
    catalog = Catalog.from_dir(Path("layers"))
    params = {"collection": "parcels", "units": units, **({"date": day.isoformat()} if day else {})}
    body = client.get("/analysis/area-stats", params=params).json()
    expected = spatial_groups(bundled, catalog, units, day)
    assert sum(g["count"] for g in expected) >= 2_000 + len(parcels)
    assert_same_groups(body["groups"], expected)
    assert body["total"]["count"] == sum(g["count"] for g in expected)


def test_parcels_across_boundaries_are_counted_once_in_the_unit_of_their_surface_point(
    bundled: Engine, parcels: list[int]
) -> None:
    with bundled.connect() as conn:
        across = conn.execute(
            text(
                "SELECT count(*) FROM parcels p WHERE p.id = ANY(:ids) AND (SELECT count(*) FROM admin_units u "
                "WHERE u.level = 'ward' AND u.valid_from = '2025-07-01' AND ST_Intersects(u.geom, p.geom)) > 1"
            ),
            {"ids": parcels},
        ).scalar_one()
    assert across >= len(parcels) // 2  # the test parcels do straddle boundaries
    assert disagreements(bundled) == 0


def test_assignments_follow_updates_and_deletes(bundled: Engine, parcels: list[int]) -> None:
    moved, renamed, removed = parcels[0], parcels[1], parcels[2]
    with bundled.begin() as conn:
        before = conn.execute(text("SELECT unit_ids FROM parcel_units WHERE parcel_id = :id"), {"id": moved}).scalar()
        conn.execute(text("UPDATE parcels SET geom = ST_Translate(geom, 0.08, 0.05) WHERE id = :id"), {"id": moved})
        conn.execute(text("UPDATE parcels SET land_use_code = 'TMD' WHERE id = :id"), {"id": renamed})
        conn.execute(text("DELETE FROM parcels WHERE id = :id"), {"id": removed})
        after = conn.execute(text("SELECT unit_ids FROM parcel_units WHERE parcel_id = :id"), {"id": moved}).scalar()
    assert after != before
    assert scalar(bundled, "SELECT count(*) FROM parcel_units WHERE parcel_id = :id", id=removed) == 0
    assert disagreements(bundled) == 0


def test_assignments_follow_the_units_geometries(client: TestClient, bundled: Engine, parcels: list[int]) -> None:
    """A ward moved, a new ward drawn over parcels, that ward removed: the parcels follow each time, and the
    statistics stay those of the spatial query."""
    catalog = Catalog.from_dir(Path("layers"))
    ward = scalar(bundled, "SELECT id FROM admin_units WHERE level = 'ward' AND valid_from = '2025-07-01' LIMIT 1")
    try:
        with bundled.begin() as conn:
            conn.execute(
                text("UPDATE admin_units SET geom = ST_Translate(geom, 0.03, 0.02) WHERE id = :id"), {"id": ward}
            )
        assert disagreements(bundled) == 0
        body = client.get("/analysis/area-stats", params={"collection": "parcels", "units": "2025"}).json()
        assert_same_groups(body["groups"], spatial_groups(bundled, catalog, "2025"))
        with bundled.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO admin_units (code, name, name_ascii, level, geometry_quality, source, valid_from, "
                    "geom) VALUES ('TPU01', 'Phường thử', 'Phuong thu', 'ward', 'test', :source, '2025-07-01', "
                    "ST_Multi(ST_MakeEnvelope(106.60, 11.00, 106.70, 11.10, 4326)))"
                ),
                {"source": SOURCE},
            )
        assert scalar(bundled, "SELECT count(*) FROM parcel_units pu JOIN admin_units u ON u.id = ANY(pu.unit_ids) "
                               "WHERE u.code = 'TPU01'") > 0  # fmt: skip
        assert disagreements(bundled) == 0
        body = client.get("/analysis/area-stats", params={"collection": "parcels", "units": "2025"}).json()
        assert_same_groups(body["groups"], spatial_groups(bundled, catalog, "2025"))
    finally:
        with bundled.begin() as conn:
            conn.execute(text("DELETE FROM admin_units WHERE code = 'TPU01'"))
            conn.execute(
                text("UPDATE admin_units SET geom = ST_Translate(geom, -0.03, -0.02) WHERE id = :id"), {"id": ward}
            )
    assert disagreements(bundled) == 0


def test_bulk_load_assigns_every_parcel(
    migrated: Settings, bundled: Engine, parcels: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader's bulk path (GiST indexes dropped and built again after the COPY) keeps them too."""
    monkeypatch.setattr(synth, "BULK_MIN_ROWS", 500)
    report = synth.load_parcels(migrated, count=2_500, seed=18)
    assert report.deleted == 2_000
    assert scalar(bundled, "SELECT count(*) FROM parcel_units pu JOIN parcels p ON p.id = pu.parcel_id "
                           "WHERE p.synthetic") == 2_500  # fmt: skip
    assert disagreements(bundled) == 0


@pytest.fixture(scope="module")
def parcel_editor(admin: Admin) -> Account:
    return account(admin, "parcel-units-editor", ("parcels", "editor"))


def test_edits_through_the_api_keep_the_assignments(
    access_client: TestClient, bundled: Engine, parcel_editor: Account, parcels: list[int]
) -> None:
    ring = [[106.66, 11.02], [106.662, 11.02], [106.662, 11.022], [106.66, 11.022], [106.66, 11.02]]
    feature = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"admin_code": "TPU", "sheet_no": "1", "parcel_no": "1", "land_use_code": "ODT",
                       "geometry_quality": "approximate", "source": SOURCE},
    }  # fmt: skip
    created = access_client.post(ITEMS, json=feature, headers={**GEOJSON, **auth(parcel_editor)})
    assert created.status_code == 201, created.text
    fid = int(created.headers["Location"].rsplit("/", 1)[1])
    units = "SELECT unit_ids FROM parcel_units WHERE parcel_id = :id"
    first = scalar(bundled, units, id=fid)
    assert first and disagreements(bundled) == 0
    far = [[x + 0.15, y + 0.1] for x, y in ring]
    moved = access_client.patch(
        f"{ITEMS}/{fid}",
        json={"geometry": {"type": "Polygon", "coordinates": [far]}},
        headers={**MERGE, **auth(parcel_editor)},
    )
    assert moved.status_code in (200, 204), moved.text
    assert scalar(bundled, units, id=fid) != first
    assert disagreements(bundled) == 0
    etag = access_client.get(f"{ITEMS}/{fid}", headers=auth(parcel_editor)).headers["ETag"]
    gone = access_client.delete(f"{ITEMS}/{fid}", headers={**auth(parcel_editor), "If-Match": etag})
    assert gone.status_code in (200, 204), gone.text
    assert scalar(bundled, "SELECT count(*) FROM parcel_units WHERE parcel_id = :id", id=fid) == 0
