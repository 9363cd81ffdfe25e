"""The team's inbox among the spam it will meet: the first page of `GET /api/chats` and
`GET /api/status` with 10,000 open chats beside the same with 100, the one real lead
(the oldest, awaiting a reply) first in both. A page is read by indexed queries of a
page's size and the counts by aggregation, so the answer should cost about the same
however many chats there are.

The emulator has no indexes: its range queries and counts scan the collection, which an
indexed Firestore does not (docs/benchmarks.md), so the times' ratios here are an upper
bound; the documents read, counted on the client, are what Firestore charges and waits on.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import requests

from bench import stack
from bench.report import Row, median
from devstack import crowd, proofs

SMALL = 100
LARGE = 10_000
ROUNDS = 15
BUDGET = 1.5
MEMBER = "bench@factoryopsai.com"


def _seed(s: stack.Stack, chat_url: str, count: int) -> str:
    """One real chat, awaiting a reply, and `count - 1` answered ones, each more recently
    active; the real chat's lead id."""
    from factoryops import store
    from factoryops.chat import team

    s.clear()
    started = requests.post(
        chat_url,
        json={
            "email": "lead@plant.example",
            "page": "/pricing",
            "text": "A quote for 40 lines?",
            "altcha": proofs.solved(),
        },
        timeout=30,
    )
    found = team.find(started.json()["session_id"])
    assert found is not None
    crowd.answered_chats(store.client(), found, count - 1, step=dt.timedelta(seconds=1))
    return found.lead_id


def _timed(
    session: requests.Session, url: str, headers: dict[str, str]
) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = session.get(url, headers=headers, timeout=60)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    return elapsed, response.json()


def _documents_read() -> int:
    """Chat documents the console's first page and its counts read, counted in this
    process on the real client (the emulator reports no reads)."""
    from factoryops.chat import inbox
    from google.cloud.firestore_v1.query import Query

    read = 0
    real = Query.stream

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal read
        for snap in real(self, *args, **kwargs):
            read += 1
            yield snap

    Query.stream = counted  # type: ignore[method-assign]
    try:
        inbox.summaries(inbox.page("open").sessions)
        inbox.counts()
    finally:
        Query.stream = real  # type: ignore[method-assign]
    return read


def run(s: stack.Stack, functions: list[str]) -> list[Row]:
    del functions
    env = s.env(**s.standins.signin_env(), TEAM_EMAILS=MEMBER)
    s.use_in_process()
    chat = stack.start(stack.function_source("chat_message"), env, s.logs)
    console = stack.start(stack.function_source("team_console"), env, s.logs)
    token = s.standins.state.signin.token(MEMBER)
    headers = {"Authorization": f"Bearer {token}"}
    timings: dict[tuple[str, int], list[float]] = {}
    reads: dict[int, int] = {}
    try:
        chat.served.wait_until_serving()
        console.served.wait_until_serving()
        with requests.Session() as session:
            for size in (SMALL, LARGE):
                lead = _seed(s, chat.url, size)
                reads[size] = _documents_read()
                for path in ("/api/chats", "/api/status"):
                    _timed(session, console.url + path, headers)  # a warm instance
                    times = []
                    for _ in range(ROUNDS):
                        elapsed, body = _timed(session, console.url + path, headers)
                        times.append(elapsed)
                        if path == "/api/chats" and body["chats"][0]["lead_id"] != lead:
                            raise RuntimeError("the lead awaiting a reply is not first")
                    timings[path, size] = times
    finally:
        chat.stop()
        console.stop()
    rows = []
    for path, what in (("/api/chats", "first page"), ("/api/status", "counts")):
        large, small = median(timings[path, LARGE]) * 1000, median(timings[path, SMALL]) * 1000
        rows.append(
            Row(
                name=f"console {path} ({what}), {LARGE:,} open chats vs {SMALL}",
                measured=large,
                baseline=small,
                unit="ms",
                budget=f"<= {BUDGET}x with {SMALL}",
                ok=large <= BUDGET * small,
                note=f"median of {ROUNDS}; the waiting lead first in every answer",
            )
        )
    rows.append(
        Row(
            name=f"console first page and counts: documents read, {LARGE:,} open chats vs {SMALL}",
            measured=reads[LARGE],
            baseline=reads[SMALL],
            unit="",
            budget=f"<= 1.0x with {SMALL}",
            ok=reads[LARGE] <= reads[SMALL],
            note="a page of chats, their people; the counts by aggregation read none",
        )
    )
    return rows
