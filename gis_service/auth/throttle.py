"""Failed authentications slow the next attempts down: per client address and per key prefix.

A bounded LRU of counters per worker (not shared between workers: each slows its own share of an
attack). Over ``failure_limit`` failures in ``failure_window_s`` every further attempt from that address or
for that key waits ``failure_delay_s``, doubling per failure up to ``failure_max_delay_s``. Nobody is
locked out (a correct key still works after the wait), and the admin CLI never passes through here.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

from gis_service.settings import AuthSettings


class FailureThrottle:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._counts: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def failures(self, key: str) -> int:
        entry = self._counts.get(key)
        if entry is None or time.monotonic() - entry[1] > self.settings.failure_window_s:
            return 0
        return entry[0]

    def delay(self, *keys: str) -> float:
        over = max((self.failures(k) for k in keys), default=0) - self.settings.failure_limit
        if over < 0:
            return 0.0
        return min(self.settings.failure_max_delay_s, self.settings.failure_delay_s * 2 ** min(over, 16))

    async def wait(self, *keys: str) -> float:
        seconds = self.delay(*keys)
        if seconds:
            await asyncio.sleep(seconds)
        return seconds

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            count = self.failures(key)
            started = self._counts[key][1] if count else now
            self._counts[key] = (count + 1, started)
            self._counts.move_to_end(key)
        while len(self._counts) > self.settings.throttle_entries:
            self._counts.popitem(last=False)
