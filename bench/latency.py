"""contact_submit latency under 8 concurrent clients, against a bare script.

The function is served by functions-framework (gunicorn, as in production) and posted
to over loopback HTTP, each request with an Idempotency-Key as the site's script sends
it. The bare script does, per submission, the same Firestore writes (the rate-limit
counter, then one commit of the key's stored answer and the record with its pending
deliveries), with nothing around them: no HTTP server, no validation, no framework.
Neither sends anything downstream: forward_record does that after the answer. Rounds
alternate between the two; the ratio is of the medians of the rounds' median latencies.
Round trips are counted in process.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from bench import rpcs, stack
from bench.report import Row, median

CLIENTS = 8
PER_CLIENT = 25
ROUNDS = 3
WARMUP = 24
BUDGET = 1.5
RPC_SAMPLE = 20

_serial = itertools.count()


def _body(n: int) -> dict[str, str]:
    return {
        "name": f"Bench Visitor {n}",
        "email": f"bench{n}@plant.example",
        "company": "Latency Works",
        "message": f"Benchmark submission {n}: we run presses and want to talk.",
    }


def _function_request(url: str) -> Callable[[requests.Session, int], None]:
    def one(session: requests.Session, client: int) -> None:
        n = next(_serial)
        response = session.post(
            url,
            json=_body(n),
            headers={"Idempotency-Key": f"bench-{n}", "X-Forwarded-For": f"198.18.0.{client + 1}"},
            timeout=30,
        )
        if response.status_code != 201:
            raise RuntimeError(f"contact_submit answered {response.status_code}: {response.text}")

    return one


def _bare_request(s: stack.Stack) -> Callable[[requests.Session, int], None]:
    """The same writes as one submission, straight from a script: the rate-limit counter,
    then one commit of the key's stored answer and the record."""
    del s
    from factoryops import store
    from google.cloud import firestore

    db = store.client()

    def one(session: requests.Session, client: int) -> None:
        del session
        n = next(_serial)
        now = store.now()
        window = int(time.time() // 60)
        db.collection("rate_limits").document(f"bare-{client}-{window}").set(
            {"count": firestore.Increment(1), "expire_at": now}, merge=True
        )
        batch = db.batch()
        claim = db.collection("idempotency_keys").document(
            hashlib.sha256(f"bare-{n}".encode()).hexdigest()
        )
        ref = db.collection("contact_submissions").document()
        batch.create(ref, {**_body(n), "created_at": firestore.SERVER_TIMESTAMP, "expire_at": now})
        batch.create(claim, {"request_hash": "h", "state": "done", "response": {"body": ref.id}})
        batch.commit()

    return one


def _round(one: Callable[[requests.Session, int], None]) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        session = requests.Session()
        for _ in range(PER_CLIENT):
            started = time.perf_counter()
            one(session, index)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    return latencies


def _count_function_rpcs(s: stack.Stack) -> tuple[float, dict[str, int]]:
    import functions_framework

    source, target = stack.function_source("contact_submit")
    app = functions_framework.create_app(target=target, source=str(source))
    test_client = app.test_client()
    with rpcs.counted() as counts:
        for n in range(RPC_SAMPLE):
            response = test_client.post(
                "/", json=_body(10_000_000 + n), headers={"Idempotency-Key": f"rpc-{n}"}
            )
            assert response.status_code == 201, response.get_data(as_text=True)
    return sum(counts.values()) / RPC_SAMPLE, dict(counts)


def _count_bare_rpcs(one: Callable[[requests.Session, int], None]) -> float:
    session = requests.Session()
    with rpcs.counted() as counts:
        for _ in range(RPC_SAMPLE):
            one(session, 0)
    return sum(counts.values()) / RPC_SAMPLE


def run(s: stack.Stack, functions: list[str]) -> list[Row]:
    del functions
    s.clear()
    function = stack.start(stack.function_source("contact_submit"), s.env(), s.logs)
    try:
        stack.first_success(function, "OPTIONS", None)
        through_function = _function_request(function.url)
        bare = _bare_request(s)
        with requests.Session() as session:
            for i in range(WARMUP):
                through_function(session, i % CLIENTS)
                bare(session, i % CLIENTS)
        medians: dict[str, list[float]] = {"function": [], "bare": []}
        for _ in range(ROUNDS):
            medians["function"].append(median(_round(through_function)))
            medians["bare"].append(median(_round(bare)))
    finally:
        function.stop()
    per_request, by_method = _count_function_rpcs(s)
    bare_rpcs = _count_bare_rpcs(bare)
    measured, baseline = median(medians["function"]) * 1000, median(medians["bare"]) * 1000
    methods = ", ".join(f"{name} {count / RPC_SAMPLE:g}" for name, count in by_method.items())
    return [
        Row(
            name="contact_submit median latency, 8 clients",
            measured=measured,
            baseline=baseline,
            unit="ms",
            budget=f"<= {BUDGET}x bare script",
            ok=measured <= BUDGET * baseline,
            note=f"{ROUNDS} rounds of {CLIENTS}x{PER_CLIENT} requests each",
        ),
        Row(
            name="contact_submit Firestore round trips per request",
            measured=per_request,
            baseline=bare_rpcs,
            unit="",
            budget="<= 2 (rate limit, one commit)",
            ok=per_request <= 2,
            note=f"with Idempotency-Key: {methods}",
        ),
    ]
