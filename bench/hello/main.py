"""Baselines for cold start and memory: the smallest functions-framework functions."""

import flask
import functions_framework


@functions_framework.http
def hello(request: flask.Request) -> str:
    return "Hello, World!"


@functions_framework.http
def hello_firestore(request: flask.Request) -> str:
    """Hello-world that also writes one Firestore document: about the least that any of
    the functions does, to show how much of a cold start is the client library."""
    from google.cloud import firestore

    firestore.Client().collection("hello").document("world").set({"hello": "world"})
    return "Hello, Firestore!"


@functions_framework.http
def bare_contact(request: flask.Request) -> tuple[str, int]:
    """A contact form's Firestore work and nothing else: the rate-limit counter, then one
    commit of the record and its key's stored answer. No validation, no contract, no
    idempotency logic: the floor contact_submit stands on, served the same way."""
    import hashlib
    import time

    from google.cloud import firestore

    db = _client()
    body = request.get_json()
    window = int(time.time() // 60)
    client = request.headers.get("X-Forwarded-For", "")
    db.collection("rate_limits").document(f"bare-{client}-{window}").set(
        {"count": firestore.Increment(1)}, merge=True
    )
    key = request.headers.get("Idempotency-Key", "")
    batch = db.batch()
    ref = db.collection("contact_submissions").document()
    batch.create(ref, {**body, "created_at": firestore.SERVER_TIMESTAMP})
    claim = db.collection("idempotency_keys").document(hashlib.sha256(key.encode()).hexdigest())
    batch.create(claim, {"state": "done", "response": {"body": ref.id}})
    batch.commit()
    return ref.id, 201


_clients: list[object] = []


def _client():  # type: ignore[no-untyped-def]
    from google.cloud import firestore

    if not _clients:
        _clients.append(firestore.Client())
    return _clients[0]
