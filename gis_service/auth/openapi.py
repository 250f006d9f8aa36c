"""Security schemes of the OpenAPI document, so ``/api.html`` can authorize and clients know what to send.

Operations that read a collection (or the multi-layer tileset and map) name the schemes, with ``{}`` first:
anonymous calls are fine where the collections are public. They also list 401 and 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from gis_service.auth.dependency import current_principal
from gis_service.settings import Settings

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
CHALLENGE = {
    "WWW-Authenticate": {
        "description": "The schemes to answer with: Bearer (API key or OIDC token) and Basic (key as password).",
        "required": True,
        "schema": {"type": "string"},
    }
}
ANSWERS = {
    "401": {
        "description": "Credentials are needed (a non-public collection), or those sent do not hold.",
        "headers": CHALLENGE,
        "content": PROBLEM,
    },
    "403": {"description": "The credentials hold, but their grants do not allow this.", "content": PROBLEM},
}


def security_schemes(settings: Settings) -> dict[str, Any]:
    schemes: dict[str, Any] = {
        "apiKeyHeader": {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "An API key (`gsk_….…`) from `gis-service keys create`.",
        },
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key, or a JWT of the configured OIDC issuer.",
        },
        "basic": {
            "type": "http",
            "scheme": "basic",
            "description": "The API key as the password; the user name empty or the account's name (QGIS, GDAL).",
        },
    }
    issuer = settings.auth.oidc_issuer
    if issuer:
        schemes["oidc"] = {
            "type": "openIdConnect",
            "openIdConnectUrl": f"{issuer.rstrip('/')}/.well-known/openid-configuration",
        }
    return schemes


def guarded(routes: Iterable[BaseRoute]) -> set[str]:
    """Operation ids whose dependencies ask who is calling."""
    ids = set()
    for context in iter_route_contexts(list(routes)):  # included routers are wrapped: walk their routes
        route = context.original_route
        if isinstance(route, APIRoute) and route.operation_id and _asks(route.dependant):
            ids.add(route.operation_id)
    return ids


def _asks(dependant: Any) -> bool:
    return dependant.call is current_principal or any(_asks(d) for d in dependant.dependencies)


def add_security(schema: dict[str, Any], settings: Settings, routes: Iterable[BaseRoute]) -> dict[str, Any]:
    schemes = security_schemes(settings)
    schema.setdefault("components", {})["securitySchemes"] = schemes
    ids = guarded(routes)
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and operation.get("operationId") in ids:
                operation["security"] = [{}, *({name: []} for name in schemes)]
                operation.setdefault("responses", {}).update(ANSWERS)
    return schema
