"""Tile statements built once per shape, and the catalogue entries' part of every tile key.

Building a tile statement and computing its SQLAlchemy cache key costs more than a millisecond, a tenth of
rendering a small tile: a statement built for one tile serves every tile of the same shape (layers, what
each draws at the zoom, the grid) with the tile's own parameter values (``queries.tiles.tile_parameters``).
Both memos are per process; nothing in them needs sharing between workers.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gis_service.catalog import LayerSpec
from gis_service.queries import tiles as tq


def fingerprint(specs: list[LayerSpec]) -> str:
    """Catalogue entries change what a tile holds (properties per zoom): they are part of every key."""
    text = "|".join(_spec_json(spec) for spec in specs)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]


#: A catalogue entry's JSON by object (entries live as long as their catalogue): dumping one costs more than
#: the rest of a cache hit. A per-process memo; nothing in it needs sharing between workers.
_SPEC_JSON: dict[int, tuple[LayerSpec, str]] = {}


def _spec_json(spec: LayerSpec) -> str:
    known = _SPEC_JSON.get(id(spec))
    if known is not None and known[0] is spec:
        return known[1]
    if len(_SPEC_JSON) > 1024:  # catalogues built again and again (tests): do not keep them all
        _SPEC_JSON.clear()
    text = spec.model_dump_json()
    _SPEC_JSON[id(spec)] = (spec, text)
    return text


#: Tile statements by shape (layers, what each draws at the zoom, the tile grid): one built for a tile serves
#: every tile of that shape with other parameter values. A per-process memo; nothing in it needs sharing.
_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def tile_statement(
    layers: list[tuple[LayerSpec, tq.TileQuery]], labels: tuple[str, ...]
) -> tuple[Any, dict[str, float]]:
    """The statement of a tile and its parameter values. Tiles without a filter or a time (what maps ask for)
    share one statement per shape; a filter's or a time's own values are bound in a statement of its own."""
    tables = sorted({spec.table for spec, _ in layers})
    if any(query.interval is not None or query.where is not None for _, query in layers):
        return tq.tile(layers, labels, versions_of=tables), {}
    shape = (
        fingerprint([spec for spec, _ in layers]),
        tuple(
            (
                tq.simplified(spec, q),
                tuple(tq.tile_property_names(spec, q.zoom)),
                q.srid,
                q.extent,
                q.buffer,
                q.max_features,
            )
            for spec, q in layers
        ),
        labels,
    )
    statement = _STATEMENTS.get(shape)
    if statement is None:
        if len(_STATEMENTS) > 4096:
            _STATEMENTS.clear()
        statement = _STATEMENTS[shape] = tq.tile(layers, labels, versions_of=tables)
    return statement, tq.tile_parameters(layers[0][1])
