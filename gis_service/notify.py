"""Layer data versions pushed by the database: ``LISTEN gis_layer_versions`` (migration 0006).

:class:`NotifiedVersions` keeps every layer's version in memory, updated by the notification each committed
write sends, so a tile cache hit costs no query and a write shows in tiles as soon as it commits, in every
worker. It listens on one dedicated asyncpg connection (never a pooled one: a listener must stay on its
session). After (re)connecting it LISTENs first and then reads every version, so no write falls in between;
a periodic full read is the safety net for a lost notification. While it has no live connection (the
database is down) the polled source answers. It connects to ``db.listen_url`` (the primary itself), else to
the request URL; PgBouncer in transaction mode never delivers notifications, so with ``db.pooler=pgbouncer``
and no listen URL nothing listens and the polled source answers alone (said once in the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from sqlalchemy.dialects import postgresql

from gis_service.queries import meta
from gis_service.settings import Settings
from gis_service.tilecache import LayerVersions, Versions, versions_of, worth_logging

log = logging.getLogger("gis_service.notify")
#: The channel of migration 0006.
CHANNEL = "gis_layer_versions"
#: A full read this often even when notifications flow (a notification can only be lost with the connection,
#: which triggers a full read anyway: this bounds what an unforeseen loss could cost).
SAFETY_READ_S = 30.0
#: Wait between reconnection attempts.
RETRY_S = 1.0
#: The first connection is awaited this long at start-up; the polled source answers meanwhile.
START_WAIT_S = 2.0
QUERY_TIMEOUT_S = 5.0


@dataclass
class NotifyStats:
    notifications: int = 0
    full_reads: int = 0
    connects: int = 0
    failures: int = 0


def _changed_at(text: str) -> str:
    """The notification's UTC time as the polled read renders it (``datetime.isoformat`` of a UTC value)."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).isoformat()


def parse_payload(payload: str) -> tuple[str, tuple[int, str]]:
    message = orjson.loads(payload)
    return str(message["layer"]), (int(message["version"]), _changed_at(str(message["changed_at"])))


class NotifiedVersions:
    """The :class:`~gis_service.tilecache.LayerVersions` of a worker that LISTENs (see the module)."""

    def __init__(self, dsn: str, fallback: LayerVersions, *, safety_read_s: float = SAFETY_READ_S,
                 retry_s: float = RETRY_S, connect_timeout_s: float = 5.0) -> None:  # fmt: skip
        self.dsn, self.fallback = dsn, fallback
        self.safety_read_s, self.retry_s, self.connect_timeout_s = safety_read_s, retry_s, connect_timeout_s
        self.stats = NotifyStats()
        self._snapshot: dict[str, tuple[int, str]] | None = None
        self._live = asyncio.Event()
        self._pending: list[tuple[str, tuple[int, str]]] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def live(self) -> bool:
        return self._live.is_set()

    async def start(self, wait_s: float = START_WAIT_S) -> None:
        self._task = asyncio.create_task(self._supervise(), name="gis_service layer versions listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._live.wait(), wait_s)

    async def current(self) -> Versions:
        snapshot = self._snapshot
        if self._live.is_set() and snapshot is not None:
            return snapshot
        return await self.fallback.current()

    async def identity(self) -> str:
        return await self.fallback.identity()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.fallback.close()

    async def _supervise(self) -> None:
        while True:
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                self.stats.failures += 1
                if worth_logging(self.stats.failures):
                    log.warning("layer versions: not listening (%s failures so far): %s", self.stats.failures, exc)
            self._live.clear()
            await asyncio.sleep(self.retry_s)

    async def _listen(self) -> None:
        conn = await asyncpg.connect(
            self.dsn, timeout=self.connect_timeout_s, server_settings={"application_name": "gis_service listen"}
        )
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            self.stats.connects += 1
            await conn.add_listener(CHANNEL, self._notified)
            await self._read_all(conn)  # after LISTEN: a write committed in between is in the read or notified
            self._live.set()
            while not lost.is_set() and not conn.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self.safety_read_s)
                if not lost.is_set():
                    await self._read_all(conn)
        finally:
            self._live.clear()
            conn.terminate()

    async def _read_all(self, conn: Any) -> None:
        """Replace the snapshot with a full read; notifications that arrive while it runs are applied on top
        (they are newer than, or the same as, what the read saw: notifications come in commit order)."""
        self._pending = []
        try:
            rows = await conn.fetch(_VERSIONS_SQL, timeout=QUERY_TIMEOUT_S)
        finally:
            pending, self._pending = self._pending, None
        snapshot = versions_of(rows)
        snapshot.update(pending)
        self._snapshot = snapshot
        self.stats.full_reads += 1

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            layer, value = parse_payload(payload)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("layer versions: unreadable notification %r: %s", payload[:200], exc)
            return
        self.stats.notifications += 1
        if self._pending is not None:
            self._pending.append((layer, value))
        if self._snapshot is not None:  # a new mapping: a request may be holding the previous one
            self._snapshot = {**self._snapshot, layer: value}


_VERSIONS_SQL = str(meta.layer_versions().compile(dialect=postgresql.dialect()))


def listen_dsn(settings: Settings) -> str | None:
    """Where to LISTEN, as libpq/asyncpg spell it: ``db.listen_url``, else the request role's URL; None when
    that URL is a transaction-mode PgBouncer (which accepts LISTEN and never delivers a notification)."""
    if settings.db.listen_url:
        url = settings.db.listen_url
    elif settings.db.pooler == "pgbouncer":
        return None
    else:
        url = settings.request_url
    for driver in ("postgresql+asyncpg://", "postgresql+psycopg://"):
        url = url.replace(driver, "postgresql://", 1)
    return url


async def listening_versions(settings: Settings, fallback: LayerVersions) -> LayerVersions:
    """The worker's version source: a listener in front of ``fallback`` (or ``fallback`` alone when there is
    nowhere to listen). The database's identity (the tile cache's namespace) is read here, at start-up."""
    try:
        await fallback.identity()
    except Exception as exc:  # the database may be down at start-up: it is read on first use then
        log.warning("tile cache namespace not read at start-up: %s", exc)
    dsn = listen_dsn(settings)
    if dsn is None:
        log.warning(
            "layer versions: not listening (db.pooler=pgbouncer cannot deliver notifications and db.listen_url "
            "is not set); polled every %s ms",
            settings.cache.versions_max_age_ms,
        )
        return fallback
    versions = NotifiedVersions(dsn, fallback, connect_timeout_s=settings.db.connect_timeout_s)
    await versions.start()
    return versions
