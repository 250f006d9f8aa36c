"""Site points and schematic lines of the third located pass (``layers/data/PROVENANCE.md`` §12–§15).

Pure functions from the bundled files to row values. Every coordinate is a sourced OSM object or waypoint;
a line is straight segments through its project's ordered waypoints and a gap the file names ("GAP to seq N")
is never bridged, so Ring Road 3 stays two pieces. A park that has no row in the sources table but that
PROVENANCE.md §6 names as a park of the province gets a row from its point alone: no area, status unknown.
Matching decisions live in ``bd_located_pass3.yaml``.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pyproj import Geod
from shapely.geometry import LineString, MultiLineString, Point, shape

from gis_service.errors import LoadError
from gis_service.ingest.validate import ascii_fold

FIRST_PASS_POINTS = "bd_industrial_parks_points.geojson"
PASS3_POINTS = "bd_industrial_parks_points_osm_pass3.csv"
WAYPOINTS = "bd_transport_waypoints_osm.csv"
USE = "bd_located_pass3.yaml"
PROVENANCE = "PROVENANCE.md"
DISTRICTS = "bd_districts_pre2025.geojson"
#: A "line" through fewer waypoints than this stands for no project: kept, drawn, flagged as a stub.
STUB_BELOW = 3
POINT_LICENCE = "ODbL 1.0 (© OpenStreetMap contributors)"
POINT_PUBLISHER = "OpenStreetMap contributors (HOT export bundled in PyPI geoclip-vietnam 1.0.2)"
LINE_PUBLISHER = "OpenStreetMap contributors (via kieucuong01/RadarBDS road-centers.json @02c3a22c)"

OSM_NODE = re.compile(r"https://www\.openstreetmap\.org/node/(\d+)")
OSM_WAYS = re.compile(r"OSM way\(s\) ([\d,]+)")
ACCURACY = re.compile(r"accuracy_radius_m=([\d.]+)")
GAP = re.compile(r"GAP to seq (\d+)")
NOTE = re.compile(r"\(schematic\);\s*(.+)$")
GEOD = Geod(ellps="WGS84")
#: PROVENANCE.md §6: the parks of the province for which the package's sources gave no area.
GAPS = re.compile(r"^Gaps: no sourced area was found for (.+?)\n\n", re.S | re.M)
COMPILED = re.compile(r"^Compiled (\d{4}-\d{2}-\d{2})", re.M)
#: The status of a park no cited statement gives one for (never guessed from a point).
UNKNOWN_STATUS = "unknown"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _use(data: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((data / USE).read_text(encoding="utf-8"))
    return loaded


def _found(pattern: re.Pattern[str], text: str, what: str) -> str:
    match = pattern.search(text)
    if match is None:
        raise LoadError(f"{what}: no {pattern.pattern!r} in {text[:80]!r}")
    return match.group(1)


# ---- park points ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParkPoint:
    """One row of the pass-3 points file that belongs to one of our parks."""

    node: str
    park: str
    use: str  # "site", "corroborates" or "park" (the site point of a park made from this row)
    kind: str
    point_kind: str
    lon: float
    lat: float
    notes: str
    name: str
    district: str | None = None  # use "park": the legacy district the point must lie in
    listed_as: str | None = None  # use "park": the park's name in the PROVENANCE.md §6 gap list

    @property
    def url(self) -> str:
        return f"https://www.openstreetmap.org/node/{self.node}"

    @property
    def confidence(self) -> str:
        return "weak" if "(weak)" in self.point_kind else "fair"

    @property
    def wkt(self) -> str:
        return f"POINT({self.lon} {self.lat})"

    @property
    def is_site(self) -> bool:
        return self.use in ("site", "park")

    def source_record(self) -> dict[str, Any]:
        """The point as a cited ``feature_sources`` statement of its park."""
        role = "site point" if self.is_site else "corroborates the site point"
        return {
            "layer": "industrial_parks",
            "feature_code": self.park,
            "attribute": "location",
            "value_num": None,
            "value_text": f"{self.wkt}: {self.point_kind}",
            "definition": f"{role}: {self.kind}; location confidence {self.confidence}",
            "url": self.url,
            "publisher": POINT_PUBLISHER,
            "source_date": None,
            "source_key": f"OSM_node_{self.node}",
            "is_canonical": self.is_site,
            "note": self.notes or None,
        }


def park_points(data: Path) -> list[ParkPoint]:
    """The rows matched to our parks (sites, corroborations, new parks); every row of the file must be decided."""
    decisions: dict[str, dict[str, str]] = _use(data)["park_points"]
    points = []
    for row in _rows(data / PASS3_POINTS):
        node = _found(OSM_NODE, row["source_url_or_repo_path"], row["name_vi"])
        decision = decisions.get(node)
        if decision is None:
            raise LoadError(f"{PASS3_POINTS}: OSM node {node} ({row['name_vi']}) has no decision in {USE}")
        if decision["use"] == "unmatched":
            continue
        points.append(
            ParkPoint(
                node=node,
                park=decision["park"],
                use=decision["use"],
                kind=decision["kind"],
                point_kind=row["point_kind"],
                lon=float(row["lon"]),
                lat=float(row["lat"]),
                notes=row["notes"],
                name=row["name_vi"],
                district=decision.get("district"),
                listed_as=decision.get("listed_as"),
            )
        )
    sites = [p.park for p in points if p.is_site]
    if len(sites) != len(set(sites)):
        raise LoadError(f"{USE}: a park has two site points")
    return points


# ---- parks made from a point ------------------------------------------------------------------------


def gap_list(data: Path) -> tuple[str, list[str]]:
    """PROVENANCE.md §6's gap sentence (whitespace collapsed) and the park names it lists."""
    text = (data / PROVENANCE).read_text(encoding="utf-8")
    match = GAPS.search(text)
    if match is None:
        raise LoadError(f"{PROVENANCE}: no 'Gaps: no sourced area was found for ...' paragraph in §6")
    listed = " ".join(match.group(1).split())
    return " ".join(match.group(0).split()), [name.strip() for name in listed.split(",")]


@dataclass(frozen=True)
class NewPark:
    """A park the sources table has no row for, made from its pass-3 point and the §6 line that names it."""

    point: ParkPoint
    district_code: str
    district_name: str
    gap: str
    compiled: str | None

    def record(self) -> dict[str, Any]:
        """The park's row without its location (added like any pass-3 site point): no figure is invented."""
        return {
            "code": self.point.park,
            "name": self.point.name,
            "name_ascii": ascii_fold(self.point.name),
            "kind": "KCN",
            "status": UNKNOWN_STATUS,
            "status_note": f"no cited statement gives a status; {PROVENANCE} §6 lists the park with no sourced area",
            "established_year": None,
            "planned_area_ha": None,
            "area_definition": None,
            "leased_area_ha": None,
            "occupancy_pct": None,
            "horizon_year": None,
            "district_code": self.district_code,
            "district_name": self.district_name,
            "location_text": None,
            "source": f"{PROVENANCE} §6 (a park of the province with no sourced area)",
            "license": "facts quoted with citation",
        }

    def gap_record(self) -> dict[str, Any]:
        """The §6 line as a cited statement: the park exists, and no area for it was found."""
        return {
            "layer": "industrial_parks",
            "feature_code": self.point.park,
            "attribute": "area_ha",
            "value_num": None,
            "value_text": "no sourced area found",
            "definition": f"listed as {self.point.listed_as!r} among the province's parks whose area no source gave",
            "url": None,
            "publisher": f"compiler of the bundled Bình Dương geodata package (layers/data/{PROVENANCE} §6)",
            "source_date": self.compiled,
            "source_key": "PROVENANCE_6_GAPS",
            "is_canonical": False,
            "note": self.gap,
        }


def new_parks(data: Path) -> list[NewPark]:
    """Parks made from a pass-3 row (``use: park``), each checked: named in the §6 gap list, and its point inside
    exactly one legacy district polygon, the one ``bd_located_pass3.yaml`` names."""
    points = [p for p in park_points(data) if p.use == "park"]
    if not points:
        return []
    gap, listed = gap_list(data)
    compiled = COMPILED.search((data / PROVENANCE).read_text(encoding="utf-8"))
    districts = [
        (f["properties"], shape(f["geometry"])) for f in json.loads((data / DISTRICTS).read_text())["features"]
    ]
    parks = []
    for point in points:
        if point.listed_as not in listed:
            raise LoadError(f"{USE}: {point.park}: {point.listed_as!r} is not in the gap list of {PROVENANCE} §6")
        inside = [props for props, polygon in districts if polygon.contains(Point(point.lon, point.lat))]
        if [props["name"] for props in inside] != [point.district]:
            found = [props["name"] for props in inside]
            raise LoadError(f"{USE}: {point.park}: OSM node {point.node} lies in {found}, not in {point.district!r}")
        parks.append(NewPark(point, inside[0]["gso_code"], inside[0]["name"], gap, compiled and compiled.group(1)))
    return parks


def location_sources(data: Path) -> list[dict[str, Any]]:
    """Every cited park location (site points, corroborations) and the §6 line behind each park made from a
    point, as ``feature_sources`` rows."""
    records = []
    for f in json.loads((data / FIRST_PASS_POINTS).read_text(encoding="utf-8"))["features"]:
        p = f["properties"]
        lon, lat = f["geometry"]["coordinates"]
        records.append(
            {
                "layer": "industrial_parks",
                "feature_code": p["park_id"],
                "attribute": "location",
                "value_num": None,
                "value_text": f"POINT({lon} {lat}): {p['geometry_quality']}",
                "definition": "site point: centre of the bounding box of the park's OSM area; location confidence fair",
                "url": f"https://www.openstreetmap.org/{p['osm_ref']}",
                "publisher": "OpenStreetMap contributors (coordinates quoted in a public code file)",
                "source_date": None,
                "source_key": f"OSM_{p['osm_ref'].replace('/', '_')}",
                "is_canonical": True,
                "note": p["source"],
            }
        )
    records += [point.source_record() for point in park_points(data)]
    return records + [park.gap_record() for park in new_parks(data)]


# ---- schematic lines --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Waypoint:
    seq: int
    lon: float
    lat: float
    place: str
    note: str | None
    ways: tuple[str, ...]
    accuracy_m: float
    gap_to: int | None

    @classmethod
    def of(cls, row: dict[str, str]) -> Waypoint:
        what = f"{row['project']} waypoint {row['seq']}"
        name = row["waypoint_name"]
        note = NOTE.search(name)
        gap = GAP.search(name)
        return cls(
            seq=int(row["seq"]),
            lon=float(row["lon"]),
            lat=float(row["lat"]),
            place=name.split(" – ", 1)[0],
            note=note.group(1) if note else None,
            ways=tuple(_found(OSM_WAYS, row["source"], what).split(",")),
            accuracy_m=float(_found(ACCURACY, row["source"], what)),
            gap_to=int(gap.group(1)) if gap else None,
        )

    def label(self) -> str:
        return f"waypoint {self.seq} ({self.place})"


def spacing_m(a: Waypoint, b: Waypoint) -> float:
    """Ellipsoidal distance between two waypoints, metres."""
    return float(GEOD.inv(a.lon, a.lat, b.lon, b.lat)[2])


@dataclass(frozen=True)
class SchematicLine:
    """A project's line through its ordered waypoints, in pieces split where the file names a gap."""

    code: str
    waypoints: tuple[Waypoint, ...]
    coverage: str | None = None

    @cached_property
    def pieces(self) -> list[list[Waypoint]]:
        pieces: list[list[Waypoint]] = [[]]
        for point in self.waypoints:
            pieces[-1].append(point)
            if point.gap_to is not None:
                if point.gap_to != point.seq + 1:
                    raise LoadError(f"{self.code}: {point.label()} names a gap to seq {point.gap_to}, not the next")
                pieces.append([])
        if any(len(piece) < 2 for piece in pieces):
            raise LoadError(f"{self.code}: a piece between gaps has fewer than two waypoints; it is no line")
        return pieces

    @property
    def geometry(self) -> MultiLineString:
        return MultiLineString([LineString([(p.lon, p.lat) for p in piece]) for piece in self.pieces])

    @property
    def accuracy_m(self) -> float:
        return max(p.accuracy_m for p in self.waypoints)

    @property
    def stub(self) -> bool:
        return len(self.waypoints) < STUB_BELOW

    @property
    def ways(self) -> list[str]:
        return list(dict.fromkeys(w for p in self.waypoints for w in p.ways))

    def gaps(self) -> list[str]:
        out = []
        for before, after in zip(self.pieces, self.pieces[1:], strict=False):
            a, b = before[-1], after[0]
            why = a.note.split(":", 1)[1].strip() if a.note and ":" in a.note else "no source names the road"
            out.append(f"gap of {spacing_m(a, b) / 1000:.1f} km between {a.label()} and {b.label()}: {why}")
        return out

    def missing(self) -> str:
        """The parts no source locates: named gaps, the waypoints' own notes, the file's coverage notes."""
        parts = self.gaps()
        parts += [f"{p.label()}: {p.note}" for p in self.waypoints if p.note and p.gap_to is None]
        if self.coverage:
            parts.append(self.coverage)
        return "; ".join(parts)

    def note(self) -> str:
        pieces = f" in {len(self.pieces)} pieces" if len(self.pieces) > 1 else ""
        stub = "stub: only two waypoints, it stands for no alignment; " if self.stub else ""
        return (
            f"schematic: {stub}straight segments through {len(self.waypoints)} ordered waypoints on named OSM "
            f"lines{pieces} (each the midpoint of an OSM road clipped to one legacy ward); worst waypoint accuracy "
            f"{self.accuracy_m:.0f} m; not the surveyed alignment, good at kilometre scale only"
        )

    def source(self) -> str:
        ways = ", ".join(f"way/{w}" for w in self.ways)
        return f"line: schematic through OSM waypoints ({ways}), {LINE_PUBLISHER}"

    def source_records(self) -> list[dict[str, Any]]:
        """Each waypoint as a cited statement: its coordinates, accuracy radius and OSM way ids."""
        return [
            {
                "layer": "transport_projects",
                "feature_code": self.code,
                "attribute": "waypoint",
                "value_num": p.accuracy_m,
                "value_text": f"{p.label()}: POINT({p.lon} {p.lat})",
                "definition": "waypoint of the schematic line; value = accuracy radius, metres",
                "url": f"https://www.openstreetmap.org/way/{p.ways[0]}",
                "publisher": LINE_PUBLISHER,
                "source_date": None,
                "source_key": f"OSM_WP_{self.code}_{p.seq}",
                "is_canonical": False,
                "note": "OSM way(s) " + ", ".join(p.ways),
            }
            for p in self.waypoints
        ]


def schematic_lines(data: Path) -> dict[str, SchematicLine]:
    """code -> line, for every project of the waypoints file (an unknown project name is an error)."""
    use = _use(data)["transport_waypoints"]
    codes: dict[str, str] = use["projects"]
    grouped: dict[str, list[Waypoint]] = {}
    for row in _rows(data / WAYPOINTS):
        code = codes.get(row["project"])
        if code is None:
            raise LoadError(f"{WAYPOINTS}: project {row['project']!r} has no code in {USE}")
        grouped.setdefault(code, []).append(Waypoint.of(row))
    coverage: dict[str, str] = use.get("coverage") or {}
    return {
        code: SchematicLine(code, tuple(sorted(points, key=lambda p: p.seq)), coverage.get(code))
        for code, points in grouped.items()
    }
