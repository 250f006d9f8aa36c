"""Request bodies of the analyses, with examples for the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StrictInt

from gis_service.analysis.inputs import MAX_RADIUS_M, MIN_RADIUS_M
from gis_service.catalog import IDENT
from gis_service.dependencies import PlainText

#: What "near" can mean for a site (the keys of ``analysis.stats.TARGETS``).
Target = Literal["ring_roads", "expressway", "nh13", "mptv", "port", "rail"]
#: What a site is scored on: its area and its distance to each target.
Criterion = Literal["area", "ring_roads", "expressway", "nh13", "mptv", "port", "rail"]
#: JSON numbers only: ``true`` or ``"5"`` are refused, not read as 1.0 and 5.0; NaN and infinities too.
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
#: Metres, as ``nearby`` takes them: PostgreSQL's float arithmetic refuses subnormal numbers (5e-324).
Distance = Annotated[Number, Field(ge=MIN_RADIUS_M, le=MAX_RADIUS_M)]
Code = Annotated[PlainText, Field(min_length=1, max_length=64)]
CollectionId = Annotated[str, Field(max_length=64, pattern=IDENT.pattern)]

RING_ROAD_3_AREA: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [[[106.70, 10.90], [106.80, 10.90], [106.80, 10.98], [106.70, 10.98], [106.70, 10.90]]],
}


class NearbyBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"collection": "industrial_parks", "distance_m": 5000, "geometry": RING_ROAD_3_AREA}]
        },
    )

    collection: str = Field(max_length=64, description="Collection to search.")
    distance_m: Distance = Field(description="Radius in metres.")
    geometry: dict[str, Any] = Field(description="GeoJSON geometry in CRS84 (<= 10,000 vertices, <= 1 MB).")
    limit: StrictInt = Field(100, ge=1, le=10_000)


class SiteSelectionBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "collection": "planning_zones",
                    "types": ["industrial"],
                    "min_area_ha": 50,
                    "max_distance_m": {"ring_roads": 5000, "nh13": 10000},
                    "weights": {"area": 1, "nh13": 2},
                    "exclude": ["industrial_parks"],
                    "limit": 10,
                }
            ]
        },
    )

    collection: Literal["planning_zones", "parcels"] = Field(
        "planning_zones", description="Layer the sites are made of."
    )
    types: list[Code] = Field(
        ["industrial"],
        min_length=1,
        max_length=50,
        description="Zone types (zones) or land-use codes (parcels) that qualify.",
    )
    min_area_ha: Number = Field(50.0, gt=0, le=100_000, description="Minimum contiguous area of a site, hectares.")
    max_distance_m: dict[Target, Distance] = Field(
        default_factory=dict, description="Maximum distance to ring_roads, expressway, nh13, mptv, port, rail (metres)."
    )
    weights: dict[Criterion, Annotated[Number, Field(ge=0, le=1000)]] = Field(
        default_factory=dict, description="Weight of each criterion: area and the targets (default 1)."
    )
    exclude: list[CollectionId] = Field(
        default_factory=list, max_length=20, description="Collections a site must not intersect."
    )
    bbox: tuple[Number, Number, Number, Number] | None = Field(
        None, description="Optional search box (CRS84): minx, miny, maxx, maxy."
    )
    limit: StrictInt = Field(20, ge=1, le=1000)
