"""QGIS 3.22 headless: every collection opens as an OAPIF layer with the database's feature count.

QGIS runs on Debian's /usr/bin/python3 (python3-qgis), so ``qgis_probe.py`` runs in a subprocess.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from gis_service.catalog import Catalog
from tests.clients.conftest import db_geometry_types, run_qgis

pytestmark = pytest.mark.clients

PAGE_SIZE = 7


def run_probe(base: str, collection_ids: list[str], tmp_path: Path, page_size: int | None = None) -> dict[str, Any]:
    """The probe's ``layers`` report."""
    options = ["--page-size", str(page_size)] if page_size is not None else []
    layers: dict[str, Any] = run_qgis("qgis_probe.py", *options, base, *collection_ids, tmp_path=tmp_path)["layers"]
    return layers


def counts(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    keys = ("isValid", "featureCount", "fetched", "error")
    return {cid: {key: layer[key] for key in keys} for cid, layer in report.items()}


def expected(db_counts: dict[str, int]) -> dict[str, dict[str, Any]]:
    return {cid: {"isValid": True, "featureCount": n, "fetched": n, "error": ""} for cid, n in db_counts.items()}


@pytest.fixture(scope="module")
def every_layer(server: str, collection_ids: list[str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One QGIS run over every collection, pages sized by QGIS from the OpenAPI ``limit`` parameter."""
    return run_probe(server, collection_ids, tmp_path_factory.mktemp("qgis"))


def test_every_collection_is_a_valid_oapif_layer(every_layer: dict[str, Any], db_counts: dict[str, int]) -> None:
    """Valid, with the database's count both reported and fetched; empty collections valid with 0."""
    assert counts(every_layer) == expected(db_counts)


def test_collections_with_geometries_open_as_spatial_layers(
    every_layer: dict[str, Any], bundled: Engine, catalog: Catalog, collection_ids: list[str]
) -> None:
    """QGIS 3.22 takes the layer's geometry type from the first page it asks (``items?limit=10``).

    A collection whose table holds geometries must open as a spatial layer of one of their types, not as
    a ``NoGeometry`` table whose points never reach the map.
    """
    db_types = {cid: db_geometry_types(bundled, catalog.get(cid)) for cid in collection_ids}
    wrong = {
        cid: {"qgis": every_layer[cid]["wkbType"], "database": sorted(types)}
        for cid, types in db_types.items()
        if types and str(every_layer[cid]["wkbType"]).upper() not in types
    }
    assert wrong == {}


def test_qgis_follows_next_links(server: str, db_counts: dict[str, int], tmp_path: Path) -> None:
    chosen = ["admin_units", "industrial_parks"]
    report = run_probe(server, chosen, tmp_path, page_size=PAGE_SIZE)
    assert counts(report) == expected({cid: db_counts[cid] for cid in chosen})
