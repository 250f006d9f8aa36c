"""Tile documents: TileJSON 3.0 and the MapLibre style of the planning map (whose source is the TileJSON, so
it gets the versioned tile URLs the TileJSON advertises)."""

from __future__ import annotations

from typing import Any

import orjson

from gis_service.catalog import Catalog, LayerSpec
from gis_service.queries import tiles as tq
from gis_service.settings import Settings

FIELD_TYPES = {"string": "String", "integer": "Number", "number": "Number", "boolean": "Boolean", "date": "String"}


def vector_layer(spec: LayerSpec, suffix: str = "") -> dict[str, Any]:
    """A TileJSON ``vector_layers`` entry: every property a tile of the layer may carry."""
    return {
        "id": spec.id + suffix,
        "description": spec.title,
        "minzoom": spec.minzoom,
        "maxzoom": spec.maxzoom,
        "fields": {p.name: FIELD_TYPES[p.type] for p in spec.properties},
    }


def tilejson(
    name: str,
    tiles_url: str,
    specs: list[LayerSpec],
    bbox: list[float],
    *,
    description: str = "",
    labels: tuple[str, ...] = (),
) -> dict[str, Any]:
    minzoom, maxzoom = min(s.minzoom for s in specs), min(max(s.maxzoom for s in specs), 24)
    attribution = "; ".join(dict.fromkeys(s.attribution for s in specs if s.attribution))
    center_zoom = max(minzoom, min(10, maxzoom))
    return {
        "tilejson": "3.0.0",
        "name": name,
        "description": description,
        "version": "1.0.0",
        "attribution": attribution,
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": bbox,
        "center": [(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2, center_zoom],
        "vector_layers": [vector_layer(s) for s in specs]
        + [vector_layer(s, "_labels") for s in specs if s.id in labels]
        + [vector_layer(s, "_footprints") for s in specs if tq.has_footprint(s)],
    }


def planning_style(base: str, settings: Settings, catalog: Catalog) -> dict[str, Any]:
    """The MapLibre style (``layers/styles/planning.json``) with this server's URLs and the catalogue's
    palettes: ``{"$palette": layer}`` becomes a ``match`` on the layer's ``color_by`` property."""
    text = (settings.layers_dir / "styles" / "planning.json").read_text(encoding="utf-8")
    style: dict[str, Any] = orjson.loads(text.replace("{base}", base))
    for layer in style["layers"]:
        for name, value in layer.get("paint", {}).items():
            if isinstance(value, dict) and "$palette" in value:
                layer["paint"][name] = palette(catalog.get(value["$palette"]))
    return style


def palette(spec: LayerSpec) -> Any:
    style = spec.style
    if not style.color_by or not style.palette:
        return style.color
    pairs = [item for key, colour in style.palette.items() for item in (key, colour)]
    return ["match", ["get", style.color_by], *pairs, style.color]
