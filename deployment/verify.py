"""`./deploy.sh --verify`: checks the live system without touching personal data.

    python3 -m deployment.verify --project ID --region R --allowed-origins ORIGINS
        --scheduler-account EMAIL --trigger-account EMAIL --jobs JOB,JOB --run-job JOB
        --rules FILE [--console-client-id ID] [--wait SECONDS] [--poll SECONDS] [--dry-run]

Each check is one row of the table printed at the end, with what to look at when it
fails; the exit status is 1 when any failed. The checks:

- each public function answers a CORS preflight from the first allowed origin (204,
  that origin allowed) and an empty JSON POST with the documented 400 `invalid_request`
  (contact_submit's names the missing `fields`): nothing is stored by either;
- the team console, signed out: `GET /api/config` answers 200 with Google sign-in and
  the OAuth client id (`--console-client-id`, deploy.env's TEAM_OAUTH_CLIENT_ID), `GET
  /api/me` without a token answers 401 `unauthenticated`, and `GET /` serves the page
  with a Content-Security-Policy header: the console started, checks sign-in, and its
  page is in its bundle;
- the live security rules equal firestore.rules (the Firebase Rules API);
- every TTL group's policy on `expire_at` is ACTIVE;
- both Cloud Scheduler jobs send an OIDC token for the scheduler's account, with the
  sweep's URL as audience;
- the `_Default` sink excludes the public functions' request logs;
- each Eventarc trigger of the forwarder exists with its event type, database and
  document pattern, delivers protobuf to the forwarder's Cloud Run service as the
  trigger's account, and reports no failing condition (Firestore's direct events have
  no delay before a trigger is active);
- the forwarder refuses a call without a token (403 from Cloud Run, before the
  function): only the trigger's account may invoke it;
- the sweep refuses a call without a token the same way, at Cloud Run's front end: the
  sweep (SWEEP_AUTH=iam) checks only the claims of the token Cloud Run forwards, whose
  signature Cloud Run has checked and replaced, so that trust needs Cloud Run's check;
- the deliveries job, run once, leads to the sweep's `sweep finished` line with
  `outcome` ok within the wait: the whole path, the sweep's token check included.

The commands are printed as deploy.sh prints them; gcloud runs from PATH. The deployer's
access token (for the Rules API) is read from stdin; a dry run reads nothing and runs
nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from factoryops import config, store

from deployment import google_apis, manifest, monitoring
from deployment.google_apis import Plan

HTTP_TIMEOUT = 30.0
"""A function that has scaled to zero starts first: seconds, not milliseconds."""
CLOCK_SLACK = timedelta(seconds=30)
"""The success line is looked for from a little before the run, in case this machine's
clock is ahead; a scheduled run of the same job in that moment proves the same path."""
SINK = "_Default"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    """What was seen; for a failure, also what to look at."""


@dataclass
class Verifier:
    project: str
    region: str
    plan: Plan
    checks: list[Check] = field(default_factory=list)

    @property
    def dry_run(self) -> bool:
        return self.plan.dry_run

    def add(self, name: str, passed: bool, detail: str) -> None:
        self.checks.append(Check(name, passed, detail))

    def gcloud(self, *args: str, placeholder: str = "") -> tuple[int, str]:
        """Runs gcloud with the project named; (status, stdout), or the placeholder in a
        dry run."""
        argv = ["gcloud", *args, f"--project={self.project}"]
        self.plan.show(*argv)
        if self.dry_run:
            return 0, placeholder
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout.strip()

    def logs_hint(self, function: str) -> str:
        return (
            f"gcloud functions logs read {function} --region={self.region} --project={self.project}"
        )

    def describe(self, function: str, value: str) -> str:
        status, out = self.gcloud(
            "functions",
            "describe",
            function,
            f"--region={self.region}",
            f"--format=value({value})",
            placeholder=f"<{function}-{value.rsplit('.', 1)[-1]}>",
        )
        return out if status == 0 else ""


# -- HTTP ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    """0 when nothing answered."""
    headers: dict[str, str]
    text: str

    def error_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.text)
        except ValueError:
            return {}
        error = body.get("error") if isinstance(body, dict) else None
        return error if isinstance(error, dict) else {}


def send(method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> Reply:
    if not url.startswith(("https://", "http://")):
        return Reply(0, {}, f"not an http(s) URL: {url!r}")
    # The scheme is checked above; the functions are public and get no credential.
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310
            status, raw, got = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, raw, got = exc.code, exc.read(), exc.headers
    except OSError as exc:
        return Reply(0, {}, str(getattr(exc, "reason", exc)))
    return Reply(status, {k.lower(): v for k, v in got.items()}, raw.decode("utf-8", "replace"))


def check_function(verifier: Verifier, function: str, origin: str) -> None:
    """A preflight and an empty POST: the edge answers both before reading or storing
    anything of a visitor (an empty POST counts once against the caller's rate limit)."""
    url = verifier.describe(function, "serviceConfig.uri")
    preflight, empty = f"{function}: CORS preflight", f"{function}: empty POST"
    if not url:
        for name in (preflight, empty):
            verifier.add(name, False, f"not deployed: ./deploy.sh --project {verifier.project}")
        return
    logs = verifier.logs_hint(function)
    asks = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    asks["Access-Control-Request-Headers"] = "content-type"
    verifier.plan.show("OPTIONS", url, *(f"{k}: {v}" for k, v in asks.items()))
    post_headers = {"Origin": origin, "Content-Type": "application/json"}
    if verifier.dry_run:
        verifier.plan.show("POST", url, *(f"{k}: {v}" for k, v in post_headers.items()), "{}")
        return
    reply = send("OPTIONS", url, asks)
    allowed = reply.headers.get("access-control-allow-origin", "")
    if reply.status == 204 and allowed == origin:
        verifier.add(preflight, True, f"204, {origin} allowed")
    elif reply.status == 0:
        verifier.add(preflight, False, f"no answer from {url}: {reply.text}")
    elif reply.status != 204:
        verifier.add(preflight, False, f"answered {reply.status}: {logs}")
    else:
        verifier.add(
            preflight,
            False,
            f"{origin} not allowed (Access-Control-Allow-Origin: {allowed or 'none'}):"
            " is it in ALLOWED_ORIGINS? Deploy again after changing it",
        )

    verifier.plan.show("POST", url, *(f"{k}: {v}" for k, v in post_headers.items()), "{}")
    reply = send("POST", url, post_headers, b"{}")
    error = reply.error_body()
    code = error.get("code", "")
    wants_fields = function == config.CONTACT
    if (
        reply.status == 400
        and code == "invalid_request"
        and (error.get("fields") or not wants_fields)
    ):
        verifier.add(empty, True, "400 invalid_request" + (" with fields" if wants_fields else ""))
    elif reply.status == 0:
        verifier.add(empty, False, f"no answer from {url}: {reply.text}")
    elif reply.status == 429:
        verifier.add(empty, False, "429: rate-limited by earlier checks; verify again later")
    elif reply.status >= 500:
        verifier.add(empty, False, f"answered {reply.status} {code}: {logs}")
    elif code == "origin_not_allowed":
        verifier.add(empty, False, f"403 origin_not_allowed: is {origin} in ALLOWED_ORIGINS?")
    else:
        wanted = "400 invalid_request" + (" with fields" if wants_fields else "")
        got = f"{reply.status} {code}".strip()
        verifier.add(empty, False, f"answered {got}, not {wanted}: {logs}")


def check_console(verifier: Verifier, client_id: str) -> None:
    """What anyone may ask the console without signing in: its sign-in settings, its
    refusal of an API call without a token, and its page. Nothing is read or stored."""
    function = config.CONSOLE
    names = {
        "/api/config": f"{function}: GET /api/config",
        "/api/me": f"{function}: GET /api/me without a token",
        "/": f"{function}: GET / (page, CSP)",
    }
    url = verifier.describe(function, "serviceConfig.uri").rstrip("/")
    if not url:
        for name in names.values():
            verifier.add(name, False, f"not deployed: ./deploy.sh --project {verifier.project}")
        return
    logs = verifier.logs_hint(function)
    replies = {}
    for path in names:
        verifier.plan.show("GET", url + path)
        if not verifier.dry_run:
            replies[path] = send("GET", url + path, {})
    if verifier.dry_run:
        return

    reply, name = replies["/api/config"], names["/api/config"]
    try:
        body = json.loads(reply.text) if reply.status == 200 else {}
    except ValueError:
        body = {}
    got = body.get("client_id", "") if isinstance(body, dict) else ""
    if reply.status == 0:
        verifier.add(name, False, f"no answer from {url}: {reply.text}")
    elif reply.status != 200:
        # A console without its sign-in settings does not start: 5xx, not 200.
        verifier.add(
            name,
            False,
            f"answered {reply.status}: are TEAM_OAUTH_CLIENT_ID and TEAM_EMAILS set? {logs}",
        )
    elif body.get("signin") != "google" or not got:
        verifier.add(name, False, f"not Google sign-in with a client id: {reply.text[:120]}")
    elif client_id and got != client_id:
        verifier.add(
            name, False, f"client id {got}, not deploy.env's TEAM_OAUTH_CLIENT_ID: run ./deploy.sh"
        )
    else:
        verifier.add(name, True, f"200, Google sign-in, client id {got}")

    reply, name = replies["/api/me"], names["/api/me"]
    code = reply.error_body().get("code", "")
    if reply.status == 401 and code == "unauthenticated":
        verifier.add(name, True, "401 unauthenticated")
    elif reply.status == 0:
        verifier.add(name, False, f"no answer from {url}: {reply.text}")
    else:
        got_answer = f"{reply.status} {code}".strip()
        verifier.add(name, False, f"answered {got_answer}, not 401 unauthenticated: {logs}")

    reply, name = replies["/"], names["/"]
    kind = reply.headers.get("content-type", "")
    policy = reply.headers.get("content-security-policy", "")
    if reply.status == 200 and kind.startswith("text/html") and policy:
        verifier.add(name, True, "200 text/html with a Content-Security-Policy")
    elif reply.status == 0:
        verifier.add(name, False, f"no answer from {url}: {reply.text}")
    elif reply.status == 404:
        verifier.add(name, False, "404: the page is not in the bundle: run ./deploy.sh")
    elif reply.status != 200 or not kind.startswith("text/html"):
        verifier.add(name, False, f"answered {reply.status} {kind or 'no content type'}: {logs}")
    else:
        verifier.add(name, False, f"no Content-Security-Policy header: {logs}")


# -- configuration ------------------------------------------------------------------------


def check_rules(verifier: Verifier, google: google_apis.Google, rules_file: Path) -> None:
    name = "security rules: live release = firestore.rules"
    verifier.plan.note("the live release, then its ruleset, compared with firestore.rules")
    try:
        rules = "" if verifier.dry_run else rules_file.read_text(encoding="utf-8")
        same, detail = google_apis.live_rules_match(google, rules)
    except (OSError, google_apis.Failure) as exc:
        same, detail = False, str(exc)
    if not verifier.dry_run:
        verifier.add(name, same, detail if same else f"{detail}: run ./deploy.sh to publish")


def check_ttl(verifier: Verifier) -> None:
    status, out = verifier.gcloud(
        "firestore", "fields", "ttls", "list", "--format=value(name,ttlConfig.state)"
    )
    if verifier.dry_run:
        return
    states: dict[str, str] = {}
    for line in out.splitlines():
        name, _, state = line.partition("\t")
        parts = name.split("/")
        if "collectionGroups" in parts and name.endswith("/fields/expire_at"):
            states[parts[parts.index("collectionGroups") + 1]] = state.strip()
    off = [g for g in store.TTL_GROUPS if states.get(g) != "ACTIVE"]
    name = f"TTL policies: ACTIVE on {len(store.TTL_GROUPS)} groups"
    if status != 0:
        verifier.add(name, False, "gcloud firestore fields ttls list failed")
    elif off:
        shown = ", ".join(f"{g} ({states.get(g, 'none').lower()})" for g in off)
        verifier.add(
            name, False, f"not active: {shown}; 'creating' takes a while, 'none': run ./deploy.sh"
        )
    else:
        verifier.add(name, True, "all active")


def check_indexes(verifier: Verifier, index_file: Path) -> None:
    """Every composite index of firestore.indexes.json built: until then, the queries that
    need one fail (the console's chat list answers 503, saying the indexes are building)."""
    status, out = verifier.gcloud(
        "firestore", "indexes", "composite", "list", "--format=value(name,state)"
    )
    if verifier.dry_run:
        return
    try:
        # No file, no index declared: deploy.sh then creates none.
        text = index_file.read_text(encoding="utf-8") if index_file.exists() else "{}"
        declared = len(json.loads(text).get("indexes", []))
    except (OSError, ValueError) as exc:
        verifier.add("composite indexes: READY", False, f"{index_file.name}: {exc}")
        return
    states = [line.partition("\t")[2].strip() for line in out.splitlines() if line.strip()]
    name = f"composite indexes: {declared} READY"
    ready = states.count("READY")
    if status != 0:
        verifier.add(name, False, "gcloud firestore indexes composite list failed")
    elif ready < declared or ready < len(states):
        problems = [f"{states.count(s)} {s.lower()}" for s in sorted(set(states)) if s != "READY"]
        if declared > len(states):
            problems.append(f"{declared - len(states)} not created")
        verifier.add(
            name,
            False,
            f"{ready} ready of {declared} declared ({', '.join(problems)}); 'creating' takes "
            "some minutes after a deployment, 'not created': run ./deploy.sh",
        )
    else:
        verifier.add(name, True, f"all {ready} ready")


def check_jobs(verifier: Verifier, jobs: Sequence[str], account: str, sweep_url: str) -> None:
    for job in jobs:
        status, out = verifier.gcloud(
            "scheduler",
            "jobs",
            "describe",
            job,
            f"--location={verifier.region}",
            "--format=value(httpTarget.oidcToken.serviceAccountEmail,"
            "httpTarget.oidcToken.audience,httpTarget.uri)",
        )
        if verifier.dry_run:
            continue
        name = f"scheduler job {job}: OIDC token"
        email, audience, uri = ([*out.split("\t"), "", "", ""])[:3]
        problems = []
        if status != 0:
            problems.append("missing")
        else:
            if email != account:
                problems.append(f"token for {email or 'nobody'}, not {account}")
            if not sweep_url:
                problems.append("the sweep is not deployed")
            elif audience != sweep_url:
                problems.append(f"audience {audience or 'none'}, not the sweep's URL")
            elif uri != sweep_url:
                problems.append(f"calls {uri or 'nothing'}, not the sweep's URL")
        if problems:
            verifier.add(name, False, "; ".join(problems) + ": run ./deploy.sh")
        else:
            verifier.add(name, True, f"{account}, audience the sweep's URL")


def trigger_problems(
    found: dict[str, Any], trigger: manifest.Trigger, service: str, region: str, account: str
) -> tuple[list[str], list[str]]:
    """What differs from what deploy.sh sets up, and the conditions Eventarc reports failing."""
    problems: list[str] = []
    filters = {
        f.get("attribute", ""): (f.get("value", ""), f.get("operator", ""))
        for f in found.get("eventFilters") or []
        if isinstance(f, dict)
    }
    wanted = {
        "type": (trigger.event, ""),
        "database": (manifest.DATABASE, ""),
        "document": (trigger.document, "match-path-pattern"),
    }

    def shown(value: str, operator: str) -> str:
        return f"{value}{' (path pattern)' if operator else ''}" if value else "none"

    for attribute in sorted(set(filters) | set(wanted)):
        got, want = filters.get(attribute, ("", "")), wanted.get(attribute, ("", ""))
        if got != want:
            problems.append(f"{attribute} filter {shown(*got)}, not {shown(*want)}")
    run = (found.get("destination") or {}).get("cloudRun") or {}
    if not service:
        problems.append(f"{trigger.function} is not deployed")
    elif run.get("service") != service or run.get("region") != region:
        target = run.get("service") or "no Cloud Run service"
        problems.append(f"delivers to {target}, not {service}")
    if found.get("serviceAccount") != account:
        problems.append(f"delivers as {found.get('serviceAccount') or 'no account'}, not {account}")
    content = found.get("eventDataContentType") or "application/json"
    if content != manifest.EVENT_DATA_CONTENT_TYPE:
        problems.append(f"sends {content}, not {manifest.EVENT_DATA_CONTENT_TYPE}")
    failing = [
        f"{key}: {condition.get('code')} {condition.get('message', '')}".strip()
        for key, condition in sorted((found.get("conditions") or {}).items())
        if isinstance(condition, dict) and condition.get("code", "OK") != "OK"
    ]
    return problems, failing


def check_triggers(verifier: Verifier, service: str, account: str) -> None:
    for trigger in manifest.TRIGGERS:
        describe = ("eventarc", "triggers", "describe", trigger.name)
        where = f"--location={verifier.region}"
        status, out = verifier.gcloud(*describe, where, "--format=json")
        if verifier.dry_run:
            continue
        name = f"eventarc trigger {trigger.name}: active"
        try:
            found = json.loads(out) if status == 0 and out else None
        except ValueError:
            found = None
        if not isinstance(found, dict):
            verifier.add(name, False, "missing: run ./deploy.sh")
            continue
        problems, failing = trigger_problems(found, trigger, service, verifier.region, account)
        if problems:
            verifier.add(name, False, "; ".join(problems) + ": run ./deploy.sh")
        elif failing:
            look = f"gcloud {' '.join(describe)} {where} --project={verifier.project}"
            verifier.add(name, False, f"Eventarc reports {'; '.join(failing)}: {look}")
        else:
            kind = trigger.event.rsplit(".", 1)[-1]
            verifier.add(name, True, f"{kind} on {trigger.document} -> {service}")


def check_private(verifier: Verifier, function: str, invoker: str) -> None:
    """A call without a token: Cloud Run refuses it with 403 before the function runs
    (were it let through, the forwarder finds no CloudEvent in an empty body and the
    sweep no token: neither does anything). `invoker`: who alone may invoke it."""
    name = f"{function}: refuses a call without a token"
    url = verifier.describe(function, "serviceConfig.uri")
    if not url:
        verifier.add(name, False, f"not deployed: ./deploy.sh --project {verifier.project}")
        return
    headers = {"Content-Type": "application/json"}
    verifier.plan.show("POST", url, *(f"{k}: {v}" for k, v in headers.items()), "{}")
    if verifier.dry_run:
        return
    reply = send("POST", url, headers, b"{}")
    if reply.status == 403:
        verifier.add(name, True, f"403 from Cloud Run: only {invoker} may invoke it")
    elif reply.status == 0:
        verifier.add(name, False, f"no answer from {url}: {reply.text}")
    else:
        # The function itself answered: Cloud Run let the call through unchecked.
        verifier.add(
            name,
            False,
            f"answered {reply.status}, not 403: it must be deployed with"
            f" --no-allow-unauthenticated: run ./deploy.sh --only {function}",
        )


def check_log_bucket(verifier: Verifier) -> None:
    destination = "--format=value(destination)"
    status, out = verifier.gcloud("logging", "sinks", "describe", SINK, destination)
    if verifier.dry_run:
        return
    name = f"logs stored in {verifier.region}"
    wanted = monitoring.log_bucket_destination(verifier.project, verifier.region)
    found = out if status == 0 else ""
    if found == wanted:
        verifier.add(name, True, f"the {SINK} sink stores into {monitoring.LOG_BUCKET}")
    else:
        where = found or "a place gcloud did not say"
        verifier.add(name, False, f"the {SINK} sink stores into {where}: run ./deploy.sh")


def check_exclusion(verifier: Verifier, services: Sequence[str]) -> None:
    status, out = verifier.gcloud("logging", "sinks", "describe", SINK, "--format=json(exclusions)")
    if verifier.dry_run:
        return
    name = "request logs of the public functions excluded"
    try:
        found = json.loads(out).get("exclusions", []) if status == 0 else []
    except (ValueError, AttributeError):
        found = []
    mine = next((e for e in found if e.get("name") == monitoring.EXCLUSION), None)
    fix = "run ./deploy.sh"
    if mine is None:
        verifier.add(name, False, f"no exclusion {monitoring.EXCLUSION} on the {SINK} sink: {fix}")
    elif mine.get("disabled"):
        verifier.add(name, False, f"the exclusion {monitoring.EXCLUSION} is disabled: {fix}")
    elif not services or mine.get("filter") != monitoring.request_log_filter(services):
        verifier.add(name, False, f"its filter does not name {', '.join(services)}: {fix}")
    else:
        verifier.add(name, True, f"{monitoring.EXCLUSION} on {SINK}: {', '.join(services)}")


# -- the sweep, end to end ----------------------------------------------------------------


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_sweep_run(verifier: Verifier, job: str, service: str, wait: float, poll: float) -> None:
    name = "sweep: run by Cloud Scheduler, ok logged"
    since = datetime.now(UTC) - CLOCK_SLACK
    status, _ = verifier.gcloud("scheduler", "jobs", "run", job, f"--location={verifier.region}")
    if not verifier.dry_run and status != 0:
        verifier.add(name, False, f"the job could not be run: gcloud scheduler jobs describe {job}")
        return
    if not verifier.dry_run and not service:
        verifier.add(
            name, False, f"the sweep is not deployed: ./deploy.sh --project {verifier.project}"
        )
        return
    matches = monitoring.sweep_finished("deliveries")
    line = " AND ".join(
        (
            monitoring.RESOURCE,
            f'resource.labels.service_name="{service or "<sweep-service>"}"',
            *(m.lql() for m in matches),
            f'timestamp>="{"<run-time>" if verifier.dry_run else rfc3339(since)}"',
        )
    )
    verifier.plan.note(f"asked every {poll:g} s, for up to {wait:g} s:")
    deadline = time.monotonic() + wait
    started = time.monotonic()
    while True:
        status, out = verifier.gcloud(
            "logging", "read", line, "--limit=1", "--format=value(timestamp)"
        )
        if verifier.dry_run:
            return
        if status == 0 and out:
            took = time.monotonic() - started
            verifier.add(name, True, f"logged at {out.splitlines()[0]} ({took:.0f} s)")
            return
        if time.monotonic() + poll > deadline:
            break
        time.sleep(poll)
    refused = f'resource.labels.service_name="{service}" AND severity>=WARNING'
    verifier.add(
        name,
        False,
        f"no success line within {wait:g} s; the sweep's warnings say why ('caller refused':"
        f" the token's audience or account; 'crm_unavailable': the CRM): gcloud logging read"
        f" '{refused}' --freshness=1h --project={verifier.project}",
    )


# -- the table -----------------------------------------------------------------------------


def table(checks: Sequence[Check]) -> list[str]:
    width = max([len("check"), *(len(c.name) for c in checks)])
    lines = [f"{'check':<{width}}  result  details / what to look at"]
    lines.append(f"{'-' * width}  ------  {'-' * 26}")
    for check in checks:
        result = "pass" if check.passed else "FAIL"
        lines.append(f"{check.name:<{width}}  {result:<6}  {check.detail}")
    return lines


def verify(args: argparse.Namespace, token: str | None, plan: Plan) -> list[Check]:
    verifier = Verifier(args.project, args.region, plan)
    origin = config.origins("ALLOWED_ORIGINS", args.allowed_origins)[0]
    plan.say("")
    plan.say(f"## The public functions, as a browser at {origin} meets them")
    for function in manifest.PUBLIC:
        check_function(verifier, function, origin)

    plan.say("")
    plan.say("## The team console, as a signed-out browser meets it")
    check_console(verifier, args.console_client_id)

    plan.say("")
    plan.say("## What deploy.sh set up")
    google = google_apis.Google(args.project, token, plan, os.environ.get(google_apis.STANDIN, ""))
    check_rules(verifier, google, args.rules)
    check_ttl(verifier)
    check_indexes(verifier, args.indexes)
    sweep_url = verifier.describe(config.SWEEP, "serviceConfig.uri")
    check_jobs(verifier, args.jobs.split(","), args.scheduler_account, sweep_url)
    services = []
    for function in manifest.PUBLIC:
        service = verifier.describe(function, "serviceConfig.service")
        if service:
            services.append(service.rsplit("/", 1)[-1])
    check_log_bucket(verifier)
    check_exclusion(verifier, services)

    plan.say("")
    plan.say("## The forwarder: its Eventarc triggers, and a caller without a token")
    forwarder = verifier.describe(config.FORWARDER, "serviceConfig.service").rsplit("/", 1)[-1]
    check_triggers(verifier, forwarder, args.trigger_account)
    check_private(verifier, config.FORWARDER, "the triggers' account")

    plan.say("")
    plan.say("## The sweep: a caller without a token, then Cloud Scheduler's OIDC token")
    # Before the run: the sweep trusts the signature Cloud Run checked (SWEEP_AUTH=iam).
    check_private(verifier, config.SWEEP, "the scheduler's account")
    sweep = verifier.describe(config.SWEEP, "serviceConfig.service").rsplit("/", 1)[-1]
    check_sweep_run(verifier, args.run_job, sweep, args.wait, args.poll)
    return verifier.checks


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m deployment.verify", description=__doc__)
    parser.add_argument("--project", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--allowed-origins", required=True)
    parser.add_argument("--scheduler-account", required=True)
    parser.add_argument("--trigger-account", required=True, help="the triggers' account")
    parser.add_argument("--jobs", required=True, help="the sweep's jobs, comma-separated")
    parser.add_argument("--run-job", required=True, help="the job run once")
    parser.add_argument("--rules", type=Path, required=True)
    parser.add_argument("--indexes", type=Path, required=True, help="firestore.indexes.json")
    parser.add_argument("--console-client-id", default="", help="TEAM_OAUTH_CLIENT_ID, if set")
    parser.add_argument("--wait", type=float, default=180.0)
    parser.add_argument("--poll", type=float, default=5.0)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    plan = Plan(args.dry_run)
    try:
        token = None if args.dry_run else google_apis.read_token()
        checks = verify(args, token, plan)
    except (google_apis.Failure, config.ConfigError) as exc:
        print(f"deploy.sh: {exc}", file=sys.stderr)
        return 1
    if args.dry_run:
        plan.say("")
        plan.say("Dry run: nothing was run.")
        return 0
    failed = [c for c in checks if not c.passed]
    plan.say("")
    for line in table(checks):
        plan.say(line)
    plan.say("")
    if failed:
        plan.say(f"{len(failed)} of {len(checks)} checks failed.")
        return 1
    plan.say(f"All {len(checks)} checks passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
