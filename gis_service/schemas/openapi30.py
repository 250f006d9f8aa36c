"""JSON Schema 2020-12 (what pydantic 2 and FastAPI write) rewritten as OpenAPI 3.0 Schema Objects.

The document says 3.0 because OGC clients (QGIS, GDAL, the OGC test suite) read 3.0; pydantic writes
``anyOf [.., {"type": "null"}]``, ``const``, ``prefixItems``, numeric ``exclusiveMinimum`` and ``examples``,
which a 3.0 validator refuses and 3.0 tools misread.
"""

from __future__ import annotations

from typing import Any

#: Keywords of 2020-12 that have no 3.0 meaning and only annotate (dropped rather than mistranslated).
DROPPED = frozenset({"$schema", "$id", "$defs", "$comment", "contentMediaType", "contentEncoding"})
#: Keywords whose value is a schema, or a list or map of schemas.
ONE = ("items", "not", "additionalProperties")
MANY = ("allOf", "anyOf", "oneOf")
MAP = ("properties",)


def schema30(schema: Any) -> Any:
    """A copy of ``schema`` in the OpenAPI 3.0 dialect."""
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if k not in DROPPED}
    _nullable(out)
    _children(out)
    _type_list(out)
    _property_names(out)
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if "prefixItems" in out:
        out["items"] = _tuple_items([schema30(s) for s in out.pop("prefixItems")])
    _constraint_names(out)
    for bound, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[inclusive], out[bound] = value, True
    if "examples" in out:
        examples = out.pop("examples")
        if isinstance(examples, list) and examples and "example" not in out:
            out["example"] = examples[0]
    return out


def _children(out: dict[str, Any]) -> None:
    for key in ONE:
        if isinstance(out.get(key), dict):
            out[key] = schema30(out[key])
    for key in MANY:
        if isinstance(out.get(key), list):
            out[key] = [schema30(s) for s in out[key]]
    for key in MAP:
        if isinstance(out.get(key), dict):
            out[key] = {name: schema30(s) for name, s in out[key].items()}


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null" and len(schema) == 1


def _nullable(out: dict[str, Any]) -> None:
    """``anyOf: [X, {"type": "null"}]`` -> X with ``nullable: true`` (a ``$ref`` is wrapped in ``allOf``)."""
    for key in ("anyOf", "oneOf"):
        options = out.get(key)
        if not isinstance(options, list) or not any(_is_null(s) for s in options):
            continue
        rest = [s for s in options if not _is_null(s)]
        del out[key]
        if len(rest) == 1 and "$ref" in rest[0]:
            out["allOf"] = rest
        elif len(rest) == 1:
            out.update({k: v for k, v in rest[0].items() if k not in out})
        else:
            out[key] = rest
        out["nullable"] = True
    if out.get("type") == "null":
        del out["type"]
        out["nullable"] = True
        out["enum"] = [None]


def _type_list(out: dict[str, Any]) -> None:
    types = out.get("type")
    if not isinstance(types, list):
        return
    named = [t for t in types if t != "null"]
    if len(named) < len(types):
        out["nullable"] = True
    if len(named) == 1:
        out["type"] = named[0]
    else:
        del out["type"]
        out["anyOf"] = [{"type": t} for t in named]


#: pydantic writes a numeric constraint under its own name when it cannot fold it into the type's schema
#: (a ``Query(ge=...)`` on an ``Annotated`` type that ends with a validator).
CONSTRAINTS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _constraint_names(out: dict[str, Any]) -> None:
    for name, keyword in CONSTRAINTS.items():
        if name in out and keyword not in out:
            out[keyword] = out.pop(name)


def _property_names(out: dict[str, Any]) -> None:
    """A map with enumerated keys (``dict[Literal[...], X]``) -> those keys as optional properties."""
    names = out.pop("propertyNames", None)
    if not isinstance(names, dict) or not isinstance(names.get("enum"), list):
        return
    value = out.get("additionalProperties", {})
    out["properties"] = {str(name): value if isinstance(value, dict) else {} for name in names["enum"]}
    out["additionalProperties"] = False


def _tuple_items(items: list[Any]) -> dict[str, Any]:
    """A 3.0 array has one item schema: the common one, or any of the positions' schemas."""
    unique = [s for i, s in enumerate(items) if s not in items[:i]]
    return dict(unique[0]) if len(unique) == 1 else {"anyOf": unique}
