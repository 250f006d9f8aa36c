"""Engines and connections; driver errors become domain errors where the connection is taken."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gis_service.errors import DatabaseUnavailable, QueryTimeout
from gis_service.settings import Settings

QUERY_CANCELED = "57014"


def sync_engine(settings: Settings, **kwargs: object) -> Engine:
    """Engine for loaders, migrations, notebooks and the CLI."""
    return create_engine(settings.sync_url, pool_pre_ping=True, **kwargs)


def async_engine(settings: Settings) -> AsyncEngine:
    """Engine for the request path: asyncpg, with the statement timeout set per connection."""
    timeout = str(settings.db.statement_timeout_ms)
    return create_async_engine(
        settings.async_url,
        pool_size=settings.db.pool_size,
        max_overflow=settings.db.max_overflow,
        # No pre-ping on the request path (a round trip per request); a dead connection fails once, is
        # invalidated by the pool and the error maps to 503.
        pool_pre_ping=False,
        pool_recycle=1800,
        # The request path only reads: no BEGIN/ROLLBACK round trips around every request.
        isolation_level="AUTOCOMMIT",
        # JIT compiles for a second before big aggregates and buys nothing for an API's queries; parallel
        # workers on a small host take the cores that concurrent requests need.
        connect_args={
            "server_settings": {
                "statement_timeout": timeout,
                "application_name": "gis_service",
                "jit": "off",
                "max_parallel_workers_per_gather": str(settings.db.parallel_workers),
            }
        },
    )


def translate(exc: DBAPIError) -> Exception:
    """Map a driver error to the service's vocabulary (timeouts and outages), else keep it."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code == QUERY_CANCELED:
        return QueryTimeout("the query ran past the statement timeout; narrow it (bbox, filter, limit)")
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return DatabaseUnavailable("the database cannot be reached")
    return exc


@asynccontextmanager
async def request_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read connection for one request; driver errors leave it as domain errors."""
    try:
        async with engine.connect() as conn:
            yield conn
    except DBAPIError as exc:
        raise translate(exc) from exc
    except OSError as exc:
        raise DatabaseUnavailable("the database cannot be reached") from exc


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: all of it lands, or none of it."""
    with engine.begin() as conn:
        yield conn


def postgis_version(conn: Connection) -> str:
    return str(conn.execute(text("SELECT postgis_lib_version()")).scalar_one())
