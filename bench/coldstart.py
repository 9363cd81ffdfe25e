"""Cold start: process start to the first 2xx, each function against hello-world.

The emulator is already up. Every round starts each function once, in turn, so drift
on a shared machine falls on all of them alike; each function's first request is a
real one (a submission, a chat start, a redemption, a dry-run sweep), so what a
request imports on first use is counted too.
"""

from __future__ import annotations

from typing import Any

from bench import stack
from bench.report import Row, median

ROUNDS = 7
BUDGET = 1.5


def _requests(s: stack.Stack) -> dict[str, tuple[str, dict[str, Any] | None]]:
    from factoryops import grants

    token = grants.create(lead="bench", sections=["pricing"]).token
    return {
        "contact_submit": (
            "POST",
            {"name": "Cold Start", "email": "cold@plant.example", "message": "first request"},
        ),
        "chat_message": ("POST", {"email": "cold@plant.example", "page": "/", "text": "hello"}),
        "access_grant": ("POST", {"token": token}),
        "retention_sweep": ("POST", {"dry_run": True}),
    }


def run(s: stack.Stack, functions: list[str]) -> list[Row]:
    s.clear()
    requests = _requests(s)
    env = s.env()
    baselines = {"hello": stack.HELLO, "hello_firestore": stack.HELLO_FIRESTORE}
    times: dict[str, list[float]] = {name: [] for name in [*baselines, *functions]}
    for _ in range(ROUNDS):
        for name in times:
            source = baselines.get(name) or stack.function_source(name)
            method, body = ("GET", None) if name in baselines else requests[name]
            function = stack.start(source, env, s.logs)
            try:
                times[name].append(stack.first_success(function, method, body))
            finally:
                function.stop()
    hello = median(times["hello"])
    with_firestore = median(times["hello_firestore"])
    rows = [
        Row(
            name="cold start: hello-world with one Firestore write",
            measured=with_firestore,
            baseline=hello,
            unit="s",
            budget="reference",
            ok=True,
            note="the floor that google-cloud-firestore sets",
        )
    ]
    for name in functions:
        measured = median(times[name])
        rows.append(
            Row(
                name=f"cold start: {name}",
                measured=measured,
                baseline=hello,
                unit="s",
                budget=f"<= {BUDGET}x hello-world",
                ok=measured <= BUDGET * hello,
                note=f"median of {ROUNDS}; {measured / with_firestore:.2f}x hello + Firestore",
            )
        )
    return rows
