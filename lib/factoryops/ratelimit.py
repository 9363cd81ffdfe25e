"""Per-client fixed-window rate limits.

The client address is never stored: the counter document's id is a keyed hash of
scope, client and window, and the document expires within the hour. Counting is one
atomic `Increment` whose commit returns the new value, so concurrent requests never
contend on a transaction.

An IPv6 client is counted by its /64, and its /48 (one site's allocation, from which
anyone can take 65,536 /64s) shares SITE_FACTOR clients' budget besides: a flood from
many /64s of one /48 meets the site's limit. Both counters are in the one commit.

A budget of something other than requests (the team console's refused calls) is
counted by `tally`, which never refuses, and checked by `spent`, a read that counts
nothing, before the work it guards.
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass

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


SITE_PREFIX = 48
SITE_FACTOR = 4
"""How many clients' budget the /64s of one IPv6 /48 share."""


def site_key(client: str) -> str | None:
    """An IPv6 client's /48; None for an IPv4 client (an IPv4-mapped one too)."""
    key = client_key(client)
    if ":" not in key:
        return None
    return str(ipaddress.IPv6Network(key, strict=False).supernet(new_prefix=SITE_PREFIX))


def client_id(client: str) -> str:
    """The client as its counters count it (`client_key`), as a keyed hash: what binds an
    Idempotency-Key's secret-bearing answer to the client that sent it, with nothing of
    the address stored."""
    return keys.keyed_hash(keys.rate_limit(), "client", client_key(client))


def counter_id(*, scope: str, client: str, window: int) -> str:
    return keys.keyed_hash(keys.rate_limit(), scope, client_key(client), str(window))


def site_counter_id(*, scope: str, site: str, window: int) -> str:
    return keys.keyed_hash(keys.rate_limit(), scope, "site", site, str(window))


@dataclass(frozen=True)
class _Window:
    """The current window of `limit` for one client: its counters, each with the most it
    allows, and the seconds left."""

    allowed: dict[str, int]
    left: float
    ttl: int

    @classmethod
    def now(cls, *, scope: str, client: str, limit: RateLimit) -> _Window:
        now = time.time()
        window = math.floor(now / limit.seconds)
        window_end = (window + 1) * limit.seconds
        allowed = {counter_id(scope=scope, client=client, window=window): limit.count}
        site = site_key(client)
        if site is not None:
            site_id = site_counter_id(scope=scope, site=site, window=window)
            allowed[site_id] = limit.count * SITE_FACTOR
        ttl = min(3600, max(limit.seconds, int(window_end - now) + 1))
        return cls(allowed, window_end - now, ttl)

    def refusal(self) -> errors.RateLimited:
        return errors.RateLimited(retry_after=math.ceil(self.left))


def _count(window: _Window) -> list[int]:
    """Count one request on each of the window's counters; their new counts, in order."""
    from google.cloud import firestore

    counters = store.collection(store.RATE_LIMITS)
    counted = {RateLimitFields.COUNT: firestore.Increment(1)}
    expiry = {RateLimitFields.EXPIRE_AT: store.expire_at(seconds=window.ttl)}
    batch = store.client().batch()
    for counter in window.allowed:
        batch.set(counters.document(counter), {**counted, **expiry}, merge=True)
    results = batch.commit(**store.call_options())
    return [
        int(store.transform_results(result, counted)[RateLimitFields.COUNT]) for result in results
    ]


def hit(*, scope: str, client: str, limit: RateLimit) -> int:
    """Count one request; raise RateLimited when the window's count passes the limit."""
    window = _Window.now(scope=scope, client=client, limit=limit)
    counts = _count(window)
    if any(count > most for count, most in zip(counts, window.allowed.values(), strict=True)):
        raise window.refusal()
    return counts[0]


def spent(*, scope: str, client: str, limit: RateLimit) -> None:
    """Raise RateLimited when `client` has used the window's whole budget (see `tally`),
    counting nothing: one read."""
    window = _Window.now(scope=scope, client=client, limit=limit)
    counters = store.collection(store.RATE_LIMITS)
    refs = [counters.document(counter) for counter in window.allowed]
    counts = {
        snap.id: int((snap.to_dict() or {}).get(RateLimitFields.COUNT, 0))
        for snap in store.client().get_all(refs, **store.call_options())
        if snap.exists
    }
    if any(counts.get(counter, 0) >= most for counter, most in window.allowed.items()):
        raise window.refusal()


def tally(*, scope: str, client: str, limit: RateLimit) -> bool:
    """Count one event for `client` without refusing it (what `spent` reads); True for
    the one event of the window that brings a counter to its limit."""
    window = _Window.now(scope=scope, client=client, limit=limit)
    counts = _count(window)
    return any(count == most for count, most in zip(counts, window.allowed.values(), strict=True))
