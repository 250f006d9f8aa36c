"""What each loadable layer accepts, and the checks that split a file into clean rows and rejects.

The layer definitions are derived from the ORM models, so a migration that adds a column makes it
loadable without touching this module. A value that does not fit its column, or a missing key, rejects
its feature with the reason; geometries are checked and repaired in :mod:`gis_service.ingest.geometries`.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from geoalchemy2 import Geometry
from sqlalchemy import Boolean, Date, Float, Integer, String

from gis_service.errors import LoadError
from gis_service.ingest.geometries import check_geometries
from gis_service.ingest.reader import RawLayer, SourceCrs
from gis_service.models import VERSIONED_TABLES, Base
from gis_service.models.history import MAINTAINED_COLUMNS

NATURAL_KEYS = {"parcels": ("admin_code", "sheet_no", "parcel_no"), "admin_units": ("code", "valid_from")}
GEOMETRY_COLUMN = "geom"
#: NOT NULL columns the loader fills when the file does not.
LOADER_DEFAULTS = ("source", "geometry_quality", "synthetic")
SHAPEFILE_NAME_LIMIT = 10
EXAMPLES = 10


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool
    length: int | None = None


@dataclass(frozen=True)
class TableSpec:
    """One loadable layer: its table, natural key, geometry and the columns a file may fill."""

    table: str
    natural_key: tuple[str, ...]
    geometry_type: str
    columns: dict[str, Column]
    geometry_column: str = GEOMETRY_COLUMN

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.required]


def table_spec(layer: str) -> TableSpec:
    """The spec of ``layer``; LoadError if it is not a loadable layer."""
    if layer not in VERSIONED_TABLES:
        raise LoadError(f"unknown layer {layer!r}; loadable layers are {', '.join(VERSIONED_TABLES)}")
    table = Base.metadata.tables[layer]
    columns: dict[str, Column] = {}
    for col in table.columns:
        if (
            col.primary_key
            or col.computed is not None
            or isinstance(col.type, Geometry)
            or col.name in MAINTAINED_COLUMNS
        ):
            continue
        required = not col.nullable and col.server_default is None and col.name not in LOADER_DEFAULTS
        columns[col.name] = Column(col.name, _kind(col.type), required, getattr(col.type, "length", None))
    geometry_type = str(table.columns[GEOMETRY_COLUMN].type.geometry_type).upper()  # type: ignore[attr-defined]
    return TableSpec(layer, NATURAL_KEYS.get(layer, ("code",)), geometry_type, columns)


def _kind(sql_type: object) -> str:
    for base, kind in ((Boolean, "bool"), (Integer, "int"), (Float, "float"), (Date, "date"), (String, "text")):
        if isinstance(sql_type, base):
            return kind
    return "text"


class Notes:
    """Warnings grouped by kind, so 100,000 repaired features make one line, not 100,000."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._features: dict[str, list[int]] = {}

    def feature(self, message: str, indices: Any) -> None:
        if np.size(indices) == 0:
            return
        self._features.setdefault(message, []).extend(int(i) + 1 for i in np.atleast_1d(indices))

    def render(self) -> list[str]:
        grouped = []
        for message, numbers in self._features.items():
            shown = ", ".join(map(str, numbers[:EXAMPLES])) + (", ..." if len(numbers) > EXAMPLES else "")
            grouped.append(f"{len(numbers)} feature(s): {message} (feature {shown})")
        return self.lines + grouped


@dataclass
class Reject:
    index: int
    reason: str
    key: dict[str, Any]
    geometry: Any


@dataclass
class Checked:
    """Accepted rows column by column (geometry last, EPSG:4326), the rejects and the warnings."""

    columns: list[str]
    values: dict[str, list[Any]]
    geometries: np.ndarray
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.geometries)


def check(raw: RawLayer, spec: TableSpec, source: SourceCrs, defaults: dict[str, Any]) -> Checked:
    """Split ``raw`` into rows ready for COPY and rejects; LoadError only for whole-file problems."""
    notes = Notes()
    notes.lines.extend(raw.warnings)
    reasons: list[list[str]] = [[] for _ in range(len(raw))]
    mapping = map_columns(list(raw.frame.columns), spec, raw, notes)
    values = {col: coerce(raw.frame[src].tolist(), spec.columns[col], reasons) for col, src in mapping.items()}
    _fill_defaults(values, spec, defaults, len(raw), notes)
    _require_values(values, spec, reasons)
    geometries = check_geometries(raw, spec, source, reasons, notes)
    keep = np.array([not r for r in reasons], dtype=bool)
    key_values = {k: values.get(k, [None] * len(raw)) for k in spec.natural_key}
    rejects = [
        Reject(int(i), "; ".join(reasons[i]), {k: v[i] for k, v in key_values.items()}, raw.geometries[i])
        for i in np.flatnonzero(~keep)
    ]
    accepted = {col: [v for v, k in zip(column, keep, strict=True) if k] for col, column in values.items()}
    columns = [*accepted, spec.geometry_column]
    return Checked(columns, accepted, geometries[keep], rejects, notes.render())


def map_columns(names: list[str], spec: TableSpec, raw: RawLayer, notes: Notes) -> dict[str, str]:
    """Table column -> file column, case-insensitively (and Shapefile's 10-character truncation)."""
    lookup = {c.lower(): c for c in spec.columns}
    mapping: dict[str, str] = {}
    ignored = []
    for name in names:
        target = lookup.get(name.lower()) or _untruncated(name, spec, raw.driver)
        if target is None or target in mapping:
            ignored.append(name)
            continue
        if target.lower() != name.lower():
            notes.lines.append(f"{raw.name}: column {name} read as {target} (Shapefile truncates names)")
        mapping[target] = name
    if ignored:
        notes.lines.append(f"{raw.name}: columns not in {spec.table} ignored: {', '.join(ignored)}")
    derivable = {"name_ascii"} if "name" in mapping else set()
    missing = [c for c in spec.required if c not in mapping and c not in derivable]
    if missing:
        raise LoadError(f"{raw.name} lacks the column(s) {spec.table} requires: {', '.join(missing)}")
    return mapping


def _untruncated(name: str, spec: TableSpec, driver: str) -> str | None:
    if driver != "ESRI Shapefile" or len(name) != SHAPEFILE_NAME_LIMIT:
        return None
    matches = [c for c in spec.columns if len(c) > len(name) and c.lower().startswith(name.lower())]
    return matches[0] if len(matches) == 1 else None


def _fill_defaults(
    values: dict[str, list[Any]], spec: TableSpec, defaults: dict[str, Any], n: int, notes: Notes
) -> None:
    for col, default in defaults.items():
        if col in spec.columns:
            column = values.setdefault(col, [None] * n)
            values[col] = [default if v is None else v for v in column]
    if "name_ascii" in spec.columns and "name" in values:
        names = values["name"]
        current = values.setdefault("name_ascii", [None] * n)
        missing = [i for i, v in enumerate(current) if v is None and names[i] is not None]
        for i in missing:
            current[i] = ascii_fold(names[i])
        if missing:
            notes.feature("name_ascii derived from name", missing)


def ascii_fold(text: str) -> str:
    """Vietnamese without diacritics (Đ -> D), as in every bundled layer's ``name_ascii``."""
    text = text.replace("Đ", "D").replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _require_values(values: dict[str, list[Any]], spec: TableSpec, reasons: list[list[str]]) -> None:
    for col in spec.columns.values():
        if not col.required or col.name not in values:
            continue
        label = "natural key " if col.name in spec.natural_key else ""
        for i, value in enumerate(values[col.name]):
            if value is None:
                reasons[i].append(f"missing {label}{col.name}")


def coerce(raw_values: list[Any], column: Column, reasons: list[list[str]]) -> list[Any]:
    """Values as the column's Python type; a value that does not fit rejects its feature."""
    convert = CONVERTERS[column.kind]
    out: list[Any] = []
    for i, value in enumerate(raw_values):
        if _missing(value):
            out.append(None)
            continue
        try:
            result = convert(value)
        except (ValueError, TypeError, OverflowError):
            reasons[i].append(f"{column.name}: {value!r} is not a valid {column.kind}")
            result = None
        if column.length and isinstance(result, str) and len(result) > column.length:
            reasons[i].append(f"{column.name}: longer than {column.length} characters")
        out.append(result)
    return out


def _missing(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    missing = pd.isna(value)  # None, NaN, NaT, pd.NA; an array for list-valued properties
    return bool(missing) if np.ndim(missing) == 0 else False


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    return str(value).strip()


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(value)
    number = float(value) if isinstance(value, float | str) else value
    if isinstance(number, float) and not number.is_integer():
        raise ValueError(value)
    return int(number)


def _float(value: Any) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip()[:10])


TRUE_WORDS = {"true", "t", "yes", "y", "1", "1.0", "có"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "0.0", "không"}


def _bool(value: Any) -> bool:
    word = str(value).strip().lower()
    if word in TRUE_WORDS | FALSE_WORDS:
        return word in TRUE_WORDS
    raise ValueError(value)


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "text": _text,
    "int": _int,
    "float": _float,
    "date": _date,
    "bool": _bool,
}
