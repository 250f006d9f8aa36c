"""A throwaway PostgreSQL cluster of the fault tests' own, which they may stop, crash and restart.

It lives in a temporary directory owned by ``postgres``, on a free loopback port that stays the same across
restarts (the API process under test keeps its URL). Never the shared cluster.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from gis_service.provision import PG_BIN
from tests.serverproc import free_port


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class ThrowawayCluster:
    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="gis-faults-"))
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres", "postgres")
        self.data = self.home / "data"
        self.port = free_port()
        self.log = self.home / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args])
        return subprocess.run(cmd, check=check, text=True, capture_output=True, timeout=90)

    def init(self) -> None:
        initdb = [str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
        subprocess.run(_as_postgres([*initdb, "--locale=C.UTF-8"]), check=True, capture_output=True, timeout=120)

    def start(self, *, standby: bool = False, wait: bool = True) -> None:
        """Start the server. ``standby``: stay in recovery with hot standby off, so every connection is refused
        with SQLSTATE 57P03 ("not accepting connections"), as during start-up, until :meth:`promote`."""
        signal_file = self.data / "standby.signal"
        if standby:
            subprocess.run(_as_postgres(["touch", str(signal_file)]), check=True, timeout=10)
        options = f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c max_connections=100"
        options += " -c fsync=off -c hot_standby=" + ("off" if standby else "on")
        self._pg_ctl("-o", options, "-l", str(self.log), "-W", "start")
        if wait and not standby:
            self.wait_ready()

    def promote(self) -> None:
        self._pg_ctl("-W", "promote")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "-t", "60", "stop", check=False)

    def running(self) -> bool:
        return self._pg_ctl("status", check=False).returncode == 0

    def accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.url(), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Poll until a new connection works; returns the monotonic time it first did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.accepts_connections():
                return time.monotonic()
            time.sleep(0.05)
        raise TimeoutError(f"the throwaway cluster did not accept connections within {timeout:.0f} s:\n{self.tail()}")

    def crash_a_backend(self, database: str) -> int:
        """SIGKILL one client backend: the postmaster then ends every session (57P02) and recovers."""
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()
            assert pid is not None
            victim = int(pid[0])
            with conn.cursor() as cur:
                try:
                    os.kill(victim, signal.SIGKILL)
                    cur.execute("SELECT 1")
                except psycopg.OperationalError:
                    pass
        return victim

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def destroy(self) -> None:
        if self.data.exists():
            self.stop("immediate")
        shutil.rmtree(self.home, ignore_errors=True)


def refuses_as_starting_up(cluster: ThrowawayCluster) -> bool:
    """Whether the server answers connections with SQLSTATE 57P03 (starting up, in recovery)."""
    try:
        with psycopg.connect(cluster.url(), connect_timeout=2):
            return False
    except psycopg.OperationalError as exc:
        return exc.sqlstate == "57P03" or "not accepting connections" in str(exc) or "starting up" in str(exc)
