"""Cold start: process start to the first 2xx, each function against a hello-world
function that makes one Firestore write.

Importing google-cloud-firestore and making a first call is the floor every function
here stands on, so that hello-world is the baseline. The emulator is already up. Every
round starts the baseline and each function once, in turn, so drift on a shared machine
falls on all of them alike; each function's first request is a real one (a submission,
a chat start, a redemption, the sweep's two scheduled calls (the deliveries run every
10 minutes and the nightly retention run), and a signed-in team member's list of chats,
its token checked against the local sign-in's certificates), so what a request imports
on first use is counted too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from factoryops import deliveries
from factoryops.sweep import DELIVERY_SOURCES

from bench import stack
from bench.report import Row, median
from devstack import proofs

ROUNDS = 11
BUDGET = 1.25
BUDGETS = {"contact_submit": 1.15}
"""Tighter where the request path was made to import less (no EmailJS or CRM client)."""
BASELINE = "hello_firestore"
TEAM_MEMBER = "bench@factoryops.local"
_rounds = itertools.count()


@dataclass(frozen=True)
class FirstRequest:
    method: str
    body: dict[str, Any] | Callable[[], dict[str, Any]] | None = None
    """The body, or what makes a fresh one each round (a proof of work counts once)."""
    path: str = ""
    headers: dict[str, str] | None = None


def _requests(s: stack.Stack) -> dict[str, FirstRequest]:
    from factoryops import grants

    token = grants.create(lead="bench", sections=["pricing"], no_email=True).token
    signed_in = {"Authorization": f"Bearer {s.standins.state.signin.token(TEAM_MEMBER)}"}
    return {
        BASELINE: FirstRequest("GET"),
        "contact_submit": FirstRequest(
            "POST",
            lambda: {
                "name": "Cold Start",
                "email": "cold@plant.example",
                "message": "first request",
                "altcha": proofs.solved(),
            },
        ),
        # A new address each round: one live chat per address.
        "chat_message": FirstRequest(
            "POST",
            lambda: {
                "email": f"cold{next(_rounds)}@plant.example",
                "page": "/",
                "text": "hello",
                "altcha": proofs.solved(),
            },
        ),
        "access_grant": FirstRequest("POST", {"token": token}),
        "team_console": FirstRequest("GET", path="/api/chats", headers=signed_in),
        "retention_sweep": FirstRequest("POST", {"tasks": ["deliveries"]}),
        "retention_sweep nightly": FirstRequest("POST", {"tasks": ["retention"]}),
    }


def run(s: stack.Stack, functions: list[str]) -> list[Row]:
    s.clear()
    requests = _requests(s)
    env = s.env(**s.standins.signin_env(), TEAM_EMAILS=TEAM_MEMBER)
    measured = [name for name in requests if name.split()[0] in functions]
    times: dict[str, list[float]] = {name: [] for name in [BASELINE, *measured]}
    for _ in range(ROUNDS):
        for name in times:
            function = name.split()[0]
            source = stack.HELLO_FIRESTORE if name == BASELINE else stack.function_source(function)
            first = requests[name]
            if function == "retention_sweep":
                # What the submissions and chat starts stored, forward_record has sent in
                # production by now: the sweep's first run finds nothing of theirs due.
                deliveries.run_due(DELIVERY_SOURCES)
            started = stack.start(source, env, s.logs)
            try:
                body = first.body() if callable(first.body) else first.body
                elapsed = stack.first_success(
                    started, first.method, body, first.headers, path=first.path
                )
                times[name].append(elapsed)
            finally:
                started.stop()
    baseline = median(times[BASELINE])
    return [
        Row(
            name=f"cold start: {name}",
            measured=median(times[name]),
            baseline=baseline,
            unit="s",
            budget=f"<= {BUDGETS.get(name, BUDGET)}x hello-world with one Firestore write",
            ok=median(times[name]) <= BUDGETS.get(name, BUDGET) * baseline,
            note=f"median of {ROUNDS}, alternating with the baseline",
        )
        for name in measured
    ]
