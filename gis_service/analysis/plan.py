"""A plan: statements to run and how to shape their rows. Executed sync or async, same SQL."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from gis_service.db import translate

Rows = list[dict[str, Any]]


@dataclass
class Plan:
    statements: Mapping[str, Executable]
    shape: Callable[[dict[str, Rows]], Any]
    #: Checks on results that need the database (e.g. "the reference feature exists"); raise domain errors.
    checks: list[Callable[[dict[str, Rows]], None]] = field(default_factory=list)
    #: Values for the statements' named bind parameters (statements built once and cached take them here).
    params: dict[str, Any] = field(default_factory=dict)

    def finish(self, results: dict[str, Rows]) -> Any:
        for check in self.checks:
            check(results)
        return self.shape(results)


def run(conn: Connection, plan: Plan) -> Any:
    try:
        results = {
            name: [dict(r) for r in conn.execute(stmt, plan.params).mappings()]
            for name, stmt in plan.statements.items()
        }
    except DBAPIError as exc:
        raise translate(exc) from exc
    return plan.finish(results)


async def run_async(conn: AsyncConnection, plan: Plan) -> Any:
    results = {}
    for name, stmt in plan.statements.items():
        results[name] = [dict(r) for r in (await conn.execute(stmt, plan.params)).mappings()]
    return plan.finish(results)
