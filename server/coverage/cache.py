"""A small per-process cache of computed counts, at most GRID_COVERAGE_CACHE_SECONDS (<= 60 s) old.

Each gunicorn worker keeps its own; nothing is shared, so nothing needs invalidating: an entry simply stops being
used once it is older than the TTL, which is what bounds how late a new tip shows on the map (<= 60 s). An entry
computed for `now` serves requests at `now` .. `now + TTL`; a request at an earlier `now` (a frozen clock) misses.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta


class CoverageCache:
    def __init__(self, ttl_seconds: float, max_entries: int = 256):
        self.ttl = timedelta(seconds=ttl_seconds)
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple, tuple[datetime, object]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def lookup(self, keys: list[tuple], now: datetime):
        """The first fresh value among `keys` (e.g. the same question asked of an area or of its ancestors)."""
        if not self.ttl:
            return None
        with self._lock:
            for key in keys:
                entry = self._entries.get(key)
                if entry is not None and entry[0] <= now < entry[0] + self.ttl:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return entry[1]
            self.misses += 1
        return None

    def store(self, key: tuple, now: datetime, value) -> None:
        if not self.ttl:
            return
        with self._lock:
            self._entries[key] = (now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get_or_compute(self, key: tuple, now: datetime, compute: Callable, also: list[tuple] = ()):
        found = self.lookup([key, *also], now)
        if found is not None:
            return found
        value = compute()
        self.store(key, now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
