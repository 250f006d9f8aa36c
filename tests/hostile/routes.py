"""The routes of the app as (method, path template), and the route a request reaches: what the bad-input
tables must cover, computed from ``app.routes`` so that a new route is noticed."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from fastapi import FastAPI
from fastapi.routing import RouteContext, iter_route_contexts
from starlette.routing import Match, Mount

Route = tuple[str, str]


def _contexts(app: FastAPI) -> list[RouteContext]:
    contexts = list(iter_route_contexts(app.routes))
    # matching below uses each route's own path: included routers must not add a prefix of their own
    assert all(c.path == getattr(c.original_route, "path", c.path) for c in contexts), "a router with a prefix"
    return contexts


def routes(app: FastAPI) -> set[Route]:
    """Every operation of the app (HEAD aside: it is GET without the body); a mount counts as one GET."""
    found: set[Route] = set()
    for context in _contexts(app):
        methods = {"GET"} if isinstance(context.original_route, Mount) else set(context.methods or ()) - {"HEAD"}
        found |= {(method, str(context.path)) for method in methods}
    return found


def reached(app: FastAPI, method: str, target: str) -> Route | None:
    """The route that answers ``method`` on ``target`` (a raw request target, escapes undecoded), if any."""
    scope = {"type": "http", "method": method, "path": unquote(urlsplit(target).path), "root_path": ""}
    for context in _contexts(app):
        route = context.original_route
        if route.matches(scope)[0] is Match.FULL:
            return ("GET" if isinstance(route, Mount) else method, str(context.path))
    return None
