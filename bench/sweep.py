"""Retention sweep: 1,000 expired records among 50,000 kept against among 1,000 kept,
and its deletion rate against a bare BulkWriter deleting the same number of known
documents.

The two data sets live side by side in two projects of one emulator, so the rounds
alternate between them. Each round puts 1,000 expired contact submissions back and
times one `retention.run()` (the sweep's retention task, CRM off so that only
Firestore is measured); the bare round writes 1,000 and times a BulkWriter deleting
them by reference, with no query.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass
from typing import Any

from bench import rpcs, stack
from bench.report import Row, median

EXPIRED = 1_000
FEW = 1_000
MANY = 50_000
ROUNDS = 3
TIME_BUDGET = 1.2
RATE_BUDGET = 0.8
PROJECTS = {"few": f"{stack.PROJECT}-few", "many": f"{stack.PROJECT}-many"}


def _use(project: str) -> Any:
    from factoryops import config, store

    os.environ["GOOGLE_CLOUD_PROJECT"] = project
    os.environ.pop("CRM_APPS_SCRIPT_URL", None)
    config.reset()
    return store.client()


def _record(created_at: dt.datetime, n: int) -> dict[str, Any]:
    return {
        "name": f"Retention {n}",
        "email": f"ret{n}@plant.example",
        "email_key": f"ret{n}@plant.example",
        "company": "Sweep Works",
        "message": "A submission kept for the retention benchmark. " * 4,
        "created_at": created_at,
        "expire_at": created_at + dt.timedelta(days=730),
        "deliveries": {
            "email": {"state": "sent", "attempts": 1},
            "crm": {"state": "sent", "attempts": 1},
        },
    }


def _write(db: Any, count: int, *, age_days: int, prefix: str) -> list[Any]:
    from factoryops import store

    created = store.now() - dt.timedelta(days=age_days)
    writer = db.bulk_writer()
    refs = []
    for n in range(count):
        ref = db.collection(store.CONTACT_SUBMISSIONS).document(f"{prefix}-{n:06d}")
        writer.set(ref, _record(created, n))
        refs.append(ref)
    writer.close()
    return refs


@dataclass
class Sweep:
    seconds: float
    deleting: float
    """Seconds from the first deletion queued to the last one flushed."""
    read: int
    rpcs: int


def _sweep_round(project: str, tag: str) -> Sweep:
    from factoryops import retention, store

    db = _use(project)
    _write(db, EXPIRED, age_days=800, prefix=f"expired-{tag}")
    marks: list[float] = []
    delete, flush = store.BulkDeleter.delete, store.BulkDeleter.flush

    def timed_delete(self: Any, ref: Any) -> None:
        if not marks:
            marks.append(time.perf_counter())
        delete(self, ref)

    def timed_flush(self: Any) -> None:
        flush(self)
        if marks:
            marks[1:] = [time.perf_counter()]

    store.BulkDeleter.delete = timed_delete  # type: ignore[method-assign]
    store.BulkDeleter.flush = timed_flush  # type: ignore[method-assign]
    try:
        with rpcs.counted() as calls, rpcs.documents_read() as read:
            started = time.perf_counter()
            outcome = retention.run()
            elapsed = time.perf_counter() - started
    finally:
        store.BulkDeleter.delete, store.BulkDeleter.flush = delete, flush  # type: ignore[method-assign]
    if outcome.deleted.contact_submissions != EXPIRED:
        raise RuntimeError(f"the sweep deleted {outcome.deleted} instead of {EXPIRED}")
    return Sweep(elapsed, marks[-1] - marks[0], read[0], sum(calls.values()))


def _bare_round(project: str, tag: str) -> float:
    db = _use(project)
    refs = _write(db, EXPIRED, age_days=800, prefix=f"bare-{tag}")
    started = time.perf_counter()
    writer = db.bulk_writer()
    for ref in refs:
        writer.delete(ref)
    writer.close()
    return time.perf_counter() - started


def run(s: stack.Stack, functions: list[str]) -> list[Row]:
    del functions
    for project in PROJECTS.values():
        s.emulator.clear(project)
    started = time.monotonic()
    _write(_use(PROJECTS["few"]), FEW, age_days=10, prefix="kept")
    _write(_use(PROJECTS["many"]), MANY, age_days=10, prefix="kept")
    print(f"  ({FEW + MANY:,} kept records written in {time.monotonic() - started:.0f} s)")
    sweeps: dict[str, list[Sweep]] = {"few": [], "many": []}
    bare_times: list[float] = []
    for r in range(ROUNDS):
        sweeps["few"].append(_sweep_round(PROJECTS["few"], f"{r}"))
        sweeps["many"].append(_sweep_round(PROJECTS["many"], f"{r}"))
        bare_times.append(_bare_round(PROJECTS["many"], f"{r}"))
    s.use_in_process()
    few = median([x.seconds for x in sweeps["few"]])
    many = median([x.seconds for x in sweeps["many"]])
    deleting = median([x.deleting for x in sweeps["many"]])
    bare = median(bare_times)
    read_few, read_many = sweeps["few"][-1].read, sweeps["many"][-1].read
    rpcs_few, rpcs_many = sweeps["few"][-1].rpcs, sweeps["many"][-1].rpcs
    sweep_rate, bare_rate = EXPIRED / many, EXPIRED / bare
    return [
        Row(
            name=f"sweep {EXPIRED:,} expired among {MANY:,} kept",
            measured=many,
            baseline=few,
            unit="s",
            budget=f"<= {TIME_BUDGET}x among {FEW:,} kept",
            ok=many <= TIME_BUDGET * few,
            note=f"median of {ROUNDS}; the emulator's range queries scan the collection",
        ),
        Row(
            name=f"sweep documents read among {MANY:,} kept",
            measured=read_many,
            baseline=read_few,
            unit="docs",
            budget=f"<= {TIME_BUDGET}x among {FEW:,} kept",
            ok=read_many <= TIME_BUDGET * read_few,
            note=f"RPCs {rpcs_many} vs {rpcs_few}",
        ),
        Row(
            name="sweep deletion rate, whole run",
            measured=sweep_rate,
            baseline=bare_rate,
            unit="docs/s",
            budget=f">= {RATE_BUDGET}x bare BulkWriter",
            ok=sweep_rate >= RATE_BUDGET * bare_rate,
            note=f"among {MANY:,} kept (among {FEW:,}: {EXPIRED / few:,.0f} docs/s)",
        ),
        Row(
            name="sweep deletion rate, deleting phase",
            measured=EXPIRED / deleting,
            baseline=bare_rate,
            unit="docs/s",
            budget=f">= {RATE_BUDGET}x bare BulkWriter",
            ok=EXPIRED / deleting >= RATE_BUDGET * bare_rate,
            note="first delete queued to last flushed",
        ),
    ]
