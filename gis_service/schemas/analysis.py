"""Request bodies of the analyses, with examples for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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
    distance_m: float = Field(description="Radius in metres (0 < d <= 50,000).")
    geometry: dict[str, Any] = Field(description="GeoJSON geometry in CRS84 (<= 10,000 vertices, <= 1 MB).")
    limit: int = Field(100, ge=1, le=10_000)


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

    collection: str = Field("planning_zones", description="planning_zones or parcels.")
    types: list[str] = Field(
        ["industrial"],
        min_length=1,
        max_length=50,
        description="Zone types (zones) or land-use codes (parcels) that qualify.",
    )
    min_area_ha: float = Field(50.0, gt=0, description="Minimum contiguous area of a site, hectares.")
    max_distance_m: dict[str, float] = Field(
        default_factory=dict, description=("Maximum distance to ring_roads, expressway, nh13, port or rail, metres.")
    )
    weights: dict[str, float] = Field(default_factory=dict, description="Weight of each criterion (default 1).")
    exclude: list[str] = Field(default_factory=list, description="Collections a site must not intersect.")
    bbox: tuple[float, float, float, float] | None = Field(None, description="Optional search box (CRS84).")
    limit: int = Field(20, ge=1, le=1000)
