"""The layer catalogue: which tables are published as collections, and how (``layers/*.yaml``).

Loaded and validated once at start-up; every identifier that reaches SQL comes from here or the models.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, model_validator

from gis_service.errors import FeatureNotFound, UnknownCollection

IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
PropertyType = Literal["string", "integer", "number", "boolean", "date"]


class PropertySpec(BaseModel):
    name: str = Field(pattern=IDENT.pattern)
    type: PropertyType = "string"
    title: str | None = None
    description: str | None = None
    enum: list[str] | None = None


class TemporalSpec(BaseModel):
    """How ``datetime`` applies: a validity interval of dates, or of years (start/end may be absent)."""

    kind: Literal["date", "year"]
    start: str | None = Field(None, pattern=IDENT.pattern)
    end: str | None = Field(None, pattern=IDENT.pattern)


class StyleSpec(BaseModel):
    color: str = "#3388ff"
    fill_color: str | None = None
    weight: float = 2.0
    opacity: float = 0.8
    fill_opacity: float = 0.3
    radius: float = 6.0
    color_by: str | None = None
    palette: dict[str, str] = {}


class LayerSpec(BaseModel):
    id: str = Field(pattern=IDENT.pattern)
    table: str = Field(pattern=IDENT.pattern)
    title: str
    description: str = ""
    id_column: str = Field("id", pattern=IDENT.pattern)
    geometry_column: str = Field("geom", pattern=IDENT.pattern)
    geometry_type: str = "Geometry"
    #: Further geometry columns analyses may use (e.g. a park's ``footprint`` besides its site point).
    extra_geometry_columns: list[str] = []
    #: Sort features with a geometry before those without (some have no sourced location yet).
    located_first: bool = False
    properties: list[PropertySpec]
    temporal: TemporalSpec | None = None
    search: list[str] = []
    default_sort: str = "id"
    minzoom: int = Field(0, ge=0, le=24)
    maxzoom: int = Field(18, ge=0, le=24)
    #: Properties carried in vector tiles below a zoom (``{zoom: [names]}``), all of them from the highest.
    tile_properties: dict[int, list[str]] = {}
    #: Integer column used as the MVT feature id (MapLibre feature-state needs integers; ``code`` is text).
    tile_id_column: str = Field("id", pattern=IDENT.pattern)
    #: ``geom`` stored in EPSG:3857 (generated column, migration 0002): WebMercatorQuad tiles read it as is.
    tile_geometry_column: str = Field("geom_3857", pattern=IDENT.pattern)
    attribution: str = ""
    license: str = ""
    style: StyleSpec = StyleSpec()
    keywords: list[str] = []
    #: False: reading the collection (items, tiles, maps, downloads) needs a viewer grant.
    public: bool = True
    #: Editable through OGC API Features Part 4 (editors with a grant); the others answer writes with 405.
    editable: bool = False
    #: ``required``: PUT, PATCH and DELETE need ``If-Match`` (428 without); ``optional``: QGIS, which never
    #: sends it, may still edit, and the change set records the write as unconditional.
    precondition: Literal["optional", "required"] = "optional"

    @model_validator(mode="after")
    def _names_exist(self) -> LayerSpec:
        names = set(self.property_names)
        wanted = set(self.search) | {self.default_sort} - {"id"}
        if self.temporal:
            wanted |= {n for n in (self.temporal.start, self.temporal.end) if n}
        for zoom_names in self.tile_properties.values():
            wanted |= set(zoom_names)
        missing = sorted(wanted - names - {self.id_column})
        if missing:
            raise ValueError(f"layer {self.id}: unknown properties {missing}")
        return self

    @property
    def property_names(self) -> list[str]:
        return [p.name for p in self.properties]

    def property(self, name: str) -> PropertySpec | None:
        return next((p for p in self.properties if p.name == name), None)

    def feature_id(self, text: str, *, parameter: str = "featureId") -> str | int:
        """A feature id as the id column stores it; an id that cannot exist is a 404, not a database error."""
        prop = self.property(self.id_column)
        if prop is not None and prop.type == "string":
            return text
        if not (text.isascii() and text.isdigit()) or len(text) > 18:
            raise FeatureNotFound(f"{self.id} has no feature {text!r}", parameter=parameter)
        return int(text)


class Catalog:
    def __init__(self, layers: list[LayerSpec]) -> None:
        self._layers = {layer.id: layer for layer in layers}

    @classmethod
    def from_dir(cls, directory: Path) -> Catalog:
        layers = []
        for path in sorted(directory.glob("*.yaml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("kind", "collection") == "collection":
                data.pop("kind", None)
                layers.append(LayerSpec.model_validate(data))
        return cls(layers)

    def get(self, collection_id: str) -> LayerSpec:
        try:
            return self._layers[collection_id]
        except KeyError:
            raise UnknownCollection(collection_id) from None

    def __iter__(self) -> Iterator[LayerSpec]:
        return iter(self._layers.values())

    def __len__(self) -> int:
        return len(self._layers)

    @property
    def ids(self) -> list[str]:
        return list(self._layers)
