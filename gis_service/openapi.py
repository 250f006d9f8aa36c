"""The OpenAPI document, shaped for OGC clients: version 3.0 and a shared ``limit`` parameter.

QGIS sizes its pages from ``components.parameters.limit`` (minimum, maximum, default).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gis_service.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            openapi_version="3.0.3",
        )
        limit = {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"Page size; values above {settings.features.max_limit} are clamped.",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": settings.features.max_limit,
                "default": settings.features.default_limit,
            },
            "style": "form",
            "explode": False,
        }
        schema.setdefault("components", {}).setdefault("parameters", {})["limit"] = limit
        for path in schema["paths"].values():
            for operation in path.values():
                params = operation.get("parameters", [])
                operation["parameters"] = [
                    {"$ref": "#/components/parameters/limit"} if p.get("name") == "limit" else p for p in params
                ]
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
