"""`siteadmin chats`: read the site's chats and answer them.

A session is named by its lead id (shown by `chats list`, and the `record_id` of the
email and the CRM row); the session id itself is the visitor's secret and is never
printed.
"""

from __future__ import annotations

from typing import Any

import click

from factoryops import chat, errors
from factoryops.cli.output import cell, emit_json, json_option, show

_LIST_COLUMNS = ("lead_id", "status", "email", "page", "visitor_messages", "last_activity_at")
_SESSION_HELP = "SESSION is the lead id that `chats list` shows."


@click.group()
def group() -> None:
    """The site's chats: list, read, reply, close."""


@group.command("list")
@click.option("--open", "only_open", is_flag=True, help="Only sessions still open.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many."
)
@json_option
def list_(only_open: bool, limit: int, as_json: bool) -> None:
    """Chat sessions, most recently active first."""
    rows = [_summary(snap) for snap in chat.sessions(only_open=only_open, limit=limit)]
    show(rows, as_json=as_json, columns=_LIST_COLUMNS)


@group.command("show")
@click.argument("session", metavar="SESSION")
@json_option
def show_(session: str, as_json: bool) -> None:
    """A session and its whole thread, oldest message first.

    SESSION is the lead id that `chats list` shows.
    """
    snap = _find(session)
    messages = chat.thread(snap.reference, limit=None)
    summary = _summary(snap)
    data = snap.to_dict() or {}
    summary["created_at"] = data.get("created_at")
    summary["deliveries"] = {
        channel: state.get("state") for channel, state in (data.get("deliveries") or {}).items()
    }
    if as_json:
        emit_json({**summary, "thread": [m.wire() for m in messages]})
        return
    show({**summary, "deliveries": _deliveries_cell(summary["deliveries"])}, as_json=False)
    click.echo()
    if not messages:
        click.echo("(no messages yet)")
    for message in messages:
        click.echo(f"[{cell(message.created_at)}] {message.author} #{message.id}")
        click.echo(f"  {message.text.replace(chr(10), chr(10) + '  ')}")


@group.command()
@click.argument("session", metavar="SESSION")
@click.argument("text")
@json_option
def reply(session: str, text: str, as_json: bool) -> None:
    """Add the team's TEXT to the thread; the visitor's next poll shows it.

    SESSION is the lead id that `chats list` shows.
    """
    snap = _find(session)
    try:
        message = chat.reply(snap, text)
    except errors.InvalidRequest as exc:
        raise click.BadParameter(exc.fields.get("text", exc.message), param_hint="'TEXT'") from None
    except errors.SessionNotFound:
        raise click.ClickException(f"no chat session {session!r}") from None
    lead_id = (snap.to_dict() or {}).get("lead_id")
    if as_json:
        emit_json({"lead_id": lead_id, "message": message.wire()})
        return
    click.echo(f"replied to {lead_id}: message {message.id} at {cell(message.created_at)}")
    if (snap.to_dict() or {}).get("status") == chat.CLOSED:
        click.echo("note: the session is closed; the visitor can read but not answer", err=True)


@group.command()
@click.argument("session", metavar="SESSION")
@json_option
def close(session: str, as_json: bool) -> None:
    """Close a session: the visitor can still read it but not write to it.

    SESSION is the lead id that `chats list` shows.
    """
    snap = _find(session)
    try:
        changed = chat.close(snap)
    except errors.SessionNotFound:
        raise click.ClickException(f"no chat session {session!r}") from None
    lead_id = (snap.to_dict() or {}).get("lead_id")
    if as_json:
        emit_json({"lead_id": lead_id, "status": chat.CLOSED, "changed": changed})
    elif changed:
        click.echo(f"closed {lead_id}")
    else:
        click.echo(f"{lead_id} was already closed")


def _find(handle: str) -> Any:
    snap = chat.find(handle)
    if snap is None:
        raise click.ClickException(f"no chat session {handle!r}; {_SESSION_HELP}")
    return snap


def _summary(snap: Any) -> dict[str, Any]:
    data = snap.to_dict() or {}
    return {
        "lead_id": data.get("lead_id"),
        "status": data.get("status"),
        "email": data.get("email"),
        "page": data.get("page"),
        "visitor_messages": int(data.get("message_count", 0)),
        "last_activity_at": data.get("last_activity_at"),
    }


def _deliveries_cell(states: dict[str, Any]) -> str:
    if not states:
        return "-"
    return ", ".join(f"{channel} {state}" for channel, state in sorted(states.items()))
