"""The tile cache: an in-process LRU bounded in bytes, single flight, and an optional shared Redis.

Keys are digests of everything a tile depends on, the layers' data versions included (``layer_versions``:
version and time of the last write, bumped by a trigger in every writing transaction; the time keeps a
rebuilt database, whose versions restart, apart), so a write makes the old entries unreachable
instead of needing an invalidation: nothing stale can be served, and entries left behind simply age
out (LRU here, TTL in Redis). Single flight: N simultaneous requests for one missing tile run its
loader once; the others await that run. The load runs as its own task, so a client that hangs up does
not cancel the query the others wait for. Redis (when ``cache.redis_url`` is set) lets several workers
and ``gis-service tiles seed`` share rendered tiles; if it fails, the cache carries on in-process. Across
workers a cold tile is rendered once too: the first takes ``<key>:lock`` (``SET NX PX``) and renders; the
others poll Redis for the tile for at most ``cache.lock_wait_ms`` and render it themselves if it does not
come (the holder died, or rendered other data versions than asked for).

A loader may answer with the key its value really belongs to (:class:`Loaded`): a tile rendered on a replica
that had not replayed the latest write carries older data versions than its key asked for, so it is stored
under the key of the versions it saw, never under the newer one.

The versions come from a :class:`LayerVersions` source. :class:`PolledVersions` reads them all with one
query at most every ``cache.versions_max_age_ms`` per process, so a cache hit needs no pooled connection:
a write shows in tiles within that time.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gis_service.settings import CacheSettings

log = logging.getLogger("gis_service.tilecache")
Loader = Callable[[], Awaitable[bytes]]
#: Compare-and-delete: only the holder of a render lock releases it.
RELEASE_LOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
#: How often a worker waiting for another one's render asks Redis for the tile.
LOCK_POLL_S = 0.01
#: Layer (table) -> (data version, time of the last write in ISO 8601).
Versions = Mapping[str, tuple[int, str]]
#: Bytes an entry costs besides its value and key (OrderedDict node, bytes and str headers).
ENTRY_OVERHEAD = 160


@dataclass
class CacheStats:
    hits: int = 0
    remote_hits: int = 0
    loads: int = 0
    joined: int = 0
    evictions: int = 0
    remote_errors: int = 0
    lock_waits: int = 0  # cold tiles another worker was rendering: waited for its result
    lock_timeouts: int = 0  # ... which did not come in time: rendered here as well
    mismatches: int = 0  # renders that saw other data versions than their key (stored under their own)


@dataclass(frozen=True)
class Loaded:
    """A loader's answer: the value and the key it belongs to."""

    value: bytes
    key: str


class TileCache:
    """``get_or_load(key, loader)``: local hit, else join a load in flight, else Redis, else load."""

    def __init__(
        self,
        *,
        max_bytes: int = 128 * 2**20,
        enabled: bool = True,
        redis: Any | None = None,
        ttl_s: int = 7 * 86_400,
        prefix: str = "gis:tile:",
        lock_ms: int = 10_000,
        lock_wait_ms: int = 3_000,
    ) -> None:
        self.max_bytes = max_bytes if enabled else 0
        self.enabled = enabled
        self.redis = redis if enabled else None
        self.ttl_s = ttl_s
        self.prefix = prefix
        self.lock_ms, self.lock_wait_s = lock_ms, lock_wait_ms / 1000
        self.stats = CacheStats()
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._inflight: dict[str, asyncio.Task[Loaded]] = {}

    @property
    def size_bytes(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:  # an empty cache is still a cache (``cache or default`` must keep it)
        return True

    async def get_or_load(self, key: str, loader: Loader) -> bytes:
        async def load() -> Loaded:
            return Loaded(await loader(), key)

        return (await self.fetch(key, load)).value

    async def fetch(self, key: str, loader: Callable[[], Awaitable[Loaded]]) -> Loaded:
        """Like :meth:`get_or_load`, with the key the value belongs to (``key`` unless the loader said otherwise)."""
        if not self.enabled:
            self.stats.loads += 1
            return await loader()
        value = self._get_local(key)
        if value is not None:
            self.stats.hits += 1
            return Loaded(value, key)
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fill(key, loader))
            task.add_done_callback(_consume)
            self._inflight[key] = task
        else:
            self.stats.joined += 1
        return await asyncio.shield(task)

    async def put(self, key: str, value: bytes) -> None:
        """Store a tile rendered elsewhere (``tiles seed``) locally and in Redis."""
        self._put_local(key, value)
        await self._set_remote(key, value)

    async def _fill(self, key: str, loader: Callable[[], Awaitable[Loaded]]) -> Loaded:
        try:
            value = await self._get_remote(key)
            if value is None:
                token = await self._lock(key)
                if token is None:  # another worker renders it
                    value = await self._await_remote(key)
                if value is None:
                    return await self._load(key, loader, token)
            self.stats.remote_hits += 1
            self._put_local(key, value)
            return Loaded(value, key)
        finally:
            self._inflight.pop(key, None)

    async def _load(self, key: str, loader: Callable[[], Awaitable[Loaded]], token: str | None) -> Loaded:
        try:
            self.stats.loads += 1
            loaded = await loader()
            if loaded.key != key:
                self.stats.mismatches += 1
            await self._set_remote(loaded.key, loaded.value)
            self._put_local(loaded.key, loaded.value)
            return loaded
        finally:
            if token:
                await self._unlock(key, token)

    async def _lock(self, key: str) -> str | None:
        """A token when this worker may render ``key`` ("" without Redis or when Redis fails); None when
        another worker holds the render lock."""
        if self.redis is None:
            return ""
        token = secrets.token_hex(8)
        try:
            taken = await self.redis.set(self.prefix + key + ":lock", token, nx=True, px=self.lock_ms)
        except Exception as exc:
            self._remote_failed(exc)
            return ""
        return token if taken else None

    async def _unlock(self, key: str, token: str) -> None:
        try:
            await self.redis.eval(RELEASE_LOCK, 1, self.prefix + key + ":lock", token)  # type: ignore[union-attr]
        except Exception as exc:
            self._remote_failed(exc)

    async def _await_remote(self, key: str) -> bytes | None:
        """The tile another worker is rendering, polled until it lands, its lock goes, or the wait is over."""
        self.stats.lock_waits += 1
        deadline = time.monotonic() + self.lock_wait_s
        lock = self.prefix + key + ":lock"
        while time.monotonic() < deadline:
            await asyncio.sleep(LOCK_POLL_S)
            try:
                pipe = self.redis.pipeline(transaction=False)  # type: ignore[union-attr]
                value, held = await pipe.get(self.prefix + key).exists(lock).execute()
            except Exception as exc:
                self._remote_failed(exc)
                return None
            if value is None and not held:  # released: the tile landed just before, or never will
                value = await self._get_remote(key)
                return value
            if value is not None:
                return bytes(value)
        self.stats.lock_timeouts += 1
        return None

    def _get_local(self, key: str) -> bytes | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def _put_local(self, key: str, value: bytes) -> None:
        cost = len(value) + len(key) + ENTRY_OVERHEAD
        if cost > self.max_bytes // 4:  # one huge tile must not flush the whole cache
            return
        if key in self._entries:
            self._size -= len(self._entries.pop(key)) + len(key) + ENTRY_OVERHEAD
        self._entries[key] = value
        self._size += cost
        while self._size > self.max_bytes:
            old_key, old = self._entries.popitem(last=False)
            self._size -= len(old) + len(old_key) + ENTRY_OVERHEAD
            self.stats.evictions += 1

    async def _get_remote(self, key: str) -> bytes | None:
        if self.redis is None:
            return None
        try:
            value = await self.redis.get(self.prefix + key)
        except Exception as exc:  # any Redis failure degrades to the local cache
            self._remote_failed(exc)
            return None
        return bytes(value) if value is not None else None

    async def _set_remote(self, key: str, value: bytes) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.set(self.prefix + key, value, ex=self.ttl_s)
        except Exception as exc:
            self._remote_failed(exc)

    def _remote_failed(self, exc: Exception) -> None:
        self.stats.remote_errors += 1
        if worth_logging(self.stats.remote_errors):
            log.warning("tile cache: Redis unavailable (%s errors so far): %s", self.stats.remote_errors, exc)

    def clear(self) -> None:
        self._entries.clear()
        self._size = 0

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


def worth_logging(count: int) -> bool:
    """The 1st, 10th, 100th and every 1000th of a repeated failure: a lasting outage does not flood the log."""
    return count in (1, 10, 100) or count % 1000 == 0


def versions_of(rows: Iterable[Sequence[Any]]) -> dict[str, tuple[int, str]]:
    """Rows of ``layer_versions`` (layer, version, changed_at) as :data:`Versions`."""
    return {str(layer): (int(version), changed_at.isoformat()) for layer, version, changed_at in rows}


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve a load's exception even when every waiter has gone, so asyncio does not log it as lost."""
    if not task.cancelled():
        task.exception()


class LayerVersions(Protocol):
    """Where tile keys get the layers' data versions (and the database's identity) from."""

    async def current(self) -> Versions:
        """Versions that include every write committed more than the source's staleness bound ago."""
        ...

    async def identity(self) -> str:
        """The database the versions belong to, the same through every replica and pooler (see PolledVersions)."""
        ...

    async def close(self) -> None: ...


@dataclass
class VersionStats:
    reads: int = 0
    waits: int = 0  # requests that waited for a read (none fresh enough)
    failures: int = 0


class PolledVersions:
    """Every layer's data version, read by one query (``fetch``) at most every ``max_age_s`` per process and
    shared by all tile requests. A snapshot is served while younger than ``max_age_s`` (its age counted from
    when its query started); past half that age one read refreshes it in the background, so under steady
    traffic no request waits. Only a request that finds no fresh snapshot waits for a read (single flight),
    and then a failed read is its error. ``max_age_s = 0`` reads on every call."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Versions]],
        max_age_s: float,
        *,
        close: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        identify: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        self.max_age_s = max_age_s
        self.stats = VersionStats()
        self._fetch, self._close, self._clock, self._identify = fetch, close, clock, identify
        self._identity: str | None = None
        self._snapshot: Versions | None = None
        self._read_at = 0.0
        self._task: asyncio.Future[Versions] | None = None
        self._task_started = 0.0

    async def current(self) -> Versions:
        if self.max_age_s <= 0:
            return await self._read()
        now = self._clock()
        if self._snapshot is None or now - self._read_at >= self.max_age_s:
            self.stats.waits += 1
            return await asyncio.shield(self._refresh(started_after=now - self.max_age_s))
        if now - self._read_at >= self.max_age_s / 2:
            self._refresh()
        return self._snapshot

    async def identity(self) -> str:
        """Read once (``identify``: the cluster's system identifier and the database name) and kept: a
        primary and its physical replicas share it, whichever host or pooler a worker reaches them by."""
        if self._identity is None:
            self._identity = await self._identify() if self._identify is not None else ""
        return self._identity

    def _refresh(self, started_after: float = float("-inf")) -> asyncio.Future[Versions]:
        """The read in flight if it started after ``started_after`` (so it cannot miss a write older than the
        bound), else a new one; a finished read is never joined."""
        task = self._task
        if task is None or task.done() or self._task_started < started_after:
            self._task_started = self._clock()
            task = self._task = asyncio.ensure_future(self._read())
            task.add_done_callback(_consume)
        return task

    async def _read(self) -> Versions:
        started = self._clock()
        try:
            snapshot = await self._fetch()
        except Exception as exc:
            self.stats.failures += 1
            if worth_logging(self.stats.failures):
                log.warning("layer versions could not be read (%s failures so far): %s", self.stats.failures, exc)
            raise
        self.stats.reads += 1
        if started >= self._read_at:
            self._snapshot, self._read_at = snapshot, started
        return snapshot

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._close is not None:
            await self._close()


def from_settings(settings: CacheSettings) -> TileCache:
    client = None
    if settings.enabled and settings.redis_url:
        import redis.asyncio as aioredis

        client = aioredis.from_url(settings.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
    return TileCache(
        max_bytes=settings.max_bytes,
        enabled=settings.enabled,
        redis=client,
        ttl_s=settings.redis_ttl_s,
        lock_ms=settings.lock_ms,
        lock_wait_ms=settings.lock_wait_ms,
    )
