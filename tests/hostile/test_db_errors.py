"""Database errors are mapped by SQLSTATE class where connections are taken (``gis_service.db``).

Real statements on the real PostGIS raise each error; ``request_connection`` must turn values the
database refused (class 22, 0A000, PostGIS geometry errors) into a 400 problem, an unreachable or
starting database into a 503, and leave every other error a fault (a 500), so a bug is never passed
off as the client's mistake.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy import BigInteger, Integer, literal, select, text
from sqlalchemy.exc import DBAPIError

from gis_service.db import async_engine, request_connection, translate
from gis_service.errors import DatabaseUnavailable, GisServiceError, InvalidValue, QueryTimeout
from gis_service.settings import Settings, load_settings

REFUSED_VALUES: dict[str, tuple[Any, dict[str, Any]]] = {
    "22P02 invalid text representation": (text("SELECT 'abc'::int"), {}),
    "22003 numeric value out of range": (text("SELECT 5e-324::float8 * 1e-300::float8"), {}),
    "22023 invalid parameter value": (text("SELECT generate_series(1, 10, 0)"), {}),
    "22021 NUL in text": (text("SELECT CAST(:v AS text)"), {"v": "a\x00b"}),
    "22025 LIKE pattern ending in the escape": (text("SELECT 'ab' LIKE :p"), {"p": "a\\"}),
    "22007 invalid datetime": (text("SELECT '2020-W01-1x'::date"), {}),
    "22012 division by zero": (text("SELECT 1 / 0"), {}),
    "22000 integer beyond 64 bits (asyncpg)": (select(literal(2**70, BigInteger)), {}),
    "22000 integer beyond 32 bits (asyncpg)": (select(literal(2**40, Integer) + 1), {}),
    "0A000 feature not supported": (text("SELECT * FROM generate_series(1, 2) g FOR UPDATE OF g"), {}),
    "XX000 GeoJSON PostGIS cannot read": (text('SELECT ST_GeomFromGeoJSON(\'{"type":"Feature"}\')'), {}),
    "XX000 transform out of the domain": (
        text("SELECT ST_Transform(ST_SetSRID(ST_MakePoint(1e30, 1e30), 3405), 4326)"),
        {},
    ),
    "XX000 ring with too few points": (text("SELECT ST_GeomFromText('POLYGON((0 0, 1 0, 1 1))')"), {}),
}
FAULTS: dict[str, tuple[Any, dict[str, Any]]] = {
    "42601 syntax error": (text("SELEC 1"), {}),
    "42P01 undefined table": (text("SELECT * FROM no_such_table"), {}),
    "42883 undefined function": (text("SELECT no_such_function(1)"), {}),
}


def run(settings: Settings, statement: Any, params: dict[str, Any]) -> BaseException | None:
    """Execute on a request connection; the exception that comes out of ``request_connection``."""

    async def main() -> BaseException | None:
        engine = async_engine(settings)
        try:
            async with request_connection(engine) as conn:
                await conn.execute(statement, params)
        except Exception as exc:
            return exc
        finally:
            await engine.dispose()
        return None

    return asyncio.run(main())


@pytest.mark.parametrize("case", list(REFUSED_VALUES))
def test_values_the_database_refuses_are_400(migrated: Settings, case: str) -> None:
    error = run(migrated, *REFUSED_VALUES[case])
    assert isinstance(error, InvalidValue), f"{case}: {type(error).__name__}: {error}"
    assert error.status == 400
    problem = error.problem("/x")
    assert problem["detail"].startswith("the database refused a value of the request: ")
    assert len(problem["detail"]) > len("the database refused a value of the request: ") + 5
    for word in ("SELECT", "asyncpg", "sqlalchemy", "psycopg", "$1"):
        assert word not in problem["detail"], problem["detail"]


@pytest.mark.parametrize("case", list(FAULTS))
def test_other_database_errors_stay_faults(migrated: Settings, case: str) -> None:
    error = run(migrated, *FAULTS[case])
    assert isinstance(error, DBAPIError) and not isinstance(error, GisServiceError), repr(error)


def test_a_statement_past_the_timeout_is_503(migrated: Settings) -> None:
    impatient = load_settings(database_url=migrated.dsn, db={"statement_timeout_ms": 200})
    error = run(impatient, text("SELECT pg_sleep(2)"), {})
    assert isinstance(error, QueryTimeout) and error.status == 503, repr(error)


def test_an_unreachable_database_is_503(migrated: Settings) -> None:
    from tests.serverproc import free_port

    nowhere = load_settings(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/gis")
    error = run(nowhere, text("SELECT 1"), {})
    assert isinstance(error, DatabaseUnavailable) and error.status == 503, repr(error)


def test_a_database_starting_up_is_503(migrated: Settings) -> None:
    """57P03 as asyncpg raises it and SQLAlchemy wraps it (a real cluster in recovery: tests/faults)."""
    engine = async_engine(migrated)
    dbapi = engine.sync_engine.dialect.dbapi
    raised = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
    orig = next(
        dbapi._asyncpg_error_translate[cls](str(raised), raised)  # type: ignore[union-attr]
        for cls in type(raised).__mro__
        if cls in dbapi._asyncpg_error_translate  # type: ignore[union-attr]
    )
    wrapped = DBAPIError.instance("SELECT 1", {}, orig, dbapi.Error)  # type: ignore[union-attr]
    asyncio.run(engine.dispose())
    assert orig.sqlstate == "57P03"
    assert isinstance(translate(wrapped), DatabaseUnavailable)
