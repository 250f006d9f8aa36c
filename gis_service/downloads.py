"""Downloads consultants expect: CSV (WKT geometry) and GeoPackage of any query."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
from shapely import from_wkt


def csv_text(rows: list[dict[str, Any]], names: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", *names, "geometry_wkt"])
    for row in rows:
        props = row["properties"]
        writer.writerow([row["id"], *("" if props.get(n) is None else props[n] for n in names), row["wkt"] or ""])
    return out.getvalue()


def geopackage(rows: list[dict[str, Any]], names: list[str], layer: str, srid: int) -> bytes:
    """A GeoPackage with one layer; written by GDAL (pyogrio) into a temporary file."""
    frame = gpd.GeoDataFrame(
        {
            "fid_source": [str(r["id"]) for r in rows],
            **{n: [r["properties"].get(n) for r in rows] for n in names},
        },
        geometry=[from_wkt(r["wkt"]) if r["wkt"] else None for r in rows],
        crs=f"EPSG:{srid}",
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{layer}.gpkg"
        pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG")
        return path.read_bytes()
