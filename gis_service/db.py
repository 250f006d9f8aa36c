"""Engines and connections; driver errors become domain errors where the connection is taken."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gis_service.errors import DatabaseUnavailable, InvalidValue, QueryTimeout, ServiceBusy
from gis_service.settings import Settings

QUERY_CANCELED = "57014"
#: SQLSTATEs of a server that is down for now: connection exceptions (class 08), shutdown (57P01), crash of
#: another backend (57P02), starting up or in recovery (57P03), no free connection slot (53300).
UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300")
#: SQLSTATEs of a value the database refused: class 22 (data exception: invalid text representation,
#: numeric value out of range, invalid parameter value, NUL in text, …) and 0A000 (feature not supported).
#: asyncpg reports its own refusals of a bound value (an integer beyond 64 bits) as 22000 too.
REFUSED_VALUE_STATES = ("22", "0A000")
#: Class 40 (transaction rollback): a serialization failure, a deadlock, a standby's recovery conflict. The
#: transaction collided with another one and was undone; the same request may well succeed a moment later.
TRANSACTION_ROLLBACK = "40"
INTERNAL_ERROR = "XX000"
#: PostGIS raises its errors as XX000 (internal error); these messages are about the geometry it was given
#: (GeoJSON it cannot read, a point outside a projection's domain, GEOS refusing a shape), not a fault.
GEOMETRY_MESSAGES = re.compile(
    r"geojson|transform:|projection domain|requires more points|non-closed ring|parse error|invalid geometry"
    r"|mixed srid|unknown srid|geos|lwgeom|IllegalArgumentException|TopologyException|invalid hex",
    re.IGNORECASE,
)


def session_options(settings: Settings) -> str:
    """libpq ``options`` of the psycopg (CLI, loader) connections: the server checks every
    ``client_check_interval_ms`` that the client is still there, so a killed ``gis-service load`` ends its
    session and releases its locks within about a second instead of when its statement ends."""
    return f"-c client_connection_check_interval={settings.db.client_check_interval_ms}"


def sync_engine(settings: Settings, **kwargs: Any) -> Engine:
    """Engine for loaders, migrations, notebooks and the CLI."""
    connect_args = {"options": session_options(settings), **kwargs.pop("connect_args", {})}
    return create_engine(settings.sync_url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def role_settings(settings: Settings) -> dict[str, str]:
    """The session settings of request connections. Sent at connect, or, behind PgBouncer (which refuses
    them as startup parameters), set on the role with ``ALTER ROLE … IN DATABASE … SET``.

    JIT compiles for a second before big aggregates and buys nothing for an API's queries; parallel
    workers on a small host take the cores that concurrent requests need."""
    return {
        "statement_timeout": str(settings.db.statement_timeout_ms),
        "client_connection_check_interval": str(settings.db.client_check_interval_ms),
        "jit": "off",
        "max_parallel_workers_per_gather": str(settings.db.parallel_workers),
    }


def async_engine(
    settings: Settings,
    *,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    name: str = "gis_service",
    url: str | None = None,
    connect_timeout_s: float | None = None,
    pool_timeout_s: float | None = None,
) -> AsyncEngine:
    """Engine for the request path: asyncpg, with the statement timeout set per connection (or on the role
    behind PgBouncer). A request waits at most ``db.pool_timeout_s`` for a pooled connection and
    ``db.connect_timeout_s`` for a new one. ``url``: another server than the primary (a replica)."""
    pgbouncer = settings.db.pooler == "pgbouncer"
    server_settings = {"application_name": name} if pgbouncer else {**role_settings(settings), "application_name": name}
    connect_args: dict[str, Any] = {
        "timeout": settings.db.connect_timeout_s if connect_timeout_s is None else connect_timeout_s,
        "server_settings": server_settings,
    }
    target = url or settings.request_url  # the app role when provisioned: not an owner, so RLS applies
    if pgbouncer:
        # PgBouncer 1.18 in transaction mode hands each transaction to any server connection: a statement
        # prepared on one is unknown on the next, so neither asyncpg nor SQLAlchemy may keep them.
        # With a zero cache asyncpg prepares unnamed statements, which live only until the next one (a name
        # function would make them named again, and unknown on the next server connection).
        connect_args["statement_cache_size"] = 0
        target += ("&" if "?" in target else "?") + "prepared_statement_cache_size=0"
    return create_async_engine(
        target,
        pool_size=settings.db.pool_size if pool_size is None else pool_size,
        max_overflow=settings.db.max_overflow if max_overflow is None else max_overflow,
        pool_timeout=settings.db.pool_timeout_s if pool_timeout_s is None else pool_timeout_s,
        # No pre-ping on the request path (a round trip per request); a dead connection fails once, is
        # invalidated by the pool and the error maps to 503.
        pool_pre_ping=False,
        pool_recycle=1800,
        # The request path only reads: no BEGIN/ROLLBACK round trips around every request.
        isolation_level="AUTOCOMMIT",
        connect_args=connect_args,
    )


def translate(exc: DBAPIError) -> Exception:
    """Map a driver error to the service's vocabulary by SQLSTATE class: timeouts, outages and collisions with
    concurrent transactions (503), values the database refused (400); anything else stays what it is (500)."""
    code = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
    if code == QUERY_CANCELED:
        return QueryTimeout("the query ran past the statement timeout; narrow it (bbox, filter, limit)")
    if code.startswith(TRANSACTION_ROLLBACK):
        return ServiceBusy(f"the request collided with a concurrent one and was undone; nothing was written; "
                           f"try again ({database_message(exc)})")  # fmt: skip
    if isinstance(exc, OperationalError) or exc.connection_invalidated or code.startswith(UNAVAILABLE_STATES):
        return DatabaseUnavailable("the database cannot be reached")
    message = database_message(exc)
    if code.startswith(REFUSED_VALUE_STATES) or (code == INTERNAL_ERROR and GEOMETRY_MESSAGES.search(message)):
        return InvalidValue(f"the database refused a value of the request: {message}")
    return exc


def database_message(exc: DBAPIError) -> str:
    """The primary message of the database (no SQL, no driver names), one line."""
    orig = exc.orig
    cause = orig.__cause__ if orig is not None and orig.__cause__ is not None else orig
    diag = getattr(cause, "diag", None)  # psycopg
    text = getattr(diag, "message_primary", None) or getattr(cause, "message", None) or str(cause)
    text = re.sub(r"query argument \$\d+", "a value", str(text).splitlines()[0] if text else "")
    return text[:200]


#: Engines found unavailable during the current request (a list the read-retry middleware sets), so a read
#: that failed on a replica can be answered again from the primary (gis_service.replicas).
failed_engines: ContextVar[list[AsyncEngine] | None] = ContextVar("failed_engines", default=None)


def _unavailable(engine: AsyncEngine) -> None:
    failed = failed_engines.get()
    if failed is not None:
        failed.append(engine)


@asynccontextmanager
async def database_errors(engine: AsyncEngine) -> AsyncIterator[None]:
    """Driver errors of work on ``engine`` leave as domain errors; an outage is noted for the read retry."""
    try:
        yield
    except PoolTimeout as exc:
        wait = engine.pool.timeout()  # type: ignore[attr-defined]
        raise ServiceBusy(f"no database connection became free within {wait:g} s; try again shortly") from exc
    except DBAPIError as exc:
        error = translate(exc)
        if isinstance(error, DatabaseUnavailable):
            _unavailable(engine)
        raise error from exc
    except OSError as exc:
        _unavailable(engine)
        raise DatabaseUnavailable("the database cannot be reached") from exc
    except DatabaseUnavailable:  # translated further in (the analyses translate their own errors)
        _unavailable(engine)
        raise


@asynccontextmanager
async def request_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read connection for one request; driver errors leave it as domain errors."""
    async with database_errors(engine), engine.connect() as conn:
        yield conn


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: all of it lands, or none of it."""
    with engine.begin() as conn:
        yield conn


def postgis_version(conn: Connection) -> str:
    return str(conn.execute(text("SELECT postgis_lib_version()")).scalar_one())
