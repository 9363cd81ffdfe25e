"""Per-client fixed-window rate limits.

The client address is never stored: the counter document's id is a keyed hash of
scope, client and window, and the document expires within the hour. Counting is one
atomic `Increment` whose commit returns the new value, so concurrent requests never
contend on a transaction.
"""

from __future__ import annotations

import ipaddress
import math
import time

from factoryops import errors, keys, store
from factoryops.config import RateLimit
from factoryops.documents import RateLimitFields


def client_key(client: str) -> str:
    """Whom a counter counts: an IPv4 address; an IPv6 client by its /64 (one subscriber's
    network, whose addresses it may rotate at will); an IPv4-mapped IPv6 address as the
    IPv4 it is; a zone id dropped."""
    try:
        address = ipaddress.ip_address(client.split("%", 1)[0])
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def counter_id(*, scope: str, client: str, window: int) -> str:
    return keys.keyed_hash(keys.rate_limit(), scope, client_key(client), str(window))


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
    counted = {RateLimitFields.COUNT: firestore.Increment(1)}
    expiry = {RateLimitFields.EXPIRE_AT: store.expire_at(seconds=ttl)}
    result = ref.set({**counted, **expiry}, merge=True, **store.call_options())
    count = int(store.transform_results(result, counted)[RateLimitFields.COUNT])
    if count > limit.count:
        raise errors.RateLimited(retry_after=math.ceil(window_end - now))
    return count
