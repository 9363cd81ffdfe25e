"""Calls released at the same moment, for the tests that race requests or sweeps."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def at_once(call: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
    """`call` on every item, each in its own thread, all held at a barrier and released
    together; the results in the order of `items`, or the first exception raised."""
    start = threading.Barrier(len(items))

    def released(item: Item) -> Result:
        start.wait(timeout=60)
        return call(item)

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(released, items, timeout=120))
