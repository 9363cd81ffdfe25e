"""`siteadmin grants`: create, list and revoke per-lead access links."""

from __future__ import annotations

from typing import Any

import click

from factoryops import errors, grants
from factoryops.cli.output import cell, emit_json, json_option, show

# Which option names each field of grants.create's validation errors.
_OPTIONS = {
    "lead": "--lead",
    "sections": "--sections",
    "email": "--email",
    "no_email": "--no-email",
    "company": "--company",
    "days": "--days",
    "max_uses": "--max-uses",
}
_COLUMNS = (
    "id",
    "lead",
    "sections",
    "expires_at",
    "redemptions",
    "max_uses",
    "first_use",
    "last_use",
    "revoked",
    "status",
)


@click.group()
def group() -> None:
    """Per-lead access links that unlock gated sections of the site."""


@group.command()
@click.option("--lead", required=True, help="Who the link is for (a label the team reads).")
@click.option(
    "--sections", required=True, help="Comma-separated section names to unlock, e.g. pricing,demo."
)
@click.option(
    "--email",
    help="The lead's email address, by which a privacy request finds the grant "
    "(required unless --no-email).",
)
@click.option(
    "--no-email",
    is_flag=True,
    help="Say that the lead label names no person (a stand, a company), so no email is kept.",
)
@click.option("--company", help="The lead's company or plant (optional).")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    help="Days until the link expires (default: no expiry before the retention window).",
)
@click.option(
    "--max-uses",
    type=click.IntRange(min=1),
    help="How many times the link may be redeemed (default: unlimited).",
)
@json_option
def create(
    lead: str,
    sections: str,
    email: str | None,
    no_email: bool,
    company: str | None,
    days: int | None,
    max_uses: int | None,
    as_json: bool,
) -> None:
    """Create a link and print SITE_URL/#access=<token>.

    The token is shown only now: only its hash is stored, so a lost link cannot be
    recovered; revoke it and create another.
    """
    try:
        created = grants.create(
            lead=lead,
            sections=sections,
            email=email,
            no_email=no_email,
            company=company,
            days=days,
            max_uses=max_uses,
        )
    except errors.InvalidRequest as exc:
        fields = sorted(exc.fields.items(), key=lambda item: list(_OPTIONS).index(item[0]))
        if len(fields) == 1:
            [(name, problem)] = fields
            raise click.BadParameter(problem, param_hint=f"'{_OPTIONS[name]}'") from None
        lines = [f"  {_OPTIONS[name]}: {problem}" for name, problem in fields]
        raise click.UsageError("\n".join(["Invalid values:", *lines])) from None
    grant = created.grant
    if as_json:
        emit_json({"url": created.url, "token": created.token, **grant.as_dict()})
        return
    click.echo(created.url)
    expiry = cell(grant.expires_at) if grant.expires_at else "never"
    uses = grant.max_uses if grant.max_uses is not None else "unlimited"
    click.echo(
        f"grant {grant.id}: {', '.join(grant.sections)}; expires {expiry}; max uses {uses}",
        err=True,
    )


@group.command("list")
@json_option
def list_(as_json: bool) -> None:
    """Every link, newest first: lead, sections, expiry, uses, revoked or not."""
    found = grants.list_all()
    if as_json:
        emit_json([g.as_dict() for g in found])
        return
    show([_row(g) for g in found], as_json=False, columns=_COLUMNS)


@group.command()
@click.argument("grant_id", metavar="ID")
@json_option
def revoke(grant_id: str, as_json: bool) -> None:
    """Revoke a link: the site refuses it from the visitor's next visit on.

    ID is the id shown by `grants list` (or its first 8 or more digits).
    """
    try:
        grant = grants.revoke(grant_id)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'ID'") from None
    except grants.GrantNotFound as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json(grant.as_dict())
    else:
        click.echo(f"revoked {grant.id} ({grant.lead}) at {cell(grant.revoked_at)}")


def _row(grant: grants.Grant) -> dict[str, Any]:
    return {
        "id": grant.id[: grants.SHORT_ID],
        "lead": grant.lead,
        "sections": grant.sections,
        "expires_at": grant.expires_at,
        "redemptions": grant.redemptions,
        "max_uses": grant.max_uses,
        "first_use": grant.first_redeemed_at,
        "last_use": grant.last_redeemed_at,
        "revoked": "yes" if grant.revoked_at else "no",
        "status": grant.status(),
    }
