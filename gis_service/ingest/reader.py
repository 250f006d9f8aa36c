"""Read a layer file (GeoJSON, GeoPackage, Shapefile, CSV) into attributes, geometries and a CRS.

Everything a driver can get wrong ends here as :class:`~gis_service.errors.LoadError` with one line,
or as a per-feature problem (an unreadable geometry) for the validator to reject. Text comes out as
Unicode NFC whatever the source encoding, so a Vietnamese name compares equal however it was typed.
"""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import shape

from gis_service.crs import pyproj_crs, srid_of, to_wgs84
from gis_service.errors import LoadError

DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".shp": "ESRI Shapefile",
           ".csv": "CSV", ".fgb": "FlatGeobuf"}  # fmt: skip
CSV_OPTIONS = {
    "GEOM_POSSIBLE_NAMES": "wkt,geometry,geom",
    "X_POSSIBLE_NAMES": "lon,lng,longitude,x",
    "Y_POSSIBLE_NAMES": "lat,latitude,y",
    "KEEP_GEOM_COLUMNS": "NO",
}
#: ArcGIS writes code pages in .cpg files as bare numbers; these two are not ``cp<n>`` in Python.
CPG_ALIASES = {"65001": "utf-8", "88591": "latin-1", "utf8": "utf-8"}
VN2000_HINT = "EPSG:9210 (VN-2000 / TM-3 105-45), EPSG:3405 (VN-2000 / UTM 48N) or EPSG:4326"


@dataclass
class RawLayer:
    """One file's features as read, before any check: geometries are in the source CRS."""

    name: str
    driver: str
    frame: pd.DataFrame
    geometries: np.ndarray
    #: True where the stored geometry could not be parsed at all (kept None in ``geometries``).
    unreadable: np.ndarray
    #: True where an unclosed ring was closed while parsing.
    ring_closed: np.ndarray
    crs: CRS | None
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.geometries)


def read_file(path: Path, *, prefer_layer: str | None = None) -> RawLayer:
    """Read the whole file; the caller resolves the CRS with :func:`source_crs`."""
    path = Path(path)
    driver = _driver_of(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = _read_with_gdal(path, driver, prefer_layer)
        except OSError as exc:
            raise LoadError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            if driver != "GeoJSON":
                raise LoadError(f"cannot read {path.name}: {_first_line(exc)}") from exc
            raw = _read_geojson_leniently(path, exc)
    raw.warnings[:0] = list(dict.fromkeys(f"{path.name}: {_first_line(w.message)}" for w in caught))
    if len(raw) == 0:
        raise LoadError(f"{path.name} has no features")
    return raw


def _driver_of(path: Path) -> str:
    if not path.exists():
        raise LoadError(f"{path} does not exist")
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise LoadError(f"{path.name}: unsupported file type; give GeoJSON, GeoPackage, Shapefile or CSV")
    return driver


def _first_line(exc: object) -> str:
    """GDAL's message, without the path (the caller names the file) or its advice on drivers."""
    lines = str(exc).strip().splitlines()
    line = lines[0] if lines else type(exc).__name__
    line = line.split("; It might help to specify the correct driver")[0].rstrip(".")
    return re.sub(r"^'[^']*' (not recognized)", r"\1", line)


def _read_with_gdal(path: Path, driver: str, prefer_layer: str | None) -> RawLayer:
    notes: list[str] = []
    options: dict[str, Any] = {"layer": _pick_layer(path, driver, prefer_layer, notes)}
    codec = _shapefile_codec(path, notes) if driver == "ESRI Shapefile" else None
    if codec:
        options["ENCODING"] = ""  # raw bytes (as latin-1): GDAL's iconv drops CP1258's last letter
    if driver == "CSV":
        options.update(CSV_OPTIONS)
    try:
        meta, _, wkb, fields = pyogrio.raw.read(path, **options)
    except UnicodeDecodeError as exc:
        raise LoadError(f"cannot read {path.name}: its text is not UTF-8 ({exc.reason})") from exc
    if driver == "CSV" and meta["geometry_type"] is None:
        raise LoadError(f"{path.name} has no geometry: give a wkt/geometry/geom column or lon/lat columns")
    frame = pd.DataFrame({str(n): values for n, values in zip(meta["fields"], fields, strict=True)})
    if codec and str(meta.get("encoding", "")).upper() in ("ISO-8859-1", "LATIN1", "LATIN-1"):
        frame = _recode(frame, codec)
    geoms, unreadable, closed = parse_wkb(wkb)
    crs = _file_crs(meta.get("crs"), path)
    return RawLayer(path.name, driver, _nfc(frame), geoms, unreadable, closed, crs, notes)


def _pick_layer(path: Path, driver: str, prefer: str | None, notes: list[str]) -> str | int:
    """A GeoPackage's layer named like the target layer, else its first one (with a warning)."""
    if driver != "GPKG":
        return 0
    try:
        names = [str(row[0]) for row in pyogrio.list_layers(path)]
    except pyogrio.errors.DataSourceError as exc:
        raise LoadError(f"cannot read {path.name}: {_first_line(exc)}") from exc
    if not names:
        raise LoadError(f"{path.name} has no layers")
    if prefer in names:
        return prefer
    if len(names) > 1:
        notes.append(f"{path.name}: read its first layer {names[0]!r} of {len(names)} ({', '.join(names)})")
    return names[0]


def _shapefile_codec(path: Path, notes: list[str]) -> str | None:
    """Python codec named by the .cpg, when it is not UTF-8 (None: let GDAL decode)."""
    cpg = path.with_suffix(".cpg")
    if not cpg.exists():
        return None
    label = cpg.read_text(encoding="ascii", errors="replace").strip().lower()
    label = label.removeprefix("ansi ").strip()
    name = CPG_ALIASES.get(label, f"cp{label}" if label.isdigit() else label)
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        notes.append(f"{path.name}: unknown code page {label!r} in {cpg.name}; decoded by GDAL")
        return None
    return None if codec == "utf-8" else codec


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]


def _recode(frame: pd.DataFrame, codec: str) -> pd.DataFrame:
    """GDAL handed the bytes over as latin-1 (one char per byte); decode them with the real codec."""
    for name in _text_columns(frame):
        frame[name] = frame[name].map(lambda v: v.encode("latin-1").decode(codec) if isinstance(v, str) else v)
    return frame


def _nfc(frame: pd.DataFrame) -> pd.DataFrame:
    frame.columns = [unicodedata.normalize("NFC", str(c)) for c in frame.columns]
    for name in _text_columns(frame):
        frame[name] = frame[name].map(lambda v: unicodedata.normalize("NFC", v) if isinstance(v, str) else v)
    return frame


def parse_wkb(wkb: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Geometries from WKB; an unclosed ring is closed (and flagged), anything else unparsable is None."""
    if wkb is None:
        return np.empty(0, dtype=object), np.zeros(0, bool), np.zeros(0, bool)
    data = np.asarray(wkb, dtype=object)
    with np.errstate(all="ignore"):
        geoms = shapely.from_wkb(data, on_invalid="ignore")
        failed = np.array([g is None and b is not None for g, b in zip(geoms, data, strict=True)], dtype=bool)
        closed = np.zeros(len(data), dtype=bool)
        if failed.any():
            fixed = shapely.from_wkb(data[failed], on_invalid="fix")
            geoms[failed] = fixed
            closed[failed] = [g is not None for g in fixed]
    return geoms, failed & ~closed, closed


def _file_crs(text: str | None, path: Path) -> CRS | None:
    if not text:
        return None
    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise LoadError(f"{path.name}: its CRS cannot be understood; give --crs ({VN2000_HINT})") from exc


def _read_geojson_leniently(path: Path, gdal_error: Exception) -> RawLayer:
    """GDAL refuses a whole GeoJSON file for one 1e999 or NaN; Python's json reads them, so the
    validator can reject those features one by one instead."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        features = doc["features"] if doc.get("type") == "FeatureCollection" else [doc]
        records = [dict(f.get("properties") or {}) for f in features]
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise LoadError(f"cannot read {path.name}: {_first_line(gdal_error)}") from exc
    geoms = np.empty(len(features), dtype=object)
    unreadable = np.zeros(len(features), dtype=bool)
    for i, feature in enumerate(features):
        geoms[i], unreadable[i] = _shape_or_none(feature.get("geometry"))
    crs_name = ((doc.get("crs") or {}).get("properties") or {}).get("name") or "OGC:CRS84"
    note = f"{path.name}: GDAL could not read it ({_first_line(gdal_error)}); read feature by feature"
    frame = _nfc(pd.DataFrame.from_records(records) if records else pd.DataFrame())
    closed = np.zeros(len(features), dtype=bool)
    return RawLayer(path.name, "GeoJSON", frame, geoms, unreadable, closed, _file_crs(crs_name, path), [note])


def _shape_or_none(geometry: Any) -> tuple[Any, bool]:
    if geometry is None:
        return None, False
    try:
        with np.errstate(all="ignore"):
            return shape(geometry), False
    except (ValueError, TypeError, KeyError, AttributeError, shapely.errors.ShapelyError):
        return None, True


@dataclass(frozen=True)
class SourceCrs:
    """The CRS coordinates are read in: an SRID when known (VN-2000 then uses the pinned shift)."""

    srid: int | None
    crs: CRS

    @classmethod
    def of(cls, srid: int) -> SourceCrs:
        return cls(srid, pyproj_crs(srid))


def source_crs(raw: RawLayer, declared: str | None) -> SourceCrs:
    """``declared`` wins over the file's own CRS; a file with neither must be in lon/lat."""
    if declared:
        try:
            chosen = SourceCrs.of(srid_of(declared))
        except (KeyError, ValueError, CRSError) as exc:
            raise LoadError(f"unknown CRS {declared!r}; use an EPSG code such as {VN2000_HINT}") from exc
        if raw.crs is not None and not raw.crs.equals(chosen.crs, ignore_axis_order=True):
            raw.warnings.append(f"{raw.name}: its own CRS ({raw.crs.name}) overridden by {declared}")
        return chosen
    if raw.crs is None:
        return _assume_lonlat(raw)
    epsg = raw.crs.to_epsg(min_confidence=70)
    if epsg is not None:
        return SourceCrs.of(epsg)
    if raw.crs.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        return SourceCrs.of(4326)
    datum = (raw.crs.datum.name if raw.crs.datum else "").lower()
    if "2000" in datum and ("vn" in datum or "vietnam" in datum):
        raise LoadError(f"{raw.name} is in a VN-2000 CRS without an EPSG code; give --crs {VN2000_HINT}")
    raw.warnings.append(f"{raw.name}: its CRS has no EPSG code; transformed with PROJ's default operation")
    return SourceCrs(None, raw.crs)


def _assume_lonlat(raw: RawLayer) -> SourceCrs:
    with np.errstate(all="ignore"):
        coords = shapely.get_coordinates(raw.geometries)
    coords = coords[np.isfinite(coords).all(axis=1)]
    lonlat = len(coords) > 0 and bool((np.abs(coords[:, 0]) <= 180).all() and (np.abs(coords[:, 1]) <= 90).all())
    if not lonlat:
        raise LoadError(f"{raw.name} has no CRS and its coordinates are not lon/lat; give --crs {VN2000_HINT}")
    raw.warnings.append(f"{raw.name} has no CRS; its coordinates look like lon/lat, read as EPSG:4326")
    return SourceCrs.of(4326)


def to_lonlat(geometries: np.ndarray, source: SourceCrs) -> np.ndarray:
    """Geometries in EPSG:4326 with x = lon, through the pinned VN-2000 shift where it applies."""
    if source.srid == 4326:
        return geometries
    if source.srid is not None:
        transformer = to_wgs84(source.srid)
    else:
        transformer = Transformer.from_crs(source.crs, CRS.from_epsg(4326), always_xy=True)

    def project(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1], errcheck=False)
        return np.column_stack([x, y])

    with np.errstate(all="ignore"):
        return shapely.transform(geometries, project)
