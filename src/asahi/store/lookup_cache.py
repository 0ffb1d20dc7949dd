"""A bounded cache for what the request path reads from the database (keys, policies).

Each entry is fresh for the `ttl` it was put with; after that it is looked up again, but the stale value is kept
so it can still answer while the database is down. The cache is an LRU: when full it evicts the least recently
used entry, never everything at once (a flood of distinct keys must not wipe the cache of real tenants).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LookupCache(Generic[K, V]):
    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()  # key -> (value, fresh until)

    def fresh(self, key: K) -> tuple[bool, V | None]:
        """(found, value) for an entry still within its ttl."""
        entry = self._entries.get(key)
        if entry is None or entry[1] < time.monotonic():
            return False, None
        self._entries.move_to_end(key)
        return True, entry[0]

    def stale(self, key: K) -> tuple[bool, V | None]:
        """(found, value) whatever its age: what serves while the source is down."""
        entry = self._entries.get(key)
        return (False, None) if entry is None else (True, entry[0])

    def put(self, key: K, value: V, ttl: float) -> None:
        self._entries[key] = (value, time.monotonic() + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def drop(self, key: K) -> None:
        self._entries.pop(key, None)

    def drop_where(self, predicate: Callable[[V], bool]) -> None:
        for key in [k for k, (v, _) in self._entries.items() if predicate(v)]:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
