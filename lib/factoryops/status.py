"""How the system is doing, at a glance, with no personal data: what deliveries wait or
failed, this hour's emails against the forwarding budget and how many are held, how the
sweep's last runs went, the open chats, the active grants and the contact posts
quarantined each day. `siteadmin status` prints it, and the console's Status view shows
it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from factoryops import budget, deliveries, grants, quarantine, store, sweep
from factoryops.chat import inbox
from factoryops.documents import DeliveryFields, Forwarded, SweepRun, delivery_path


@dataclass
class Waiting:
    count: int = 0
    oldest_age_seconds: int | None = None
    """How long ago the oldest of them was stored."""

    def add(self, created_at: dt.datetime | None, now: dt.datetime) -> None:
        self.count += 1
        if created_at is not None:
            age = int((now - created_at).total_seconds())
            self.oldest_age_seconds = max(age, self.oldest_age_seconds or 0)


@dataclass
class ChannelStatus:
    pending: Waiting = field(default_factory=Waiting)
    """Not yet tried (or being tried for the first time)."""
    retrying: Waiting = field(default_factory=Waiting)
    """Tried and failed, to be tried again."""
    failed: Waiting = field(default_factory=Waiting)
    """Given up on: `siteadmin deliveries retry` puts them back."""
    held: Waiting = field(default_factory=Waiting)
    """Emails past an hour's budget, waiting for a later hour (never failed for it)."""


def delivery_status(
    sources: Sequence[deliveries.DeliverySource], now: dt.datetime
) -> dict[str, ChannelStatus]:
    out = {channel: ChannelStatus() for source in sources for channel in source.channels}
    unsettled = [deliveries.PENDING, deliveries.PROCESSING, deliveries.FAILED]
    for source in sources:
        for channel in source.channels:
            path = delivery_path(channel, DeliveryFields.STATE)
            query = store.collection(source.collection).where(
                filter=store.field_filter(path, "in", unsettled)
            )
            for snap in query.stream(**store.call_options()):
                record = Forwarded.from_snapshot(snap)
                state = record.delivery(channel)
                if state is not None and state.state == deliveries.FAILED:
                    bucket = out[channel].failed
                elif state is not None and deliveries.listed_state(state) == deliveries.HELD:
                    bucket = out[channel].held
                elif state is not None and state.attempts > 0:
                    bucket = out[channel].retrying
                else:
                    bucket = out[channel].pending
                bucket.add(record.created_at, now)
    return out


def last_runs(runs: Sequence[SweepRun]) -> dict[str, dict[str, Any] | None]:
    """The newest run of each task, from `sweep.recent_runs()` (newest first)."""
    found: dict[str, dict[str, Any] | None] = {task: None for task in sweep.TASKS}
    for run in runs:
        for task in run.tasks:
            if task in found and found[task] is None:
                counts = run.deleted if task == "retention" else run.deliveries
                found[task] = {
                    "finished_at": run.finished_at,
                    "outcome": run.outcome,
                    "counts": dict(counts),
                }
    return found


def emails(channels: dict[str, ChannelStatus]) -> dict[str, Any]:
    """This hour's emails against the forwarding budget (FORWARD_BUDGET): the hour, sent,
    the budget, the holds this hour, and the deliveries held now (from any hour)."""
    usage = budget.this_hour()
    return {
        "hour": usage.hour,
        "sent": usage.sent,
        "budget": usage.budget,
        "held_this_hour": usage.held,
        "held_now": sum(status.held.count for status in channels.values()),
    }


def overview() -> dict[str, Any]:
    now = store.now()
    chats = inbox.counts()
    channels = delivery_status(sweep.DELIVERY_SOURCES, now)
    return {
        "deliveries": {
            channel: {
                "pending": vars(status.pending),
                "retrying": vars(status.retrying),
                "failed": vars(status.failed),
                "held": vars(status.held),
            }
            for channel, status in channels.items()
        },
        "budget": emails(channels),
        "runs": last_runs(sweep.recent_runs()),
        "chats": chats.as_dict(),
        "grants": {"active": sum(1 for g in grants.list_all() if g.status(now) == "active")},
        "quarantine": quarantine.per_day(),
    }
