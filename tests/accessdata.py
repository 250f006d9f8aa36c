"""Fixtures of the access tests: a catalogue with one non-public layer, parcels inside and outside an edit
area, accounts with keys and grants made by the admin code the CLI uses, and connections as the app role.

Registered as a plugin by ``tests/conftest.py``; the parcels are removed again at the end of each module.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import CRS, Transformer
from shapely.geometry import shape
from sqlalchemy import Engine, text

from gis_service.auth import dbroles
from gis_service.auth.admin import Admin
from gis_service.crs import pyproj_crs
from gis_service.settings import PROJECT_ROOT, Settings

PROTECTED = "parcels"
ADMIN_CODE = "TACC"
#: The edit area (lon/lat) and parcels inside it, outside it, and across its edge.
AREA = (106.60, 10.95, 106.70, 11.05)
PARCELS = {
    "inside": (106.62, 10.97, 106.63, 10.98),
    "outside": (106.80, 11.10, 106.81, 11.11),
    "across": (106.695, 10.99, 106.705, 11.00),
}


def box_wkt(west: float, south: float, east: float, north: float) -> str:
    return f"MULTIPOLYGON((({west} {south},{east} {south},{east} {north},{west} {north},{west} {south})))"


def box_geojson(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def unique(name: str) -> str:
    return f"{name}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Account:
    name: str
    key: str = field(repr=False)  # gsk_….…, as the client sends it; kept out of failure reports

    @property
    def prefix(self) -> str:
        return self.key.partition(".")[0]


@pytest.fixture(scope="session")
def protected_layers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the catalogue in which ``parcels`` is not public."""
    directory = tmp_path_factory.mktemp("layers")
    for path in (PROJECT_ROOT / "layers").iterdir():
        if path.is_dir():
            (directory / path.name).symlink_to(path)
        else:
            shutil.copy(path, directory / path.name)
    spec = directory / f"{PROTECTED}.yaml"
    spec.write_text(spec.read_text(encoding="utf-8") + "public: false\n", encoding="utf-8")
    return directory


@pytest.fixture(scope="session")
def access_settings(migrated: Settings, protected_layers: Path) -> Settings:
    """The test catalogue; failures are not throttled here (one test checks the throttle on its own app)."""
    auth = migrated.auth.model_copy(update={"failure_limit": 100_000})
    return migrated.model_copy(update={"layers_dir": protected_layers, "auth": auth})


@pytest.fixture(scope="session")
def admin(access_settings: Settings) -> Iterator[Admin]:
    session = Admin(access_settings)
    yield session
    session.close()


@pytest.fixture(scope="module")
def parcel_ids(bundled: Engine) -> Iterator[dict[str, int]]:
    """Three parcels (as the owner would load them), removed at the end of the module: other modules count
    what the bundled layers hold."""
    ids = {}
    with bundled.begin() as conn:
        for number, (name, box) in enumerate(PARCELS.items(), start=1):
            ids[name] = conn.execute(
                text(
                    "INSERT INTO parcels (admin_code, sheet_no, parcel_no, land_use_code, geom, geometry_quality, "
                    "source) VALUES (:code, '1', :no, 'ODT', ST_GeomFromText(:wkt, 4326), 'approximate', "
                    "'test: access') RETURNING id"
                ),
                {"code": ADMIN_CODE, "no": str(number), "wkt": box_wkt(*box)},
            ).scalar_one()
    yield ids
    with bundled.begin() as conn:
        conn.execute(text("DELETE FROM parcels WHERE admin_code = :code"), {"code": ADMIN_CODE})


@pytest.fixture(scope="session")
def area_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The edit area as a GeoJSON file in VN-2000 / UTM 48N (EPSG:3405): the CLI reprojects it to lon/lat."""
    from_lonlat = Transformer.from_crs(CRS.from_epsg(4326), pyproj_crs(3405), always_xy=True)
    polygon = shapely.transform(
        shape(box_geojson(*AREA)).segmentize(0.005),
        lambda xy: np.column_stack(from_lonlat.transform(xy[:, 0], xy[:, 1])),
    )
    path = tmp_path_factory.mktemp("area") / "area.geojson"
    feature = {"type": "Feature", "properties": {}, "geometry": polygon.__geo_interface__}
    document = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3405"}},
        "features": [feature],
    }
    path.write_text(json.dumps(document))
    return path


def basic(user: str, password: str) -> dict[str, str]:
    """HTTP Basic with the key as the password: the one scheme QGIS 3.22 and GDAL can send."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def auth(who: Account) -> dict[str, str]:
    return basic(who.name, who.key)


def account(admin: Admin, name: str, *grants: tuple[str, str], **key_options: Any) -> Account:
    """A new account with ``(collection, role)`` grants and one key."""
    name = unique(name)
    admin.add_user(name)
    for collection, role in grants:
        admin.set_grant(name, collection, role)
    return Account(name, admin.create_key(name, **key_options).token)


@pytest.fixture(scope="session")
def viewer(admin: Admin) -> Account:
    return account(admin, "viewer", (PROTECTED, "viewer"))


@pytest.fixture(scope="module")
def access_client(access_settings: Settings, bundled: Engine, parcel_ids: dict[str, int]) -> Iterator[TestClient]:
    from gis_service.main import create_app

    with TestClient(create_app(access_settings)) as test_client:
        yield test_client


def app_dsn(settings: Settings) -> str:
    """The libpq URL of the app role (what the API connects as)."""
    return settings.request_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def drop_login(admin: Admin, role: str) -> None:
    """Login roles are cluster-wide: the tests remove theirs (the CLI only ever disables them)."""
    with admin.engine.begin() as conn:
        conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))


@pytest.fixture(scope="module")
def qgis_login(admin: Admin, area_file: Path) -> Iterator[tuple[dbroles.Login, str]]:
    """(login, account name): a person who edits PostGIS directly (QGIS 3.22) under their own login role,
    an editor of the protected layer inside the edit area."""
    name = unique("qgis")
    admin.add_user(name)
    result = admin.set_grant(name, PROTECTED, "editor", area=area_file, db_login=True)
    assert result.login is not None
    yield result.login, name
    admin.disable_user(name)
    drop_login(admin, result.login.role)


@pytest.fixture
def as_app(access_settings: Settings) -> Iterator[psycopg.Connection]:
    """A connection as the app role, in a transaction rolled back at the end."""
    with psycopg.connect(app_dsn(access_settings)) as conn:
        assert conn.execute("SELECT session_user").fetchone() == (dbroles.APP,)
        yield conn
        conn.rollback()
