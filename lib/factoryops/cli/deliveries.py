"""`siteadmin deliveries`: what has not yet reached EmailJS or the CRM, and retrying it."""

from __future__ import annotations

import click

from factoryops import deliveries as deliveries_mod
from factoryops.cli.output import emit_json, json_option, show
from factoryops.sweep import DELIVERY_SOURCES

_COLUMNS = ("kind", "id", "channel", "state", "attempts", "last_error", "next_attempt_at")


@click.group()
def group() -> None:
    """Email forwards and CRM rows: their state, and retrying the failed ones."""


@group.command(name="list")
@click.option(
    "--state",
    type=click.Choice((*deliveries_mod.STATES, deliveries_mod.HELD)),
    help="Only this state (default: pending, processing and failed). `held`: emails"
    " waiting for a later hour's budget (FORWARD_BUDGET), which `pending` lists too.",
)
@json_option
def list_(state: str | None, as_json: bool) -> None:
    """One line per delivery: record kind and id, channel, state, attempts, last error
    and the next attempt. Chats are named by their lead id, never the session id. An
    email past the hour's budget shows as `held`, due in a later hour."""
    states = (state,) if state else deliveries_mod.ATTENTION
    show(
        deliveries_mod.overview(DELIVERY_SOURCES, states=states), as_json=as_json, columns=_COLUMNS
    )


@group.command()
@json_option
def retry(as_json: bool) -> None:
    """Put every failed delivery back to pending, due now; the next sweep sends it."""
    count = deliveries_mod.retry_failed(DELIVERY_SOURCES)
    if as_json:
        emit_json({"retried": count})
    else:
        click.echo(f"{count} failed deliveries are pending again; the next sweep sends them.")
