"""What access control costs the database: nothing for an anonymous caller, one statement for a key (its
account, groups and grants with it), and a write of ``last_used_at`` only when it is due and the key held."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text

from gis_service.auth.admin import Admin
from tests.accessdata import PROTECTED, Account, account

ACCESS_TABLES = re.compile(r"gis_api_key_lookup|\bapi_keys\b|\bprincipals\b|\bgrants\b|\baudit_log\b")
ITEMS = f"/collections/{PROTECTED}/items?limit=1"


@contextmanager
def access_statements(client: TestClient) -> Iterator[list[str]]:
    """The statements on the access tables that the app runs meanwhile."""
    seen: list[str] = []
    engine = client.app.state.engine.sync_engine  # type: ignore[attr-defined]

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if ACCESS_TABLES.search(statement):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def last_used(engine: Engine, who: Account) -> Any:
    with engine.connect() as conn:
        return conn.execute(text("SELECT last_used_at FROM api_keys WHERE prefix = :p"), {"p": who.prefix}).scalar()


@pytest.fixture
def reader(admin: Admin) -> Account:
    return account(admin, "counted", (PROTECTED, "viewer"))


def test_anonymous_reads_ask_nothing_of_the_access_tables(access_client: TestClient) -> None:
    with access_statements(access_client) as seen:
        assert access_client.get("/collections/industrial_parks/items?limit=1").status_code == 200
        assert access_client.get("/tiles/industrial_parks/12/3259/1923.pbf").status_code in (200, 204)
    assert seen == []


def test_a_key_costs_one_statement_and_its_use_is_stamped_when_due(
    access_client: TestClient, reader: Account, bundled: Engine
) -> None:
    headers = {"X-API-Key": reader.key}
    with access_statements(access_client) as first:
        assert access_client.get(ITEMS, headers=headers).status_code == 200
    stamped = last_used(bundled, reader)
    assert stamped is not None and len(first) == 2  # never used: the read, then the stamp
    with access_statements(access_client) as second:
        assert access_client.get(ITEMS, headers=headers).status_code == 200
    assert len(second) == 1 and last_used(bundled, reader) == stamped  # stamped a moment ago: not due


def test_a_wrong_secret_does_not_stamp_the_key(access_client: TestClient, reader: Account, bundled: Engine) -> None:
    wrong = {"X-API-Key": reader.prefix + "." + "E" * 43}
    with access_statements(access_client) as seen:
        assert access_client.get(ITEMS, headers=wrong).status_code == 401
    assert last_used(bundled, reader) is None
    assert len(seen) == 2 and "audit_log" in seen[1]  # the lookup, then the audit row of the failure
