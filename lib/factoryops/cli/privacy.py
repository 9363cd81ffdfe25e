"""`siteadmin privacy`: show, correct or delete everything held about one email address.

Each command prints what it found or changed per store and leaves a `privacy_requests`
record with only a hash of the address and the counts.
"""

from __future__ import annotations

from typing import NoReturn

import click

from factoryops import errors, privacy
from factoryops.cli.output import emit_json, json_option, show
from factoryops.config import settings
from factoryops.validation import Email

_OPTIONS = {
    "email": "--email",
    "name": "--name",
    "company": "--company",
    "new_email": "--new-email",
}


def _invalid(exc: errors.InvalidRequest) -> NoReturn:
    if not exc.fields:
        raise click.UsageError(exc.message)
    name, problem = sorted(exc.fields.items())[0]
    raise click.BadParameter(problem, param_hint=f"'{_OPTIONS.get(name, name)}'")


def _subject(email: str) -> Email:
    try:
        return privacy.subject(email)
    except errors.InvalidRequest as exc:
        _invalid(exc)


def _crm_failed(
    exc: errors.DownstreamError, *, kept: str = "nothing in Firestore was changed"
) -> NoReturn:
    raise click.ClickException(
        f"The CRM sheet could not be reached ({exc}); {kept}. "
        "Run the command again once it answers."
    )


@click.group()
def group() -> None:
    """The privacy notice's rights: export, correct and delete a person's records."""
    if not settings().crm_configured:
        # A request answered without the CRM would leave the person's rows there while
        # the team believes it complete: say so on every run.
        click.secho(
            "warning: no CRM is configured (CRM_APPS_SCRIPT_URL), so the CRM sheet is not"
            " searched or changed by this command.",
            fg="yellow",
            err=True,
        )


@group.command()
@click.option("--email", required=True, help="The person's email address (any letter case).")
@json_option
def export(email: str, as_json: bool) -> None:
    """Print, as JSON, every record about EMAIL: contact submissions, chats with their
    messages, access grants and CRM rows."""
    del as_json  # the export is JSON either way
    address = _subject(email)
    try:
        data = privacy.export(address)
    except errors.DownstreamError as exc:
        _crm_failed(exc)
    emit_json(data)
    outside = privacy.OutsideThisSystem(data["outside_this_system"]["mailbox_search"])
    _say_outside(outside, privacy.EXPORT)


@group.command()
@click.option("--email", required=True, help="The person's current email address.")
@click.option("--name", help="The corrected name.")
@click.option("--company", help="The corrected company or plant ('' clears it).")
@click.option("--new-email", help="The corrected email address.")
@json_option
def correct(
    email: str, name: str | None, company: str | None, new_email: str | None, as_json: bool
) -> None:
    """Correct name, company or email in every store, CRM rows included."""
    address = _subject(email)
    try:
        change = privacy.correction(name=name, company=company, new_email=new_email)
    except errors.InvalidRequest as exc:
        _invalid(exc)
    try:
        corrected = privacy.correct(address, change)
    except errors.DownstreamError as exc:
        _crm_failed(exc)
    show(corrected.counts.as_dict(), as_json=as_json)
    _say_outside(corrected.outside, privacy.CORRECT)


@group.command()
@click.option("--email", required=True, help="The person's email address (any letter case).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def delete(email: str, yes: bool, as_json: bool) -> None:
    """Erase every record about EMAIL: contact submissions, chats with all their
    messages, access grants and CRM rows."""
    address = _subject(email)
    if not yes:
        try:
            found = privacy.preview(address)
        except errors.DownstreamError as exc:
            _crm_failed(exc)
        # On stderr, beside the prompt, so that stdout holds only the result.
        if not found.total:
            click.echo("Nothing is held about this address.", err=True)
        else:
            click.echo("Held about this address:", err=True)
            for store_name, count in found.as_dict().items():
                click.echo(f"  {store_name:<20} {count}", err=True)
        click.confirm("Delete all of this, for good?", abort=True, err=True)
    try:
        erasure = privacy.delete(address)
    except errors.DownstreamError as exc:
        _crm_failed(
            exc,
            kept="the records not yet erased are kept (their chats closed, their sending"
            " stopped); the command continues the erasure",
        )
    if not as_json:
        click.echo("Deleted:")
    show(erasure.counts.as_dict(), as_json=as_json)
    _say_outside(erasure.outside, privacy.DELETE)


def _say_outside(outside: privacy.OutsideThisSystem, request: str) -> None:
    # On stderr, so that stdout stays the result (JSON with --json).
    click.echo(err=True)
    for line in outside.lines(request):
        click.echo(line, err=True)
