"""A scale-out topology as local processes on loopback: ``gis-service cluster up|down``.

A PostgreSQL primary and two streaming replicas (``pg_basebackup -R -C -S``), PgBouncer in transaction mode
in front of the primary, Redis for the shared tile cache, two API processes (each ``gis-service serve``
with one supervised worker) and nginx in front of them as the HTTP cache a CDN would be. Debian packages,
installed as PostGIS is (``scripts/system-packages.sh``). Servers that refuse to run as root (PostgreSQL,
PgBouncer) run as ``postgres`` then; the rest follow so every file in the directory has one owner.

Port layout from ``base``: primary +0, replicas +1 and +2, PgBouncer +3, Redis +4, API +5 and +6, nginx +7.
``topology.json`` in the directory records what runs, for ``down`` and for tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

from gis_service import provision
from gis_service.auth import dbroles
from gis_service.db import role_settings
from gis_service.provision import PG_BIN, as_owner, initdb_command
from gis_service.settings import load_settings

DATABASE = "gis"
REPLICAS = ("replica1", "replica2")
PGBOUNCER = Path("/usr/sbin/pgbouncer")
NGINX = Path("/usr/sbin/nginx")
REDIS = Path("/usr/bin/redis-server")
PORTS = 8
START_TIMEOUT_S = 90.0


class ClusterError(RuntimeError):
    """The topology cannot start here; the message says what is missing."""


@dataclass
class Topology:
    """What runs where (``topology.json``)."""

    home: str
    base: int
    database: str = DATABASE
    workers: list[int] = field(default_factory=list)  # process ids of the API processes (session leaders)

    @property
    def primary_port(self) -> int:
        return self.base

    @property
    def replica_ports(self) -> list[int]:
        return [self.base + 1 + i for i in range(len(REPLICAS))]

    @property
    def pgbouncer_port(self) -> int:
        return self.base + 3

    @property
    def redis_port(self) -> int:
        return self.base + 4

    @property
    def api_ports(self) -> list[int]:
        return [self.base + 5, self.base + 6]

    @property
    def nginx_port(self) -> int:
        return self.base + 7

    def url(self, port: int, user: str = "postgres", database: str | None = None) -> str:
        return f"postgresql://{user}@127.0.0.1:{port}/{database or self.database}"

    @property
    def primary_url(self) -> str:
        return self.url(self.primary_port)

    @property
    def replica_urls(self) -> list[str]:
        return [self.url(port) for port in self.replica_ports]

    @property
    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.api_ports]

    @property
    def nginx_url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    @property
    def path(self) -> Path:
        return Path(self.home)

    def save(self) -> None:
        (self.path / "topology.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def read(cls, home: Path) -> Topology | None:
        try:
            return cls(**json.loads((home / "topology.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None


def default_home(base: int) -> Path:
    return Path("/tmp") / f"gis-service-cluster-{base}"


def _run(cmd: list[str], timeout: float = 120) -> None:
    done = subprocess.run(as_owner(cmd), text=True, capture_output=True, timeout=timeout)
    if done.returncode:
        raise ClusterError(f"{Path(cmd[0]).name} failed ({done.returncode}): {(done.stderr or done.stdout)[-1500:]}")


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.write_text(text)
    path.chmod(mode)
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def check_tools() -> None:
    missing = [p.name for p in (PGBOUNCER, NGINX, REDIS, PG_BIN / "pg_basebackup") if not p.exists()]
    if missing:
        raise ClusterError(f"missing {missing}: run `make system` (as root) or apt-get install pgbouncer nginx-light")


def ephemeral_ports() -> range:
    """The ports the kernel hands out to outgoing connections and ``bind(0)``: a topology's ports stay out of
    them, or any connection made while the topology starts (a client, a test) may take one first."""
    try:
        low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def free_base(span: int = PORTS, start: int = 20000) -> int:
    """A run of ``span`` free ports from ``start`` on, below the ephemeral range (random first try, so two
    topologies started at once rarely try the same run)."""
    stop = min(ephemeral_ports().start, 65536) - span
    if stop <= start:
        raise ClusterError("no ports below the kernel's ephemeral range")
    first = start + (os.getpid() * 7919 + time.monotonic_ns()) % (stop - start)
    for base in (*range(first, stop, span), *range(start, first, span)):
        if ports_free(base, span):
            return base
    raise ClusterError(f"no run of {span} free ports between {start} and {stop + span} on 127.0.0.1")


def ports_free(base: int, span: int = PORTS) -> bool:
    for port in range(base, base + span):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is free
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _wait(what: str, ready: Callable[[], bool], timeout: float = START_TIMEOUT_S, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise ClusterError(f"{what} did not come up within {timeout:.0f} s\n{tail}")


def _accepts(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


# ---- PostgreSQL -----------------------------------------------------------------------------------


def _pg_ctl(data: Path, port: int, home: Path, action: str = "start") -> None:
    options = f"-p {port} -k {home}"
    _run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", f"{data}.log", "-w", "-t", "90", action])


def start_primary(topo: Topology) -> None:
    data = topo.path / "primary"
    _run(initdb_command(data))
    # Replication needs nothing more in PostgreSQL 15 (wal_level=replica, wal senders and slots, and a
    # trust line for replication on loopback from initdb). A dead replica's slot may keep 1 GB of WAL, no more.
    conf = (
        "listen_addresses = '127.0.0.1'\nmax_connections = 200\nfsync = off\nfull_page_writes = off\n"
        "max_slot_wal_keep_size = '1GB'\nhot_standby_feedback = on\n"
    )
    with (data / "postgresql.conf").open("a") as handle:
        handle.write(conf)
    _pg_ctl(data, topo.primary_port, topo.path)
    _wait("the primary", lambda: _accepts(topo.url(topo.primary_port, database="postgres")))


def prepare_database(topo: Topology, secrets: dict[str, str], *, load: bool) -> None:
    """The database, its roles (the app role's session settings on the role: PgBouncer passes no startup
    settings), the migrations and, with ``load``, the bundled layers."""
    with psycopg.connect(topo.url(topo.primary_port, database="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(topo.database)))
        dbroles.ensure_roles(conn, secrets["GIS_DB__APP_PASSWORD"])
    settings = load_settings(database_url=topo.primary_url)
    with psycopg.connect(topo.primary_url, autocommit=True) as conn:
        set_role_settings(conn, dbroles.APP, topo.database, role_settings(settings))
    from gis_service import migrate

    migrate.upgrade(settings)
    if load:
        from gis_service.ingest import bundled

        list(bundled.load_all(settings))


def set_role_settings(conn: psycopg.Connection, role: str, database: str, values: dict[str, str]) -> None:
    """``ALTER ROLE … IN DATABASE … SET`` for each value: new sessions of the role start with them, through
    any pooler, on the primary and (the catalogue replicates) on every replica."""
    for name, value in values.items():
        statement = sql.SQL("ALTER ROLE {} IN DATABASE {} SET {} = {}").format(
            sql.Identifier(role), sql.Identifier(database), sql.Identifier(name), sql.Literal(value)
        )
        conn.execute(statement)


def start_replica(topo: Topology, index: int) -> None:
    name, port = REPLICAS[index], topo.replica_ports[index]
    data = topo.path / name
    basebackup = [str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(topo.primary_port), "-U", "postgres"]
    _run([*basebackup, "-D", str(data), "-R", "-X", "stream", "-C", "-S", name, "-c", "fast"])
    with (data / "postgresql.auto.conf").open("a") as handle:  # named, so pg_stat_replication tells them apart
        handle.write(f"cluster_name = '{name}'\n")
    _pg_ctl(data, port, topo.path)
    _wait(name, lambda: _accepts(topo.url(port)))


# ---- PgBouncer, Redis, API, nginx -----------------------------------------------------------------


def start_pgbouncer(topo: Topology, secrets: dict[str, str]) -> None:
    home = topo.path
    users = f'"{dbroles.APP}" "{secrets["GIS_DB__APP_PASSWORD"]}"\n"postgres" ""\n'
    _write(home / "pgbouncer.users", users, 0o600)
    ini = f"""[databases]
{topo.database} = host=127.0.0.1 port={topo.primary_port} dbname={topo.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {topo.pgbouncer_port}
unix_socket_dir = {home}
auth_type = trust
auth_file = {home}/pgbouncer.users
pool_mode = transaction
default_pool_size = 20
max_client_conn = 1000
admin_users = postgres
stats_users = postgres
logfile = {home}/pgbouncer.log
pidfile = {home}/pgbouncer.pid
"""
    _write(home / "pgbouncer.ini", ini)
    _run([str(PGBOUNCER), "-d", str(home / "pgbouncer.ini")])
    _wait("PgBouncer", lambda: _accepts(topo.url(topo.pgbouncer_port)), log=home / "pgbouncer.log")


def start_redis(topo: Topology) -> None:
    home = topo.path
    args = ["--port", str(topo.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--daemonize", "yes", "--pidfile", str(home / "redis.pid"), "--logfile", str(home / "redis.log")]
    _run([str(REDIS), *args, "--dir", str(home)])

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", topo.redis_port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    _wait("Redis", answers, log=home / "redis.log")


def worker_env(topo: Topology, secrets: dict[str, str]) -> dict[str, str]:
    """A worker's settings: the primary through PgBouncer, reads on the replicas, tiles shared in Redis, and
    LISTEN on the primary itself (PgBouncer in transaction mode never delivers a notification)."""
    password = secrets["GIS_DB__APP_PASSWORD"]
    return {
        "GIS_DATABASE_URL": topo.url(topo.pgbouncer_port),
        "GIS_DB__POOLER": "pgbouncer",
        "GIS_DB__LISTEN_URL": topo.url(topo.primary_port, user=f"{dbroles.APP}:{quote(password, safe='')}"),
        "GIS_DB__REPLICA_URLS": json.dumps(topo.replica_urls),
        "GIS_DB__APP_ROLE": dbroles.APP,
        "GIS_DB__APP_PASSWORD": secrets["GIS_DB__APP_PASSWORD"],
        "GIS_AUTH__PEPPER": secrets["GIS_AUTH__PEPPER"],
        "GIS_CACHE__REDIS_URL": f"redis://127.0.0.1:{topo.redis_port}/0",
        "GIS_API__WORKERS": "1",
    }


def start_workers(topo: Topology, secrets: dict[str, str]) -> None:
    env = {**os.environ, **worker_env(topo, secrets)}
    serve = [sys.executable, "-c", "from gis_service.cli import main; main()", "serve", "--host", "127.0.0.1"]
    for index, port in enumerate(topo.api_ports, start=1):
        log = os.open(topo.path / f"api{index}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:  # its own session, so down stops the supervisor and its worker together; no Popen to outlive
            pid = os.posix_spawn(
                sys.executable,
                [*serve, "--port", str(port), "--workers", "1", "--no-access-log"],
                env,
                file_actions=[(os.POSIX_SPAWN_DUP2, log, 1), (os.POSIX_SPAWN_DUP2, log, 2)],
                setsid=True,
            )
        finally:
            os.close(log)
        topo.workers.append(pid)
        topo.save()
    for index, url in enumerate(topo.api_urls, start=1):
        _wait(f"API {index}", lambda url=url: _healthy(url), log=topo.path / f"api{index}.log")  # type: ignore[misc]


def nginx_conf(topo: Topology) -> str:
    """nginx as the CDN stand-in: it caches what the API marks public (versioned tiles for a year, the rest
    for their short max-age), never ``private`` answers nor ones that set a cookie. The cache key holds the
    client's Host, which is forwarded and ends up in links: one host's answers are never another's."""
    home = topo.path / "nginx"
    upstreams = "".join(f"        server 127.0.0.1:{port};\n" for port in topo.api_ports)
    return f"""daemon on;
worker_processes 1;
pid {home}/nginx.pid;
error_log {home}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {home}/body;
    proxy_temp_path {home}/proxy;
    fastcgi_temp_path {home}/fastcgi;
    uwsgi_temp_path {home}/uwsgi;
    scgi_temp_path {home}/scgi;
    proxy_cache_path {home}/cache levels=1:2 keys_zone=api:16m max_size=1g inactive=7d use_temp_path=off;
    upstream api {{
{upstreams}        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{topo.nginx_port};
        location / {{
            proxy_pass http://api;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_cache api;
            proxy_cache_key $scheme$http_host$request_uri;
            proxy_cache_lock on;
            proxy_cache_revalidate on;
            proxy_cache_use_stale updating error timeout;
            proxy_next_upstream error timeout;
            add_header X-Cache-Status $upstream_cache_status always;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


def start_nginx(topo: Topology) -> None:
    home = topo.path / "nginx"
    home.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
    _write(home / "nginx.conf", nginx_conf(topo))
    _run([str(NGINX), "-p", str(home), "-c", str(home / "nginx.conf"), "-e", str(home / "error.log")])
    _wait("nginx", lambda: _healthy(topo.nginx_url), log=home / "error.log")


# ---- up and down ----------------------------------------------------------------------------------


def up(base: int, home: Path | None = None, *, load: bool = True, say: Callable[[str], None] = print) -> Topology:
    """Start everything; on any failure, stop what was started and raise :class:`ClusterError`."""
    check_tools()
    home = home or default_home(base)
    if Topology.read(home) is not None:
        raise ClusterError(f"a topology is recorded in {home}: run `gis-service cluster down` first")
    if not ports_free(base):
        raise ClusterError(f"ports {base}..{base + PORTS - 1} are not all free on 127.0.0.1; choose --base-port")
    home.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
    topo = Topology(str(home), base)
    topo.save()
    secrets = provision.ensure_secrets(home / "secrets.env")
    try:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("primary", lambda: start_primary(topo)),
            ("database", lambda: prepare_database(topo, secrets, load=load)),
            *[(name, lambda i=i: start_replica(topo, i)) for i, name in enumerate(REPLICAS)],
            ("pgbouncer", lambda: start_pgbouncer(topo, secrets)),
            ("redis", lambda: start_redis(topo)),
            ("api", lambda: start_workers(topo, secrets)),
            ("nginx", lambda: start_nginx(topo)),
        ]
        for name, step in steps:
            started = time.monotonic()
            step()
            say(f"[cluster] {name} ready ({time.monotonic() - started:.1f} s)")
    except BaseException:
        down(home, say=say)
        raise
    return topo


def _kill_pidfile(path: Path, sig: int = signal.SIGTERM) -> None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        os.kill(int(path.read_text().split()[0]), sig)


def down(home: Path, *, purge: bool = True, say: Callable[[str], None] = print) -> bool:
    """Stop every process of the topology in ``home`` (reverse order); ``purge`` removes the directory."""
    topo = Topology.read(home)
    if topo is None:
        return False
    _kill_pidfile(home / "nginx" / "nginx.pid", signal.SIGQUIT)
    for pid in topo.workers:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGTERM)
    _kill_pidfile(home / "redis.pid")
    _kill_pidfile(home / "pgbouncer.pid")
    for name in (*reversed(REPLICAS), "primary"):
        if (home / name / "postmaster.pid").exists():
            cmd = [str(PG_BIN / "pg_ctl"), "-D", str(home / name), "-m", "fast", "-w", "-t", "60", "stop"]
            subprocess.run(as_owner(cmd), capture_output=True, timeout=90)
    _wait_gone(topo.workers)
    if purge:
        shutil.rmtree(home, ignore_errors=True)
    say(f"[cluster] stopped ({home})")
    return True


def _wait_gone(pids: list[int], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reaped when this process started it (tests)
            try:
                os.killpg(pid, 0)
            except OSError:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)


def summary(topo: Topology) -> dict[str, Any]:
    return {
        "primary": topo.primary_url,
        "replicas": topo.replica_urls,
        "pgbouncer": topo.url(topo.pgbouncer_port),
        "redis": f"redis://127.0.0.1:{topo.redis_port}/0",
        "api": topo.api_urls,
        "nginx": topo.nginx_url,
        "home": topo.home,
    }
