"""`siteadmin status`: how the system is doing, with no personal data."""

from __future__ import annotations

from typing import Any

import click

from factoryops import status as status_mod
from factoryops.cli.output import cell, emit_json, json_option, table


@click.command(name="status")
@json_option
def group(as_json: bool) -> None:
    """Deliveries waiting, held or failed per channel (with the oldest one's age), this
    hour's emails against FORWARD_BUDGET, the sweep's last retention and deliveries runs,
    open chats (and how many wait for a reply), active grants and the contact posts
    quarantined each day."""
    overview = status_mod.overview()
    if as_json:
        emit_json(overview)
        return
    rows = [
        {
            "channel": channel,
            "bucket": bucket,
            "count": waiting["count"],
            "oldest": _age(waiting["oldest_age_seconds"]),
        }
        for channel, buckets in overview["deliveries"].items()
        for bucket, waiting in buckets.items()
    ]
    click.echo("deliveries")
    table(rows, ("channel", "bucket", "count", "oldest"))
    click.echo("\nlast sweep runs")
    runs = [
        {
            "task": task,
            "finished_at": run["finished_at"] if run else None,
            "outcome": run["outcome"] if run else "never",
            "counts": _counts(run["counts"]) if run else "-",
        }
        for task, run in overview["runs"].items()
    ]
    table(runs, ("task", "finished_at", "outcome", "counts"))
    chats, grants, emails = overview["chats"], overview["grants"], overview["budget"]
    click.echo(
        f"\nemails  {emails['sent']} of {emails['budget']} sent this hour"
        f" ({cell(emails['hour'])}), {emails['held_now']} held for a later hour"
        f"\nchats   {chats['open']} open, {chats['awaiting_reply']} awaiting a reply"
        f"\ngrants  {grants['active']} active"
    )
    days = overview["quarantine"]
    per_day = ", ".join(f"{d['day'][5:]} {d['quarantined']}" for d in days)
    total = sum(d["quarantined"] for d in days)
    click.echo(f"spam    {total} quarantined in {len(days)} days ({per_day})")


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _counts(counts: dict[str, Any]) -> str:
    shown = {k: v for k, v in counts.items() if v}
    return ", ".join(f"{k} {cell(v)}" for k, v in shown.items()) or "nothing to do"
