"""A killed loader does not hold its locks: its connection asks PostgreSQL to check the client every
``db.client_check_interval_ms``, so the session ends within about a second of the kill, not when its
statement would have finished. The same with the check off shows the difference."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import psycopg
import pytest
from sqlalchemy import Engine

from gis_service.settings import PROJECT_ROOT, Settings
from tests.faults.http import wait_for

pytestmark = pytest.mark.timeout(120)
#: What a loader runs: its own connection (``loader.connect``), a lock, then a long statement.
LOADER = """
from gis_service.ingest.loader import connect
from gis_service.settings import load_settings
with connect(load_settings()) as conn:
    conn.execute("LOCK TABLE rivers IN SHARE ROW EXCLUSIVE MODE")
    conn.execute("SELECT pg_sleep(60)")
"""


def sessions(dsn: str, name: str) -> list[int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (name,)).fetchall()
    return [row[0] for row in rows]


def kill_a_loader(settings: Settings, check_ms: int) -> tuple[float | None, list[int]]:
    """Start a loader connection, SIGKILL its process while it sleeps in a statement holding a lock; the
    seconds until its session was gone (None: still there after 4 s) and the pids still there."""
    name = f"gis_faults_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "GIS_DATABASE_URL": f"{settings.dsn}?application_name={name}",
        "GIS_DB__CLIENT_CHECK_INTERVAL_MS": str(check_ms),
    }
    process = subprocess.Popen([sys.executable, "-c", LOADER], cwd=PROJECT_ROOT, env=env)
    try:
        wait_for(lambda: bool(sessions(settings.dsn, name)), 30)
        time.sleep(0.3)  # inside pg_sleep
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    killed = time.monotonic()
    while time.monotonic() - killed < 4.0:
        if not sessions(settings.dsn, name):
            return time.monotonic() - killed, []
        time.sleep(0.05)
    return None, sessions(settings.dsn, name)


def test_a_killed_loader_session_ends_within_seconds(migrated: Settings, bundled: Engine) -> None:
    gone_after, _ = kill_a_loader(migrated, check_ms=1000)
    assert gone_after is not None and gone_after < 2.5, gone_after
    without_check, lingering = kill_a_loader(migrated, check_ms=0)
    try:
        assert without_check is None, "without the check the session should outlive its client"
    finally:
        with psycopg.connect(migrated.dsn, autocommit=True) as conn:
            for pid in lingering:
                conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
