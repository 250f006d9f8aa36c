"""Find or start a PostGIS server: ``DATABASE_URL``, else Docker, else a private Debian cluster.

The private cluster lives in ``.data/postgres`` (Debian PostgreSQL 15 + PostGIS 3, installed with apt when
running as root and missing), listens on a free loopback port (the same one again after a restart when it is
still free) and is kept for the next command. As root, the server runs as the ``postgres`` user, which must
be able to enter the project: when it cannot (a clone in a private home such as ``/root``), the cluster goes
to ``/var/lib/gis-service/<hash of the project path>/postgres`` instead, recorded in ``.data/postgres.location``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from gis_service.auth import dbroles
from gis_service.settings import PROJECT_ROOT, SECRETS_ENV

PG_VERSION = "15"
PG_BIN = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")
POSTGIS_CONTROL = Path(f"/usr/share/postgresql/{PG_VERSION}/extension/postgis.control")
APT_PACKAGES = [f"postgresql-{PG_VERSION}", f"postgresql-{PG_VERSION}-postgis-3", "postgresql-contrib"]
DOCKER_PORT = 54329
DATABASES = ("gis", "gis_test")
#: Home of the private clusters of projects the ``postgres`` user cannot enter.
SHARED_STATE = Path("/var/lib/gis-service")
#: Records, inside the project, where its private cluster lives when that is outside it.
LOCATION_FILE = "postgres.location"


class ProvisionError(RuntimeError):
    """Nothing could give us a PostGIS server; the message says what to install."""


@dataclass(frozen=True)
class Server:
    how: str
    base_url: str  # without database name, e.g. postgresql://postgres@127.0.0.1:54321

    def url(self, database: str) -> str:
        return f"{self.base_url}/{database}"


def _log(message: str) -> None:
    print(f"[db] {message}", flush=True)


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, check=True, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload]
    except subprocess.CalledProcessError as exc:
        output = (exc.stderr or exc.stdout or "").strip().splitlines()
        raise ProvisionError(f"`{' '.join(cmd)}` failed: {output[-1] if output else exc}") from None


def _wait_for(url: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with psycopg.connect(url, connect_timeout=3):
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise ProvisionError(f"PostgreSQL at {url} did not answer within {seconds:.0f} s: {exc}") from exc
            time.sleep(0.5)


def _split(url: str) -> tuple[str, str]:
    base, _, database = url.rpartition("/")
    return base, database.split("?")[0] or "postgres"


def from_environment() -> Server | None:
    url = os.environ.get("GIS_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        return None
    url = url.replace("postgresql+psycopg://", "postgresql://").replace("postgresql+asyncpg://", "postgresql://")
    _wait_for(url)
    base, _ = _split(url)
    return Server("DATABASE_URL", base)


def _docker_running() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def from_docker() -> Server | None:
    if not _docker_running():
        return None
    _log("starting the PostGIS container (docker compose up -d db)")
    _run(["docker", "compose", "up", "-d", "db"], cwd=PROJECT_ROOT)
    server = Server("docker", f"postgresql://postgres:postgres@127.0.0.1:{DOCKER_PORT}")
    _wait_for(server.url("postgres"), 120)
    return server


def _free_port(start: int = 54320, preferred: int | None = None) -> int:
    """``preferred`` (the port of an earlier run, so URLs written then stay valid) if free, else the first free
    port from ``start``."""
    candidates = [preferred] if preferred else []
    for port in [*candidates, *range(start, start + 200)]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise ProvisionError("no free TCP port between 54320 and 54520 on 127.0.0.1")


def _ensure_packages() -> None:
    if (PG_BIN / "pg_ctl").exists() and POSTGIS_CONTROL.exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ProvisionError(
            "PostGIS is not installed: run `sudo apt-get install postgresql-15-postgis-3` "
            "(or start Docker, or set DATABASE_URL to a PostGIS database) and try again."
        )
    _log(f"installing {' '.join(APT_PACKAGES)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *APT_PACKAGES]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        _run(["apt-get", "update", "-q"], env=env)
        _run(install, env=env)


def as_owner(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def initdb_command(data: Path) -> list[str]:
    """A new cluster in ``data``: trusted local logins as ``postgres``, UTF-8, C.UTF-8 collation."""
    return [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"]


def postgres_can_enter(directory: Path) -> bool:
    """Whether the user the server runs as can reach ``directory`` (search permission on it and on every
    directory above it). As any other user than root, the server runs as that user, who can."""
    if os.geteuid() != 0:
        return True
    probe = subprocess.run(as_owner(["test", "-x", str(directory)]), capture_output=True)
    return probe.returncode == 0


def cluster_root(project_root: Path, can_enter: bool) -> Path:
    """Where a project's private cluster goes: inside it when ``postgres`` can enter it, else a directory of
    its own under /var/lib/gis-service named by a hash of the project's path (two clones stay apart)."""
    if can_enter:
        return project_root / ".data" / "postgres"
    digest = hashlib.sha256(str(project_root.resolve()).encode()).hexdigest()[:16]
    return SHARED_STATE / digest / "postgres"


def locate_cluster(project_root: Path = PROJECT_ROOT) -> Path:
    """The private cluster of this project: the recorded place, else the one cluster_root decides."""
    record = project_root / ".data" / LOCATION_FILE
    if record.exists():
        return Path(record.read_text().strip())
    inside = project_root / ".data" / "postgres"
    if (inside / "PG_VERSION").exists():
        return inside
    data = project_root / ".data"
    return cluster_root(project_root, postgres_can_enter(data if data.exists() else project_root))


class LocalCluster:
    def __init__(self, root: Path | None = None, project_root: Path = PROJECT_ROOT) -> None:
        self.root = root or locate_cluster(project_root)
        self.record = project_root / ".data" / LOCATION_FILE
        self.inside = self.root == project_root / ".data" / "postgres"
        self.port_file = self.root / "gis_port"

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = as_owner([str(PG_BIN / "pg_ctl"), "-D", str(self.root), *args])
        return subprocess.run(cmd, text=True, capture_output=True)

    def running(self) -> bool:
        return (self.root / "PG_VERSION").exists() and self._pg_ctl("status").returncode == 0

    def _init(self) -> None:
        _log(f"creating a private PostgreSQL cluster in {self.root}")
        if not self.inside:
            _log(f"(the postgres user cannot enter the project; the place is recorded in {self.record})")
            self.record.parent.mkdir(parents=True, exist_ok=True)
            self.record.write_text(f"{self.root}\n")
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o700)
        _run(as_owner(initdb_command(self.root)))

    def start(self) -> Server:
        if not (self.root / "PG_VERSION").exists():
            self._init()
        if not self.running():
            earlier = self.port_file.read_text().strip() if self.port_file.exists() else ""
            port = _free_port(preferred=int(earlier) if earlier.isdigit() else None)
            options = f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
            started = self._pg_ctl("-w", "-t", "60", "-o", options, "-l", str(self.root / "server.log"), "start")
            if started.returncode != 0:
                log = (self.root / "server.log").read_text(errors="replace")[-2000:]
                raise ProvisionError(f"pg_ctl could not start the cluster: {started.stderr}\n{log}")
            self.port_file.write_text(str(port))
        port = int(self.port_file.read_text())
        server = Server("local cluster", f"postgresql://postgres@127.0.0.1:{port}")
        _wait_for(server.url("postgres"))
        return server

    def stop(self) -> bool:
        if not self.running():
            return False
        self._pg_ctl("-m", "fast", "stop")
        return True


def from_local_cluster() -> Server:
    _ensure_packages()
    return LocalCluster().start()


def ensure_databases(server: Server, names: tuple[str, ...] = DATABASES) -> None:
    """Create the databases that are missing; the server from DATABASE_URL may forbid it, which is fine."""
    try:
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
            for name in names:
                if name not in existing:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        _log(f"could not create databases {names}: {exc}")


def provision() -> Server:
    server = from_environment() or from_docker() or from_local_cluster()
    if server.how != "DATABASE_URL":
        ensure_databases(server)
    return server


def read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.partition("=") for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, _, value in pairs}


def write_private(path: Path, values: dict[str, str], *, exclusive: bool = False) -> bool:
    """``KEY=value`` lines, readable by the owner only (mode 0600 from the start, never wider).
    ``exclusive``: only if the file does not exist yet (False when another process wrote it first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# Database role passwords and the API-key pepper (gis-service db up); keep private.\n"
    text += "".join(f"{key}={value}\n" for key, value in values.items())
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(text)
    if exclusive:
        try:
            os.link(temporary, path)  # atomic create-if-absent
        except FileExistsError:
            return False
        finally:
            temporary.unlink()
        return True
    os.replace(temporary, path)
    return True


def ensure_secrets(path: Path) -> dict[str, str]:
    """The app role's password and the pepper: made once, then kept (rotating the pepper voids every key)."""
    fresh = {
        "GIS_DB__APP_ROLE": dbroles.APP,
        "GIS_DB__APP_PASSWORD": secrets.token_urlsafe(24),
        "GIS_AUTH__PEPPER": secrets.token_urlsafe(32),
    }
    existing = read_env(path)
    if not existing and write_private(path, fresh, exclusive=True):
        return fresh
    existing = read_env(path)
    if any(key not in existing for key in fresh):
        write_private(path, {**fresh, **existing})
    return read_env(path)


def ensure_roles(url: str, secrets_path: Path = SECRETS_ENV) -> bool:
    """The cluster's roles (owner, app, reader, editor) and the app's login, with the password kept in
    ``secrets_path``; False, with one sentence of what a DBA must do, when this login may not create roles."""
    values = ensure_secrets(secrets_path)
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            dbroles.ensure_roles(conn, values["GIS_DB__APP_PASSWORD"])
    except dbroles.RoleError as exc:
        _log(str(exc))
        write_private(secrets_path, {"GIS_AUTH__PEPPER": values["GIS_AUTH__PEPPER"]})  # no role to log in as
        return False
    return True
