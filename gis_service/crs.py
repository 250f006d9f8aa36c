"""Coordinate reference systems the service speaks, with the official VN-2000 datum shift pinned.

Decision 05/2007/QĐ-BTNMT fixes one seven-parameter shift from VN-2000 to WGS 84. PROJ would otherwise
pick a different operation south of 11.04°N than north of it (0.8 m apart), so PostGIS (via the
``spatial_ref_sys`` rows the migration writes) and pyproj (via :func:`pyproj_crs`) both use this one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from pyproj import CRS, Transformer

TOWGS84 = "-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,0.00427372,0.252906278"

#: SRID -> PROJ string with the pinned shift (BoundCRS when parsed by PROJ).
PINNED_PROJ = {
    4756: f"+proj=longlat +ellps=WGS84 +towgs84={TOWGS84} +no_defs",
    3405: f"+proj=utm +zone=48 +ellps=WGS84 +towgs84={TOWGS84} +units=m +no_defs",
    5897: f"+proj=tmerc +lat_0=0 +lon_0=105 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 +towgs84={TOWGS84} "
    "+units=m +no_defs",
    9210: f"+proj=tmerc +lat_0=0 +lon_0=105.75 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 +towgs84={TOWGS84} "
    "+units=m +no_defs",
}

VN2000_GEOGCS = (
    'GEOGCS["VN-2000",DATUM["Vietnam_2000",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
    f'TOWGS84[{TOWGS84}],AUTHORITY["EPSG","6756"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
    'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4756"]]'
)
#: WKT1 of EPSG:9210 (VN-2000 / TM-3 105-45), absent from PostGIS 3.3's spatial_ref_sys.
SRTEXT_9210 = (
    f'PROJCS["VN-2000 / TM-3 105-45",{VN2000_GEOGCS},PROJECTION["Transverse_Mercator"],'
    'PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",105.75],PARAMETER["scale_factor",0.9999],'
    'PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]],'
    'AXIS["Easting",EAST],AXIS["Northing",NORTH],AUTHORITY["EPSG","9210"]]'
)

OGC_CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#: ``EPSG:`` and ASCII digits only (``int()`` would read ``EPSG:4_326`` or Arabic-Indic digits as 4326).
EPSG_CODE = re.compile(r"EPSG:([0-9]{1,6})", re.IGNORECASE)


@dataclass(frozen=True)
class ServiceCrs:
    uri: str
    srid: int
    #: True where the CRS's axis order is northing/latitude first (EPSG:4326).
    lat_first: bool = False


SUPPORTED: dict[str, ServiceCrs] = {
    c.uri: c
    for c in (
        ServiceCrs(OGC_CRS84, 4326),
        ServiceCrs("http://www.opengis.net/def/crs/EPSG/0/4326", 4326, lat_first=True),
        ServiceCrs("http://www.opengis.net/def/crs/EPSG/0/3857", 3857),
        ServiceCrs("http://www.opengis.net/def/crs/EPSG/0/3405", 3405),
        ServiceCrs("http://www.opengis.net/def/crs/EPSG/0/9210", 9210),
    )
}


def srid_of(crs: str) -> int:
    """SRID of a user-given CRS string (``EPSG:9210``, an OGC URI, ``CRS84``); KeyError if unknown."""
    text = crs.strip()
    upper = text.upper()
    if upper in ("CRS84", "OGC:CRS84", "WGS84"):
        return 4326
    if upper.startswith("EPSG:"):
        match = EPSG_CODE.fullmatch(text)
        if match is None:
            raise ValueError(f"{crs!r} is not EPSG: followed by a code")
        return int(match.group(1))
    if text in SUPPORTED:
        return SUPPORTED[text].srid
    raise KeyError(crs)


@lru_cache(maxsize=32)
def pyproj_crs(srid: int) -> CRS:
    """A pyproj CRS that transforms like PostGIS here: VN-2000 SRIDs carry the pinned shift."""
    return CRS.from_proj4(PINNED_PROJ[srid]) if srid in PINNED_PROJ else CRS.from_epsg(srid)


@lru_cache(maxsize=32)
def to_wgs84(srid: int) -> Transformer:
    """lon/lat (x=lon) output, whatever the source CRS."""
    return Transformer.from_crs(pyproj_crs(srid), CRS.from_epsg(4326), always_xy=True)


def inside_domain(srid: int, points: Sequence[tuple[float, float]]) -> bool:
    """Whether every point (x, y in ``srid``) has a longitude and latitude, in range: PostGIS refuses to
    transform a point outside a projection's domain (XX000), so such input is the client's error, caught
    before SQL. pyproj runs the same PROJ pipelines as the ``spatial_ref_sys`` rows, so both agree on the
    domain. A point PROJ cannot transform comes back infinite, which no range holds."""
    if srid != 4326 and points:
        xs, ys = zip(*points, strict=True)
        points = list(zip(*to_wgs84(srid).transform(xs, ys, errcheck=False), strict=True))
    return all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat in points)
