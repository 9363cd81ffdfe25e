"""Resident memory of a function process over 1,000 requests, against hello-world.

The process measured is gunicorn's worker, the one that serves (functions-framework
as in production). 1,000 requests go in hundreds from 8 concurrent clients; the
resident size is read after each hundred. Budget: under 150 MiB after the thousandth,
and no growth between the second hundred and the tenth.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from bench import stack
from bench.report import Row
from devstack import proofs

HUNDREDS = 10
CLIENTS = 8
LIMIT_MIB = 150.0
GROWTH_TOLERANCE_MIB = 1.0
"""Allocator noise; a leak of even a few hundred bytes a request exceeds it."""
PUBLIC = ("contact_submit", "chat_message", "access_grant")

_serial = itertools.count()


def _payloads(s: stack.Stack) -> dict[str, Callable[[], tuple[str, dict[str, Any] | None]]]:
    from factoryops import grants

    token = grants.create(lead="bench", sections=["pricing"], no_email=True).token

    def contact() -> tuple[str, dict[str, Any] | None]:
        n = next(_serial)
        return "POST", {
            "name": f"Memory {n}",
            "email": f"mem{n}@plant.example",
            "message": f"Request {n} of the memory benchmark.",
            "altcha": proofs.solved(),
        }

    def chat() -> tuple[str, dict[str, Any] | None]:
        n = next(_serial)
        return "POST", {
            "email": f"mem{n}@plant.example",
            "page": "/pricing",
            "text": f"hi {n}",
            "altcha": proofs.solved(),
        }

    return {
        "hello": lambda: ("GET", None),
        "contact_submit": contact,
        "chat_message": chat,
        "access_grant": lambda: ("POST", {"token": token}),
    }


def _profile(
    function: stack.Function, payload: Callable[[], tuple[str, dict[str, Any] | None]]
) -> list[float]:
    """The worker's resident MiB after each hundred requests."""
    pid = function.worker_pid()
    local = threading.local()

    def one(n: int) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        method, body = payload()
        headers = {"X-Forwarded-For": f"198.18.1.{n % 200 + 1}"}
        response = session.request(method, function.url, json=body, headers=headers, timeout=30)
        if response.status_code >= 300:
            raise RuntimeError(f"{function.url} answered {response.status_code}: {response.text}")

    sizes = []
    with ThreadPoolExecutor(CLIENTS) as pool:
        for hundred in range(HUNDREDS):
            list(pool.map(one, range(hundred * 100, (hundred + 1) * 100)))
            sizes.append(stack.rss_mib(pid))
    return sizes


def run(s: stack.Stack, functions: list[str]) -> list[Row]:
    s.clear()
    payloads = _payloads(s)
    names = ["hello", *(name for name in functions if name in PUBLIC)]
    profiles: dict[str, list[float]] = {}
    for name in names:
        source = stack.HELLO if name == "hello" else stack.function_source(name)
        function = stack.start(source, s.env(), s.logs)
        try:
            stack.first_success(function, "OPTIONS" if name != "hello" else "GET", None)
            profiles[name] = _profile(function, payloads[name])
        finally:
            function.stop()
    hello = profiles["hello"][-1]
    rows = []
    for name in names[1:]:
        sizes = profiles[name]
        growth = sizes[-1] - sizes[1]
        rows.append(
            Row(
                name=f"resident memory after 1,000 requests: {name}",
                measured=sizes[-1],
                baseline=hello,
                unit="MiB",
                budget=f"< {LIMIT_MIB:.0f} MiB, no growth 2nd-10th hundred",
                ok=sizes[-1] < LIMIT_MIB and growth <= GROWTH_TOLERANCE_MIB,
                note=f"growth 2nd-10th hundred {growth:+.1f} MiB (first hundred {sizes[0]:.1f})",
            )
        )
    return rows
