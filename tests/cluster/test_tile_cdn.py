"""Tiles in the topology: nginx (the CDN stand-in) serving versioned tiles without reaching the API, its cache
keyed by the client's Host, and every worker listening for layer versions on the primary itself (PgBouncer
in transaction mode never delivers a notification)."""

from __future__ import annotations

import httpx
import morecantile
import pytest

from gis_service import cluster
from tests.cluster.conftest import query

pytestmark = pytest.mark.cluster

PARK = (106.7266, 10.9312)  # VSIP I: its tiles hold features at every zoom


def versioned_tile(client: httpx.Client, base: str, z: int) -> str:
    template = client.get(f"{base}/tiles/industrial_parks.json").json()["tiles"][0]
    assert "/v" in template, template
    tile = morecantile.tms.get("WebMercatorQuad").tile(*PARK, z)
    return str(template).format(z=z, x=tile.x, y=tile.y).replace(base, "")


def test_nginx_serving_versioned_tiles_without_reaching_the_api(topology: cluster.Topology) -> None:
    with httpx.Client(base_url=topology.nginx_url, timeout=10, follow_redirects=False) as client:
        path = versioned_tile(client, topology.nginx_url, 13)
        first, second = client.get(path), client.get(path)
    assert first.status_code == 200 and first.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert first.headers["X-Cache-Status"] == "MISS"  # the API answered this one ...
    assert second.headers["X-Cache-Status"] == "HIT"  # ... and not this one: nginx had it
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]


def test_nginx_keeps_one_hosts_answers_from_another(topology: cluster.Topology) -> None:
    """The client's Host is forwarded (links are built from it), so it is part of nginx's cache key."""
    with httpx.Client(base_url=topology.nginx_url, timeout=10, follow_redirects=False) as client:
        path = versioned_tile(client, topology.nginx_url, 14)
        statuses = [
            client.get(path, headers={"Host": host}).headers["X-Cache-Status"]
            for host in ("a.example", "a.example", "b.example")
        ]
    assert statuses == ["MISS", "HIT", "MISS"]


def test_every_worker_listens_on_the_primary(topology: cluster.Topology) -> None:
    rows = query(
        topology.primary_url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gis_service listen'"
    )
    assert rows[0][0] == len(topology.api_ports)


def test_workers_behind_different_replicas_share_tile_keys(topology: cluster.Topology) -> None:
    """Both workers name the same tile by the same key (the cluster's identity, not a DSN host): equal ETags."""
    tile = morecantile.tms.get("WebMercatorQuad").tile(*PARK, 15)
    etags = {
        httpx.get(f"{api}/tiles/industrial_parks/15/{tile.x}/{tile.y}.pbf", timeout=10).headers["etag"]
        for api in topology.api_urls
    }
    assert len(etags) == 1
