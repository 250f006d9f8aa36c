"""The topology of ``gis-service cluster up`` on free loopback ports, once for the ``cluster`` tests.

A primary, two streaming replicas, PgBouncer, Redis, two API processes and nginx, in a temporary directory;
stopped and removed at the end. Never the shared cluster.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gis_service import cluster, provision
from gis_service.auth.admin import Admin
from gis_service.provision import PG_BIN
from gis_service.settings import load_settings
from tests.accessdata import Account, account


def _free_base(span: int = cluster.PORTS) -> int:
    """A run of ``span`` free ports outside the kernel's ephemeral range (see ``cluster.free_base``)."""
    return cluster.free_base(span)


@pytest.fixture(scope="session")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster.Topology]:
    home = Path(tmp_path_factory.mktemp("cluster")) / "topology"
    if os.geteuid() == 0:  # pytest's temporary directories are private to root: /tmp instead
        home = Path("/tmp") / f"gis-cluster-test-{os.getpid()}"
    topo = cluster.up(_free_base(), home, load=True, say=lambda _: None)
    try:
        yield topo
    finally:
        cluster.down(home)


@pytest.fixture(scope="session")
def secrets(topology: cluster.Topology) -> dict[str, str]:
    return provision.read_env(topology.path / "secrets.env")


@pytest.fixture(scope="session")
def editor(topology: cluster.Topology, secrets: dict[str, str]) -> Iterator[Account]:
    settings = load_settings(database_url=topology.primary_url, auth={"pepper": secrets["GIS_AUTH__PEPPER"]})
    admin = Admin(settings)
    try:
        yield account(admin, "cluster-editor", ("industrial_parks", "editor"))
    finally:
        admin.close()


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]


def server_pids(data: Path) -> list[int]:
    """The postmaster of a data directory and its children (backends, walreceiver, …)."""
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True)
    return [postmaster, *(int(pid) for pid in children.stdout.split())]


def signal_server(data: Path, sig: signal.Signals) -> None:
    for pid in server_pids(data):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def pg_ctl(data: Path, *args: str) -> None:
    cmd = [str(PG_BIN / "pg_ctl"), "-D", str(data), *args]
    subprocess.run(cluster.as_owner(cmd), check=True, capture_output=True, timeout=120)
