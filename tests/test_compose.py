"""docker-compose.yml: today's services for provisioning and `docker compose up`, and profiles with the shape of
``gis-service cluster up`` (no Docker engine here: the file is read as YAML and checked against the code)."""

from __future__ import annotations

import configparser
import re
from typing import Any

import pytest
import yaml

from gis_service import cluster, provision
from gis_service.settings import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
DEPLOY = PROJECT_ROOT / "deploy"
PRIMARY = "db"


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(COMPOSE.read_text())
    return dict(document["services"])


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    return dict(env) if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def default(value: str) -> str:
    """``${NAME:-default}`` -> default (what compose uses when NAME is unset)."""
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    return match.group(1) if match else value


def test_services_without_a_profile_are_what_provisioning_and_run_use(services: dict[str, dict[str, Any]]) -> None:
    always = {name for name, service in services.items() if "profiles" not in service}
    assert always == {PRIMARY, "migrate", "api"}
    db = services[PRIMARY]
    assert f"127.0.0.1:{provision.DOCKER_PORT}:5432" in db["ports"]  # from_docker connects there
    assert environment(db)["POSTGRES_PASSWORD"] == "postgres"  # ... as postgres:postgres
    assert environment(db)["POSTGRES_DB"] in provision.DATABASES
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    api = environment(services["api"])
    assert default(api["GIS_DATABASE_URL"]) == environment(services["migrate"])["GIS_DATABASE_URL"]
    assert default(api["GIS_DB__REPLICA_URLS"]) == "" and default(api["GIS_DB__POOLER"]) == "none"
    assert default(api["GIS_CACHE__REDIS_URL"]) == "" and default(api["GIS_DB__LISTEN_URL"]) == ""
    assert default(api["GIS_API__WORKERS"]) == "2"


def test_profiles_have_the_shape_of_cluster_up(services: dict[str, dict[str, Any]]) -> None:
    profiles: dict[str, set[str]] = {}
    for name, service in services.items():
        for profile in service.get("profiles", []):
            profiles.setdefault(profile, set()).add(name)
    assert profiles == {
        "replicas": {"replica1", "replica2"},
        "pooler": {"pgbouncer"},
        "cache": {"redis"},
        "cdn": {"nginx"},
    }
    assert len(profiles["replicas"]) == len(cluster.REPLICAS)
    optional = {name for name, dep in services["api"]["depends_on"].items() if dep.get("required") is False}
    assert optional == set().union(profiles["replicas"], profiles["pooler"], profiles["cache"])


def test_every_replica_streams_from_the_primary(services: dict[str, dict[str, Any]]) -> None:
    script = (DEPLOY / "postgres" / "replica.sh").read_text()
    assert re.search(r'pg_basebackup -h "\$PRIMARY_HOST" .*-R -X stream -C -S "\$SLOT"', script)
    slots = []
    for name in ("replica1", "replica2"):
        replica = services[name]
        env = environment(replica)
        assert env["PRIMARY_HOST"] == PRIMARY
        assert replica["image"] == services[PRIMARY]["image"]
        assert "replica.sh" in " ".join(replica["entrypoint"])
        assert any(volume.endswith(":/var/lib/postgresql/data") for volume in replica["volumes"])
        slots.append(env["SLOT"])
    assert sorted(slots) == sorted(cluster.REPLICAS)
    assert len({tuple(services[name]["volumes"]) for name in ("replica1", "replica2")}) == 2  # own data each
    hba = (DEPLOY / "postgres" / "pg_hba.conf").read_text()
    assert re.search(r"^host\s+replication\s+all\s+all\s+scram-sha-256$", hba, re.MULTILINE)
    assert "hba_file=/etc/gis/pg_hba.conf" in services[PRIMARY]["command"]


def test_pgbouncer_pools_the_primary_in_transaction_mode(services: dict[str, dict[str, Any]]) -> None:
    ini = configparser.ConfigParser()
    ini.read(DEPLOY / "pgbouncer" / "pgbouncer.ini")
    assert ini["pgbouncer"]["pool_mode"] == "transaction"
    target = dict(pair.split("=", 1) for pair in ini["databases"]["gis"].split())
    assert target["host"] == PRIMARY and target["dbname"] == environment(services[PRIMARY])["POSTGRES_DB"]
    assert services["pgbouncer"]["build"] == "deploy/pgbouncer"
    assert "pgbouncer" in (DEPLOY / "pgbouncer" / "Dockerfile").read_text()


def location_block(conf: str) -> list[str]:
    block = conf.split("location / {", 1)[1].split("}", 1)[0]
    return [line.strip() for line in block.strip().splitlines()]


def test_nginx_caches_as_the_cluster_nginx_does(services: dict[str, dict[str, Any]]) -> None:
    ours = (DEPLOY / "nginx" / "nginx.conf").read_text()
    local = cluster.nginx_conf(cluster.Topology("/tmp/topology", 55432))
    assert location_block(ours) == location_block(local)
    cache_path = re.compile(r"proxy_cache_path \S+ (.*);")
    assert cache_path.findall(ours) == cache_path.findall(local)
    assert "server api:8000;" in ours
    nginx = services["nginx"]
    assert any(volume.endswith(":/etc/nginx/nginx.conf:ro") for volume in nginx["volumes"])


def test_every_mounted_file_exists(services: dict[str, dict[str, Any]]) -> None:
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (PROJECT_ROOT / source).is_file(), source
        build = service.get("build")
        if isinstance(build, str) and build != ".":
            assert (PROJECT_ROOT / build / "Dockerfile").is_file()


def test_the_scale_out_env_names_the_profiles_services(services: dict[str, dict[str, Any]]) -> None:
    lines = (DEPLOY / "scale-out.env").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert set(env["COMPOSE_PROFILES"].split(",")) == {"replicas", "pooler", "cache", "cdn"}
    hosts = re.findall(r"@([a-z0-9]+):", env["GIS_DB__REPLICA_URLS"])
    assert hosts == ["replica1", "replica2"]
    assert re.search(r"@pgbouncer:6432/", env["API_DATABASE_URL"]) and env["GIS_DB__POOLER"] == "pgbouncer"
    assert env["GIS_CACHE__REDIS_URL"].startswith("redis://redis:")
    interpolated = set(re.findall(r"\$\{(\w+):-", COMPOSE.read_text()))
    assert set(env) - {"COMPOSE_PROFILES"} <= interpolated  # every value reaches the api service
