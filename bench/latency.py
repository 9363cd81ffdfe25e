"""contact_submit latency under 8 concurrent clients, against a bare function.

Both are served by functions-framework (gunicorn, as in production) and posted to over
loopback HTTP, each request with an Idempotency-Key as the site's script sends it. The
baseline, `bench/hello/main.py:bare_contact`, does the same Firestore writes (the
rate-limit counter, then one commit of the record and the key's stored answer) with
nothing around them: no validation, no contract, no idempotency logic. Neither sends
anything downstream: forward_record does that after the answer. Rounds alternate between
the two; the ratio is of the medians of the rounds' median latencies. Round trips are
counted in process.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench import rpcs, stack
from bench.report import Row, median
from devstack import proofs

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
        "altcha": proofs.solved(),
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


def _count_rpcs(source: tuple[Path, str]) -> tuple[float, dict[str, int]]:
    """Firestore round trips per request of the function at `source`, counted in process."""
    import functions_framework

    path, target = source
    app = functions_framework.create_app(target=target, source=str(path))
    test_client = app.test_client()
    with rpcs.counted() as counts:
        for n in range(RPC_SAMPLE):
            response = test_client.post(
                "/",
                json=_body(10_000_000 + n),
                headers={"Idempotency-Key": f"rpc-{target}-{n}", "X-Forwarded-For": "198.18.1.1"},
            )
            assert response.status_code == 201, response.get_data(as_text=True)
    return sum(counts.values()) / RPC_SAMPLE, dict(counts)


def run(s: stack.Stack, functions: list[str]) -> list[Row]:
    del functions
    s.clear()
    sources = {"function": stack.function_source("contact_submit"), "bare": stack.BARE_CONTACT}
    served = {name: stack.start(source, s.env(), s.logs) for name, source in sources.items()}
    try:
        for function in served.values():
            function.served.wait_until_serving()
        senders = {name: _function_request(function.url) for name, function in served.items()}
        with requests.Session() as session:
            for i in range(WARMUP):
                for send in senders.values():
                    send(session, i % CLIENTS)
        medians: dict[str, list[float]] = {name: [] for name in senders}
        for _ in range(ROUNDS):
            for name, send in senders.items():
                medians[name].append(median(_round(send)))
    finally:
        for function in served.values():
            function.stop()
    per_request, by_method = _count_rpcs(sources["function"])
    bare_rpcs, _ = _count_rpcs(sources["bare"])
    measured, baseline = median(medians["function"]) * 1000, median(medians["bare"]) * 1000
    methods = ", ".join(f"{name} {count / RPC_SAMPLE:g}" for name, count in by_method.items())
    return [
        Row(
            name="contact_submit median latency, 8 clients",
            measured=measured,
            baseline=baseline,
            unit="ms",
            budget=f"<= {BUDGET}x bare function",
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
