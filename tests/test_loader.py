"""gis_service.ingest.loader against the real PostGIS: formats, CRS, repairs, rejects, atomicity."""

from __future__ import annotations

import csv
import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from gis_service.cli import app
from gis_service.crs import to_wgs84
from gis_service.errors import LoadError
from gis_service.ingest import loader
from gis_service.ingest.loader import load_file
from gis_service.settings import Settings
from tests.fixtures_geometries import (
    NAMES,
    PREFIX,
    THU_DAU_MOT,
    bow_tie,
    geojson,
    lots,
    parcels,
    polygon_json,
    props,
    square,
    to_utm48_vn2000,
    unclosed_ring,
    vn2000_utm48,
    write_quietly,
    zones,
)


@pytest.fixture(autouse=True)
def cleanup(engine: Engine) -> Iterator[None]:
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM parcels WHERE admin_code LIKE :p"), {"p": f"{PREFIX}%"})
        conn.execute(text("DELETE FROM planning_zones WHERE code LIKE :p"), {"p": f"{PREFIX}%"})
        conn.execute(text("DELETE FROM industrial_parks WHERE code LIKE :p"), {"p": f"{PREFIX}%"})


def state(engine: Engine, table: str) -> tuple[Any, ...]:
    """Row count, a digest of every row and the layer version: equal states, equal tables."""
    with engine.connect() as conn:
        digest = conn.execute(
            text(f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) FROM {table} t")
        ).one()
        version = conn.execute(text("SELECT version FROM layer_versions WHERE layer = :t"), {"t": table}).scalar()
    return (*digest, version)


def version(engine: Engine, table: str) -> int:
    return int(state(engine, table)[2])


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def test_geojson_parcels_load_once_with_defaults(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "lots.geojson"
    parcels(5).to_file(path)
    before = version(engine, "parcels")
    report = load_file(settings, path, "parcels")
    assert (report.inserted, report.updated, report.rejected) == (5, 0, 0)
    assert report.rejects_path is None
    assert version(engine, "parcels") == before + 1
    got = rows(
        engine,
        "SELECT source, geometry_quality, synthetic, GeometryType(geom), area_ha FROM parcels WHERE admin_code = :c",
        c=f"{PREFIX}1",
    )
    assert {r[:4] for r in got} == {("file lots.geojson", "unknown", False, "MULTIPOLYGON")}
    assert all(0.08 < r[4] < 0.12 for r in got)  # 33 m x 33 m, computed by the database
    assert "5 inserted, 0 updated" in report.summary()


def test_a_file_cannot_set_the_columns_the_database_maintains(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    """``version``, ``updated_at`` and ``updated_by`` belong to the triggers: a file naming them is not believed."""
    forged = {**props(1), "version": 999, "updated_by": "mallory", "updated_at": "not a time"}
    path = geojson(tmp_path / "forged.geojson", [(forged, polygon_json(square(106.70, 10.98)))])
    report = load_file(settings, path, "parcels")
    assert (report.inserted, report.rejected) == (1, 0)
    got = rows(engine, "SELECT version, updated_by FROM parcels WHERE admin_code = :c", c=f"{PREFIX}1")
    assert got and all(r[0] == 1 and r[1] != "mallory" for r in got)


def test_reload_duplicates_nothing_and_counts_changes(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "lots.gpkg"
    frame = parcels(4)
    frame.to_file(path)
    load_file(settings, path, "parcels")
    after_first = state(engine, "parcels")
    again = load_file(settings, path, "parcels")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    assert state(engine, "parcels") == after_first  # an identical reload rewrites nothing
    frame.loc[0, "land_use_code"] = "ODT"
    frame.to_file(path)
    changed = load_file(settings, path, "parcels")
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 3)
    assert version(engine, "parcels") == after_first[2] + 1
    assert rows(engine, "SELECT count(*) FROM parcels WHERE admin_code = :c", c=f"{PREFIX}1")[0][0] == 4


def test_planning_zones_from_geopackage(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "zones.gpkg"
    zones(3).to_file(path, layer="planning_zones")
    report = load_file(settings, path, "planning_zones")
    assert report.inserted == 3
    got = rows(
        engine, "SELECT name, horizon_year, round(area_ha) FROM planning_zones WHERE code LIKE 'TLD%' ORDER BY code"
    )
    assert [(r[0], r[1]) for r in got] == [(n, 2030) for n in NAMES[:3]]
    assert all(r[2] > 0 for r in got)


def test_shapefile_in_vn2000_with_truncated_names(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "lots.shp"
    frame = parcels(3)
    frame.geometry = shapely.transform(frame.geometry.values, vn2000_utm48)  # the official shift
    write_quietly(frame.set_crs(3405, allow_override=True), path)  # GDAL cuts land_use_code to land_use_c
    report = load_file(settings, path, "parcels")
    assert report.inserted == 3
    assert any("land_use_c read as land_use_code" in w for w in report.warnings)
    (lon, lat), *_ = rows(
        engine, "SELECT ST_XMin(geom), ST_YMin(geom) FROM parcels WHERE admin_code = 'TLD1' ORDER BY id"
    )
    assert lon == pytest.approx(THU_DAU_MOT[0], abs=1e-6) and lat == pytest.approx(THU_DAU_MOT[1], abs=1e-6)


def test_csv_with_wkt(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "lots.csv"
    frame = parcels(3)
    frame.assign(wkt=frame.geometry.to_wkt()).drop(columns="geometry").to_csv(path, index=False)
    report = load_file(settings, path, "parcels")
    assert report.inserted == 3
    assert any("no CRS" in w for w in report.warnings)


def test_csv_with_lon_lat_points_derives_name_ascii(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "parks.csv"
    path.write_text(
        "code,name,kind,status,Longitude,lat\n"
        f"{PREFIX}-P1,Khu công nghiệp Mỹ Phước,KCN,operating,106.60,11.13\n"
        f"{PREFIX}-P2,Khu công nghiệp Đồng An,KCN,operating,106.72,10.94\n",
        encoding="utf-8",
    )
    report = load_file(settings, path, "industrial_parks")
    assert report.inserted == 2
    got = rows(engine, "SELECT name_ascii, ST_X(geom) FROM industrial_parks WHERE code LIKE 'TLD%' ORDER BY code")
    assert got == [("Khu cong nghiep My Phuoc", 106.60), ("Khu cong nghiep Dong An", 106.72)]


def test_wrong_crs_rejected_then_right_crs_lands_within_a_centimetre(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    corners = [(THU_DAU_MOT[0] + dx, THU_DAU_MOT[1] + dy) for dx, dy in ((0, 0), (3e-4, 0), (3e-4, 3e-4), (0, 0))]
    utm = [to_utm48_vn2000(lon, lat) for lon, lat in corners]
    path = geojson(tmp_path / "vn2000.geojson", [(props(1), {"type": "Polygon", "coordinates": [utm]})])
    assert load_file(settings, path, "parcels").rejected == 1  # GeoJSON without a crs member means lon/lat
    wrong = load_file(settings, path, "parcels", crs="EPSG:4326")
    assert (wrong.inserted, wrong.rejected) == (0, 1)
    with wrong.rejects_path.open(encoding="utf-8") as report:  # type: ignore[union-attr]
        (reject,) = list(csv.DictReader(report))
    assert "outside Binh Duong" in reject["reason"] and "wrong CRS" in reject["reason"]
    right = load_file(settings, path, "parcels", crs="EPSG:3405")
    assert (right.inserted, right.rejected) == (1, 0)
    (wkb,) = rows(engine, "SELECT ST_AsBinary(geom) FROM parcels WHERE admin_code = 'TLD1'")[0]
    stored = shapely.get_coordinates(shapely.from_wkb(bytes(wkb)))
    pinned = zip(*to_wgs84(3405).transform([x for x, _ in utm], [y for _, y in utm]), strict=True)
    postgis = [
        rows(
            engine,
            "SELECT ST_X(p), ST_Y(p) FROM ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), 3405), 4326) p",
            x=x,
            y=y,
        )[0]
        for x, y in utm
    ]
    for (lon, lat), expected, in_postgis in zip(stored, pinned, postgis, strict=True):
        for exp_lon, exp_lat in (expected, in_postgis):  # pyproj pinned, and PostGIS's pinned row
            assert abs(lon - exp_lon) * 109_300 < 0.01 and abs(lat - exp_lat) * 110_600 < 0.01


def test_bow_tie_repaired_with_warning(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bowtie.geojson"
    parcels(1, geoms=[bow_tie()]).to_file(path)
    report = load_file(settings, path, "parcels")
    assert report.inserted == 1
    assert any("repaired with make_valid" in w and "feature 1" in w for w in report.warnings)
    (valid, parts), *_ = rows(
        engine, "SELECT ST_IsValid(geom), ST_NumGeometries(geom) FROM parcels WHERE admin_code='TLD1'"
    )
    assert valid and parts == 2


def test_unclosed_ring_closed_with_warning(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    ring = {"type": "Polygon", "coordinates": [unclosed_ring()]}
    report = load_file(settings, geojson(tmp_path / "open.geojson", [(props(1), ring)]), "parcels")
    assert (report.inserted, report.rejected) == (1, 0)
    assert any("unclosed ring closed" in w for w in report.warnings)


@pytest.mark.parametrize("bad", ["NaN", "1e999"])
def test_non_finite_coordinates_rejected(settings: Settings, engine: Engine, tmp_path: Path, bad: str) -> None:
    good = polygon_json(square(*THU_DAU_MOT))
    poisoned = json.loads(json.dumps(good))
    poisoned["coordinates"][0][2][0] = 999.5  # a middle vertex: the ring stays closed
    path = geojson(tmp_path / "nonfinite.geojson", [(props(1), poisoned), (props(2), good)])
    path.write_text(path.read_text().replace("999.5", bad))
    report = load_file(settings, path, "parcels")
    assert (report.inserted, report.rejected) == (1, 1)
    assert report.rejects_path is not None
    with report.rejects_path.open(encoding="utf-8") as out:
        (reject,) = list(csv.DictReader(out))
    assert reject["feature"] == "1" and reject["parcel_no"] == "1" and "NaN or infinite" in reject["reason"]


def test_reject_report_lists_every_reason(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    line = {"type": "LineString", "coordinates": [list(THU_DAU_MOT), [106.66, 10.99]]}
    far = polygon_json(square(105.0, 21.0))  # Hanoi
    ok = polygon_json(square(*THU_DAU_MOT))
    lon, lat = THU_DAU_MOT
    flat = {"type": "Polygon", "coordinates": [[[lon, lat], [lon + 1e-4, lat], [lon + 2e-4, lat], [lon, lat]]]}
    features = [
        (props(1), ok),
        (props(2), line),
        (props(3), far),
        ({**props(4), "sheet_no": None}, ok),
        (props(5), None),
        (props(6), flat),
    ]
    rejects = tmp_path / "out" / "why.geojson"
    rejects.parent.mkdir()
    report = load_file(settings, geojson(tmp_path / "mixed.geojson", features), "parcels", rejects_path=rejects)
    assert (report.inserted, report.rejected, report.rejects_path) == (1, 5, rejects)
    reasons = {
        f["properties"]["parcel_no"]: f["properties"]["reason"] for f in json.loads(rejects.read_text())["features"]
    }
    assert reasons["2"] == "a LineString, but parcels takes polygons"
    assert "outside Binh Duong" in reasons["3"]
    assert reasons["4"] == "missing natural key sheet_no"
    assert reasons["5"] == "no geometry"
    assert reasons["6"] == "invalid geometry that cannot be repaired"  # collapses to a line


def test_default_reject_report_is_a_csv_next_to_the_input(settings: Settings, tmp_path: Path) -> None:
    path = geojson(tmp_path / "one.geojson", [(props(1), None)])
    report = load_file(settings, path, "parcels")
    assert report.rejects_path == tmp_path / "one.rejects.csv"
    assert report.rejects_path.read_text(encoding="utf-8").splitlines()[0] == (
        "feature,admin_code,sheet_no,parcel_no,reason,wkt"
    )


def test_missing_columns_named(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "bare.geojson"
    parcels(2).drop(columns=["land_use_code", "sheet_no"]).to_file(path)
    with pytest.raises(LoadError, match=r"requires: sheet_no, land_use_code$"):
        load_file(settings, path, "parcels")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.geojson", '{"type": "FeatureCollection", "features": []}', "empty.geojson has no features"),
        ("broken.geojson", '{"type": "FeatureCollection", "features": [', "cannot read broken.geojson"),
        ("nogeom.csv", "admin_code,sheet_no\nA,1\n", "nogeom.csv has no geometry"),
        ("metres.csv", "x,y,admin_code\n690000,1214000,A\n", "has no CRS and its coordinates are not lon/lat"),
        ("notes.txt", "hello", "unsupported file type"),
    ],
)
def test_bad_files_raise_one_clear_load_error(
    settings: Settings, tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(LoadError, match=message) as caught:
        load_file(settings, path, "parcels")
    assert "\n" not in caught.value.detail


def test_unknown_layer_mode_and_crs(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "lots.geojson"
    parcels(1).to_file(path)
    with pytest.raises(LoadError, match="unknown layer 'roads'"):
        load_file(settings, path, "roads")
    with pytest.raises(LoadError, match="unknown mode"):
        load_file(settings, path, "parcels", mode="merge")
    with pytest.raises(LoadError, match="unknown CRS"):
        load_file(settings, path, "parcels", crs="EPSG:nonsense")


def test_cp1258_shapefile_names_come_out_nfc(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "zones_cp1258.shp"
    write_quietly(zones(5), path, encoding="cp1258")
    assert path.with_suffix(".cpg").read_text().strip().upper() == "CP1258"
    stored = path.with_suffix(".dbf").read_bytes().decode("cp1258")
    assert "Phường" not in stored  # CP1258 keeps tone marks apart: decoded, the text is not NFC
    assert unicodedata.normalize("NFC", "Phường") in unicodedata.normalize("NFC", stored)
    report = load_file(settings, path, "planning_zones")
    assert report.inserted == 5
    got = [r[0] for r in rows(engine, "SELECT name FROM planning_zones WHERE code LIKE 'TLD%' ORDER BY code")]
    assert got == NAMES
    assert all(unicodedata.is_normalized("NFC", n) for n in got)


def test_duplicate_key_in_replace_leaves_layer_as_before(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    first = tmp_path / "first.geojson"
    parcels(3).to_file(first)
    load_file(settings, first, "parcels")
    before = state(engine, "parcels")
    dup = parcels(4)
    dup.loc[3, "parcel_no"] = "1"
    path = tmp_path / "dup.geojson"
    dup.to_file(path)
    for mode in ("replace", "upsert"):
        with pytest.raises(
            LoadError, match=r"repeats the natural key \(admin_code, sheet_no, parcel_no\) = \(TLD1, 12, 1\)"
        ):
            load_file(settings, path, "parcels", mode=mode)
        assert state(engine, "parcels") == before


@pytest.mark.parametrize("mode", ["upsert", "replace"])
def test_failure_after_rows_were_merged_rolls_back(
    settings: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """The rows (and for replace, the DELETE of every other row) are in; then the database fails."""
    path = tmp_path / "lots.geojson"
    parcels(50).to_file(path)
    parcels(3, admin_code=f"{PREFIX}2").to_file(tmp_path / "other.geojson")
    load_file(settings, tmp_path / "other.geojson", "parcels")
    before = state(engine, "parcels")
    real_merge = loader.merge

    def merge_then_fail(cur: Any, *args: Any) -> Any:
        counts = real_merge(cur, *args)
        assert counts[0] == 50  # the rows are in the table, inside the transaction
        cur.execute("SELECT 1 / 0")
        return counts

    monkeypatch.setattr(loader, "merge", merge_then_fail)
    with pytest.raises(LoadError, match="division by zero"):
        load_file(settings, path, "parcels", mode=mode)
    assert state(engine, "parcels") == before


def test_replace_swaps_the_layer_and_bumps_once(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    saved = snapshot(engine, "planning_zones", "code NOT LIKE 'TLD%'")  # replace empties the layer
    try:
        first, second = tmp_path / "z1.gpkg", tmp_path / "z2.gpkg"
        zones(3).to_file(first)
        zones(2).to_file(second)
        load_file(settings, first, "planning_zones")
        before = version(engine, "planning_zones")
        report = load_file(settings, second, "planning_zones", mode="replace")
        assert (report.inserted, report.deleted) == (2, 3 + len(saved))
        assert version(engine, "planning_zones") == before + 1
        assert rows(engine, "SELECT count(*) FROM planning_zones")[0][0] == 2
    finally:
        _restore(engine, "planning_zones", saved)


def plain_columns(engine: Engine, table: str) -> list[str]:
    """The columns one may INSERT into (not the generated area_ha, geom_3857)."""
    found = rows(
        engine,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = :t AND is_generated = 'NEVER' ORDER BY ordinal_position",
        t=table,
    )
    return [r[0] for r in found]


def snapshot(engine: Engine, table: str, where: str) -> list[dict[str, Any]]:
    columns = ", ".join(plain_columns(engine, table))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(f"SELECT {columns} FROM {table} WHERE {where}")).mappings()]


def _restore(engine: Engine, table: str, saved: list[dict[str, Any]]) -> None:
    if not saved:
        return
    columns = list(saved[0])
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    with engine.begin() as conn:
        conn.execute(text(statement), saved)


@pytest.mark.slow
def test_hundred_thousand_features(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "big.gpkg"
    frame = parcels(100_000, geoms=lots(100_000, size=0.00004))  # 4 m lots
    frame["sheet_no"] = [str(i // 1000) for i in range(100_000)]
    frame.to_file(path)
    before = version(engine, "parcels")
    report = load_file(settings, path, "parcels")
    assert (report.inserted, report.rejected) == (100_000, 0)
    assert version(engine, "parcels") == before + 1
    assert rows(engine, "SELECT count(*) FROM parcels WHERE admin_code = 'TLD1'")[0][0] == 100_000


def test_cli_load_prints_summary_and_fails_in_one_line(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "cli.geojson"
    parcels(2).to_file(path)
    runner = CliRunner()
    env = {"GIS_DATABASE_URL": settings.dsn}
    ok = runner.invoke(app, ["load", str(path), "--layer", "parcels"], env=env)
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.strip().startswith("cli.geojson -> parcels: 2 inserted, 0 updated")
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    failed = runner.invoke(app, ["load", str(bad), "--layer", "parcels"], env=env)
    assert failed.exit_code == 1
    assert failed.stderr.count("\n") == 1 and failed.stderr.startswith("error: cannot read bad.geojson")
