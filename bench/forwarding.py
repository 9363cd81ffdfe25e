"""Answer first, forward after: what a visitor waits for, with the downstreams instant
and with them answering in realistic time (EmailJS 0.4 s, the Apps Script web app
1.5 s), side by side; and how soon the email reaches EmailJS after the visitor's answer,
over the local Eventarc stand-in and forward_record (each in production's shape: the
functions served by functions-framework in their own processes, the event a CloudEvent
with a protobuf body).

Rounds alternate between the two downstream speeds, so drift on a shared machine falls
on both alike; each round sends its requests one after another, and waits for their
forwarding to finish before the next round starts.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import requests

from bench import stack
from bench.report import Row, median, percentile
from devstack import proofs
from devstack.eventarc import Eventarc

ROUNDS = 4
PER_ROUND = 15
BUDGET = 1.2
EMAILJS_SECONDS = 0.4
CRM_SECONDS = 1.5
REALISTIC = f"EmailJS {EMAILJS_SECONDS} s, CRM {CRM_SECONDS} s"

_serial = itertools.count()


def _contact(session: requests.Session, url: str) -> None:
    n = next(_serial)
    body = {
        "name": f"Bench {n}",
        "email": f"bench{n}@plant.example",
        "message": f"Quote {n}",
        "altcha": proofs.solved(),
    }
    response = session.post(url, json=body, headers={"Idempotency-Key": f"fwd-{n}"}, timeout=30)
    if response.status_code != 201:
        raise RuntimeError(f"contact_submit answered {response.status_code}")


def _chat(session: requests.Session, url: str) -> None:
    n = next(_serial)
    body = {
        "email": f"chat{n}@plant.example",
        "page": "/pricing",
        "text": f"Hello {n}",
        "altcha": proofs.solved(),
    }
    response = session.post(url, json=body, headers={"Idempotency-Key": f"fwd-{n}"}, timeout=30)
    if response.status_code != 201:
        raise RuntimeError(f"chat_message answered {response.status_code}")


def _speed(s: stack.Stack, *, realistic: bool) -> None:
    assert s.standins.crm is not None
    s.standins.limit_emails(per_second=None, delay=EMAILJS_SECONDS if realistic else 0.0)
    s.standins.crm.delay(CRM_SECONDS if realistic else 0.0)


def _round(
    s: stack.Stack,
    engine: Eventarc,
    send: Callable[[requests.Session, str], None],
    url: str,
    *,
    realistic: bool,
) -> tuple[list[float], list[float]]:
    """The visitor's waits, and the times from each answer to its email at the stand-in."""
    _speed(s, realistic=realistic)
    waits: list[float] = []
    to_email: list[float] = []
    with requests.Session() as session:
        for _ in range(PER_ROUND):
            before = len(s.standins.state.emails)
            started = time.perf_counter()
            send(session, url)
            answered = time.perf_counter()
            waits.append(answered - started)
            deadline = answered + 30
            while len(s.standins.state.emails) == before and time.perf_counter() < deadline:
                time.sleep(0.002)
            to_email.append(time.perf_counter() - answered)
    engine.settle(timeout=120)
    return waits, to_email


def run(s: stack.Stack, functions: list[str]) -> list[Row]:
    del functions
    s.clear()
    env = s.env()
    served = {
        name: stack.start(stack.function_source(name), env, s.logs)
        for name in ("contact_submit", "chat_message", "forward_record")
    }
    engine = Eventarc(target=served["forward_record"].url, project=stack.PROJECT)
    rows: list[Row] = []
    try:
        for function in served.values():
            function.served.wait_until_serving()
        engine.start()
        senders = {"contact_submit": _contact, "chat_message first message": _chat}
        realistic_to_email: list[float] = []
        for name, send in senders.items():
            url = served[name.split()[0]].url
            send(requests.Session(), url)  # a warm instance, as the rounds compare speeds
            medians: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(ROUNDS):
                for realistic in (False, True):
                    waits, to_email = _round(s, engine, send, url, realistic=realistic)
                    medians[realistic].append(median(waits))
                    if realistic and name == "contact_submit":
                        realistic_to_email.extend(to_email)
            slow, fast = median(medians[True]) * 1000, median(medians[False]) * 1000
            rows.append(
                Row(
                    name=f"{name} p50, downstreams {REALISTIC} vs instant",
                    measured=slow,
                    baseline=fast,
                    unit="ms",
                    budget=f"<= {BUDGET}x instant",
                    ok=slow <= BUDGET * fast,
                    note=f"{ROUNDS} rounds of {PER_ROUND} each way, alternating",
                )
            )
        rows.append(
            Row(
                name="answer to email at EmailJS, p50 (contact, local Eventarc)",
                measured=median(realistic_to_email),
                baseline=None,
                unit="s",
                budget="a second or two",
                ok=median(realistic_to_email) <= 2.0,
                note=f"p95 {percentile(realistic_to_email, 0.95):.2f} s; "
                f"EmailJS answering in {EMAILJS_SECONDS} s",
            )
        )
    finally:
        engine.stop()
        for function in served.values():
            function.stop()
        _speed(s, realistic=False)
    return rows
