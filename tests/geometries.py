"""Canonical test geometries, built in UTM 48N (metres) so their sizes are exact, returned in lon/lat."""

from __future__ import annotations

import shapely
from pyproj import Transformer
from shapely import affinity
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

TO_LONLAT = Transformer.from_crs(32648, 4326, always_xy=True)
TO_UTM = Transformer.from_crs(4326, 32648, always_xy=True)


def to_lonlat(geom: BaseGeometry) -> BaseGeometry:
    return shapely.transform(geom, lambda xy: _apply(TO_LONLAT, xy))


def to_utm(geom: BaseGeometry) -> BaseGeometry:
    return shapely.transform(geom, lambda xy: _apply(TO_UTM, xy))


def _apply(transformer: Transformer, xy):  # type: ignore[no-untyped-def]
    import numpy as np

    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def square(centre_lon: float, centre_lat: float, side_m: float, dx_m: float = 0.0) -> Polygon:
    """A square of ``side_m`` metres (so side²/10⁴ ha), its centre ``dx_m`` east of the given point."""
    x, y = TO_UTM.transform(centre_lon, centre_lat)
    utm = affinity.translate(box(-side_m / 2, -side_m / 2, side_m / 2, side_m / 2), x + dx_m, y)
    return to_lonlat(utm)  # type: ignore[return-value]


#: On the coarse QL13 line in Thuận An, a few km north of VSIP I.
NEAR_QL13 = (106.6962, 10.9632)
#: In Dầu Tiếng, far from any sourced transport line.
FAR_AWAY = (106.45, 11.30)
