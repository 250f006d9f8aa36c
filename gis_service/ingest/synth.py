"""Synthetic parcels inside the real 2025 wards, for scale tests of tiles, queries and loads.

Every row is flagged (``synthetic`` = true, ``geometry_quality`` = 'synthetic', a ``source`` naming
the seed), so no map or statistic can mistake them for cadastre. The same seed over the same wards
gives the same parcels. Speed comes from numpy (lots, and their EWKB, are built as arrays), from
asking GEOS only about lots near a ward boundary, and from generating each ward while PostGIS is
still busy with the previous one, all in one COPY in one transaction.
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
import shapely
from psycopg import sql

from gis_service.errors import LoadError
from gis_service.ingest.loader import bump_once, connect, database_error, lock_version, progress
from gis_service.ingest.validate import table_spec
from gis_service.settings import Settings

WARD_DATE = "2025-07-01"
#: Vietnamese land-use codes (Circular 08/2024/TT-BTNMT) with their share of ordinary parcels.
LAND_USE = {
    "ONT": 0.24,  # rural residential
    "ODT": 0.18,  # urban residential
    "CLN": 0.20,  # perennial crops (rubber, cashew)
    "BHK": 0.09,  # other annual crops
    "LUC": 0.07,  # paddy rice
    "TMD": 0.06,  # commercial and services
    "SKC": 0.05,  # non-agricultural production and business
    "DGT": 0.04,  # transport
    "NTS": 0.02,  # aquaculture
    "DTL": 0.02,  # irrigation
    "DGD": 0.02,  # education
    "RSX": 0.01,  # production forest
}
INDUSTRIAL = ("SKK", "SKN")  # industrial park, industrial cluster
INDUSTRIAL_SHARE = 0.003
#: Median 0.15 ha, most between 0.03 and 0.8 ha; industrial lots median 4 ha, capped at 60 ha.
MEDIAN_M2, SIGMA = 1_500.0, 0.85
INDUSTRIAL_MEDIAN_M2, INDUSTRIAL_SIGMA, MAX_M2 = 40_000.0, 0.9, 600_000.0
MIN_M2 = 40.0
PARCELS_PER_SHEET = 400
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQUATOR = 111_320.0
MAX_TRIES = 12
CHUNK_ROWS = 50_000
GRID_CELL_DEG = 0.0005  # ~55 m
BULK_MIN_ROWS = 100_000


@dataclass
class SynthReport:
    count: int
    wards: int
    deleted: int
    seed: int
    seconds: float
    generate_seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (
            f"parcels: {self.count} synthetic parcels (seed {self.seed}) in {self.wards} wards, "
            f"{self.deleted} earlier synthetic deleted, in {self.seconds:.1f} s "
            f"({self.rows_per_second:,.0f} rows/s; generation {self.generate_seconds:.1f} s)"
        )


@dataclass
class Ward:
    code: str
    geom: shapely.Geometry
    area_ha: float


@dataclass
class Parcels:
    """One ward's parcels: closed rings (n, 5, 2) in lon/lat and their land-use codes."""

    code: str
    rings: np.ndarray
    land_use: np.ndarray


def load_parcels(settings: Settings, *, count: int, seed: int = 7, replace: bool = True) -> SynthReport:
    """Generate ``count`` parcels and load them in one transaction; with ``replace`` the earlier
    synthetic parcels go first, in the same transaction."""
    if count < 1:
        raise LoadError("count must be at least 1")
    started = time.perf_counter()
    clock = [0.0]
    try:
        with connect(settings) as conn, conn.transaction(), conn.cursor() as cur:
            wards = read_wards(cur)
            before = lock_version(cur, "parcels")
            cur.execute("LOCK TABLE parcels IN SHARE ROW EXCLUSIVE MODE")  # sheet numbers stay unique
            deleted = _clear(cur) if replace else 0
            offsets = sheet_offsets(cur, [w.code for w in wards])
            # Lazy: each ward is generated while PostGIS is still busy with the previous one.
            batches = (_timed(clock, generate, ward, n, rng) for ward, n, rng in plan(wards, count, seed))
            with spatial_indexes_built_after(cur, _is_bulk(cur, count)):
                _copy(cur, batches, offsets, seed, count)
            bump_once(cur, "parcels", before)
    except psycopg.Error as exc:
        raise database_error(exc, table_spec("parcels")) from exc
    return SynthReport(count, len(wards), deleted, seed, time.perf_counter() - started, clock[0])


def _timed(clock: list[float], fn: Callable[..., Parcels], *args: Any) -> Parcels:
    start = time.perf_counter()
    result = fn(*args)
    clock[0] += time.perf_counter() - start
    return result


def read_wards(cur: psycopg.Cursor[Any]) -> list[Ward]:
    cur.execute(
        "SELECT code, ST_AsBinary(geom), area_ha FROM admin_units "
        "WHERE level = 'ward' AND valid_from = %s AND geom IS NOT NULL ORDER BY code",
        (WARD_DATE,),
    )
    wards = [Ward(str(code), shapely.from_wkb(bytes(wkb)), float(area)) for code, wkb, area in cur.fetchall()]
    if not wards:
        raise LoadError(f"no 2025 wards (admin_units level 'ward', valid from {WARD_DATE}); load them first")
    return wards


def plan(wards: list[Ward], count: int, seed: int) -> Iterator[tuple[Ward, int, np.random.Generator]]:
    """Counts by ward area (largest remainder, so they sum to ``count``), one RNG stream per ward."""
    areas = np.array([w.area_ha for w in wards])
    exact = count * areas / areas.sum()
    counts = np.floor(exact).astype(int)
    counts[np.argsort(counts - exact, kind="stable")[: count - counts.sum()]] += 1
    streams = np.random.SeedSequence(seed).spawn(len(wards))
    for ward, n, stream in zip(wards, counts, streams, strict=True):
        if n:
            yield ward, int(n), np.random.default_rng(stream)


@dataclass
class BoundaryGrid:
    """Which cells of a grid over a ward its boundary touches, as a summed-area table.

    A lot whose centre is inside the ward and whose bounding box meets no boundary cell is inside
    without asking GEOS; only the lots near the boundary (about one in ten) get the exact test.
    """

    x0: float
    y0: float
    cell: float
    table: np.ndarray

    @classmethod
    def of(cls, polygon: shapely.Geometry, cell: float = GRID_CELL_DEG) -> BoundaryGrid:
        x0, y0, x1, y1 = polygon.bounds
        touched = np.zeros((int((y1 - y0) / cell) + 1, int((x1 - x0) / cell) + 1), dtype=bool)
        coords, ring = shapely.get_coordinates(shapely.get_rings(shapely.get_parts(polygon)), return_index=True)
        same = ring[1:] == ring[:-1]
        start, end = coords[:-1][same], coords[1:][same]
        low = ((np.minimum(start, end) - (x0, y0)) / cell).astype(int)
        high = ((np.maximum(start, end) - (x0, y0)) / cell).astype(int)
        for (ix0, iy0), (ix1, iy1) in zip(low, high, strict=True):
            touched[iy0 : iy1 + 1, ix0 : ix1 + 1] = True
        table = np.zeros((touched.shape[0] + 1, touched.shape[1] + 1), dtype=np.int64)
        table[1:, 1:] = touched.cumsum(axis=0).cumsum(axis=1)
        return cls(x0, y0, cell, table)

    def clear(self, rings: np.ndarray) -> np.ndarray:
        """True where a ring's bounding box lies within the grid and meets no boundary cell."""
        low = np.floor((rings.min(axis=1) - (self.x0, self.y0)) / self.cell).astype(int)
        high = np.floor((rings.max(axis=1) - (self.x0, self.y0)) / self.cell).astype(int)
        rows, cols = self.table.shape[0] - 1, self.table.shape[1] - 1
        within = (low >= 0).all(axis=1) & (high[:, 0] < cols) & (high[:, 1] < rows)
        ix0, iy0 = np.clip(low, 0, None).T
        ix1, iy1 = np.minimum(high, (cols - 1, rows - 1)).T + 1
        t = self.table
        hits = t[iy1, ix1] - t[iy0, ix1] - t[iy1, ix0] + t[iy0, ix0]
        return within & (hits == 0)


def generate(ward: Ward, n: int, rng: np.random.Generator) -> Parcels:
    """``n`` rotated, slightly irregular quadrilaterals, each wholly inside the ward."""
    industrial = rng.random(n) < INDUSTRIAL_SHARE
    area = np.where(
        industrial,
        rng.lognormal(math.log(INDUSTRIAL_MEDIAN_M2), INDUSTRIAL_SIGMA, n),
        rng.lognormal(math.log(MEDIAN_M2), SIGMA, n),
    ).clip(MIN_M2, MAX_M2)
    aspect = rng.uniform(1.2, 4.0, n)
    angle = rng.uniform(0, math.pi) + rng.normal(0, 0.15, n)  # lots in a ward roughly align
    jitter = rng.uniform(0.9, 1.1, (n, 4))
    rings = np.empty((n, 5, 2))
    todo = np.arange(n)
    shapely.prepare(ward.geom)
    grid = BoundaryGrid.of(ward.geom)
    for attempt in range(MAX_TRIES):
        scale = 0.5 ** max(0, attempt - MAX_TRIES // 2)  # a lot too big for a narrow ward shrinks
        centres = _points_in(ward.geom, len(todo), rng)
        quads = _rings(centres, area[todo] * scale, aspect[todo], angle[todo], jitter[todo])
        inside = grid.clear(quads)
        near = np.flatnonzero(~inside)
        inside[near] = shapely.covered_by(shapely.polygons(quads[near]), ward.geom)
        rings[todo[inside]] = quads[inside]
        todo = todo[~inside]
        if not len(todo):
            break
    else:
        raise LoadError(f"ward {ward.code} is too small for its synthetic parcels")
    order = _sheet_order(rings)
    return Parcels(ward.code, rings[order], _land_use(industrial, rng)[order])


def _points_in(polygon: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform random points (x, y) inside ``polygon`` (rejection sampling in its bbox)."""
    x0, y0, x1, y1 = polygon.bounds
    fill = max(polygon.area / ((x1 - x0) * (y1 - y0)), 0.05)
    found: list[np.ndarray] = []
    have = 0
    while have < n:
        m = int((n - have) / fill * 1.3) + 16
        xy = np.column_stack([rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)])
        xy = xy[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])]
        found.append(xy)
        have += len(xy)
    return np.concatenate(found)[:n]


def _rings(
    centres: np.ndarray, area: np.ndarray, aspect: np.ndarray, angle: np.ndarray, jitter: np.ndarray
) -> np.ndarray:
    length, width = np.sqrt(area * aspect), np.sqrt(area / aspect)
    corners = np.array([(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)])
    dx = corners[:, 0] * length[:, None] * jitter
    dy = corners[:, 1] * width[:, None] * jitter
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    east, north = dx * cos - dy * sin, dx * sin + dy * cos
    lat = centres[:, 1:2]
    lon = centres[:, 0:1] + east / (M_PER_DEG_LON_EQUATOR * np.cos(np.radians(lat)))
    lat = lat + north / M_PER_DEG_LAT
    ring = np.stack([lon, lat], axis=-1)
    return np.concatenate([ring, ring[:, :1]], axis=1)  # closed: 5 points


def _sheet_order(rings: np.ndarray) -> np.ndarray:
    """Lots in bands north to south, west to east, so that one map sheet holds neighbours."""
    centre = rings[:, :4].mean(axis=1)
    band = np.floor(centre[:, 1] / 0.01)  # ~1.1 km bands
    return np.lexsort((centre[:, 0], -band))


def _land_use(industrial: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    codes = np.array(list(LAND_USE))
    shares = np.array(list(LAND_USE.values()))
    land_use = rng.choice(codes, size=len(industrial), p=shares / shares.sum())
    land_use[industrial] = rng.choice(np.array(INDUSTRIAL), size=int(industrial.sum()))
    return land_use.astype(object)


def _clear(cur: psycopg.Cursor[Any]) -> int:
    """Delete the earlier synthetic parcels (real ones stay); returns how many went."""
    cur.execute("DELETE FROM parcels WHERE synthetic")
    return int(cur.rowcount)


def _is_bulk(cur: psycopg.Cursor[Any], count: int) -> bool:
    """A load of at least 100,000 rows that outnumbers the rows already there."""
    if count < BULK_MIN_ROWS:
        return False
    cur.execute("SELECT count(*) FROM parcels")
    row = cur.fetchone()
    return count >= (int(row[0]) if row else 0)


@contextmanager
def spatial_indexes_built_after(cur: psycopg.Cursor[Any], bulk: bool) -> Iterator[None]:
    """For a bulk load, drop the GiST indexes of ``parcels`` and build them again after the COPY,
    from their own catalogue definitions. A sorted GiST build of a million lots takes under 2 s per
    index, inserting them one by one about 5 s. The price: readers of ``parcels`` wait for the commit
    (DROP INDEX takes an ACCESS EXCLUSIVE lock), which is why small loads keep the indexes."""
    if not bulk:
        yield
        return
    cur.execute(
        "SELECT schemaname, indexname, indexdef FROM pg_indexes "
        "WHERE tablename = 'parcels' AND schemaname = current_schema() AND indexdef LIKE '% USING gist %'"
    )
    indexes = cur.fetchall()
    for schema, name, _ in indexes:
        cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, name)))
    yield
    cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for _, _, definition in indexes:
        cur.execute(definition)  # the catalogue's own CREATE INDEX statement, not user input


def sheet_offsets(cur: psycopg.Cursor[Any], codes: list[str]) -> dict[str, int]:
    """Highest numeric sheet number per ward among the parcels that stay, so keys never collide."""
    cur.execute(
        "SELECT admin_code, max(sheet_no::bigint) FROM parcels "
        "WHERE admin_code = ANY(%s) AND sheet_no ~ '^[0-9]{1,15}$' GROUP BY admin_code",
        (codes,),
    )
    return {str(code): int(top) for code, top in cur.fetchall()}


def _copy(cur: psycopg.Cursor[Any], batches: Iterable[Parcels], offsets: dict[str, int], seed: int, count: int) -> None:
    source = f"synthetic: gis-service synth parcels --seed {seed}"
    columns = "admin_code, sheet_no, parcel_no, land_use_code, geom, geometry_quality, source, synthetic"
    with (
        progress(count, "copying synthetic parcels") as advance,
        cur.copy(f"COPY parcels ({columns}) FROM STDIN") as copy,
    ):
        for batch in batches:
            for rows, chunk in copy_text(batch, offsets.get(batch.code, 0), source):
                copy.write(chunk)
                advance(rows)


#: EWKB of a MultiPolygon (SRID 4326) holding one polygon with one ring of five points, before the
#: coordinates: little-endian, type 6 with the SRID flag, SRID, 1 polygon; type 3, 1 ring, 5 points.
EWKB_HEAD = struct.pack("<BIII", 1, 6 | 0x20000000, 4326, 1) + struct.pack("<BIII", 1, 3, 1, 5)
EWKB_ROW = np.dtype([("head", f"V{len(EWKB_HEAD)}"), ("xy", "<f8", (10,))])


def ewkb_hex(rings: np.ndarray) -> list[str]:
    """Hex EWKB for many one-ring MultiPolygons at once: numpy writes the bytes, no GEOS round trip."""
    records = np.empty(len(rings), dtype=EWKB_ROW)
    records["head"] = np.frombuffer(EWKB_HEAD, dtype=f"V{len(EWKB_HEAD)}")[0]
    records["xy"] = rings.reshape(len(rings), 10)
    text = records.tobytes().hex()
    width = 2 * EWKB_ROW.itemsize
    return [text[i : i + width] for i in range(0, len(text), width)]


def lot_numbers(n: int, offset: int) -> tuple[list[str], list[str]]:
    """Sheet and parcel numbers of a ward's ``n`` lots: sheets of 400 after sheet ``offset``."""
    index = np.arange(n)
    sheets = (offset + index // PARCELS_PER_SHEET + 1).astype(str).tolist()
    return sheets, (index % PARCELS_PER_SHEET + 1).astype(str).tolist()


def copy_text(batch: Parcels, offset: int, source: str) -> Iterator[tuple[int, str]]:
    """COPY text lines; every value is ours (no tab, newline or backslash to escape)."""
    tail = f"\tsynthetic\t{source}\tt\n"
    sheets, numbers = lot_numbers(len(batch.rings), offset)
    for start in range(0, len(batch.rings), CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, len(batch.rings))
        hexes = ewkb_hex(batch.rings[start:stop])
        lines = "".join(
            f"{batch.code}\t{sheets[i]}\t{numbers[i]}\t{batch.land_use[i]}\t{hexes[i - start]}{tail}"
            for i in range(start, stop)
        )
        yield stop - start, lines
