"""Per-client fixed-window rate limits.

The client address is never stored: the counter document's id is a keyed hash of
scope, client and window, and the document expires within the hour. Counting is one
atomic `Increment` whose commit returns the new value, so concurrent requests never
contend on a transaction.
"""

from __future__ import annotations

import math
import time

from factoryops import errors, keys, store
from factoryops.config import RateLimit


def counter_id(*, scope: str, client: str, window: int) -> str:
    return keys.keyed_hash(keys.rate_limit(), scope, client, str(window))


def hit(*, scope: str, client: str, limit: RateLimit) -> int:
    """Count one request; raise RateLimited when the window's count passes the limit."""
    from google.cloud import firestore

    now = time.time()
    window = math.floor(now / limit.seconds)
    window_end = (window + 1) * limit.seconds
    ref = store.collection(store.RATE_LIMITS).document(
        counter_id(scope=scope, client=client, window=window)
    )
    ttl = min(3600, max(limit.seconds, int(window_end - now) + 1))
    counted = {"count": firestore.Increment(1)}
    result = ref.set(
        {**counted, "expire_at": store.expire_at(seconds=ttl)}, merge=True, **store.call_options()
    )
    count = int(store.transform_results(result, counted)["count"])
    if count > limit.count:
        raise errors.RateLimited(retry_after=math.ceil(window_end - now))
    return count
