"""What a client sends to change features, read and checked before any transaction (no I/O): ``If-Match``,
the media type, the JSON body (bounded nesting), a merge patch (RFC 7396) and the feature, checked the
loader's way and refused (422) naming the property or the geometry at fault.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd
import shapely
from shapely.geometry import mapping, shape

from gis_service.catalog import LayerSpec
from gis_service.crs import OGC_CRS84, SUPPORTED, ServiceCrs
from gis_service.errors import InvalidFeature, InvalidParameter, LoadError, UnsupportedMediaType
from gis_service.ingest.reader import RawLayer, SourceCrs, to_lonlat
from gis_service.ingest.validate import Notes, check, check_geometries, table_spec
from gis_service.literals import INT64
from gis_service.models.history import MAINTAINED_COLUMNS
from gis_service.queries import edits as eq

MERGE_PATCH = "application/merge-patch+json"
#: What a body's coordinates are without ``Content-Crs``, and what a stored feature is merged and checked in.
CRS84 = SUPPORTED[OGC_CRS84]
FEATURE_TYPES = ("application/geo+json", "application/json")
MAX_DEPTH = 16
#: One entity tag of a list, then optional whitespace (RFC 9110: spaces and tabs) and a comma or the end.
ETAG = re.compile(r'(W/)?"([^"]*)"[ \t]*(?:,|$)')
#: A tag this service gives (ASCII digits: `"v²"` is no version).
VERSION_TAG = re.compile(r"v[0-9]{1,18}")
#: What the integer columns hold, by SQLAlchemy type (BIGINT otherwise).
INTEGER_RANGES = {"SmallInteger": (-(2**15), 2**15 - 1), "Integer": (-(2**31), 2**31 - 1)}
#: The loader's reasons that are about a property: "missing name", "status: 'x' is not a valid int".
PROPERTY_REASON = re.compile(r"^(?:missing (?:natural key )?(\w+)$|(\w+): )")


# ---- headers and body -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IfMatch:
    """``If-Match`` per RFC 9110 13.1.1: ``*``, or strong tags (a weak tag never matches)."""

    star: bool = False
    versions: frozenset[int] = frozenset()

    @classmethod
    def parse(cls, header: str | None) -> IfMatch | None:
        if header is None:
            return None
        if header.strip(" \t") == "*":
            return cls(star=True)
        versions: set[int] = set()
        rest = header.lstrip(" \t,")  # empty list elements are allowed (RFC 9110 5.6.1): no tag, no match
        while rest:
            match = ETAG.match(rest)
            if match is None:
                raise InvalidParameter("If-Match: not a list of entity tags (\"v3\", \"v3\", \"v4\" or *)",
                                       parameter="If-Match")  # fmt: skip
            weak, tag = match.groups()
            if not weak and VERSION_TAG.fullmatch(tag):
                versions.add(int(tag[1:]))
            rest = rest[match.end() :].lstrip(" \t,")
        return cls(versions=frozenset(versions))

    def holds(self, version: int | None) -> bool:
        return version is not None and (self.star or version in self.versions)

    @property
    def expected(self) -> frozenset[int] | None:
        """The versions the write is conditional on (None: any existing row)."""
        return None if self.star else self.versions


def media_type(content_type: str | None, accepted: tuple[str, ...]) -> None:
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in accepted:
        raise UnsupportedMediaType(f"the body must be {' or '.join(accepted)}, not {media or 'untyped'}",
                                   parameter="Content-Type")  # fmt: skip


def json_body(body: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"body: not JSON ({exc})", parameter="body") from None
    if not isinstance(document, dict):
        raise InvalidParameter("body: a JSON object is expected", parameter="body")
    if _deeper_than(document, MAX_DEPTH):
        raise InvalidParameter(f"body: nested deeper than {MAX_DEPTH} levels", parameter="body")
    return document


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels (walked without recursion)."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return False


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge member by member, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


def keep_id(spec: LayerSpec, feature_id: Any, document: dict[str, Any]) -> None:
    """A merge patch may not change the feature's id (400), in ``id`` or in the id property."""
    given = document.get("properties")
    properties: dict[str, Any] = given if isinstance(given, dict) else {}
    for name, value in (("id", document.get("id")), (f"properties.{spec.id_column}", properties.get(spec.id_column))):
        if value is not None and str(value) != str(feature_id):
            raise InvalidParameter(f"{name}: the id of a feature cannot be changed", parameter=name)


def patch_to_crs84(spec: LayerSpec, document: dict[str, Any], crs: ServiceCrs) -> dict[str, Any]:
    """The geometries of a merge patch sent in ``Content-Crs`` (the feature's, and the further geometries in its
    properties), in CRS84 (the merge happens on the stored feature); what is not GeoJSON is left for the
    checks to refuse."""
    result = {**document, "geometry": _crs84(document.get("geometry"), crs)} if "geometry" in document else document
    properties = document.get("properties")
    extra = eq.extra_geometries(spec)
    if isinstance(properties, dict) and any(isinstance(properties.get(n), dict) for n in extra):
        moved = {n: _crs84(v, crs) if n in extra else v for n, v in properties.items()}
        result = {**result, "properties": moved}
    return result


def _crs84(geometry: Any, crs: ServiceCrs) -> Any:
    if not isinstance(geometry, dict):
        return geometry
    try:
        geom = _geometry(geometry, crs)
    except InvalidFeature:
        return geometry
    return mapping(to_lonlat(np.array([geom], dtype=object), SourceCrs.of(crs.srid))[0])


# ---- the feature: the loader's checks, on one feature ---------------------------------------------------


@dataclass
class Candidate:
    """A feature ready to write: column values and the geometry (WKB, EPSG:4326)."""

    values: dict[str, Any]
    wkb: bytes | None
    warnings: list[str] = field(default_factory=list)
    #: Further geometry columns (``footprint``) as WKB in EPSG:4326, None where the feature has none.
    extra: dict[str, bytes | None] = field(default_factory=dict)


def checked_feature(spec: LayerSpec, feature: dict[str, Any], crs: ServiceCrs, key: Any = None) -> Candidate:
    """The feature's writable properties and geometry, refused (422) where the loader would reject it;
    ``key``: the id it is written under where the id is a column of the layer (``code``)."""
    if feature.get("type") != "Feature":
        raise InvalidFeature('the body must be a GeoJSON Feature ("type": "Feature")', parameter="type")
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise InvalidFeature("properties must be an object", parameter="properties")
    extra_names = eq.extra_geometries(spec)
    extra = {name: extra_geometry(spec, name, properties.get(name), crs) for name in extra_names}
    values = _properties(spec, {k: v for k, v in properties.items() if k not in extra_names})
    if key is not None and spec.id_column in eq.writable_columns(spec):
        values[spec.id_column] = str(key)
    geometry = _geometry(feature.get("geometry"), crs)
    raw = RawLayer("feature", "GeoJSON", pd.DataFrame({k: [v] for k, v in values.items()}, dtype=object),
                   np.array([geometry], dtype=object), np.array([False]), np.array([False]), None)  # fmt: skip
    try:
        checked = check(raw, table_spec(spec.table), SourceCrs.of(crs.srid), {})
    except LoadError as exc:
        raise InvalidFeature(exc.detail.replace("feature lacks", "the feature lacks")) from None
    if checked.rejects:
        raise _rejected(checked.rejects[0].reason, geometry)
    row = {c: checked.values[c][0] for c in checked.values}
    _in_range(spec, row)
    notes = [_one(w) for w in checked.warnings]
    notes += [f"properties.{name}: {w}" for name, (_, ws) in extra.items() for w in ws]
    return Candidate(row, shapely.to_wkb(checked.geometries[0]), notes, {n: wkb for n, (wkb, _) in extra.items()})


def _in_range(spec: LayerSpec, row: dict[str, Any]) -> None:
    """Integers the column can hold (the driver would refuse them naming no property)."""
    columns = eq.model_table(spec).c
    for name, value in row.items():
        if isinstance(value, int | np.integer) and not isinstance(value, bool) and name in columns:
            low, high = INTEGER_RANGES.get(type(columns[name].type).__name__, INT64)
            if not low <= value <= high:
                raise InvalidFeature(
                    f"properties.{name}: {value} is outside {low}..{high}", parameter=f"properties.{name}"
                )


def _one(warning: str) -> str:
    return re.sub(r"^1 feature\(s\): | \(feature 1\)$", "", warning)


def extra_geometry(spec: LayerSpec, name: str, value: Any, crs: ServiceCrs) -> tuple[bytes | None, list[str]]:
    """A footprint given as a GeoJSON (Multi)Polygon in the properties, checked as the loader checks a
    polygon layer's geometry (finite, inside the province, repaired or refused); (WKB, warnings)."""
    parameter = f"properties.{name}"
    if value is None:
        return None, []
    if isinstance(value, str):  # clients that keep it as a text field (QGIS) send it back as text
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            value = None
        if _deeper_than(value, MAX_DEPTH):  # text escapes the body's bound: no deeper than the body may be
            value = None
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidFeature(f"{parameter}: a GeoJSON Polygon or MultiPolygon is expected", parameter=parameter)
    geom = _geometry(value, crs, parameter)
    polygons = dataclasses.replace(table_spec(spec.table), geometry_type="MULTIPOLYGON")
    raw = RawLayer(name, "GeoJSON", pd.DataFrame(index=[0]), np.array([geom], dtype=object), np.array([False]),
                   np.array([False]), None)  # fmt: skip
    reasons: list[list[str]] = [[]]
    notes = Notes()
    checked = check_geometries(raw, polygons, SourceCrs.of(crs.srid), reasons, notes)
    if reasons[0]:
        raise InvalidFeature(f"{parameter}: {reasons[0][0]}", parameter=parameter)
    return shapely.to_wkb(checked[0]), [_one(w) for w in notes.render()]


def _properties(spec: LayerSpec, properties: dict[str, Any]) -> dict[str, Any]:
    writable = eq.writable_columns(spec)
    readonly = {spec.id_column, *(p.name for p in spec.properties), *MAINTAINED_COLUMNS}
    values = {}
    for name, value in properties.items():
        if name not in writable:
            if name in readonly:
                continue  # the id and computed values are the server's (QGIS sends them back)
            raise InvalidFeature(f"properties.{name}: {spec.id} has no such property", parameter=f"properties.{name}")
        if isinstance(value, dict | list):
            raise InvalidFeature(f"properties.{name}: a string, number, boolean or null is expected",
                                 parameter=f"properties.{name}")  # fmt: skip
        if isinstance(value, str) and "\x00" in value:  # PostgreSQL text cannot hold it
            raise InvalidFeature(f"properties.{name}: NUL characters are not allowed", parameter=f"properties.{name}")
        prop = spec.property(name)
        if value is not None and prop is not None and prop.enum and value not in prop.enum:
            raise InvalidFeature(f"properties.{name}: {value!r} is not one of {', '.join(prop.enum)}",
                                 parameter=f"properties.{name}")  # fmt: skip
        values[name] = value
    for name in eq.required_properties(spec):
        if values.get(name) in (None, ""):
            raise InvalidFeature(f"properties.{name} is required", parameter=f"properties.{name}")
    return values


def _geometry(geometry: Any, crs: ServiceCrs, parameter: str = "geometry") -> Any:
    """A GeoJSON geometry as shapely, x = lon (or easting) whatever the axis order of ``crs``."""
    if geometry is None:
        raise InvalidFeature(f"{parameter} is required", parameter=parameter)
    try:
        geom = shape(geometry)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, shapely.errors.ShapelyError) as exc:
        raise InvalidFeature(f"{parameter}: not a GeoJSON geometry ({exc})", parameter=parameter) from None
    if crs.lat_first:
        geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
    return geom


def _rejected(reason: str, geometry: Any) -> InvalidFeature:
    """The loader's first reason, named: ``properties.<name>`` or ``geometry`` (with the coordinate)."""
    first = reason.split("; ")[0]
    named = PROPERTY_REASON.match(first)
    if named:
        name = named.group(1) or named.group(2)
        return InvalidFeature(f"properties.{first}", parameter=f"properties.{name}")
    if "outside" in first:
        x, y = shapely.get_coordinates(geometry)[0]
        return InvalidFeature(f"geometry: {first}; its first coordinate is [{x:g}, {y:g}]",
                              parameter="geometry", coordinate=[x, y])  # fmt: skip
    return InvalidFeature(f"geometry: {first}", parameter="geometry")
