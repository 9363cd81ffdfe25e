"""`siteadmin sweep`: the retention_sweep work, run from a laptop."""

from __future__ import annotations

import click

from factoryops import sweep as sweep_mod
from factoryops.cli.output import emit_json, json_option, show


@click.command(name="sweep")
@click.option(
    "--dry-run", is_flag=True, help="Count what would go and what is due; change nothing."
)
@click.option(
    "--task",
    "tasks",
    type=click.Choice(sweep_mod.TASKS),
    multiple=True,
    help="Run only this task (repeatable); both by default.",
)
@json_option
def group(dry_run: bool, tasks: tuple[str, ...], as_json: bool) -> None:
    """Delete what is past RETENTION_DAYS and send every delivery that is due."""
    request = sweep_mod.SweepRequest(tasks=tasks or sweep_mod.TASKS, dry_run=dry_run)
    result = sweep_mod.run(request)
    body = result.body()
    # Beyond the function's answer: which tasks ran, and how many deliveries were due.
    body["tasks"] = list(request.tasks)
    body["deliveries"]["due"] = result.deliveries.due
    if as_json:
        emit_json(body)
    else:
        click.echo("dry run: nothing was deleted or sent" if dry_run else "sweep done")
        if "retention" in request.tasks:
            click.echo("\ndeleted" + (" (would be)" if dry_run else ""))
            show(body["deleted"], as_json=False)
        if "deliveries" in request.tasks:
            click.echo("\ndeliveries")
            show(body["deliveries"], as_json=False)
    if result.crm_error is not None:
        raise click.ClickException(
            f"{sweep_mod.CrmUnavailable.message} Everything else was done; "
            "run the sweep again later."
        )
