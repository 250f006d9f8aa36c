"""A plan: statements to run and how to shape their rows. Executed sync or async, same SQL."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson
from sqlalchemy import Connection, Select, func, literal_column, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from gis_service.db import translate

Rows = list[dict[str, Any]]


@dataclass(eq=False)
class Plan:
    statements: Mapping[str, Executable]
    shape: Callable[[dict[str, Rows]], Any]
    #: Checks on results that need the database (e.g. "the reference feature exists"); raise domain errors.
    checks: list[Callable[[dict[str, Rows]], None]] = field(default_factory=list)
    #: Values for the statements' named bind parameters (statements built once and cached take them here).
    params: dict[str, Any] = field(default_factory=dict)
    #: Run every statement as one query (each one's rows aggregated to JSON): one round trip for many small
    #: questions. The statements must be selects.
    one_query: Select[Any] | None = None
    #: The answer reads, or leaves out, a non-public collection: it depends on who asks (``analysis.access``).
    private: bool = False

    def finish(self, results: dict[str, Rows]) -> Any:
        for check in self.checks:
            check(results)
        return self.shape(results)

    @cached_property
    def executables(self) -> Mapping[str, Executable]:
        return {"__all__": self.one_query} if self.one_query is not None else self.statements


def as_one_query(statements: Mapping[str, Any]) -> Select[Any]:
    """``SELECT (SELECT json_agg(a) FROM (…) a) AS a, (SELECT json_agg(b) …) AS b`` over named selects."""
    columns = []
    for name, stmt in statements.items():
        rows = stmt.subquery(name)
        agg = func.coalesce(func.json_agg(rows.table_valued()), literal_column("'[]'::json"))
        columns.append(select(agg).scalar_subquery().label(name))
    return select(*columns)


def _unpack(plan: Plan, name: str, rows: list[dict[str, Any]]) -> dict[str, Rows]:
    if name != "__all__":
        return {name: rows}
    row = rows[0]
    return {key: orjson.loads(value) if isinstance(value, str | bytes) else value for key, value in row.items()}


def run(conn: Connection, plan: Plan) -> Any:
    results: dict[str, Rows] = {}
    try:
        for name, stmt in plan.executables.items():
            results |= _unpack(plan, name, [dict(r) for r in conn.execute(stmt, plan.params).mappings()])
    except DBAPIError as exc:
        raise translate(exc) from exc
    return plan.finish(results)


async def run_async(conn: AsyncConnection, plan: Plan) -> Any:
    results: dict[str, Rows] = {}
    for name, stmt in plan.executables.items():
        results |= _unpack(plan, name, [dict(r) for r in (await conn.execute(stmt, plan.params)).mappings()])
    return plan.finish(results)
