"""Idempotency keys: the first response is stored for 24 h and replayed for a repeat.

A key is claimed with `create()`, which fails when the document exists, so two
concurrent requests with one key cannot both act: the second waits for the first to
finish and replays its response.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from factoryops import errors, store
from factoryops.documents import IdempotencyFields, IdempotencyKey, StoredResponse

TTL_SECONDS = 24 * 3600
STALE_AFTER = dt.timedelta(seconds=30)
"""A claim still in progress after this long is taken to be from a crashed request."""
WAIT_SECONDS = 8.0
STILL_WORKING = "A request with this Idempotency-Key is still being processed; retry shortly."
IN_PROGRESS = "in_progress"
DONE = "done"


def key_id(scope: str, key: str) -> str:
    return hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()


def request_hash(
    key: str, method: str, body: dict[str, Any], extra: str = "", *, client: str = ""
) -> str:
    """What tells a repeat from another request under the same key. Keyed by the
    Idempotency-Key itself, which is stored only as a hash: without it, the stored value
    cannot be checked against a guessed body (a person's address, say). `client`, when
    given, binds the key to the client that sent it (`ratelimit.client_id`), so that
    another client's repeat is a different request."""
    parts: list[Any] = [method, body, extra, client] if client else [method, body, extra]
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hmac.new(key.encode(), canonical.encode(), hashlib.sha256).hexdigest()


Replay = tuple[int, dict[str, Any], dict[str, str]]
"""A stored answer: status, body (or what rebuilds it), headers."""


@dataclass
class Claim:
    replay: Replay | None
    complete: Callable[[int, dict[str, Any], dict[str, str]], None]
    release: Callable[[], None]


def _ref(scope: str, key: str) -> Any:
    return store.client().collection(store.IDEMPOTENCY_KEYS).document(key_id(scope, key))


def taken(*, scope: str, key: str) -> bool:
    """Whether a request already took `key` (a repeat will be answered from it)."""
    return bool(_ref(scope, key).get(**store.call_options()).exists)


def _response(answer: Replay) -> dict[str, Any]:
    status, body, headers = answer
    return StoredResponse(status=status, body=json.dumps(body), headers=headers).to_dict()


def _replay(held: IdempotencyKey) -> Replay | None:
    response = held.response
    if held.state != DONE or response is None:
        return None
    return response.status, json.loads(response.body), dict(response.headers)


def _claim(request_hash: str, state: str) -> dict[str, Any]:
    """A new key document: who claimed it (the request's hash), and in what state."""
    return IdempotencyKey(
        request_hash=request_hash,
        state=state,
        claimed_at=store.now(),
        expire_at=store.expire_at(seconds=TTL_SECONDS),
    ).to_dict()


def store_answer(batch: Any, *, scope: str, key: str, request_hash: str, answer: Replay) -> None:
    """Add to `batch` the key's claim with its answer already stored: committed with the
    request's own writes, the key is taken and the work done in one step."""
    done = _claim(request_hash, DONE)
    batch.create(_ref(scope, key), {**done, IdempotencyFields.RESPONSE: _response(answer)})


class NotTaken(errors.IdempotencyConflict):
    """The key is free after all: the commit failed on another of its documents."""


def replay(*, scope: str, key: str, request_hash: str) -> Replay:
    """The answer stored under a key that a commit found taken; raise IdempotencyConflict
    when another request took it, or one is still working under it."""
    snap = _ref(scope, key).get(**store.call_options())
    held = IdempotencyKey.from_snapshot(snap)
    if not snap.exists:
        raise NotTaken()
    if held.request_hash != request_hash:
        raise errors.IdempotencyConflict()
    stored = _replay(held)
    if stored is None:
        raise errors.IdempotencyConflict(STILL_WORKING)
    return stored


def claim(*, scope: str, key: str, request_hash: str) -> Claim:
    from google.api_core import exceptions

    ref = _ref(scope, key)
    opts = store.call_options()

    def complete(status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        response = _response((status, body, headers))
        ref.update({IdempotencyFields.STATE: DONE, IdempotencyFields.RESPONSE: response}, **opts)

    def release() -> None:
        # If this fails too, the claim goes stale and a later retry takes it over.
        with contextlib.suppress(Exception):
            ref.delete(**opts)

    fresh = _claim(request_hash, IN_PROGRESS)
    try:
        ref.create(fresh, **opts)
        return Claim(None, complete, release)
    except exceptions.AlreadyExists:
        pass

    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        snap = ref.get(**opts)
        if not snap.exists:
            try:
                ref.create(fresh, **opts)
                return Claim(None, complete, release)
            except exceptions.AlreadyExists:
                continue
        held = IdempotencyKey.from_snapshot(snap)
        if held.request_hash != request_hash:
            raise errors.IdempotencyConflict()
        stored = _replay(held)
        if stored is not None:
            return Claim(stored, complete, release)
        claimed_at = held.claimed_at
        if isinstance(claimed_at, dt.datetime) and store.now() - claimed_at > STALE_AFTER:
            try:
                ref.update(
                    {IdempotencyFields.CLAIMED_AT: store.now()},
                    option=store.client().write_option(last_update_time=snap.update_time),
                    **opts,
                )
                return Claim(None, complete, release)
            except (exceptions.FailedPrecondition, exceptions.NotFound):
                continue
        if time.monotonic() > deadline:
            raise errors.IdempotencyConflict(STILL_WORKING)
        time.sleep(0.1)
