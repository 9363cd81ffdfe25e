"""`siteadmin chats`: read the site's chats and answer them.

A session is named by its lead id (shown by `chats list`, and the `record_id` of the
email and the CRM row); the session id itself is the visitor's secret and is never
printed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from factoryops import errors
from factoryops.chat import inbox, team
from factoryops.chat.thread import Session
from factoryops.cli.output import cell, emit_json, json_option, show

_LIST_COLUMNS = ("lead_id", "status", "email", "page", "visitor_messages", "last_activity_at")
_SESSION_HELP = "SESSION is the lead id that `chats list` shows."


@click.group()
def group() -> None:
    """The site's chats: list, read, reply, close (and backfill, once, after upgrading)."""


@group.command("list")
@click.option(
    "--open",
    "only_open",
    is_flag=True,
    help="Only open sessions: those awaiting a reply first (longest-waiting first), "
    "then the most recently active.",
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many."
)
@click.option("--cursor", help="Go on from where a listing stopped (it prints its cursor).")
@json_option
def list_(only_open: bool, limit: int, cursor: str | None, as_json: bool) -> None:
    """Chat sessions, most recently active first, read a page at a time as the console
    reads them; when more remain, the command to go on is printed to stderr."""
    view = "open" if only_open else "all"
    try:
        after = inbox.Cursor.decode(cursor, view) if cursor else None
    except errors.InvalidRequest:
        raise click.BadParameter(
            "is not a cursor of this listing", param_hint="'--cursor'"
        ) from None
    listed = inbox.walk(view, limit=limit, after=after)
    show([s.summary() for s in listed.sessions], as_json=as_json, columns=_LIST_COLUMNS)
    if listed.next is not None:
        again = ["siteadmin chats list", *(["--open"] if only_open else []), "--cursor"]
        click.echo(f"more: {' '.join(again)} {listed.next}", err=True)


@group.command("show")
@click.argument("session", metavar="SESSION")
@json_option
def show_(session: str, as_json: bool) -> None:
    """A session and its whole thread, oldest message first.

    SESSION is the lead id that `chats list` shows.
    """
    found = _find(session)
    messages = team.messages(found)
    summary: dict[str, Any] = found.as_dict()
    if as_json:
        emit_json({**summary, "thread": [m.wire() for m in messages]})
        return
    states = ", ".join(f"{channel} {state}" for channel, state in found.delivery_states().items())
    show({**summary, "deliveries": states or "-"}, as_json=False)
    click.echo()
    if not messages:
        click.echo("(no messages yet)")
    for message in messages:
        click.echo(f"[{cell(message.created_at)}] {message.author} #{message.id}")
        click.echo(f"  {message.text.replace(chr(10), chr(10) + '  ')}")


@group.command()
@click.argument("session", metavar="SESSION")
@click.argument("text")
@click.option(
    "--name",
    "signed",
    metavar="NAME",
    help="Who writes, as the visitor sees it (e.g. your first name); default: the team.",
)
@json_option
def reply(session: str, text: str, signed: str | None, as_json: bool) -> None:
    """Add the team's TEXT to the thread; the visitor's next poll shows it.

    SESSION is the lead id that `chats list` shows.
    """
    found = _find(session)
    try:
        message = team.reply(found, text, name=(signed or "").strip()[:100] or None)
    except errors.InvalidRequest as exc:
        raise click.BadParameter(exc.fields.get("text", exc.message), param_hint="'TEXT'") from None
    except errors.SessionNotFound:
        raise click.ClickException(f"no chat session {session!r}") from None
    if as_json:
        emit_json({"lead_id": found.lead_id, "message": message.wire()})
        return
    click.echo(f"replied to {found.lead_id}: message {message.id} at {cell(message.created_at)}")
    if found.closed:
        click.echo("note: the session is closed; the visitor can read but not answer", err=True)


@group.command()
@click.argument("session", metavar="SESSION")
@click.option(
    "--transcript",
    is_flag=True,
    help="Also email the visitor the whole thread (EMAILJS_REPLY_TEMPLATE_ID, TEAM_INBOX).",
)
@json_option
def close(session: str, transcript: bool, as_json: bool) -> None:
    """Close a session: the visitor can still read it but not write to it.

    SESSION is the lead id that `chats list` shows.
    """
    _set_status(session, "closed", lambda found: team.close(found, transcript=transcript), as_json)


@group.command()
@click.argument("session", metavar="SESSION")
@json_option
def reopen(session: str, as_json: bool) -> None:
    """Open a closed session again: the visitor's widget can write to it once more.

    SESSION is the lead id that `chats list` shows.
    """
    _set_status(session, "open", team.reopen, as_json)


@group.command()
@click.option("--dry-run", is_flag=True, help="Count the records that lack them; change nothing.")
@json_option
def backfill(dry_run: bool, as_json: bool) -> None:
    """Give records stored before the inbox's fields those fields: a chat's awaiting_since
    (without which an open chat is missing from the console's open view until its next
    message), a contact's and a grant's search words. Only records that lack them are
    written, so it is safe to run again."""
    from factoryops import backfill as backfill_mod

    filled = backfill_mod.run(dry_run=dry_run).as_dict()
    if as_json:
        emit_json({**filled, "dry_run": dry_run})
        return
    click.echo("dry run: these lack the fields" if dry_run else "filled in")
    show(filled, as_json=False)


def _set_status(handle: str, status: str, change: Callable[[Session], bool], as_json: bool) -> None:
    """Close or reopen the session `handle` names (`change` does it, False when it was
    so already) and say what happened, as JSON with --json."""
    found = _find(handle)
    try:
        changed = change(found)
    except errors.SessionNotFound:
        raise click.ClickException(f"no chat session {handle!r}") from None
    if as_json:
        emit_json({"lead_id": found.lead_id, "status": status, "changed": changed})
    elif changed:
        click.echo(f"{'closed' if status == 'closed' else 'reopened'} {found.lead_id}")
    else:
        click.echo(f"{found.lead_id} was already {status}")


def _find(handle: str) -> Session:
    found = team.find(handle)
    if found is None:
        raise click.ClickException(f"no chat session {handle!r}; {_SESSION_HELP}")
    return found
