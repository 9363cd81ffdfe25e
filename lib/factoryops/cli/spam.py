"""`siteadmin spam`: the contact posts in the quarantine, and the team's decision on each."""

from __future__ import annotations

import click

from factoryops import quarantine
from factoryops.cli.output import emit_json, json_option, table

_COLUMNS = ("id", "quarantined_at", "reason", "name", "email", "company", "message")
PREVIEW = 60
"""Characters of a post's message the table shows."""


@click.group()
def group() -> None:
    """Contact posts kept from the inbox: without the site's proof of work, or with
    content that reads as spam. Each expires after QUARANTINE_DAYS unless released."""


@group.command("list")
@json_option
def list_(as_json: bool) -> None:
    """Every quarantined post, newest first, with why it was kept."""
    posts = [held.summary() for held in quarantine.walk()]
    if as_json:
        emit_json(posts)
        return
    rows = [{**post, "message": _preview(post["message"])} for post in posts]
    table(rows, _COLUMNS)


@group.command()
@click.argument("record_id")
@json_option
def release(record_id: str, as_json: bool) -> None:
    """Not spam: send the post to the team's inbox and the CRM now, and keep it as any
    other (the retention window's two years)."""
    _decided(quarantine.release(record_id), record_id, "released", as_json)


@group.command()
@click.argument("record_id")
@json_option
def delete(record_id: str, as_json: bool) -> None:
    """Delete the post now, rather than when it expires."""
    _decided(quarantine.delete(record_id), record_id, "deleted", as_json)


def _decided(done: bool, record_id: str, what: str, as_json: bool) -> None:
    if not done:
        raise click.ClickException(f"no post {record_id!r} in the quarantine")
    if as_json:
        emit_json({what: record_id})
    else:
        click.echo(f"{what} {record_id}")


def _preview(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= PREVIEW else line[: PREVIEW - 1] + "…"
