"""What deploy.sh sets up in Cloud Logging and Cloud Monitoring, standard library only.

    python3 -m deployment.monitoring log-bucket --project ID --region REGION
    python3 -m deployment.monitoring request-log-exclusion SERVICE...
    python3 -m deployment.monitoring metrics
    python3 -m deployment.monitoring policies --project ID --channel NAME --dir DIR SERVICE...

`log-bucket` prints the NAME, RETENTION (days) and DESTINATION (tab-separated) of the log
bucket in REGION that the `_Default` sink stores the project's logs into, instead of the
`_Default` bucket, whose location is global.

`request-log-exclusion` prints the NAME, DESCRIPTION and FILTER (tab-separated) of the
exclusion on the `_Default` sink: Cloud Run's request log of the public functions'
services, which holds each visitor's IP and user agent (the privacy notice lists
neither). The functions' own lines (stdout and stderr) do not match it and are kept.

`metrics` prints the log-based metrics, one a line: NAME, DESCRIPTION, FILTER separated
by tabs. They count the functions' own JSON lines (`factoryops.logs`): a delivery that
reached `failed`, a sweep that finished `ok` with each task, and an hour whose email
budget (FORWARD_BUDGET) was spent.

`policies` writes one alerting policy a file into DIR, each notifying the channel NAME,
and prints DISPLAY-NAME, FILE and the policy as compact JSON, separated by tabs: a
failed delivery, no successful retention run, no successful deliveries run, a function
answering 5xx (Cloud Run's own request metric, which does not need the request logs
kept), and emails held by the hour's budget. SERVICE... are the Cloud Run services
behind the functions.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESOURCE = 'resource.type="cloud_run_revision"'
"""Where a gen2 function's lines, and its requests, are logged and counted."""
REQUEST_LOG = 'log_id("run.googleapis.com/requests")'
EXCLUSION = "factoryops-visitor-request-logs"
EXCLUSION_DESCRIPTION = (
    "Cloud Run request logs of the public functions: visitor IPs and user agents"
    " the privacy notice does not list"
)
LOG_BUCKET = "factoryops-logs"
LOG_RETENTION_DAYS = 30
"""As long as the `_Default` bucket keeps its logs."""
RETENTION_WINDOW_SECONDS = 90000
"""The nightly retention run is looked for over the last 25 hours, the longest
alignment period an alerting policy may use. An absence condition cannot do it: it
spans at most 23.5 hours, less than the 24 between two nightly runs, so it would fire
every night before the run. A threshold on the window's count of successful runs, with
no data counted as none, fires an hour after a night's run is missed."""
DELIVERIES_ABSENCE_SECONDS = 1800
WINDOW = "300s"
NAME_PREFIX = "FactoryOps AI: "


@dataclass(frozen=True)
class Match:
    """One comparison on a log line's JSON payload: `=` equals, `:` an array holds it."""

    field: str
    value: str | bool
    has: bool = False

    def lql(self) -> str:
        value = json.dumps(self.value)
        return f"jsonPayload.{self.field}{':' if self.has else '='}{value}"

    def matches(self, payload: Mapping[str, Any]) -> bool:
        """What Cloud Logging answers for this comparison on one line, for the tests."""
        found = payload.get(self.field)
        if self.has:
            return isinstance(found, list) and self.value in found
        return found == self.value


def lql(*matches: Match) -> str:
    return " AND ".join((RESOURCE, *(m.lql() for m in matches)))


def sweep_finished(task: str) -> tuple[Match, ...]:
    """A sweep that ran `task` for real and finished `ok` (logs.sweep_finished)."""
    return (
        Match("message", "sweep finished"),
        Match("outcome", "ok"),
        Match("dry_run", False),
        Match("tasks", task, has=True),
    )


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    matches: tuple[Match, ...]

    @property
    def filter(self) -> str:
        return lql(*self.matches)

    @property
    def type(self) -> str:
        return f"logging.googleapis.com/user/{self.name}"


DELIVERY_FAILED = Metric(
    "factoryops_delivery_failed",
    "A delivery reached failed: every attempt used (logs.delivery_result)",
    (Match("message", "delivery attempt"), Match("state", "failed")),
)
"""Whichever function wrote the line: the forwarder's first attempts (a permanent 4xx
fails at once) and the sweep's retries alike, so it names no service."""
RETENTION_OK = Metric(
    "factoryops_sweep_retention_ok",
    "A retention sweep finished ok (logs.sweep_finished)",
    sweep_finished("retention"),
)
DELIVERIES_OK = Metric(
    "factoryops_sweep_deliveries_ok",
    "A deliveries sweep finished ok (logs.sweep_finished)",
    sweep_finished("deliveries"),
)
BUDGET_SPENT = Metric(
    "factoryops_forward_budget_spent",
    "An hour's email budget was spent and its later emails held (logs.forward_budget_spent)",
    (Match("message", "forward budget spent"),),
)
"""Once an hour at most, from the forwarder or the sweep, whichever held the first email."""
METRICS = (DELIVERY_FAILED, RETENTION_OK, DELIVERIES_OK, BUDGET_SPENT)


def one_of(field: str, values: Sequence[str]) -> str:
    return f"{field}=({' OR '.join(json.dumps(v) for v in values)})"


def log_bucket_destination(project: str, region: str) -> str:
    """The sink destination naming the project's log bucket in `region`."""
    return f"logging.googleapis.com/projects/{project}/locations/{region}/buckets/{LOG_BUCKET}"


def request_log_filter(services: Sequence[str]) -> str:
    """The exclusion's filter. gcloud reads it inside a KEY=VALUE,... flag: no commas."""
    if not services:
        raise ValueError("no service to exclude the request logs of")
    text = " AND ".join((REQUEST_LOG, RESOURCE, one_of("resource.labels.service_name", services)))
    if "," in text + EXCLUSION_DESCRIPTION:
        raise ValueError(f"a service name holds a comma: {services}")
    return text


# -- alerting policies ---------------------------------------------------------------


def _sum(window: str = WINDOW) -> list[dict[str, str]]:
    """Every time series summed into one: a new revision starts a new series, and an
    absence must mean no revision wrote the line."""
    return [
        {
            "alignmentPeriod": window,
            "perSeriesAligner": "ALIGN_SUM",
            "crossSeriesReducer": "REDUCE_SUM",
        }
    ]


def _metric_filter(metric: Metric) -> str:
    return f'{RESOURCE} AND metric.type="{metric.type}"'


def _above_zero(filter_text: str) -> dict[str, Any]:
    return {
        "conditionThreshold": {
            "filter": filter_text,
            "aggregations": _sum(),
            "comparison": "COMPARISON_GT",
            "thresholdValue": 0,
            "duration": "0s",
            "trigger": {"count": 1},
        }
    }


def _none_within(metric: Metric, seconds: int) -> dict[str, Any]:
    """Fewer than one `metric` line in the last `seconds`: a sliding window summed into
    one count; a window with no point at all is missing data, counted as met."""
    return {
        "conditionThreshold": {
            "filter": _metric_filter(metric),
            "aggregations": _sum(f"{seconds}s"),
            "comparison": "COMPARISON_LT",
            "thresholdValue": 1,
            "duration": "0s",
            "trigger": {"count": 1},
            "evaluationMissingData": "EVALUATION_MISSING_DATA_ACTIVE",
        }
    }


def _absent(metric: Metric, seconds: int) -> dict[str, Any]:
    return {
        "conditionAbsent": {
            "filter": _metric_filter(metric),
            "aggregations": _sum(),
            "duration": f"{seconds}s",
            "trigger": {"count": 1},
        }
    }


def _policy(
    name: str, condition: str, kind: dict[str, Any], channel: str, advice: str
) -> dict[str, Any]:
    return {
        "displayName": NAME_PREFIX + name,
        "combiner": "OR",
        "enabled": True,
        "conditions": [{"displayName": condition, **kind}],
        "notificationChannels": [channel],
        "documentation": {"content": advice, "mimeType": "text/markdown"},
    }


def policies(project: str, channel: str, services: Sequence[str]) -> list[dict[str, Any]]:
    """The alerting policies, each notifying `channel`; `services` are every function's
    Cloud Run service, for the 5xx alert.

    The forwarder's service is among them: its 5xx are not downstream blips. A busy or
    failing EmailJS or CRM is recorded on the record, answered 2xx and left to the
    sweep; with every instance busy Cloud Run answers 429 (a 500 of its own only on a
    sudden burst, rare at tens of leads a week). It answers 5xx when Firestore fails or
    the code crashes: worth a look, as leads then wait for the sweep. Eventarc's retries
    of one event fall in the same open incident rather than paging again."""
    logs = f"gcloud logging read '{{}}' --project={project} --freshness=1d"
    sweep_lines = logs.format('jsonPayload.message="sweep finished"')
    server_errors = " AND ".join(
        (
            RESOURCE,
            'metric.type="run.googleapis.com/request_count"',
            'metric.labels.response_code_class="5xx"',
            f"resource.labels.service_name=one_of({', '.join(json.dumps(s) for s in services)})",
        )
    )
    hours = RETENTION_WINDOW_SECONDS / 3600
    return [
        _policy(
            "a delivery failed",
            "deliveries that reached failed > 0",
            _above_zero(_metric_filter(DELIVERY_FAILED)),
            channel,
            "An email or CRM delivery used every attempt and is `failed`: the lead is stored"
            " but the team was not told. The line names the record and the error: "
            + logs.format(DELIVERY_FAILED.filter.removeprefix(RESOURCE + " AND ")),
        ),
        _policy(
            "no successful nightly retention run",
            f"no retention sweep finished ok in the last {hours:g} hours",
            _none_within(RETENTION_OK, RETENTION_WINDOW_SECONDS),
            channel,
            f"No retention sweep has finished `ok` in the last {hours:g} hours: data past"
            " RETENTION_DAYS may be kept. `outcome` says why (`crm_unavailable`: the CRM could"
            " not be reached); a `caller refused` line means the scheduler's token was"
            f" refused: {sweep_lines}. Right after the first deployment no run has finished"
            " yet, so this alert is open until the first night's run (or run it now:"
            " `gcloud scheduler jobs run retention-sweep-nightly --location=asia-south1`).",
        ),
        _policy(
            "no successful deliveries run in 30 minutes",
            "no deliveries sweep finished ok for 30 minutes",
            _absent(DELIVERIES_OK, DELIVERIES_ABSENCE_SECONDS),
            channel,
            "The deliveries sweep (every 10 minutes) has not finished `ok`: pending emails and"
            " CRM rows wait. `./deploy.sh --project ID --verify` runs it once and says what"
            f" fails: {sweep_lines}",
        ),
        _policy(
            "a function answered 5xx",
            "requests answered 5xx > 0",
            _above_zero(server_errors),
            channel,
            "A function answered 5xx (Cloud Run's request count; the visitors' request logs"
            " are not kept). Its own lines say why (`unhandled error while serving a request`,"
            " `firestore unavailable`). For forward_record, Eventarc delivers the event again"
            " and the deliveries sweep sends what it left: "
            + logs.format('severity>=WARNING AND resource.type="cloud_run_revision"'),
        ),
        _policy(
            "emails held by the hourly budget",
            "hours whose email budget was spent > 0",
            _above_zero(_metric_filter(BUDGET_SPENT)),
            channel,
            "More emails were due this hour than FORWARD_BUDGET allows: every post is stored,"
            " and the emails past the budget are held and sent in the hours after, the budget's"
            " worth an hour. `siteadmin status` shows this hour's count and how many wait;"
            " `siteadmin deliveries list --state held` which. A flood of posts: look at the"
            " console's Spam view and the quarantine, and delete what is not a lead. Real"
            " leads: raise FORWARD_BUDGET if the EmailJS plan allows (operating.md, When an"
            " alert arrives): " + logs.format(BUDGET_SPENT.filter.removeprefix(RESOURCE + " AND ")),
        ),
    ]


def slug(display_name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", display_name.removeprefix(NAME_PREFIX).lower()).strip("-")


# -- command line --------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m deployment.monitoring", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    bucket = commands.add_parser("log-bucket")
    bucket.add_argument("--project", required=True)
    bucket.add_argument("--region", required=True)
    exclusion = commands.add_parser("request-log-exclusion")
    exclusion.add_argument("services", nargs="+")
    commands.add_parser("metrics")
    written = commands.add_parser("policies")
    written.add_argument("--project", required=True)
    written.add_argument("--channel", required=True)
    written.add_argument("--dir", type=Path, required=True)
    written.add_argument("--dry-run", action="store_true", help="print them, write nothing")
    written.add_argument("services", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "log-bucket":
        destination = log_bucket_destination(args.project, args.region)
        print("\t".join((LOG_BUCKET, str(LOG_RETENTION_DAYS), destination)))
    elif args.command == "request-log-exclusion":
        try:
            print("\t".join((EXCLUSION, EXCLUSION_DESCRIPTION, request_log_filter(args.services))))
        except ValueError as exc:
            print(f"deploy.sh: {exc}", file=sys.stderr)
            return 1
    elif args.command == "metrics":
        for metric in METRICS:
            print("\t".join((metric.name, metric.description, metric.filter)))
    else:
        for policy in policies(args.project, args.channel, args.services):
            path = args.dir / f"alert-{slug(policy['displayName'])}.json"
            if not args.dry_run:
                path.write_text(json.dumps(policy, indent=2) + "\n", encoding="utf-8")
            compact = json.dumps(policy, separators=(",", ":"))
            print("\t".join((policy["displayName"], str(path), compact)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
