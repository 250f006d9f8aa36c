"""Real slow requests: a table locked by the test makes the server's query on it wait, holding its pooled
connection, until the test lets go."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from tests.faults.http import wait_for


@contextmanager
def table_locked(dsn: str, table: str) -> Iterator[psycopg.Connection]:
    """``table`` locked ACCESS EXCLUSIVE (no reader gets through) for the duration of the block."""
    with psycopg.connect(dsn) as conn:
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(table)))
        try:
            yield conn
        finally:
            conn.rollback()


def waiting_on_locks(dsn: str, application: str = "gis_service") -> int:
    """Sessions of the service that wait for a lock in this database."""
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = %s AND wait_event_type = 'Lock'"
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(query, (application,)).fetchone()
    return int(row[0]) if row else 0


def wait_until_blocked(dsn: str, sessions: int = 1, timeout: float = 10.0) -> None:
    wait_for(lambda: waiting_on_locks(dsn) >= sessions, timeout)
