"""Counting Firestore round trips: every RPC of the Google client goes through one
api_core wrapper, which this counts while it is installed."""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator
from typing import Any


def _method_name(target: Any) -> str:
    inner = getattr(target, "__wrapped__", target)
    method = getattr(inner, "_method", None)
    if isinstance(method, bytes):
        method = method.decode()
    if isinstance(method, str):
        return method.rsplit("/", 1)[-1]
    return getattr(inner, "__name__", "rpc")


@contextlib.contextmanager
def counted() -> Iterator[collections.Counter[str]]:
    """Count the RPCs made in this process inside the block, by method name."""
    from google.api_core.gapic_v1 import method

    counts: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()
    original = method._GapicCallable.__call__

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            counts[_method_name(self._target)] += 1
        return original(self, *args, **kwargs)

    method._GapicCallable.__call__ = call  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        method._GapicCallable.__call__ = original  # type: ignore[method-assign]


@contextlib.contextmanager
def documents_read() -> Iterator[list[int]]:
    """Count the documents that queries stream in this process inside the block."""
    from google.cloud.firestore_v1.query import Query

    read = [0]
    original = Query.stream

    def stream(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for snap in original(self, *args, **kwargs):
            read[0] += 1
            yield snap

    Query.stream = stream  # type: ignore[method-assign,assignment]
    try:
        yield read
    finally:
        Query.stream = original  # type: ignore[method-assign]
