"""An authenticated request holds one pooled connection at a time, and its key costs one statement.

Authentication runs on the request's own connection when the route took it first, else on a short one
returned before the route takes its own: with every connection of the pool held by requests that wait for
a second one, none would ever finish (each would wait out the pool's timeout and answer 503).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from gis_service.settings import Settings
from tests.accessdata import PROTECTED, Account
from tests.serverproc import server_process

#: Reads that ask who is calling, with the connection taken before (items) or after (the others) the caller.
AUTHENTICATED_READS = (
    f"/collections/{PROTECTED}/items?limit=1",
    f"/collections/{PROTECTED}",
    f"/collections/{PROTECTED}/queryables",
    "/proposals",
)
POOL_SIZE = 2


@dataclass
class PoolWatch:
    """Connections of one engine's pool held at once (the most since :meth:`reset`) and the statements run."""

    held: int = 0
    most_held: int = 0
    statements: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.most_held = self.held
        self.statements.clear()

    def checkout(self, *_: Any) -> None:
        self.held += 1
        self.most_held = max(self.most_held, self.held)

    def checkin(self, *_: Any) -> None:
        self.held -= 1

    def cursor(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements.append(statement)

    def key_lookups(self) -> int:
        return sum(1 for s in self.statements if "gis_api_key_lookup" in s)


@pytest.fixture(scope="module")
def watched(access_settings: Settings, bundled: Engine) -> Iterator[tuple[TestClient, PoolWatch]]:
    from gis_service.main import create_app

    with TestClient(create_app(access_settings)) as client:
        engine = client.app.state.engine.sync_engine  # type: ignore[attr-defined]
        watch = PoolWatch()
        event.listen(engine.pool, "checkout", watch.checkout)
        event.listen(engine.pool, "checkin", watch.checkin)
        event.listen(engine, "before_cursor_execute", watch.cursor)
        yield client, watch
        event.remove(engine, "before_cursor_execute", watch.cursor)
        event.remove(engine.pool, "checkin", watch.checkin)
        event.remove(engine.pool, "checkout", watch.checkout)


@pytest.mark.parametrize("target", AUTHENTICATED_READS)
def test_an_authenticated_read_holds_one_connection_and_reads_its_key_once(
    watched: tuple[TestClient, PoolWatch], viewer: Account, target: str
) -> None:
    client, watch = watched
    watch.reset()
    answer = client.get(target, headers={"Authorization": f"Bearer {viewer.key}"})
    assert answer.status_code == 200, answer.text
    assert watch.most_held == 1, f"{target} held {watch.most_held} pooled connections at once"
    assert watch.key_lookups() == 1, watch.statements


def test_a_bad_key_is_refused_and_audited_holding_one_connection(
    watched: tuple[TestClient, PoolWatch], viewer: Account
) -> None:
    client, watch = watched
    watch.reset()
    wrong = viewer.key[:-4] + ("AAAA" if not viewer.key.endswith("AAAA") else "BBBB")
    answer = client.get(AUTHENTICATED_READS[0], headers={"Authorization": f"Bearer {wrong}"})
    assert answer.status_code == 401, answer.text
    assert watch.most_held == 1
    assert watch.key_lookups() == 1
    assert any(s.startswith("INSERT INTO audit_log") for s in watch.statements), watch.statements


def test_as_many_concurrent_authenticated_reads_as_the_pool_has_connections_all_finish(
    migrated: Settings, bundled: Engine, viewer: Account
) -> None:
    """A server with a pool of two and no overflow, four times as many authenticated reads at once: each
    one is answered (before, every request held a connection and waited for a second: 503 after the pool's
    timeout)."""
    env = {"GIS_DB__POOL_SIZE": str(POOL_SIZE), "GIS_DB__MAX_OVERFLOW": "0"}
    headers = {"Authorization": f"Bearer {viewer.key}", "Accept": "application/geo+json"}
    with server_process(migrated.dsn, env=env) as server:

        def read(number: int) -> int:
            target = f"{server.base}/collections/industrial_parks/items?limit=1&offset={number}"
            return httpx.get(target, headers=headers, timeout=60).status_code

        for _ in range(3):
            with ThreadPoolExecutor(max_workers=4 * POOL_SIZE) as pool:
                statuses = list(pool.map(read, range(4 * POOL_SIZE)))
            assert statuses == [200] * (4 * POOL_SIZE), statuses
