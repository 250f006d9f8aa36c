"""Security schemes of the OpenAPI document, so ``/api.html`` can authorize and clients know what to send.

Operations that ask who is calling (reads of collections, tiles, maps, analyses, rasters) name the schemes,
with ``{}`` first: anonymous calls are fine where the collections are public. ``gis_service.openapi`` lists
their 401 and 403 answers (:data:`STATUSES`) from ``schemas.problem``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from gis_service.auth.dependency import current_principal
from gis_service.settings import Settings

#: What an operation that asks who is calling may answer besides its own errors (401 with the challenge,
#: 403; and 503, since checking a key takes a pooled connection). The responses are ``schemas.problem``'s.
STATUSES = (401, 403, 503)


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


def add_security(schema: dict[str, Any], settings: Settings, ids: set[str]) -> dict[str, Any]:
    """The schemes, and the security requirement of the operations ``ids`` (those of :func:`guarded`)."""
    schemes = security_schemes(settings)
    schema.setdefault("components", {})["securitySchemes"] = schemes
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and operation.get("operationId") in ids:
                operation["security"] = [{}, *({name: []} for name in schemes)]
    return schema
