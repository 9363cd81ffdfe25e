"""deploy.sh: the plan its dry run prints, and what a real run asks of gcloud.

Dry runs put recording `gcloud` and `curl` stand-ins first on PATH and point
deployment/google_apis.py at a recording stand-in of the REST APIs
(GOOGLE_APIS_STANDIN), so a dry run that calls any of them fails the test. Real runs use
the same stand-ins, which then keep a small model of the project (a JSON file) and
answer as gcloud, the Firebase Rules API and the Firestore Admin API do, so that a first
run and a second run can be compared. Run as a script, this file is the gcloud stand-in.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "deploy.sh"
PROJECT = "demo-factoryops"
APIS = (
    "cloudfunctions",
    "run",
    "cloudbuild",
    "artifactregistry",
    "firestore",
    "secretmanager",
    "cloudscheduler",
    "iam",
    "logging",
    "firebaserules",
    "monitoring",
    "eventarc",
    "eventarcpublishing",
    "pubsub",
)
EMAILJS_KEY = "ejs-private-0f9e8d7c6b5a"
CRM_URL = "https://script.google.com/macros/s/crm-web-app-7a6b/exec"
INDEX_FILE = {
    "indexes": [
        {
            "collectionGroup": "messages",
            "queryScope": "COLLECTION_GROUP",
            "fields": [
                {"fieldPath": "expire_at", "order": "ASCENDING"},
                {"fieldPath": "author", "order": "DESCENDING"},
            ],
        },
        {
            "collectionGroup": "access_grants",
            "queryScope": "COLLECTION",
            "fields": [
                {"fieldPath": "sections", "arrayConfig": "CONTAINS"},
                {"fieldPath": "created_at", "order": "ASCENDING"},
            ],
        },
    ],
    "fieldOverrides": [
        {
            "collectionGroup": "messages",
            "fieldPath": "created_at",
            "indexes": [
                {"order": "ASCENDING", "queryScope": "COLLECTION"},
                {"order": "ASCENDING", "queryScope": "COLLECTION_GROUP"},
            ],
        }
    ],
}
SETTINGS = {
    "ALLOWED_ORIGINS": "https://factoryopsai.com,https://www.factoryopsai.com",
    "SITE_URL": "https://factoryopsai.com",
    "EMAILJS_SERVICE_ID": "service_test",
    "EMAILJS_PUBLIC_KEY": "public_test",
    "EMAILJS_CONTACT_TEMPLATE_ID": "template_contact",
    "EMAILJS_CHAT_TEMPLATE_ID": "template_chat",
    "ALERT_EMAIL": "ops@factoryopsai.com",
    "TEAM_OAUTH_CLIENT_ID": "1234-console.apps.googleusercontent.com",
    "TEAM_EMAILS": "asha@factoryopsai.com,ravi@factoryopsai.com",
}
CONSOLE_PAGE = "<!doctype html><title>Team console</title>\n"


def positional(args: list[str]) -> list[str]:
    return [a for a in args if not a.startswith("-")]


def flag(args: list[str], name: str) -> str | None:
    for a in args:
        if a == f"--{name}":
            return ""
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    return None


def flags(args: list[str], name: str) -> list[str]:
    return [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]


# -- the stand-ins ------------------------------------------------------------------------


# Where a project's _Default sink stores until told otherwise.
GLOBAL_DEFAULT_BUCKET = (
    f"logging.googleapis.com/projects/{PROJECT}/locations/global/buckets/_Default"
)


def _load(path: Path) -> dict[str, Any]:
    state: dict[str, Any] = {
        "accounts_logged_in": ["deployer@factoryopsai.com"],
        "project_exists": True,
        "database": None,
        "ttl": [],
        "accounts": [],
        "secrets": {},
        "functions": {},
        "deploy_log": [],
        "invokers": {},
        "jobs": {},
        "rulesets": {},
        "rules_release": None,
        "rules_auth": [],
        "composite_indexes": [],
        "field_indexes": {},
        "token": "ya29.standin-token-5b1f",
        "project_bindings": [],
        "secret_bindings": [],
        "database_not_ready": 1,
        "database_created": False,
        "exclusions": [],
        "log_buckets": {},
        "default_sink": GLOBAL_DEFAULT_BUCKET,
        "service_names": {},
        "log_metrics": {},
        "channels": {},
        "policies": {},
        "log_entries": [],
        "function_root": "",
        "function_faults": {},
        "sweep_outcome": "ok",
        "triggers": {},
        "trigger_conditions": {},
        "account_bindings": [],
        "service_identities": [],
        # The effective iam.allowedPolicyMemberDomains (Organization Policy API v2): no
        # rule, as for a project outside an organisation; a string, gcloud's error.
        "member_domains": {"name": "projects/123456789012/policies/iam.allowedPolicyMemberDomains"},
        # What `gcloud builds get-default-service-account` names; a string starting with
        # ERROR, gcloud's error.
        "build_default_account": "123456789012-compute@developer.gserviceaccount.com",
        # stderr of `gcloud functions deploy` calls to refuse, in order, before any succeeds.
        "deploy_faults": [],
    }
    if path.exists():
        state.update(json.loads(path.read_text()))
    return state


def _gcloud(argv: list[str], state: dict[str, Any], stdin: str) -> tuple[int, str, str]:
    pos = positional(argv)
    head = tuple(pos[:4])

    def missing(what: str) -> tuple[int, str, str]:
        return 1, "", f"ERROR: (gcloud) NOT_FOUND: {what}\n"

    if head[:2] == ("auth", "list"):
        return 0, "".join(a + "\n" for a in state["accounts_logged_in"]), ""
    if head[:2] == ("auth", "print-access-token"):
        return 0, state["token"] + "\n", ""
    if head[:2] == ("projects", "describe"):
        return (0, "123456789012\n", "") if state["project_exists"] else missing("project")
    if head[:2] == ("projects", "add-iam-policy-binding"):
        state["project_bindings"].append([flag(argv, "member"), flag(argv, "role")])
        return 0, "bindings: [...]\n", ""
    if head[:2] == ("projects", "get-iam-policy"):
        assert flag(argv, "format") == "json"
        roles: dict[str, list[str]] = {}
        for member, role in state["project_bindings"]:
            roles.setdefault(role, []).append(member)
        bindings = [{"role": role, "members": members} for role, members in roles.items()]
        return 0, json.dumps({"bindings": bindings, "etag": "BwX", "version": 1}) + "\n", ""
    if head[:2] == ("org-policies", "describe"):
        assert pos[2] == "iam.allowedPolicyMemberDomains" and "--effective" in argv
        policy = state["member_domains"]
        if isinstance(policy, str):
            return 1, "", policy + "\n"
        return 0, json.dumps(policy) + "\n", ""
    if head[:2] == ("builds", "get-default-service-account"):
        account = state["build_default_account"]
        if account.startswith("ERROR"):
            return 1, "", account + "\n"
        assert flag(argv, "format") == "value(serviceAccountEmail)"
        email = f"projects/{PROJECT}/serviceAccounts/{account}" if account else ""
        return 0, email + "\n", ""
    if head[:2] == ("services", "enable"):
        return 0, "", ""
    if head[:3] == ("firestore", "databases", "describe"):
        # A new database is not there yet when its create call returns.
        if state["database"] and state["database_not_ready"] and state["database_created"]:
            state["database_not_ready"] -= 1
            return missing("database")
        return (0, state["database"] + "\n", "") if state["database"] else missing("database")
    if head[:3] == ("firestore", "databases", "create"):
        state["database"] = flag(argv, "location")
        state["database_created"] = True
        return 0, "", ""
    if head[:4] == ("firestore", "fields", "ttls", "list"):
        rows = [
            f"projects/{PROJECT}/databases/(default)/collectionGroups/{g}/fields/expire_at\tACTIVE"
            for g in state["ttl"]
        ]
        return 0, "".join(r + "\n" for r in rows), ""
    if head[:4] == ("firestore", "fields", "ttls", "update"):
        state["ttl"].append(flag(argv, "collection-group"))
        return 0, "", ""
    if head[:4] == ("firestore", "indexes", "composite", "list"):
        # Built at once here; a test sets `index_state` to one still building.
        built = state.get("index_state", "READY")
        rows = [
            f"projects/{PROJECT}/databases/(default)/collectionGroups/{i[0]}/indexes/i{n}\t{built}"
            for n, i in enumerate(state["composite_indexes"])
        ]
        return 0, "".join(r + "\n" for r in rows), ""
    if head[:4] == ("firestore", "indexes", "composite", "create"):
        index = [
            flag(argv, "collection-group"),
            flag(argv, "query-scope"),
            *flags(argv, "field-config"),
        ]
        if index in state["composite_indexes"]:
            return 1, "", "ERROR: (gcloud.firestore.indexes.composite.create) ALREADY_EXISTS\n"
        state["composite_indexes"].append(index)
        return 0, "", ""
    if head[:2] == ("secrets", "describe"):
        return (0, "", "") if pos[2] in state["secrets"] else missing("secret")
    if head[:2] == ("secrets", "create"):
        assert flag(argv, "replication-policy") == "user-managed"
        state["secrets"][pos[2]] = []
        return 0, "", ""
    if head[:3] == ("secrets", "versions", "list"):
        versions = state["secrets"].get(pos[3])
        return (0, f"{len(versions)}\n", "") if versions else (0, "", "")
    if head[:3] == ("secrets", "versions", "add"):
        data_file = flag(argv, "data-file") or ""
        value = stdin if data_file == "-" else Path(data_file).read_text()
        state["secrets"][pos[3]].append(value)
        return 0, f"{len(state['secrets'][pos[3]])}\n", ""
    if head[:2] == ("secrets", "add-iam-policy-binding"):
        state["secret_bindings"].append([pos[2], flag(argv, "member"), flag(argv, "role")])
        return 0, "", ""
    if head[:3] == ("iam", "service-accounts", "describe"):
        account = pos[3].split("@")[0]
        return (0, "", "") if account in state["accounts"] else missing("account")
    if head[:3] == ("iam", "service-accounts", "create"):
        state["accounts"].append(pos[3])
        return 0, "", ""
    if head[:3] == ("iam", "service-accounts", "add-iam-policy-binding"):
        if pos[3].split("@")[0] not in state["accounts"]:
            return missing("account")
        state["account_bindings"].append([pos[3], flag(argv, "member"), flag(argv, "role")])
        return 0, "", ""
    if head[:3] == ("beta", "services", "identity"):
        service = flag(argv, "service") or ""
        if service not in state["service_identities"]:
            state["service_identities"].append(service)
        agent = f"service-123456789012@gcp-sa-{service.split('.')[0]}.iam.gserviceaccount.com"
        return 0, "", f"Service identity created: {agent}\n"
    if head[:2] == ("eventarc", "triggers"):
        return _eventarc(pos[2], pos[3], argv, state)
    if head[:2] == ("functions", "describe"):
        fn = state["functions"].get(pos[2])
        if not fn:
            return missing("function")
        if "serviceConfig.service" in (flag(argv, "format") or ""):
            region = flag(argv, "region")
            return 0, f"projects/{PROJECT}/locations/{region}/services/{fn['service']}\n", ""
        return 0, fn["url"] + "\n", ""
    if head[:2] == ("functions", "deploy"):
        name = pos[2]
        state["deploy_attempts"] = state.get("deploy_attempts", 0) + 1
        if state["deploy_faults"]:
            return 1, "", state["deploy_faults"].pop(0) + "\n"
        env: dict[str, str] = {}
        for line in Path(flag(argv, "env-vars-file") or "").read_text().splitlines():
            key, _, value = line.partition(": ")
            env[key] = json.loads(value)
        source = Path(flag(argv, "source") or "")
        state["deploy_log"].append(
            {
                "name": name,
                "env": env,
                "secrets": flag(argv, "set-secrets") or "",
                "files": sorted(entry.name for entry in source.iterdir()),
            }
        )
        url = f"https://{name.replace('_', '-')}-abc123-el.a.run.app"
        if state["function_root"]:
            url = f"{state['function_root']}/{name}"
        service = state["service_names"].get(name, name.replace("_", "-"))
        state["functions"][name] = {"url": url, "service": service}
        return 0, "", ""
    if head[:2] == ("functions", "add-invoker-policy-binding"):
        members = state["invokers"].setdefault(pos[2], [])
        if flag(argv, "member") not in members:
            members.append(flag(argv, "member"))
        return 0, "", ""
    if head[:3] == ("scheduler", "jobs", "describe"):
        job = state["jobs"].get(pos[3])
        if job is None:
            return missing("job")
        if "oidcToken" in (flag(argv, "format") or ""):
            fields = ("oidc-service-account-email", "oidc-token-audience", "uri")
            return 0, "\t".join(flag(job, f) or "" for f in fields) + "\n", ""
        return 0, "", ""
    if head[:3] == ("scheduler", "jobs", "run"):
        job = state["jobs"].get(pos[3])
        if job is None:
            return missing("job")
        _sweep_run(state, job)
        return 0, "", ""
    if head[:3] == ("logging", "buckets", "describe"):
        bucket = f"{flag(argv, 'location')}/{pos[3]}"
        return (0, "", "") if bucket in state["log_buckets"] else missing("bucket")
    if head[:3] == ("logging", "buckets", "create"):
        bucket = f"{flag(argv, 'location')}/{pos[3]}"
        if bucket in state["log_buckets"]:
            return 1, "", f"ERROR: (gcloud.logging.buckets.create) ALREADY_EXISTS: {bucket}\n"
        state["log_buckets"][bucket] = {"retention_days": int(flag(argv, "retention-days") or 30)}
        return 0, "", ""
    if head[:3] == ("logging", "sinks", "describe"):
        exclusions = state["exclusions"]
        if (flag(argv, "format") or "").startswith("json"):
            return 0, json.dumps({"exclusions": exclusions}) + "\n", ""
        if flag(argv, "format") == "value(destination)":
            return 0, state["default_sink"] + "\n", ""
        return 0, ";".join(e["name"] for e in exclusions) + "\n", ""
    if head[:3] == ("logging", "sinks", "update"):
        return _sink_update(argv, state)
    if head[:2] == ("logging", "metrics"):
        metrics = state["log_metrics"]
        name = pos[3]
        if pos[2] == "describe":
            return (0, "", "") if name in metrics else missing("metric")
        if (pos[2] == "create") == (name in metrics):
            return 1, "", f"ERROR: (gcloud.logging.metrics.{pos[2]}) {name}\n"
        metrics[name] = {
            "description": flag(argv, "description"),
            "filter": flag(argv, "log-filter"),
        }
        return 0, "", ""
    if head[:2] == ("logging", "read"):
        return 0, _read_logs(pos[2], argv, state), ""
    if head[:3] in (("beta", "monitoring", "channels"), ("alpha", "monitoring", "policies")):
        return _monitoring(head[2], pos[3], argv, state)
    if head[:3] == ("scheduler", "jobs", "create") or head[:3] == ("scheduler", "jobs", "update"):
        state["jobs"][pos[4]] = argv
        return 0, "", ""
    return 2, "", f"gcloud stand-in: unexpected command {argv}\n"


def _eventarc(verb: str, name: str, argv: list[str], state: dict[str, Any]) -> tuple[int, str, str]:
    """Eventarc's triggers as the API keeps them: created once, updated in place (never
    their event type), delivering to a Cloud Run service that exists."""
    triggers = state["triggers"]
    found = triggers.get(name)
    if verb == "describe":
        if found is None or flag(argv, "location") != found["location"]:
            return 1, "", f"ERROR: (gcloud.eventarc.triggers.describe) NOT_FOUND: {name}\n"
        shown = {**found["trigger"], "conditions": state["trigger_conditions"].get(name, {})}
        return 0, (json.dumps(shown) if flag(argv, "format") == "json" else name) + "\n", ""
    if (verb == "create") == (found is not None):
        return 1, "", f"ERROR: (gcloud.eventarc.triggers.{verb}) {name}\n"
    services = {fn["service"] for fn in state["functions"].values()}
    service = flag(argv, "destination-run-service")
    if service not in services:
        return 1, "", f"ERROR: Cloud Run service {service} not found\n"
    filters = [
        {"attribute": f.split("=", 1)[0], "value": f.split("=", 1)[1]}
        for f in flags(argv, "event-filters")
    ]
    filters += [
        {
            "attribute": f.split("=", 1)[0],
            "value": f.split("=", 1)[1],
            "operator": "match-path-pattern",
        }
        for f in flags(argv, "event-filters-path-pattern")
    ]
    kind = next((f["value"] for f in filters if f["attribute"] == "type"), None)
    if found is not None and kind != found["type"]:
        return 1, "", "ERROR: INVALID_ARGUMENT: the event type of a trigger cannot be changed\n"
    location = flag(argv, "location")
    trigger = {
        "name": f"projects/{PROJECT}/locations/{location}/triggers/{name}",
        "eventFilters": filters,
        "destination": {
            "cloudRun": {"service": service, "region": flag(argv, "destination-run-region")}
        },
        "serviceAccount": flag(argv, "service-account"),
        "eventDataContentType": flag(argv, "event-data-content-type"),
        "transport": {"pubsub": {"topic": f"projects/{PROJECT}/topics/eventarc-{name}"}},
        "updateTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    triggers[name] = {"location": location, "type": kind, "trigger": trigger, "argv": argv}
    return 0, "", ""


def _sweep_run(state: dict[str, Any], job: list[str]) -> None:
    """The sweep as Cloud Scheduler reaches it: it checks the token's account and
    audience, then logs its finishing line."""
    sweep = state["functions"].get("retention_sweep")
    refused = (
        sweep is None
        or flag(job, "oidc-token-audience") != sweep["url"]
        or flag(job, "oidc-service-account-email")
        != f"sweep-scheduler@{PROJECT}.iam.gserviceaccount.com"
    )
    if sweep is None:
        return
    body = json.loads(flag(job, "message-body") or "{}")
    payload: dict[str, Any] = {"message": "caller refused", "reason": "invalid"}
    if not refused:
        payload = {
            "message": "sweep finished",
            "dry_run": False,
            "tasks": body.get("tasks", []),
            "outcome": state["sweep_outcome"],
        }
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    state["log_entries"].append({"timestamp": now, "service": sweep["service"], "payload": payload})


def _read_logs(query: str, argv: list[str], state: dict[str, Any]) -> str:
    """`gcloud logging read` for the filters deploy.sh writes: a service, jsonPayload
    comparisons (`=`, and `:` on an array), and a lower bound on the timestamp."""
    service = re.search(r'resource\.labels\.service_name="([^"]*)"', query)
    since = re.search(r'timestamp>="([^"]*)"', query)
    wanted = re.findall(r'jsonPayload\.(\w+)([=:])("[^"]*"|true|false)', query)
    found = []
    for entry in state["log_entries"]:
        payload = entry["payload"]
        if service and entry["service"] != service[1]:
            continue
        if since and entry["timestamp"] < since[1]:
            continue
        ok = True
        for key, op, raw in wanted:
            value = json.loads(raw)
            got = payload.get(key)
            ok = ok and ((value in got) if op == ":" and isinstance(got, list) else got == value)
        if ok:
            found.append(entry["timestamp"])
    found.sort(reverse=True)
    limit = int(flag(argv, "limit") or len(found))
    return "".join(t + "\n" for t in found[:limit])


def _sink_update(argv: list[str], state: dict[str, Any]) -> tuple[int, str, str]:
    """A new destination, which must exist already; exclusions in gcloud's ArgDict:
    KEY=VALUE items split on commas, each at its first `=`."""
    destination = positional(argv)[4:]
    if destination:
        bucket = re.fullmatch(
            rf"logging\.googleapis\.com/projects/{PROJECT}/locations/([a-z0-9-]+)/buckets/(.+)",
            destination[0],
        )
        if not bucket or "/".join(bucket.groups()) not in state["log_buckets"]:
            return 1, "", f"ERROR: the destination {destination[0]} does not exist\n"
        state["default_sink"] = destination[0]
    exclusions = state["exclusions"]
    for kind in ("add-exclusion", "update-exclusion"):
        for spec in flags(argv, kind):
            item = dict(part.split("=", 1) for part in spec.split(","))
            existing = next((e for e in exclusions if e["name"] == item["name"]), None)
            if kind == "add-exclusion":
                if existing is not None:
                    return 1, "", f"ERROR: exclusion {item['name']} already exists\n"
                exclusions.append({**item, "disabled": False})
            elif existing is None:
                return 1, "", f"ERROR: Exclusions {item['name']} do not exist\n"
            else:
                existing.update(item)
    return 0, "", ""


def _monitoring(
    kind: str, verb: str, argv: list[str], state: dict[str, Any]
) -> tuple[int, str, str]:
    """Notification channels and alerting policies, found by display name."""
    items = state[kind]
    if verb == "list":
        shown = re.fullmatch(r'displayName="(.*)"', flag(argv, "filter") or "")
        names = [n for n, item in items.items() if shown and item["displayName"] == shown[1]]
        return 0, "".join(n + "\n" for n in names), ""
    if kind == "channels":
        if verb == "create":
            name = f"projects/{PROJECT}/notificationChannels/{len(items) + 1}"
            items[name] = {
                "displayName": flag(argv, "display-name"),
                "type": flag(argv, "type"),
                "labels": flag(argv, "channel-labels"),
            }
            return 0, name + "\n", ""
        name = positional(argv)[4]
        items[name]["labels"] = flag(argv, "update-channel-labels")
        return 0, "", ""
    policy = json.loads(Path(flag(argv, "policy-from-file") or "").read_text())
    refusal = _policy_refusal(policy)
    if refusal:
        command = f"gcloud.alpha.monitoring.policies.{verb}"
        return 1, "", f"ERROR: ({command}) INVALID_ARGUMENT: {refusal}\n"
    if verb == "create":
        name = f"projects/{PROJECT}/alertPolicies/{len(items) + 1}"
    else:
        name = positional(argv)[4]
        if name not in items:
            return 1, "", f"ERROR: NOT_FOUND: {name}\n"
    items[name] = policy
    return 0, "", ""


ABSENCE_MOST_SECONDS = 84600
"""Cloud Monitoring's longest metric-absence duration: 23.5 hours (its least: 120 s)."""
ALIGNMENT_MOST_SECONDS = 90000
"""The longest alignment period an alerting policy may use: 25 hours (its least: 60 s)."""


def _policy_refusal(policy: dict[str, Any]) -> str:
    """Why the Monitoring API refuses an alerting policy's durations, "" when it takes
    them: an absence of 120 s to 23.5 hours in whole minutes, a threshold's duration in
    whole minutes, alignment periods of 60 s to 25 hours (Google's documented limits)."""

    def seconds(text: Any) -> int | None:
        match = re.fullmatch(r"(\d+)s", text) if isinstance(text, str) else None
        return int(match[1]) if match else None

    problems = []
    for n, condition in enumerate(policy.get("conditions", [])):
        where = f"conditions[{n}]"
        absent, threshold = condition.get("conditionAbsent"), condition.get("conditionThreshold")
        kind = absent or threshold or {}
        duration = seconds(kind.get("duration", "0s"))
        if absent is not None and not (
            duration is not None and 120 <= duration <= ABSENCE_MOST_SECONDS and duration % 60 == 0
        ):
            problems.append(
                f"{where}.conditionAbsent.duration {kind.get('duration')}: an absence is 2 minutes"
                " to 23.5 hours, in whole minutes"
            )
        if threshold is not None and (duration is None or duration % 60):
            problems.append(f"{where}.conditionThreshold.duration: whole minutes only")
        for aggregation in kind.get("aggregations", []):
            period = seconds(aggregation.get("alignmentPeriod"))
            if period is None or not 60 <= period <= ALIGNMENT_MOST_SECONDS:
                problems.append(
                    f"{where} alignmentPeriod {aggregation.get('alignmentPeriod')}: 60 s to 25"
                    " hours in an alerting policy"
                )
    return "; ".join(problems)


def _rest(
    method: str, url: str, body: dict[str, Any], auth: str | None, state: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """The Firebase Rules API and the Firestore Admin API's fields, as far as deploy.sh
    uses them."""
    state["rules_auth"].append(auth)
    base = f"https://firebaserules.googleapis.com/v1/projects/{PROJECT}"
    fields = f"https://firestore.googleapis.com/v1/projects/{PROJECT}/databases/(default)/"
    status = 404
    answer: dict[str, Any] = {"error": {"code": 404}}
    if url.startswith(fields):
        name = url.removeprefix(fields).split("?")[0]
        if method == "PATCH":
            assert url.endswith("?updateMask=indexConfig")
            state["field_indexes"][name] = body["indexConfig"]
        default = {"indexes": [], "usesAncestorConfig": True}
        status, answer = 200, {"indexConfig": state["field_indexes"].get(name, default)}
    elif method == "GET" and url == f"{base}/releases/cloud.firestore" and state["rules_release"]:
        status, answer = 200, {"rulesetName": state["rules_release"]}
    elif (
        method == "GET"
        and url.removeprefix("https://firebaserules.googleapis.com/v1/") in (state["rulesets"])
    ):
        name = url.removeprefix("https://firebaserules.googleapis.com/v1/")
        status, answer = 200, {"name": name, "source": state["rulesets"][name]}
    elif method == "POST" and url == f"{base}/rulesets":
        name = f"projects/{PROJECT}/rulesets/rs{len(state['rulesets']) + 1}"
        state["rulesets"][name] = body["source"]
        status, answer = 200, {"name": name}
    elif method == "POST" and url == f"{base}/releases":
        state["rules_release"] = body["rulesetName"]
        status, answer = 200, body
    elif method == "PATCH" and url == f"{base}/releases/cloud.firestore":
        state["rules_release"] = body["release"]["rulesetName"]
        status, answer = 200, body["release"]
    return status, answer


def _standin(tool: str, argv: list[str]) -> int:
    state_path = Path(os.environ["STANDIN_STATE"])
    stdin = "" if sys.stdin.isatty() else sys.stdin.read()
    with open(os.environ["STANDIN_LOG"], "a") as log:
        log.write(json.dumps({"tool": tool, "argv": argv}) + "\n")
    if tool != "gcloud":
        sys.stderr.write(f"{tool} stand-in: deploy.sh has no use for {tool}\n")
        return 2
    state = _load(state_path)
    code, out, err = _gcloud(argv, state, stdin)
    state_path.write_text(json.dumps(state))
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code


if __name__ == "__main__":
    sys.exit(_standin(sys.argv[1], sys.argv[2:]))

# The stand-in above runs as a script on every gcloud and curl call, without pytest or
# the project's packages.
import pytest  # noqa: E402
from factoryops import config, store  # noqa: E402

from deployment import google_apis, manifest  # noqa: E402
from deployment.manifest import Source  # noqa: E402

pytestmark = pytest.mark.deploy

FUNCTIONS = config.FUNCTIONS
PUBLIC = manifest.PUBLIC
SWEEP = config.SWEEP
CONSOLE = config.CONSOLE
FORWARDER = config.FORWARDER
TRIGGER_ACCOUNT = f"eventarc-trigger@{PROJECT}.iam.gserviceaccount.com"
REGION = "asia-south1"
OMITTED = "<omitted>"
SECRETS = tuple(v.env for v in manifest.variables() if v.deploy.secret)
CRM_SECRETS = {"CRM_APPS_SCRIPT_URL", "CRM_APPS_SCRIPT_KEY"}
TTL_GROUPS = store.TTL_GROUPS


# -- the REST stand-in ---------------------------------------------------------------------

_ROUTES: dict[str, tuple[Path, Path]] = {}
"""Each deployer's model and call log, by the first segment of its stand-in's path."""
_SERVER: list[ThreadingHTTPServer] = []


def _console(path: str, state: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """The console signed out, as far as --verify meets it: its sign-in settings (the
    client id it was deployed with), the API's refusal without a token, and its page."""
    fault = state["function_faults"].get("team_console", "")
    deployed = [d["env"] for d in state["deploy_log"] if d["name"] == "team_console"]
    if fault == "unready":
        return 503, {}, {"error": {"code": "unavailable", "message": "Not ready."}}
    if path == "/api/config":
        return 200, {}, {"client_id": deployed[-1]["TEAM_OAUTH_CLIENT_ID"], "signin": "google"}
    if path == "/api/me":
        if fault == "me_open":
            return 200, {}, {"email": "asha@factoryopsai.com"}
        error = {"code": "unauthenticated", "message": "A valid bearer token is required."}
        return 401, {"WWW-Authenticate": "Bearer"}, {"error": error}
    if path == "/":
        headers = {"Content-Type": "text/html; charset=utf-8"}
        if fault != "no_csp":
            headers["Content-Security-Policy"] = "default-src 'none'; script-src 'self'"
        return 200, headers, CONSOLE_PAGE
    return 404, {}, {"error": {"code": "not_found", "message": "Not found."}}


def _function(
    method: str, name: str, headers: Any, state: dict[str, Any]
) -> tuple[int, dict[str, str], dict[str, Any] | None]:
    """A public function's edge, as far as --verify meets it: a preflight from an
    allowed origin, and an empty JSON body refused before anything is stored."""
    fault = state["function_faults"].get(name, "")
    origin = headers.get("Origin", "")
    cors = {"Vary": "Origin"}
    if origin in SETTINGS["ALLOWED_ORIGINS"].split(",") and fault != "cors":
        cors["Access-Control-Allow-Origin"] = origin
    if method == "OPTIONS":
        return 204, cors, None
    if fault == "post_500":
        return 500, cors, {"error": {"code": "internal", "message": "Something went wrong."}}
    error = {"code": "invalid_request", "message": "Some fields are not valid."}
    return 400, cors, {"error": {**error, "fields": {"email": "is required"}}}


def _private(name: str, state: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """The forwarder or the sweep behind Cloud Run's IAM check: a call without a token is
    refused before it reaches the function, unless the service was opened to everyone."""
    if state["function_faults"].get(name) == "open":
        if name == SWEEP:
            error = {"code": "unauthenticated", "message": "A valid bearer token is required."}
            return 401, {"WWW-Authenticate": "Bearer"}, {"error": error}
        # The functions framework's answer to a body that is no CloudEvent.
        return 400, {"Content-Type": "text/html"}, "Bad Request"
    return 403, {"Content-Type": "text/html; charset=UTF-8"}, "<h1>Error: Forbidden</h1>"


class _RestHandler(BaseHTTPRequestHandler):
    def _serve(self) -> None:
        key, _, rest = self.path.lstrip("/").partition("/")
        state_path, log_path = _ROUTES[key]
        if rest.startswith("functions/"):
            self._serve_function(rest.removeprefix("functions/"), state_path, log_path)
            return
        url = "https://" + rest
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else {}
        with open(log_path, "a") as log:
            log.write(json.dumps({"tool": "rest", "argv": [self.command, url]}) + "\n")
        state = _load(state_path)
        status, answer = _rest(self.command, url, body, self.headers.get("Authorization"), state)
        state_path.write_text(json.dumps(state))
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _serve_function(self, rest: str, state_path: Path, log_path: Path) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        name, _, path = rest.partition("/")
        with open(log_path, "a") as log:
            called = [self.command, name + (f" /{path}" if path or rest.endswith("/") else "")]
            log.write(json.dumps({"tool": "http", "argv": called}) + "\n")
        state = _load(state_path)
        if name == "team_console":
            status, headers, answer = _console("/" + path, state)
        elif name in (FORWARDER, SWEEP):
            status, headers, answer = _private(name, state)
        else:
            status, headers, answer = _function(self.command, name, self.headers, state)
        if isinstance(answer, str):
            data = answer.encode()
        else:
            data = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        for header, value in headers.items():
            self.send_header(header, value)
        if answer is not None and "Content-Type" not in headers:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


def rest_standin(state: Path, log: Path) -> str:
    """A root for GOOGLE_APIS_STANDIN whose calls reach this model and log."""
    if not _SERVER:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _RestHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        _SERVER.append(server)
    key = uuid.uuid4().hex
    _ROUTES[key] = (state, log)
    return f"http://127.0.0.1:{_SERVER[0].server_address[1]}/{key}"


# -- running the script ----------------------------------------------------------------


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    calls: list[dict[str, Any]] = field(default_factory=list)

    def commands(self) -> list[list[str]]:
        """The plan's commands (lines starting with `+`), as argument lists."""
        out = []
        for line in self.stdout.splitlines():
            if line.startswith("+ "):
                out.append(shlex.split(line[2:]))
        return out

    def gcloud(self, *prefix: str) -> list[list[str]]:
        """Plan commands `gcloud <prefix...>`, arguments after `gcloud`."""
        found = []
        for cmd in self.commands():
            if cmd[:1] == ["gcloud"] and positional(cmd[1:])[: len(prefix)] == list(prefix):
                found.append(cmd[1:])
        return found

    def called(self, *prefix: str) -> list[list[str]]:
        """gcloud calls the stand-in received, arguments after `gcloud`."""
        return [
            c["argv"]
            for c in self.calls
            if c["tool"] == "gcloud" and positional(c["argv"])[: len(prefix)] == list(prefix)
        ]


@dataclass
class Deployer:
    """A checkout, a settings file and stand-ins, ready to run deploy.sh."""

    tmp: Path
    root: Path
    env: dict[str, str]
    state: Path
    log: Path

    def run(self, *args: str, stdin: str | None = None) -> Run:
        if self.log.exists():
            self.log.unlink()
        result = subprocess.run(
            [str(self.root / "deploy.sh"), *args],
            env=self.env,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        calls = []
        if self.log.exists():
            calls = [json.loads(line) for line in self.log.read_text().splitlines()]
        return Run(result.returncode, result.stdout, result.stderr, calls)

    def dry(self, *args: str) -> Run:
        result = self.run("--project", PROJECT, "--dry-run", *args)
        assert result.calls == [], f"a dry run called {result.calls[0]['tool']}"
        return result

    def secret_files(self) -> dict[str, str]:
        """NAME_FILE for each secret the team supplies, naming the files made for it."""
        return {
            "EMAILJS_PRIVATE_KEY_FILE": str(self.tmp / "emailjs.key"),
            "CRM_APPS_SCRIPT_URL_FILE": str(self.tmp / "crm.url"),
        }

    def settings(self, **values: str) -> None:
        self.env["DEPLOY_ENV_FILE"] = str(self.tmp / "deploy.env")
        lines = [f"{k}={v}" for k, v in values.items()]
        (self.tmp / "deploy.env").write_text("\n".join(lines) + "\n")

    def python_calls(self) -> list[str]:
        """The arguments of every python3 deploy.sh ran, since the deployer was made."""
        log = Path(self.env["PYTHON_LOG"])
        return log.read_text().splitlines() if log.exists() else []

    def model(self) -> dict[str, Any]:
        model: dict[str, Any] = json.loads(self.state.read_text())
        return model


def make_deployer(tmp: Path, root: Path) -> Deployer:
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    state = tmp / "project.json"
    log = tmp / "calls.jsonl"
    python, me = shlex.quote(sys.executable), shlex.quote(__file__)
    for tool in ("gcloud", "curl"):
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\nexec {python} -S {me} {tool} "$@"\n')
        stub.chmod(0o755)
    # python3 itself, recorded: what deploy.sh puts on its command lines.
    stub = bin_dir / "python3"
    stub.write_text(f'#!/bin/sh\nprintf \'%s\\n\' "$*" >>"$PYTHON_LOG"\nexec {python} "$@"\n')
    stub.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", str(tmp)),
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp),
        "STANDIN_STATE": str(state),
        "STANDIN_LOG": str(log),
        "PYTHON_LOG": str(tmp / "python3.log"),
        "GOOGLE_APIS_STANDIN": rest_standin(state, log),
        "DEPLOY_POLL_SECONDS": "0",
    }
    for name in ("PYENV_ROOT", "PYENV_VERSION"):
        if name in os.environ:
            env[name] = os.environ[name]
    deployer = Deployer(tmp, root, env, state, log)
    (tmp / "emailjs.key").write_text(EMAILJS_KEY + "\n")
    (tmp / "crm.url").write_text(CRM_URL + "\n")
    deployer.settings(**SETTINGS, **deployer.secret_files())
    return deployer


@pytest.fixture
def deployer(tmp_path: Path) -> Deployer:
    return make_deployer(tmp_path, ROOT)


def make_checkout(tmp_path: Path) -> Deployer:
    """A copy of the parts of the checkout deploy.sh reads, free to add files to."""
    root = tmp_path / "checkout"
    root.mkdir()
    shutil.copy2(SCRIPT, root / "deploy.sh")
    shutil.copy2(ROOT / "requirements.txt", root / "requirements.txt")
    for package in ("lib/factoryops", "deployment"):
        shutil.copytree(
            ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    for name in FUNCTIONS:
        (root / "functions" / name).mkdir(parents=True)
        (root / "functions" / name / "main.py").write_text(f"# {name}\n")
    (root / "web" / "console").mkdir(parents=True)
    (root / "web" / "console" / "index.html").write_text(CONSOLE_PAGE)
    (root / "firestore.rules").write_text(
        "rules_version = '2';\nservice cloud.firestore {\n  match /{document=**} {\n"
        "    allow read, write: if false;\n  }\n}\n"
    )
    return make_deployer(tmp_path, root)


@pytest.fixture
def checkout(tmp_path: Path) -> Deployer:
    return make_checkout(tmp_path)


@dataclass
class FirstRun:
    deployer: Deployer
    run: Run
    model: dict[str, Any]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> FirstRun:
    """One real run against an empty project, shared by the tests that read it."""
    deployer = make_checkout(tmp_path_factory.mktemp("first-run"))
    (deployer.root / "firestore.indexes.json").write_text(json.dumps(INDEX_FILE))
    run = deployer.run("--project", PROJECT)
    assert run.returncode == 0, run.stderr + run.stdout
    return FirstRun(deployer, run, deployer.model())


# -- dry run: the plan -------------------------------------------------------------------


def test_dry_run_prints_a_plan_and_calls_neither_gcloud_nor_curl(deployer: Deployer) -> None:
    run = deployer.dry()
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("# deploy.sh plan (dry run")
    assert "Dry run: nothing was run." in run.stdout
    assert len(run.gcloud("functions", "deploy")) == 7  # the sweep: once for its URL, below


def test_dry_run_needs_no_gcloud_at_all(deployer: Deployer, tmp_path: Path) -> None:
    # A PATH holding only what the dry run itself uses; no gcloud, curl or credentials.
    bare = tmp_path / "bare"
    bare.mkdir()
    for tool in ("bash", "dirname", "python3"):
        found = shutil.which(tool, path=os.environ["PATH"])
        assert found
        (bare / tool).symlink_to(sys.executable if tool == "python3" else found)
    deployer.env["PATH"] = str(bare)
    run = deployer.run("--project", PROJECT, "--dry-run")
    assert run.returncode == 0, run.stderr
    assert "gcloud auth list" in run.stdout


@pytest.mark.parametrize("region", ["asia-south1", "europe-west3"])
def test_every_regional_command_names_the_region(deployer: Deployer, region: str) -> None:
    outside = ("--region", region, "--outside-notice")
    run = deployer.dry(*outside) if region != "asia-south1" else deployer.dry()
    assert run.returncode == 0, run.stderr
    regional = {
        ("functions",): "region",
        ("scheduler",): "location",
        ("firestore", "databases", "create"): "location",
        ("secrets", "create"): "locations",
        ("eventarc",): "location",
        ("logging", "buckets"): "location",
    }
    seen = 0
    for prefix, name in regional.items():
        for args in run.gcloud(*prefix):
            seen += 1
            assert flag(args, name) == region, args
    assert seen >= 4 + 5 + 1 + 4 + 1 + 2 + 2 * 3 + 2
    # The project's logs go to the bucket in the region, named by its location.
    routes = [a[4] for a in run.gcloud("logging", "sinks", "update") if positional(a)[4:]]
    assert routes and all(f"/locations/{region}/buckets/" in r for r in routes)
    # A trigger's location is where the database is; its function is there too.
    for args in run.gcloud("eventarc", "triggers"):
        if positional(args)[2] != "describe":
            assert flag(args, "destination-run-region") == region, args
    if region != "asia-south1":
        assert "privacy notice says the data lives in asia-south1" in run.stdout


def test_every_gcloud_command_names_the_project(deployer: Deployer) -> None:
    run = deployer.dry()
    for args in run.gcloud():
        if positional(args)[:1] == ["projects"]:
            assert positional(args)[2] == PROJECT
        elif positional(args)[:2] != ["auth", "list"]:
            assert flag(args, "project") == PROJECT, args


def test_secrets_reach_functions_only_as_pinned_secret_references(deployer: Deployer) -> None:
    run = deployer.dry()
    assert EMAILJS_KEY not in run.stdout + run.stderr and CRM_URL not in run.stdout + run.stderr
    for args in run.gcloud("functions", "deploy"):
        name = positional(args)[2]
        refs = dict(ref.split("=", 1) for ref in (flag(args, "set-secrets") or "").split(","))
        # The public functions only store: the CRM's URL says whether one is configured.
        expected = {
            "contact_submit": {"RATE_LIMIT_KEY", "ALTCHA_HMAC_KEY", "CRM_APPS_SCRIPT_URL"},
            "chat_message": {"RATE_LIMIT_KEY", "ALTCHA_HMAC_KEY", "CRM_APPS_SCRIPT_URL"},
            "access_grant": {"RATE_LIMIT_KEY"},
            # The console names the counters of its refused calls with RATE_LIMIT_KEY.
            "team_console": {"PRIVACY_TRACE_KEY", "RATE_LIMIT_KEY", *CRM_SECRETS},
            "retention_sweep": {"EMAILJS_PRIVATE_KEY", *CRM_SECRETS},
            "forward_record": {"EMAILJS_PRIVATE_KEY", *CRM_SECRETS},
        }[name]
        assert set(refs) == expected
        for secret, ref in refs.items():
            assert ref == f"{secret}:<{secret}-version>"  # pinned: resolved at run time
        assert flag(args, "set-env-vars") is None and flag(args, "update-env-vars") is None
    # The plain environment the plan shows never names a secret.
    env_lines = [line for line in run.stdout.splitlines() if re.match(r"#\s{3,}[A-Z_]+: ", line)]
    assert env_lines
    for line in env_lines:
        assert not any(f" {secret}:" in line for secret in SECRETS), line
    # Every first version is piped in: generated, or from the file the settings name.
    adds = {c[c.index("add") + 1]: c for c in run.commands() if "versions" in c and "add" in c}
    assert sorted(adds) == sorted(
        [
            "EMAILJS_PRIVATE_KEY",
            "PRIVACY_TRACE_KEY",
            "RATE_LIMIT_KEY",
            "ALTCHA_HMAC_KEY",
            *CRM_SECRETS,
        ]
    )
    assert all("--data-file=-" in c and "|" in c for c in adds.values())
    for generated in (
        "RATE_LIMIT_KEY",
        "PRIVACY_TRACE_KEY",
        "ALTCHA_HMAC_KEY",
        "CRM_APPS_SCRIPT_KEY",
    ):
        assert adds[generated][:3] == ["head", "-c", "32"]
    for supplied, file in deployer.secret_files().items():
        assert adds[supplied.removesuffix("_FILE")][:3] == ["printf", "%s", f"$(cat {file})"]


@pytest.mark.parametrize("secret", SECRETS)
def test_a_secret_in_the_settings_file_is_refused_without_being_echoed(
    deployer: Deployer, secret: str
) -> None:
    deployer.settings(**SETTINGS, **{secret: "must-not-appear-4242"})
    run = deployer.dry()
    assert run.returncode == 1
    assert f"{secret} is a secret" in run.stderr
    assert "must-not-appear-4242" not in run.stdout + run.stderr


def test_only_the_sweep_and_the_forwarder_are_private_and_the_rest_public(
    deployer: Deployer,
) -> None:
    run = deployer.dry()
    for args in run.gcloud("functions", "deploy"):
        name = positional(args)[2]
        if name in (SWEEP, FORWARDER):
            assert "--no-allow-unauthenticated" in args and "--allow-unauthenticated" not in args
            assert flag(args, "timeout") == ("540s" if name == SWEEP else "240s")
        else:
            # The console is open too: it checks the Google sign-in its calls carry.
            assert name in PUBLIC or name == CONSOLE
            assert "--allow-unauthenticated" in args and "--no-allow-unauthenticated" not in args
            assert flag(args, "timeout") is None
        assert flag(args, "max-instances")
        assert flag(args, "runtime") == "python312" and "--gen2" in args
        assert flag(args, "entry-point") == name and "--trigger-http" in args
        # Only the forwarder's requests are bounded per instance (it needs a vCPU for that).
        assert (flag(args, "concurrency") is None) == (name != FORWARDER)
    invokers = run.gcloud("functions", "add-invoker-policy-binding")
    assert {positional(a)[2]: flag(a, "member") for a in invokers} == {
        SWEEP: f"serviceAccount:sweep-scheduler@{PROJECT}.iam.gserviceaccount.com",
        FORWARDER: f"serviceAccount:{TRIGGER_ACCOUNT}",
    }


def test_scheduler_calls_the_sweep_url_with_an_oidc_token_for_it(deployer: Deployer) -> None:
    run = deployer.dry()
    jobs = run.gcloud("scheduler", "jobs", "create") + run.gcloud("scheduler", "jobs", "update")
    assert len(jobs) == 4
    scheduler = f"sweep-scheduler@{PROJECT}.iam.gserviceaccount.com"
    bodies = set()
    for args in jobs:
        assert flag(args, "uri") == "<sweep-url>"
        assert flag(args, "oidc-token-audience") == "<sweep-url>"
        assert flag(args, "oidc-service-account-email") == scheduler
        assert flag(args, "time-zone") == "Asia/Kolkata"
        assert flag(args, "http-method") == "POST"
        bodies.add((flag(args, "schedule"), flag(args, "message-body")))
    assert bodies == {
        ("30 2 * * *", '{"tasks":["retention"]}'),
        ("* * * * *", '{"tasks":["deliveries"]}'),
    }


def test_sweep_environment_holds_its_audience_and_the_scheduler_as_invoker(
    deployer: Deployer,
) -> None:
    run = deployer.dry()
    plan = run.stdout
    section = plan[plan.index("retention_sweep.env.yaml") : plan.index("Cloud Scheduler jobs")]
    assert '#   SWEEP_AUDIENCE: "<sweep-url>"' in section
    assert f'#   SWEEP_INVOKER: "sweep-scheduler@{PROJECT}.iam.gserviceaccount.com"' in section
    # Private behind Cloud Run's IAM check, which strips the token's signature.
    assert '#   SWEEP_AUTH: "iam"' in section
    assert f'#   GOOGLE_CLOUD_PROJECT: "{PROJECT}"' in section
    contact = plan[plan.index("contact_submit.env.yaml") : plan.index("Function chat_message")]
    assert "SWEEP_" not in contact
    assert '#   ALLOWED_ORIGINS: "https://factoryopsai.com,https://www.factoryopsai.com"' in contact


def env_files(run: Run) -> dict[str, dict[str, str]]:
    """The environment the plan shows for each function (the sweep's last one)."""
    files: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in run.stdout.splitlines():
        start = re.match(r"#\s+<workdir>/(\w+)\.env\.yaml ", line)
        entry = re.match(r"#\s{3,}([A-Z_]+): (.*)$", line)
        if start:
            current = files[start[1]] = {}
        elif entry and current is not None:
            current[entry[1]] = entry[2] if entry[2] == OMITTED else json.loads(entry[2])
        else:
            current = None
    return files


def test_each_function_gets_only_the_settings_it_reads(deployer: Deployer) -> None:
    deployer.settings(**SETTINGS, CONTACT_RATE_LIMIT="3/60", CHAT_MAX_MESSAGES="50")
    run = deployer.dry()
    assert run.returncode == 0, run.stderr
    env = env_files(run)
    assert sorted(env) == sorted(FUNCTIONS)
    assert env["contact_submit"]["CONTACT_RATE_LIMIT"] == "3/60"
    assert "CHAT_MAX_MESSAGES" not in env["contact_submit"]
    assert env["chat_message"]["CHAT_MAX_MESSAGES"] == "50"
    assert "CONTACT_RATE_LIMIT" not in env["chat_message"]
    assert env[SWEEP]["SWEEP_AUDIENCE"] == "<sweep-url>"
    assert "ALLOWED_ORIGINS" not in env[SWEEP]
    # access_grant reads whether EmailJS is configured: a first opening notes it.
    emailjs = {"EMAILJS_SERVICE_ID", "EMAILJS_PUBLIC_KEY"}
    assert set(env["access_grant"]) == {"GOOGLE_CLOUD_PROJECT", "ALLOWED_ORIGINS", *emailjs}
    # What reaches each function is what the declarations say it reads.
    for name, variables in env.items():
        for variable in variables:
            deploy = manifest.MANIFEST[variable]
            assert name in deploy.functions, (name, variable)
            assert deploy.source in (Source.DEPLOY_ENV, Source.DEPLOY_SH)


def deployed_secrets(run: Run) -> dict[str, set[str]]:
    """The functions given each secret, by secret."""
    given: dict[str, set[str]] = {}
    for args in run.gcloud("functions", "deploy"):
        for ref in filter(None, (flag(args, "set-secrets") or "").split(",")):
            given.setdefault(ref.split("=")[0], set()).add(positional(args)[2])
    return given


def test_the_rate_limit_key_reaches_only_the_functions_that_count_clients(
    deployer: Deployer,
) -> None:
    # The public functions' rate limits, and the console's count of refused calls.
    counting = {*PUBLIC, CONSOLE}
    run = deployer.dry()
    assert deployed_secrets(run)["RATE_LIMIT_KEY"] == counting
    granted = {
        (flag(a, "member") or "").split("@")[0]
        for a in run.gcloud("secrets", "add-iam-policy-binding", "RATE_LIMIT_KEY")
    }
    assert granted == {f"serviceAccount:fn-{n.replace('_', '-')}" for n in counting}


@pytest.mark.parametrize("service_id", ["", "service_test"])
def test_the_emailjs_private_key_is_given_only_when_emailjs_service_id_is_set(
    deployer: Deployer, service_id: str
) -> None:
    deployer.settings(**{**SETTINGS, "EMAILJS_SERVICE_ID": service_id})
    run = deployer.dry()
    assert run.returncode == 0, run.stderr
    given = deployed_secrets(run).get("EMAILJS_PRIVATE_KEY", set())
    if service_id:
        assert given == set(manifest.SENDERS)
    else:
        assert given == set()
        assert run.gcloud("secrets", "describe", "EMAILJS_PRIVATE_KEY") == []


def test_a_dry_run_asks_the_rest_module_for_its_plan_only(deployer: Deployer) -> None:
    run = deployer.dry()
    assert run.returncode == 0, run.stderr
    calls = [c.split() for c in deployer.python_calls()]
    assert [c[:2] for c in calls if c[1] == "deployment.plan"] == [["-m", "deployment.plan"]]
    rest = {c[2]: c for c in calls if c[1] == "deployment.google_apis"}
    assert sorted(rest) == ["field-indexes", "index-rows", "rules"]
    assert "--dry-run" in rest["rules"] and "--dry-run" in rest["field-indexes"]


def test_the_rest_module_makes_no_call_without_a_token(tmp_path: Path) -> None:
    dry = google_apis.Google(PROJECT, None, google_apis.Plan(dry_run=True))
    assert dry.call("GET", f"{google_apis.RULES_API}/projects/{PROJECT}/releases/x") is None
    with pytest.raises(google_apis.Failure, match="no call is made without an access token"):
        dry._send("GET", f"{google_apis.RULES_API}/projects/{PROJECT}/releases/x", None)
    with pytest.raises(google_apis.Failure, match="must be an http:// URL on this machine"):
        google_apis.Google(PROJECT, "t", google_apis.Plan(False), "http://example.com:80/")
    # A real run with no token on stdin stops before calling anything.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "deployment.google_apis",
            "rules",
            f"--project={PROJECT}",
            str(ROOT / "firestore.rules"),
        ],
        input="",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'lib'}"},
    )
    assert result.returncode == 1 and "no access token on stdin" in result.stderr
    assert result.stdout == ""


def test_each_function_is_deployed_from_its_own_staged_bundle(deployer: Deployer) -> None:
    run = deployer.dry()
    staged = {
        c[2]: c[3] for c in run.commands() if c[:2] == ["./deploy.sh", "--stage"] and len(c) == 4
    }
    assert sorted(staged) == sorted(FUNCTIONS)
    assert len(set(staged.values())) == len(FUNCTIONS)
    for args in run.gcloud("functions", "deploy"):
        name = positional(args)[2]
        assert flag(args, "source") == staged[name]
        assert staged[name].endswith(f"/{name}")
        assert flag(args, "service-account") == (
            f"fn-{name.replace('_', '-')}@{PROJECT}.iam.gserviceaccount.com"
        )


def test_only_limits_the_functions_and_their_accounts_and_secrets(deployer: Deployer) -> None:
    run = deployer.dry("--only", "access_grant", "contact_submit")
    assert run.returncode == 0, run.stderr
    deployed = [positional(a)[2] for a in run.gcloud("functions", "deploy")]
    assert deployed == ["contact_submit", "access_grant"]
    staged = [c[2] for c in run.commands() if c[:2] == ["./deploy.sh", "--stage"]]
    assert staged == ["contact_submit", "access_grant"]
    assert run.gcloud("scheduler") == []
    assert "sweep-scheduler@" not in run.stdout
    accounts = [positional(a)[3] for a in run.gcloud("iam", "service-accounts", "create")]
    assert accounts == ["fn-contact-submit", "fn-access-grant"]

    sweep_only = deployer.dry("--only", SWEEP)
    assert {positional(a)[2] for a in sweep_only.gcloud("functions", "deploy")} == {SWEEP}
    assert len(sweep_only.gcloud("scheduler", "jobs", "create")) == 2
    # The sweep reads no rate-limit key, so the key is neither made nor granted.
    assert sweep_only.gcloud("secrets", "create", "RATE_LIMIT_KEY") == []


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--dry-run"],
        ["--project"],
        ["--project", "--dry-run"],
        ["--project", PROJECT, "--only"],
        ["--project", PROJECT, "--only", "send_newsletter"],
        ["--project", PROJECT, "--bogus"],
        ["--project", PROJECT, "stray"],
        ["--project", "Not_A_Project"],
        ["--project", PROJECT, "--region", "Mumbai"],
        ["--project", PROJECT, "--region", "europe-west3"],
    ],
)
def test_bad_arguments_give_a_usage_error(deployer: Deployer, args: list[str]) -> None:
    run = deployer.run(*args)
    assert run.returncode == 2
    assert "usage: ./deploy.sh --project ID" in run.stderr
    assert run.stdout == "" and run.calls == []


def test_a_region_other_than_the_notices_is_refused_unless_asked_for_by_name(
    deployer: Deployer,
) -> None:
    refused = deployer.run("--project", PROJECT, "--region", "europe-west3")
    assert refused.returncode == 2 and refused.calls == []
    assert "the privacy notice says the data lives in asia-south1" in refused.stderr
    assert "--outside-notice" in refused.stderr


def test_only_names_the_declared_functions_when_given_an_unknown_one(deployer: Deployer) -> None:
    run = deployer.run("--project", PROJECT, "--only", "send_newsletter")
    assert f"(known: {' '.join(FUNCTIONS)})" in run.stderr


def test_help_prints_the_usage(deployer: Deployer) -> None:
    run = deployer.run("--help")
    assert run.returncode == 0 and run.stdout.startswith("usage: ./deploy.sh")


def test_a_bad_setting_stops_the_plan_naming_the_variable(deployer: Deployer) -> None:
    deployer.settings(**{**SETTINGS, "RETENTION_DAYS": "two years"})
    run = deployer.dry()
    assert run.returncode == 1
    assert "RETENTION_DAYS" in run.stderr

    deployer.settings(**{k: v for k, v in SETTINGS.items() if k != "ALLOWED_ORIGINS"})
    run = deployer.dry()
    assert run.returncode == 1 and "ALLOWED_ORIGINS is required" in run.stderr

    deployer.settings(**SETTINGS, ALLOWED_ORIGIN="https://typo.example")
    run = deployer.dry()
    assert run.returncode == 1 and "unknown setting ALLOWED_ORIGIN" in run.stderr

    deployer.settings(**SETTINGS, SWEEP_AUTH="off")
    run = deployer.dry()
    assert run.returncode == 1 and "SWEEP_AUTH is not a deployment setting" in run.stderr


def test_the_example_settings_file_holds_only_settings_deploy_sh_knows(
    deployer: Deployer,
) -> None:
    example = (ROOT / "deploy.env.example").read_text()
    (deployer.tmp / "deploy.env").write_text(example)
    run = deployer.dry()
    assert run.returncode == 0, run.stderr
    assert "ALLOWED_ORIGINS" in run.stdout and "EMAILJS_PRIVATE_KEY" not in run.stdout


def test_the_environment_wins_over_the_settings_file(deployer: Deployer) -> None:
    deployer.env["CHAT_MAX_MESSAGES"] = "50"
    deployer.env["ALLOWED_ORIGINS"] = "https://staging.factoryopsai.com"
    run = deployer.dry()
    assert (
        "from the environment (wins over the file): ALLOWED_ORIGINS CHAT_MAX_MESSAGES" in run.stdout
    )
    assert '#   ALLOWED_ORIGINS: "https://staging.factoryopsai.com"' in run.stdout
    assert '#   CHAT_MAX_MESSAGES: "50"' in run.stdout


def test_settings_without_emailjs_need_no_email_secret(deployer: Deployer) -> None:
    deployer.settings(ALLOWED_ORIGINS="https://factoryopsai.com")
    run = deployer.dry()
    assert run.returncode == 0, run.stderr
    assert "EMAILJS_PRIVATE_KEY" not in run.stdout
    sweep = next(a for a in run.gcloud("functions", "deploy") if SWEEP in a)
    assert {ref.split("=")[0] for ref in (flag(sweep, "set-secrets") or "").split(",")} == (
        CRM_SECRETS
    )


def test_apps_script_crm_url_is_a_secret_too(deployer: Deployer) -> None:
    deployer.settings(ALLOWED_ORIGINS="https://factoryopsai.com")
    run = deployer.dry()
    assert run.returncode == 0, run.stderr
    for args in run.gcloud("functions", "deploy"):
        refs = flag(args, "set-secrets") or ""
        has_url = "CRM_APPS_SCRIPT_URL=CRM_APPS_SCRIPT_URL:" in refs
        assert has_url == (positional(args)[2] != "access_grant")


def test_with_apps_script_the_closing_text_says_how_to_give_the_script_its_key(
    deployer: Deployer,
) -> None:
    deployer.settings(ALLOWED_ORIGINS="https://factoryopsai.com")
    run = deployer.dry()
    assert run.returncode == 0, run.stderr
    closing = run.stdout[run.stdout.index("Function URLs") :]
    command = (
        f"gcloud secrets versions access latest --secret=CRM_APPS_SCRIPT_KEY --project={PROJECT}"
    )
    assert command in closing
    assert "Project Settings > Script properties" in closing

    no_crm_function = deployer.dry("--only", "access_grant")
    assert "--secret=CRM_APPS_SCRIPT_KEY" not in no_crm_function.stdout


def test_service_accounts_get_least_privilege(deployer: Deployer) -> None:
    run = deployer.dry()
    project_roles = {
        flag(a, "role")
        for a in run.gcloud("projects", "add-iam-policy-binding")
        if "serviceAccount:fn-" in (flag(a, "member") or "")
    }
    assert project_roles == {"roles/datastore.user"}
    grants: dict[str, set[str]] = {}
    for args in run.gcloud("secrets", "add-iam-policy-binding"):
        assert flag(args, "role") == "roles/secretmanager.secretAccessor"
        member = (flag(args, "member") or "").removeprefix("serviceAccount:")
        grants.setdefault(member.split("@")[0], set()).add(positional(args)[2])
    assert grants == {
        "fn-contact-submit": {"RATE_LIMIT_KEY", "ALTCHA_HMAC_KEY", "CRM_APPS_SCRIPT_URL"},
        "fn-chat-message": {"RATE_LIMIT_KEY", "ALTCHA_HMAC_KEY", "CRM_APPS_SCRIPT_URL"},
        "fn-access-grant": {"RATE_LIMIT_KEY"},
        "fn-team-console": {"PRIVACY_TRACE_KEY", "RATE_LIMIT_KEY", *CRM_SECRETS},
        "fn-retention-sweep": {"EMAILJS_PRIVATE_KEY", *CRM_SECRETS},
        "fn-forward-record": {"EMAILJS_PRIVATE_KEY", *CRM_SECRETS},
    }
    # The triggers' account receives events and invokes the forwarder, nothing else.
    trigger_roles = [
        flag(a, "role")
        for a in run.gcloud("projects", "add-iam-policy-binding")
        if flag(a, "member") == f"serviceAccount:{TRIGGER_ACCOUNT}"
    ]
    assert trigger_roles == ["roles/eventarc.eventReceiver"]
    assert not [a for a in run.gcloud("secrets") if TRIGGER_ACCOUNT in " ".join(a)]


def test_ttl_policies_cover_every_collection_group_with_expire_at(deployer: Deployer) -> None:
    run = deployer.dry()
    updates = run.gcloud("firestore", "fields", "ttls", "update")
    assert sorted(flag(a, "collection-group") or "" for a in updates) == sorted(TTL_GROUPS)
    for args in updates:
        assert positional(args)[4] == "expire_at" and "--enable-ttl" in args
    creates = run.gcloud("firestore", "databases", "create")
    assert len(creates) == 1 and flag(creates[0], "type") == "firestore-native"


def test_apis_enabled_before_anything_else_uses_them(deployer: Deployer) -> None:
    run = deployer.dry()
    commands = run.gcloud()
    enable = [i for i, a in enumerate(commands) if positional(a)[:2] == ["services", "enable"]]
    assert len(enable) == 1
    apis = set(positional(commands[enable[0]])[2:])
    assert {f"{api}.googleapis.com" for api in APIS} <= apis
    # Before it: the preflight's reads (the account, the project, the organisation's policy).
    reads = (["auth"], ["projects"], ["org-policies"])
    first_change = min(i for i, a in enumerate(commands) if positional(a)[:1] not in reads)
    assert first_change == enable[0]


def rest_calls(run: Run) -> list[list[str]]:
    """The plan's REST calls: METHOD URL [BODY]."""
    return [c for c in run.commands() if c[:1] in (["GET"], ["POST"], ["PATCH"])]


def test_rules_are_published_over_rest_with_the_token_kept_off_the_command_line(
    deployer: Deployer,
) -> None:
    run = deployer.dry()
    calls = rest_calls(run)
    assert calls
    for c in calls:
        assert not any("Authorization" in a or "<access-token>" in a for a in c)
    urls = [c[1] for c in calls]
    api = f"https://firebaserules.googleapis.com/v1/projects/{PROJECT}"
    assert f"{api}/rulesets" in urls and f"{api}/releases/cloud.firestore" in urls
    assert "reaches deployment/google_apis.py on stdin" in run.stdout


def test_indexes_come_from_the_index_file_when_there_is_one(checkout: Deployer) -> None:
    run = checkout.dry()
    assert "no firestore.indexes.json: none to create" in run.stdout
    assert run.gcloud("firestore", "indexes") == []

    (checkout.root / "firestore.indexes.json").write_text(json.dumps(INDEX_FILE))
    run = checkout.dry()
    assert run.returncode == 0, run.stderr
    creates = run.gcloud("firestore", "indexes", "composite", "create")
    assert [(flag(a, "collection-group"), flag(a, "query-scope")) for a in creates] == [
        ("messages", "collection-group"),
        ("access_grants", "collection"),
    ]
    assert flags(creates[0], "field-config") == [
        "field-path=expire_at,order=ascending",
        "field-path=author,order=descending",
    ]
    assert flags(creates[1], "field-config")[0] == "field-path=sections,array-config=contains"
    # A collection-group single-field index, which gcloud cannot set, goes over REST.
    patches = [c for c in rest_calls(run) if c[0] == "PATCH"]
    field_url = (
        f"https://firestore.googleapis.com/v1/projects/{PROJECT}/databases/(default)"
        "/collectionGroups/messages/fields/created_at?updateMask=indexConfig"
    )
    assert field_url in [c[1] for c in patches]
    assert '"queryScope":"COLLECTION_GROUP","fields":[{"fieldPath":"created_at"' in run.stdout


def test_a_missing_function_or_rules_file_is_flagged_in_the_plan(checkout: Deployer) -> None:
    (checkout.root / "firestore.rules").unlink()
    shutil.rmtree(checkout.root / "functions" / "chat_message")
    run = checkout.dry()
    assert run.returncode == 0
    assert (
        "# WARNING: functions/chat_message/main.py is missing: a real run stops here" in run.stdout
    )
    assert "# WARNING: firestore.rules is missing: a real run stops here" in run.stdout
    real = checkout.run("--project", PROJECT)
    assert real.returncode == 1
    assert (
        "missing from the checkout: functions/chat_message/main.py firestore.rules" in real.stderr
    )
    assert real.calls == []


def test_deploy_script_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is not installed (make test installs it)"
    result = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# -- real runs against the stand-ins ------------------------------------------------------


def test_a_first_run_creates_everything_and_a_second_only_updates(first_run: FirstRun) -> None:
    first, model, checkout = first_run.run, first_run.model, first_run.deployer
    assert model["database"] == "asia-south1"
    assert sorted(model["ttl"]) == sorted(TTL_GROUPS)
    assert sorted(model["accounts"]) == sorted(
        [f"fn-{n.replace('_', '-')}" for n in FUNCTIONS] + ["sweep-scheduler", "eventarc-trigger"]
    )
    assert sorted(model["jobs"]) == ["retention-sweep-deliveries", "retention-sweep-nightly"]
    assert model["rules_release"] and len(model["rulesets"]) == 1
    assert len(model["composite_indexes"]) == 2
    assert model["field_indexes"]["collectionGroups/messages/fields/created_at"]["indexes"] == [
        {"queryScope": "COLLECTION", "fields": [{"fieldPath": "created_at", "order": "ASCENDING"}]},
        {
            "queryScope": "COLLECTION_GROUP",
            "fields": [{"fieldPath": "created_at", "order": "ASCENDING"}],
        },
    ]
    assert {name: len(v) for name, v in model["secrets"].items()} == {
        "RATE_LIMIT_KEY": 1,
        "ALTCHA_HMAC_KEY": 1,
        "EMAILJS_PRIVATE_KEY": 1,
        "CRM_APPS_SCRIPT_URL": 1,
        "CRM_APPS_SCRIPT_KEY": 1,
        "PRIVACY_TRACE_KEY": 1,
    }
    assert len(first.called("functions", "deploy")) == 7
    assert len(first.called("eventarc", "triggers", "create")) == len(manifest.TRIGGERS)
    for name in FUNCTIONS:
        assert f"{name}  https://{name.replace('_', '-')}-" in first.stdout

    second = checkout.run("--project", PROJECT)
    assert second.returncode == 0, second.stderr + second.stdout
    for prefix in (
        ("firestore", "databases", "create"),
        ("firestore", "fields", "ttls", "update"),
        ("iam", "service-accounts", "create"),
        ("secrets", "create"),
        ("secrets", "versions", "add"),
        ("scheduler", "jobs", "create"),
        ("eventarc", "triggers", "create"),
    ):
        assert second.called(*prefix) == [], prefix
    assert len(second.called("scheduler", "jobs", "update")) == 2
    assert len(second.called("eventarc", "triggers", "update")) == len(manifest.TRIGGERS)
    assert len(second.called("functions", "deploy")) == 6
    changes = [c for c in second.calls if c["tool"] == "rest" and "GET" not in c["argv"]]
    assert changes == []
    assert [c for c in first.calls + second.calls if c["tool"] == "curl"] == []
    assert len(checkout.model()["rulesets"]) == 1
    assert len(checkout.model()["composite_indexes"]) == 2  # asked again, already there


def test_the_sweep_learns_its_url_and_the_scheduler_targets_it(first_run: FirstRun) -> None:
    model = first_run.model
    url = model["functions"][SWEEP]["url"]
    deploys = [d for d in model["deploy_log"] if d["name"] == SWEEP]
    assert [d["env"]["SWEEP_AUDIENCE"] for d in deploys] == [
        "https://audience-pending.invalid",
        url,
    ]
    assert (
        deploys[-1]["env"]["SWEEP_INVOKER"] == f"sweep-scheduler@{PROJECT}.iam.gserviceaccount.com"
    )
    assert [d["env"]["SWEEP_AUTH"] for d in deploys] == ["iam", "iam"]
    for job in model["jobs"].values():
        assert flag(job, "uri") == url and flag(job, "oidc-token-audience") == url
    assert model["invokers"] == {
        SWEEP: [f"serviceAccount:sweep-scheduler@{PROJECT}.iam.gserviceaccount.com"],
        FORWARDER: [f"serviceAccount:{TRIGGER_ACCOUNT}"],
    }


def test_secret_values_travel_on_stdin_and_are_pinned_by_number(first_run: FirstRun) -> None:
    run, model = first_run.run, first_run.model
    rate_key = model["secrets"]["RATE_LIMIT_KEY"][0]
    assert len(rate_key) >= 40
    assert model["secrets"]["EMAILJS_PRIVATE_KEY"] == [EMAILJS_KEY]
    assert model["secrets"]["CRM_APPS_SCRIPT_URL"] == [CRM_URL]
    token = model["token"]
    argv_text = json.dumps([c["argv"] for c in run.calls])
    for value in (rate_key, EMAILJS_KEY, CRM_URL, token):
        assert value not in argv_text
        assert value not in run.stdout + run.stderr
    assert not any(token in call for call in first_run.deployer.python_calls())
    # The token reached the REST APIs, through deployment/google_apis.py's stdin.
    assert model["rules_auth"] and all(a == f"Bearer {token}" for a in model["rules_auth"])
    for deploy in model["deploy_log"]:
        assert not set(deploy["env"]) & set(SECRETS)
        for ref in deploy["secrets"].split(","):
            if ref:
                assert re.fullmatch(r"([A-Z_]+)=\1:[0-9]+", ref), ref
        page = ["console_page"] if deploy["name"] == CONSOLE else []
        assert sorted(deploy["files"]) == sorted(
            ["factoryops", "main.py", "requirements.txt", *page]
        )


def test_each_deployed_environment_holds_what_the_function_reads(first_run: FirstRun) -> None:
    given = {k for k, v in SETTINGS.items() if v}
    latest = {d["name"]: d for d in first_run.model["deploy_log"]}
    assert sorted(latest) == sorted(FUNCTIONS)
    for name, deploy in latest.items():
        expected = {
            variable
            for variable, deploy in manifest.MANIFEST.items()
            if name in deploy.functions
            and (
                deploy.source is Source.DEPLOY_SH
                or (deploy.source is Source.DEPLOY_ENV and variable in given)
            )
        }
        assert set(deploy["env"]) == expected, name
        secrets = {ref.split("=")[0] for ref in deploy["secrets"].split(",") if ref}
        assert ("RATE_LIMIT_KEY" in secrets) == (name in (*PUBLIC, CONSOLE))
        assert ("EMAILJS_PRIVATE_KEY" in secrets) == (name in manifest.SENDERS)


def test_a_missing_secret_without_a_file_or_terminal_stops_with_a_clear_error(
    checkout: Deployer,
) -> None:
    checkout.settings(**SETTINGS)
    run = checkout.run("--project", PROJECT)
    assert run.returncode == 1
    # The CRM's web app is asked for first: the public functions read it, first deployed.
    assert "secret CRM_APPS_SCRIPT_URL has no version: set CRM_APPS_SCRIPT_URL_FILE" in run.stderr
    assert "run deploy.sh again" in run.stderr
    assert run.called("functions", "deploy") == []
    # EmailJS's key is asked for as the other supplied secrets are.
    checkout.settings(
        **SETTINGS, CRM_APPS_SCRIPT_URL_FILE=checkout.secret_files()["CRM_APPS_SCRIPT_URL_FILE"]
    )
    run = checkout.run("--project", PROJECT)
    assert run.returncode == 1
    assert "secret EMAILJS_PRIVATE_KEY has no version: set EMAILJS_PRIVATE_KEY_FILE" in run.stderr
    assert run.called("functions", "deploy") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"accounts_logged_in": []}, "no authenticated gcloud account: run 'gcloud auth login'"),
        ({"project_exists": False}, f"project '{PROJECT}' does not exist"),
    ],
)
def test_prerequisite_failures_stop_before_any_change(
    checkout: Deployer, change: dict[str, Any], message: str
) -> None:
    checkout.state.write_text(json.dumps(change))
    run = checkout.run("--project", PROJECT)
    assert run.returncode == 1
    assert message in run.stderr
    assert run.called("services") == []
    assert "run deploy.sh again" not in run.stderr


def test_without_gcloud_a_real_run_says_how_to_get_it(checkout: Deployer, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    for tool in ("bash", "dirname", "mktemp", "rm"):
        found = shutil.which(tool, path=os.environ["PATH"])
        assert found
        (bare / tool).symlink_to(found)
    checkout.env["PATH"] = str(bare)
    run = checkout.run("--project", PROJECT)
    assert run.returncode == 1
    assert "gcloud not found: install the Google Cloud CLI" in run.stderr


def test_a_database_in_another_region_stops_the_run(checkout: Deployer) -> None:
    checkout.state.write_text(json.dumps({"database": "us-central1"}))
    run = checkout.run("--project", PROJECT)
    assert run.returncode == 1
    assert "the Firestore database is in us-central1, not asia-south1" in run.stderr
    assert run.called("functions", "deploy") == []


# -- a new project: the build account, the database, the keys no function reads ----------------


def test_the_build_account_gets_the_builder_role_before_any_build(deployer: Deployer) -> None:
    run = deployer.dry()
    commands = run.gcloud()
    builder = [
        i
        for i, a in enumerate(commands)
        if positional(a)[:2] == ["projects", "add-iam-policy-binding"]
        and flag(a, "role") == "roles/cloudbuild.builds.builder"
    ]
    assert len(builder) == 1
    binding = commands[builder[0]]
    # The account Cloud Build names, not one guessed from the project number.
    asked = [
        i
        for i, a in enumerate(commands)
        if positional(a)[:2] == ["builds", "get-default-service-account"]
    ]
    assert len(asked) == 1 and asked[0] < builder[0]
    assert flag(commands[asked[0]], "region") == REGION
    assert flag(binding, "member") == "serviceAccount:<build-account>"
    first_deploy = min(
        i for i, a in enumerate(commands) if positional(a)[:2] == ["functions", "deploy"]
    )
    assert builder[0] < first_deploy

    deployer.settings(
        **SETTINGS, BUILD_SERVICE_ACCOUNT=f"builder@{PROJECT}.iam.gserviceaccount.com"
    )
    run = deployer.dry()
    bindings = [
        a
        for a in run.gcloud("projects", "add-iam-policy-binding")
        if flag(a, "role") == "roles/cloudbuild.builds.builder"
    ]
    assert [flag(a, "member") for a in bindings] == [
        f"serviceAccount:builder@{PROJECT}.iam.gserviceaccount.com"
    ]
    assert run.gcloud("builds") == [] and run.gcloud("projects", "get-iam-policy") == []
    for args in run.gcloud("functions", "deploy"):
        assert flag(args, "build-service-account") == (
            f"projects/{PROJECT}/serviceAccounts/builder@{PROJECT}.iam.gserviceaccount.com"
        )


COMPUTE_ACCOUNT = "123456789012-compute@developer.gserviceaccount.com"


def deploy_one(checkout: Deployer, **model: Any) -> Run:
    """A real run of one public function's deployment, on a project whose model starts so."""
    checkout.state.write_text(json.dumps(model))
    return checkout.run("--project", PROJECT, "--only", "access_grant")


def builder_members(model: dict[str, Any]) -> list[str]:
    return [m for m, role in model["project_bindings"] if role == "roles/cloudbuild.builds.builder"]


def test_the_builds_run_as_the_account_cloud_build_names(checkout: Deployer) -> None:
    legacy = "123456789012@cloudbuild.gserviceaccount.com"
    run = deploy_one(checkout, build_default_account=legacy)
    assert run.returncode == 0, run.stderr + run.stdout
    assert builder_members(checkout.model()) == [f"serviceAccount:{legacy}"]
    assert f"Cloud Build builds the functions as {legacy}" in run.stdout
    # Not the default compute account: its roles are not even read.
    assert run.called("projects", "get-iam-policy") == []


def test_a_default_compute_account_holding_editor_is_a_warning_that_says_how_to_remove_it(
    checkout: Deployer,
) -> None:
    run = deploy_one(
        checkout, project_bindings=[[f"serviceAccount:{COMPUTE_ACCOUNT}", "roles/editor"]]
    )
    assert run.returncode == 0, run.stderr + run.stdout
    assert (
        f"# WARNING: Cloud Build builds as the default compute account, {COMPUTE_ACCOUNT}, which"
        f" holds roles/editor on project {PROJECT}" in run.stdout
    )
    assert (
        f"gcloud projects remove-iam-policy-binding {PROJECT}"
        f" --member=serviceAccount:{COMPUTE_ACCOUNT} --role=roles/editor" in run.stdout
    )
    assert builder_members(checkout.model()) == [f"serviceAccount:{COMPUTE_ACCOUNT}"]
    # The builder role is granted after the warning, and the function deployed all the same.
    assert "access_grant" in checkout.model()["functions"]


def test_without_editor_the_default_compute_account_draws_no_warning(first_run: FirstRun) -> None:
    assert len(first_run.run.called("projects", "get-iam-policy")) == 1
    assert "roles/editor" not in first_run.run.stdout


def test_cloud_build_naming_no_default_account_stops_before_any_build(checkout: Deployer) -> None:
    run = deploy_one(checkout, build_default_account="")
    assert run.returncode == 1
    assert "Cloud Build has no default account in asia-south1: set BUILD_SERVICE_ACCOUNT" in (
        run.stderr
    )
    assert run.called("functions", "deploy") == []


# -- the organisation's policy, and IAM's delay ------------------------------------------------

MEMBER_DOMAINS = "iam.allowedPolicyMemberDomains"
DOMAIN_ONLY = {
    "name": f"projects/123456789012/policies/{MEMBER_DOMAINS}",
    "spec": {"rules": [{"values": {"allowedValues": ["C03abc123"]}}]},
}


def test_the_plan_reads_the_member_domain_policy_before_any_change(deployer: Deployer) -> None:
    run = deployer.dry()
    commands = run.gcloud()
    [read] = [
        i for i, a in enumerate(commands) if positional(a)[:2] == ["org-policies", "describe"]
    ]
    assert positional(commands[read])[2] == MEMBER_DOMAINS and "--effective" in commands[read]
    enable = next(i for i, a in enumerate(commands) if positional(a)[:2] == ["services", "enable"])
    assert read < enable
    # Nothing private needs allUsers: the sweep and the forwarder alone skip the question.
    private = deployer.dry("--only", SWEEP, FORWARDER)
    assert private.gcloud("org-policies") == []


def test_a_policy_restricting_members_to_the_organisation_stops_the_run_before_any_change(
    checkout: Deployer,
) -> None:
    run = deploy_one(checkout, member_domains=DOMAIN_ONLY)
    assert run.returncode == 1
    assert f"the organisation policy {MEMBER_DOMAINS}" in run.stderr
    assert "IAM members are limited to C03abc123" in run.stderr
    assert "Nothing was changed" in run.stderr
    # What to change: an exception for the project, or a tag-based condition.
    assert f"name: projects/{PROJECT}/policies/{MEMBER_DOMAINS}" in run.stderr
    assert "spec: {rules: [{allowAll: true}]}" in run.stderr
    assert "gcloud org-policies set-policy FILE" in run.stderr
    assert "tag-based condition" in run.stderr
    assert run.called("services") == [] and run.called("functions") == []
    assert "stopped by the failure above" not in run.stderr


@pytest.mark.parametrize(
    ("policy", "said"),
    [
        ({"spec": {"rules": [{"allowAll": True}]}}, f"# {MEMBER_DOMAINS}: IAM members are not"),
        (
            {
                "spec": {
                    "rules": [
                        {"allowAll": True, "condition": {"title": "public-functions tag"}},
                        {"values": {"allowedValues": ["C03abc123"]}},
                    ]
                }
            },
            "# WARNING: iam.allowedPolicyMemberDomains: IAM members are limited to C03abc123,"
            " except where public-functions tag holds",
        ),
        (
            "ERROR: (gcloud.org-policies.describe) PERMISSION_DENIED: orgpolicy.policy.get",
            f"# WARNING: could not read the organisation policy {MEMBER_DOMAINS} (ERROR:",
        ),
    ],
    ids=["allow-all", "tag-exception", "unreadable"],
)
def test_a_policy_that_may_let_all_users_in_lets_the_run_go_on(
    checkout: Deployer, policy: Any, said: str
) -> None:
    run = deploy_one(checkout, member_domains=policy)
    assert run.returncode == 0, run.stderr + run.stdout
    assert said in run.stdout
    assert "access_grant" in checkout.model()["functions"]


PERMISSION_REFUSALS = [
    "ERROR: (gcloud.functions.deploy) OperationError: code=7, message=Could not build the"
    " function due to a missing permission on the build service account.",
    "ERROR: (gcloud.functions.deploy) ResponseError: status=[403], code=[Ok], message=[Permission"
    " 'iam.serviceaccounts.actAs' denied on service account"
    f" fn-access-grant@{PROJECT}.iam.gserviceaccount.com (or it may not exist).]",
    "ERROR: (gcloud.functions.deploy) OperationError: code=3, message=Build failed:"
    f" {COMPUTE_ACCOUNT} does not have storage.objects.get access to the Google Cloud Storage"
    " object. Permission 'storage.objects.get' denied on resource (or it may not exist).",
    "ERROR: (gcloud.functions.deploy) PERMISSION_DENIED: The caller does not have permission",
]


@pytest.mark.parametrize("refusal", PERMISSION_REFUSALS)
def test_a_deployment_refused_for_a_permission_is_deployed_again(
    checkout: Deployer, refusal: str
) -> None:
    run = deploy_one(checkout, deploy_faults=[refusal, refusal])
    assert run.returncode == 0, run.stderr + run.stdout
    model = checkout.model()
    assert model["deploy_attempts"] == 3 and "access_grant" in model["functions"]
    assert run.stdout.count("# refused for a permission") == 2
    assert "deploying again in 0 s, attempt 3 of 6" in run.stdout
    assert refusal in run.stderr  # gcloud's own words still reach the deployer


def test_a_permission_refusal_is_deployed_again_a_bounded_number_of_times(
    checkout: Deployer,
) -> None:
    run = deploy_one(checkout, deploy_faults=PERMISSION_REFUSALS[:1] * 10)
    assert run.returncode == 1
    assert checkout.model()["deploy_attempts"] == 6
    assert "stopped by the failure above" in run.stderr


def test_any_other_deployment_error_stops_the_run_at_once(checkout: Deployer) -> None:
    refusal = (
        "ERROR: (gcloud.functions.deploy) INVALID_ARGUMENT: Could not create or update Cloud Run"
        " service access-grant, Container Healthcheck failed."
    )
    run = deploy_one(checkout, deploy_faults=[refusal, refusal])
    assert run.returncode == 1
    assert checkout.model()["deploy_attempts"] == 1
    assert "# refused for a permission" not in run.stdout
    assert refusal in run.stderr


def test_a_build_account_that_is_not_an_address_is_refused(deployer: Deployer) -> None:
    deployer.settings(**SETTINGS, BUILD_SERVICE_ACCOUNT="builder")
    run = deployer.dry()
    assert run.returncode == 1 and "BUILD_SERVICE_ACCOUNT: expected one email address" in run.stderr


def test_a_new_database_is_waited_for_before_ttl_and_indexes(deployer: Deployer) -> None:
    run = deployer.dry()
    commands = run.gcloud("firestore")
    kinds = [positional(a)[1:3] for a in commands]
    create = kinds.index(["databases", "create"])
    assert kinds[create + 1] == ["databases", "describe"]
    assert kinds.index(["fields", "ttls"]) > create + 1
    assert "ready once it describes itself in asia-south1" in run.stdout


def test_a_first_run_waits_until_the_new_database_describes_itself(first_run: FirstRun) -> None:
    names = [
        " ".join(positional(c["argv"])[:3]) for c in first_run.run.calls if c["tool"] == "gcloud"
    ]
    create = names.index("firestore databases create")
    # The stand-in's new database is missing on the first describe, there on the second.
    assert names[create + 1 : create + 3] == ["firestore databases describe"] * 2
    assert names.index("firestore fields ttls") > create + 2
    assert "# ready" in first_run.run.stdout


def test_a_database_that_never_gets_ready_stops_the_run(checkout: Deployer) -> None:
    checkout.state.write_text(json.dumps({"database_not_ready": 1000}))
    run = checkout.run("--project", PROJECT)
    assert run.returncode == 1
    assert "the new Firestore database is not ready after" in run.stderr
    assert "gcloud firestore operations list" in run.stderr
    assert run.called("firestore", "fields") == []
    assert len(run.called("firestore", "databases", "describe")) == 1 + 36


@pytest.mark.parametrize("only", [["--only", "access_grant"], ["--only", SWEEP], []])
def test_the_privacy_trace_key_is_made_whichever_functions_are_deployed(
    deployer: Deployer, only: list[str]
) -> None:
    run = deployer.dry(*only)
    assert run.returncode == 0, run.stderr
    assert len(run.gcloud("secrets", "create", "PRIVACY_TRACE_KEY")) == 1
    adds = [c for c in run.commands() if "PRIVACY_TRACE_KEY" in c and "versions" in c]
    assert any(c[:3] == ["head", "-c", "32"] for c in adds)
    # siteadmin reads it from Secret Manager; of the functions, the console alone.
    console = {CONSOLE} if not only else set()
    assert deployed_secrets(run).get("PRIVACY_TRACE_KEY", set()) == console
    granted = run.gcloud("secrets", "add-iam-policy-binding", "PRIVACY_TRACE_KEY")
    assert [(flag(a, "member") or "").split("@")[0] for a in granted] == [
        "serviceAccount:fn-team-console" for _ in console
    ]


def test_the_apps_script_key_is_generated_and_given_to_its_users(deployer: Deployer) -> None:
    deployer.settings(ALLOWED_ORIGINS="https://factoryopsai.com")
    run = deployer.dry()
    assert run.returncode == 0, run.stderr
    # The senders append rows; the console changes and deletes them for privacy requests.
    assert deployed_secrets(run)["CRM_APPS_SCRIPT_KEY"] == set(manifest.SENDERS) | {CONSOLE}
    adds = [c for c in run.commands() if "CRM_APPS_SCRIPT_KEY" in c and "versions" in c]
    assert any(c[:3] == ["head", "-c", "32"] for c in adds)


# -- the team console ---------------------------------------------------------------------------

CONSOLE_ACCOUNT = f"serviceAccount:fn-team-console@{PROJECT}.iam.gserviceaccount.com"
PENDING_CONSOLE_URL = "https://team-console-not-deployed.invalid"


def test_the_console_runs_open_as_its_own_account_with_only_what_it_reads(
    deployer: Deployer,
) -> None:
    deployer.settings(**SETTINGS)
    run = deployer.dry()
    assert run.returncode == 0, run.stderr
    [deploy] = [a for a in run.gcloud("functions", "deploy") if positional(a)[2] == CONSOLE]
    # Open to every request: the function checks the Google ID token each one carries.
    assert "--allow-unauthenticated" in deploy and flag(deploy, "timeout") is None
    assert flag(deploy, "max-instances") == "2"
    assert flag(deploy, "service-account") == CONSOLE_ACCOUNT.removeprefix("serviceAccount:")
    secrets = {ref.split("=")[0] for ref in (flag(deploy, "set-secrets") or "").split(",")}
    assert secrets == {
        "PRIVACY_TRACE_KEY",
        "RATE_LIMIT_KEY",
        "CRM_APPS_SCRIPT_URL",
        "CRM_APPS_SCRIPT_KEY",
    }
    granted = {
        positional(a)[2]
        for a in run.gcloud("secrets", "add-iam-policy-binding")
        if flag(a, "member") == CONSOLE_ACCOUNT
    }
    assert granted == secrets
    roles = {
        flag(a, "role")
        for a in run.gcloud("projects", "add-iam-policy-binding")
        if flag(a, "member") == CONSOLE_ACCOUNT
    }
    assert roles == {"roles/datastore.user"}
    assert env_files(run)[CONSOLE] == {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "SITE_URL": "https://factoryopsai.com",
        "TEAM_EMAILS": OMITTED,
        "TEAM_OAUTH_CLIENT_ID": SETTINGS["TEAM_OAUTH_CLIENT_ID"],
        # Whether EmailJS is configured: a team reply schedules its reply email.
        "EMAILJS_SERVICE_ID": SETTINGS["EMAILJS_SERVICE_ID"],
        "EMAILJS_PUBLIC_KEY": SETTINGS["EMAILJS_PUBLIC_KEY"],
    }
    # The team's addresses reach the function's env file, never the plan.
    assert "asha@" not in run.stdout + run.stderr
    assert "team_console (team: Google sign-in)" in run.stdout


def test_the_console_gets_the_teams_addresses_and_its_page(first_run: FirstRun) -> None:
    run, model = first_run.run, first_run.model
    [deploy] = [d for d in model["deploy_log"] if d["name"] == CONSOLE]
    assert deploy["env"]["TEAM_EMAILS"] == SETTINGS["TEAM_EMAILS"]
    assert "console_page" in deploy["files"]
    assert "asha@" not in run.stdout + run.stderr
    url = model["functions"][CONSOLE]["url"]
    assert f"The team console is at {url}." in run.stdout


def test_the_console_bundle_carries_its_page(tmp_path: Path) -> None:
    from factoryops import console

    for name in (CONSOLE, SWEEP):
        subprocess.run([str(SCRIPT), "--stage", name, str(tmp_path / name)], check=True)
    assert sorted(p.name for p in (tmp_path / CONSOLE).iterdir()) == [
        "console_page",
        "factoryops",
        "main.py",
        "requirements.txt",
    ]
    for page in (ROOT / "web" / "console").iterdir():
        assert (tmp_path / CONSOLE / "console_page" / page.name).read_bytes() == page.read_bytes()
    assert not (tmp_path / SWEEP / "console_page").exists()
    # Where the package looks for its page in a bundle: beside itself.
    assert console._page_dirs()[0].name == "console_page"


def test_the_sweep_links_its_nudges_to_the_console_deployed_before_it(
    deployer: Deployer, first_run: FirstRun
) -> None:
    run = deployer.dry()
    steps = [
        (positional(a)[1], positional(a)[2], flag(a, "format")) for a in run.gcloud("functions")
    ]
    console = steps.index(("deploy", CONSOLE, None))
    described = steps.index(("describe", CONSOLE, "value(serviceConfig.uri)"))
    assert console < described < steps.index(("deploy", SWEEP, None))
    assert env_files(run)[SWEEP]["CONSOLE_URL"] == f"<{CONSOLE}-url>"

    # A first deployment: the console exists by the time the sweep is deployed, twice.
    model = first_run.model
    url = model["functions"][CONSOLE]["url"]
    given = [d["env"]["CONSOLE_URL"] for d in model["deploy_log"] if d["name"] == SWEEP]
    assert given == [url, url]


def test_a_sweep_deployed_without_the_console_links_nowhere_and_says_so(
    checkout: Deployer,
) -> None:
    plan = checkout.dry("--only", SWEEP)
    assert f"# if {CONSOLE} is not deployed: CONSOLE_URL is {PENDING_CONSOLE_URL}" in plan.stdout

    run = checkout.run("--project", PROJECT, "--only", SWEEP)
    assert run.returncode == 0, run.stderr + run.stdout
    assert f"WARNING: {CONSOLE} is not deployed: the nudge emails link to" in run.stdout
    assert "WARNING: until it is, and the sweep is deployed again" in run.stdout

    def links() -> list[str]:
        deploys = checkout.model()["deploy_log"]
        return [d["env"]["CONSOLE_URL"] for d in deploys if d["name"] == SWEEP]

    assert links() == [PENDING_CONSOLE_URL] * 2

    run = checkout.run("--project", PROJECT, "--only", CONSOLE)
    assert run.returncode == 0, run.stderr + run.stdout
    assert f"run deploy.sh --only {SWEEP} once" in run.stdout
    run = checkout.run("--project", PROJECT, "--only", SWEEP)
    assert run.returncode == 0, run.stderr + run.stdout
    assert links()[-1] == checkout.model()["functions"][CONSOLE]["url"]
    assert "is not deployed" not in run.stdout


def test_only_team_console_deploys_the_console_alone(deployer: Deployer) -> None:
    run = deployer.dry("--only", CONSOLE)
    assert run.returncode == 0, run.stderr
    assert [positional(a)[2] for a in run.gcloud("functions", "deploy")] == [CONSOLE]
    assert [c[2] for c in run.commands() if c[:2] == ["./deploy.sh", "--stage"]] == [CONSOLE]
    assert run.gcloud("scheduler") == [] and "sweep-scheduler@" not in run.stdout
    accounts = [positional(a)[3] for a in run.gcloud("iam", "service-accounts", "create")]
    assert accounts == ["fn-team-console"]
    created = [positional(a)[2] for a in run.gcloud("secrets", "create")]
    assert created == [
        "CRM_APPS_SCRIPT_URL",
        "CRM_APPS_SCRIPT_KEY",
        "RATE_LIMIT_KEY",
        "PRIVACY_TRACE_KEY",
    ]
    assert f"The team console is at <{CONSOLE}-url>." in run.stdout
    assert f"run deploy.sh --only {SWEEP} once" in run.stdout


@pytest.mark.parametrize(
    "missing",
    [("TEAM_OAUTH_CLIENT_ID",), ("TEAM_EMAILS",), ("TEAM_OAUTH_CLIENT_ID", "TEAM_EMAILS")],
    ids=["client-id", "emails", "both"],
)
def test_without_its_sign_in_settings_the_console_stops_the_run_before_any_change(
    checkout: Deployer, missing: tuple[str, ...]
) -> None:
    keep = {k: v for k, v in SETTINGS.items() if k not in missing}
    checkout.settings(**keep, **checkout.secret_files())
    them = "them" if len(missing) > 1 else "it"
    refusal = (
        f"{CONSOLE} refuses to start without {' and '.join(missing)}: set {them} in deploy.env"
    )
    others = " ".join(fn for fn in FUNCTIONS if fn != CONSOLE)

    run = checkout.run("--project", PROJECT)
    assert run.returncode == 1
    assert "nothing was changed" in run.stderr and refusal in run.stderr
    assert f"./deploy.sh --project {PROJECT} --only {others}" in run.stderr
    assert run.calls == []

    plan = checkout.dry()
    assert plan.returncode == 0, plan.stderr
    assert f"# WARNING: {refusal}" in plan.stdout
    assert "# WARNING: a real run stops here" in plan.stdout

    # The other functions do not need them.
    plan = checkout.dry("--only", *FUNCTIONS[:3], SWEEP)
    assert "refuses to start" not in plan.stdout


def test_the_5xx_alert_covers_the_console_and_its_request_logs_are_kept(
    first_run: FirstRun,
) -> None:
    model = first_run.model
    [policy] = [
        p
        for p in model["policies"].values()
        if p["displayName"].endswith("a function answered 5xx")
    ]
    assert '"team-console"' in policy["conditions"][0]["conditionThreshold"]["filter"]
    [exclusion] = model["exclusions"]
    assert "team-console" not in exclusion["filter"]
    kept = "team_console's, retention_sweep's and forward_record's request logs are kept"
    assert kept in first_run.run.stdout


# -- the forwarder and its Eventarc triggers ----------------------------------------------------

PUBSUB_AGENT = "service-{}@gcp-sa-pubsub.iam.gserviceaccount.com"


def test_the_forwarder_runs_private_with_bounded_instances_and_concurrency(
    deployer: Deployer,
) -> None:
    from factoryops import deliveries

    run = deployer.dry()
    assert run.returncode == 0, run.stderr
    assert "forward_record (private: Eventarc only)" in run.stdout
    [deploy] = [a for a in run.gcloud("functions", "deploy") if positional(a)[2] == FORWARDER]
    assert "--no-allow-unauthenticated" in deploy and "--trigger-http" in deploy
    assert flag(deploy, "service-account") == f"fn-forward-record@{PROJECT}.iam.gserviceaccount.com"
    assert (flag(deploy, "max-instances"), flag(deploy, "concurrency")) == ("2", "4")
    # Cloud Run serves more than one request at a time on a whole vCPU only.
    assert flag(deploy, "cpu") == "1" and flag(deploy, "memory")
    # Each channel waits out a busy EmailJS or CRM for a while, then sends.
    patience = deliveries.FORWARD_PATIENCE + deliveries.SWEEP_TIMEOUT
    timeout = int((flag(deploy, "timeout") or "0s").removesuffix("s"))
    assert len(deliveries.CHANNELS) * patience < timeout <= 600

    deployer.settings(**SETTINGS, MAX_INSTANCES_FORWARD_RECORD="1", CONCURRENCY_FORWARD_RECORD="2")
    run = deployer.dry()
    [deploy] = [a for a in run.gcloud("functions", "deploy") if positional(a)[2] == FORWARDER]
    assert (flag(deploy, "max-instances"), flag(deploy, "concurrency")) == ("1", "2")
    deployer.settings(**SETTINGS, CONCURRENCY_FORWARD_RECORD="50")
    run = deployer.dry()
    assert run.returncode == 1 and "CONCURRENCY_FORWARD_RECORD: must be at most 8" in run.stderr


def test_the_triggers_deliver_firestore_writes_to_the_forwarder_as_their_own_account(
    deployer: Deployer,
) -> None:
    run = deployer.dry()
    creates = run.gcloud("eventarc", "triggers", "create")
    updates = run.gcloud("eventarc", "triggers", "update")
    describes = run.gcloud("eventarc", "triggers", "describe")
    names = [t.name for t in manifest.TRIGGERS]
    assert [positional(a)[3] for a in (*describes, *creates, *updates)] == names * 3
    for trigger, create, update in zip(manifest.TRIGGERS, creates, updates, strict=True):
        assert create[4:] == update[4:]  # an existing trigger is set to the same
        assert flags(create, "event-filters") == [f"type={trigger.event}", "database=(default)"]
        assert flags(create, "event-filters-path-pattern") == [f"document={trigger.document}"]
        assert flag(create, "event-data-content-type") == "application/protobuf"
        assert flag(create, "destination-run-service") == f"<{FORWARDER}-service>"
        assert flag(create, "service-account") == TRIGGER_ACCOUNT
    assert [t.document for t in manifest.TRIGGERS] == [
        "contact_submissions/{record}",
        "chat_sessions/{session}",
    ]
    # The triggers come once the forwarder runs and only their account may invoke it.
    commands = [positional(a) for a in run.gcloud()]
    deployed = commands.index(["functions", "deploy", FORWARDER])
    invoker = commands.index(["functions", "add-invoker-policy-binding", FORWARDER])
    first_trigger = min(i for i, c in enumerate(commands) if c[:2] == ["eventarc", "triggers"])
    assert deployed < invoker < first_trigger
    # Pub/Sub signs each push as the trigger's account: its agent may do so for it alone.
    [identity] = run.gcloud("beta", "services", "identity", "create")
    assert flag(identity, "service") == "pubsub.googleapis.com"
    [token] = run.gcloud("iam", "service-accounts", "add-iam-policy-binding")
    assert positional(token)[3] == TRIGGER_ACCOUNT
    assert flag(token, "member") == "serviceAccount:" + PUBSUB_AGENT.format("<project-number>")
    assert flag(token, "role") == "roles/iam.serviceAccountTokenCreator"
    # What Google grants itself, and what happens to a failed delivery, is said.
    assert "roles/eventarc.serviceAgent" in run.stdout
    assert "delivered again by Pub/Sub, with backoff, for 24 hours" in run.stdout


def test_the_triggers_come_with_the_forwarder_only(deployer: Deployer) -> None:
    run = deployer.dry("--only", "contact_submit", SWEEP)
    assert run.returncode == 0, run.stderr
    assert run.gcloud("eventarc") == [] and "eventarc-trigger@" not in run.stdout

    run = deployer.dry("--only", FORWARDER)
    assert run.returncode == 0, run.stderr
    assert [positional(a)[2] for a in run.gcloud("functions", "deploy")] == [FORWARDER]
    accounts = [positional(a)[3] for a in run.gcloud("iam", "service-accounts", "create")]
    assert accounts == ["fn-forward-record", "eventarc-trigger"]
    assert len(run.gcloud("eventarc", "triggers", "create")) == len(manifest.TRIGGERS)
    assert run.gcloud("scheduler") == []


def test_a_first_run_makes_the_triggers_and_their_accounts_roles(first_run: FirstRun) -> None:
    model = first_run.model
    assert sorted(model["triggers"]) == sorted(t.name for t in manifest.TRIGGERS)
    for trigger in manifest.TRIGGERS:
        made = model["triggers"][trigger.name]["trigger"]
        assert made["destination"] == {
            "cloudRun": {"service": model["functions"][FORWARDER]["service"], "region": REGION}
        }
        assert made["serviceAccount"] == TRIGGER_ACCOUNT
        assert made["eventDataContentType"] == manifest.EVENT_DATA_CONTENT_TYPE
        assert {f["attribute"]: f["value"] for f in made["eventFilters"]} == {
            "type": trigger.event,
            "database": manifest.DATABASE,
            "document": trigger.document,
        }
    assert [f"serviceAccount:{TRIGGER_ACCOUNT}", "roles/eventarc.eventReceiver"] in model[
        "project_bindings"
    ]
    assert model["account_bindings"] == [
        [
            TRIGGER_ACCOUNT,
            "serviceAccount:" + PUBSUB_AGENT.format("123456789012"),
            "roles/iam.serviceAccountTokenCreator",
        ]
    ]
    assert model["service_identities"] == ["pubsub.googleapis.com"]


def test_the_public_functions_get_neither_the_emailjs_key_nor_the_crm_key(
    first_run: FirstRun,
) -> None:
    model = first_run.model
    latest = {d["name"]: d for d in model["deploy_log"]}
    granted = {
        (secret, member.removeprefix("serviceAccount:").split("@")[0])
        for secret, member, _ in model["secret_bindings"]
    }
    sending = {"EMAILJS_ENDPOINT", "EMAILJS_CONTACT_TEMPLATE_ID", "EMAILJS_CHAT_TEMPLATE_ID"}
    for name in ("contact_submit", "chat_message"):
        secrets = {ref.split("=")[0] for ref in latest[name]["secrets"].split(",") if ref}
        assert secrets == {"RATE_LIMIT_KEY", "ALTCHA_HMAC_KEY", "CRM_APPS_SCRIPT_URL"}, name
        assert not sending & set(latest[name]["env"]), name
        account = f"fn-{name.replace('_', '-')}"
        assert ("EMAILJS_PRIVATE_KEY", account) not in granted
        assert ("CRM_APPS_SCRIPT_KEY", account) not in granted
    forwarder = latest[FORWARDER]
    assert {"EMAILJS_CONTACT_TEMPLATE_ID", "EMAILJS_CHAT_TEMPLATE_ID"} <= set(forwarder["env"])
    assert "EMAILJS_PRIVATE_KEY=EMAILJS_PRIVATE_KEY:1" in forwarder["secrets"]


def test_the_failed_delivery_alert_counts_the_forwarders_lines_too() -> None:
    from deployment import monitoring

    # The forwarder's first attempts log `delivery attempt` lines as the sweep's do.
    assert "service_name" not in monitoring.DELIVERY_FAILED.filter


# -- request logs and alerts -------------------------------------------------------------------


def exclusion_updates(commands: list[list[str]]) -> list[list[str]]:
    """The `sinks update _Default` commands that add or update an exclusion."""
    return [
        a
        for a in commands
        if positional(a)[:4] == ["logging", "sinks", "update", "_Default"]
        and (flag(a, "add-exclusion") or flag(a, "update-exclusion"))
    ]


def test_the_public_functions_request_logs_are_excluded_from_storage(deployer: Deployer) -> None:
    run = deployer.dry()
    services = run.gcloud("functions", "describe")
    assert {positional(a)[2] for a in services if "serviceConfig.service" in a[-2]} >= set(PUBLIC)
    updates = exclusion_updates(run.gcloud())
    assert len(updates) == 2  # the exclusion updated if the sink has it, else added
    specs = [flag(updates[0], "update-exclusion"), flag(updates[1], "add-exclusion")]
    assert specs[0] == specs[1] and specs[0]
    item = dict(part.split("=", 1) for part in specs[0].split(","))
    assert item["name"] == "factoryops-visitor-request-logs"
    assert item["filter"] == (
        'log_id("run.googleapis.com/requests") AND resource.type="cloud_run_revision" AND '
        'resource.labels.service_name=("<contact_submit-service>" OR "<chat_message-service>" OR '
        '"<access_grant-service>")'
    )


def shown_policies(run: Run) -> list[dict[str, Any]]:
    """The alerting policies the plan shows, as the files deploy.sh gives gcloud."""
    return [
        json.loads(line.split(": ", 1)[1])
        for line in run.stdout.splitlines()
        if line.startswith("# <workdir>/alert-")
    ]


def test_every_alert_policy_keeps_to_the_monitoring_apis_documented_limits(
    deployer: Deployer,
) -> None:
    shown = shown_policies(deployer.dry())
    assert len(shown) == 5
    for policy in shown:
        assert _policy_refusal(policy) == "", policy["displayName"]
    # The stand-in refuses what the API refuses, so a real run stops where Google's would.
    nightly = {"conditions": [{"conditionAbsent": {"duration": "88200s", "aggregations": []}}]}
    assert "23.5 hours" in _policy_refusal(nightly)
    window = {"alignmentPeriod": "90060s"}
    assert "25 hours" in _policy_refusal(
        {"conditions": [{"conditionThreshold": {"duration": "0s", "aggregations": [window]}}]}
    )
    assert "whole minutes" in _policy_refusal(
        {"conditions": [{"conditionThreshold": {"duration": "90s", "aggregations": []}}]}
    )


def step_of(run: Run, line: str) -> str:
    """The `## N. title` of the plan's step whose commands include `line`."""
    heading = ""
    for text in run.stdout.splitlines():
        if text.startswith("## "):
            heading = text
        elif line in text:
            return heading
    raise AssertionError(f"{line!r} is not in the plan")


def test_the_projects_logs_are_routed_to_a_bucket_in_the_region_before_any_function_is_deployed(
    deployer: Deployer,
) -> None:
    run = deployer.dry()
    commands = run.gcloud()
    [create] = run.gcloud("logging", "buckets", "create")
    assert positional(create)[3] == "factoryops-logs"
    assert flag(create, "location") == REGION and flag(create, "retention-days") == "30"
    routed = [
        i
        for i, a in enumerate(commands)
        if positional(a)[:4] == ["logging", "sinks", "update", "_Default"]
        and positional(a)[4:]
        == [f"logging.googleapis.com/projects/{PROJECT}/locations/{REGION}/buckets/factoryops-logs"]
    ]
    assert len(routed) == 1
    assert commands.index(create) < routed[0]
    first_deploy = next(
        i for i, a in enumerate(commands) if positional(a)[:2] == ["functions", "deploy"]
    )
    first_exclusion = commands.index(exclusion_updates(commands)[0])
    assert routed[0] < first_deploy and first_exclusion < first_deploy
    assert step_of(run, "logging buckets create") == step_of(run, "--add-exclusion=")
    assert "Logs: stored in asia-south1" in step_of(run, "logging buckets create")


def test_the_request_log_exclusion_exists_before_the_first_function_is_deployed(
    first_run: FirstRun,
) -> None:
    calls = [c["argv"] for c in first_run.run.calls if c["tool"] == "gcloud"]
    first_deploy = next(
        i for i, a in enumerate(calls) if positional(a)[:2] == ["functions", "deploy"]
    )
    excluded = [i for i, a in enumerate(calls) if a in exclusion_updates(calls)]
    routed = [i for i, a in enumerate(calls) if positional(a)[:3] == ["logging", "sinks", "update"]]
    assert excluded and excluded[0] < first_deploy
    assert routed[0] < first_deploy
    # The services foreseen before the functions existed are the ones deployed: no update.
    assert len(excluded) == 1
    [exclusion] = first_run.model["exclusions"]
    assert exclusion["filter"].endswith(
        'service_name=("contact-submit" OR "chat-message" OR "access-grant")'
    )
    assert first_run.model["default_sink"].endswith(f"/locations/{REGION}/buckets/factoryops-logs")


def test_a_first_run_makes_the_log_bucket_once_and_a_second_finds_it(first_run: FirstRun) -> None:
    assert first_run.model["log_buckets"] == {f"{REGION}/factoryops-logs": {"retention_days": 30}}
    assert len(first_run.run.called("logging", "buckets", "create")) == 1
    second = first_run.deployer.run("--project", PROJECT)
    assert second.returncode == 0, second.stderr + second.stdout
    assert second.called("logging", "buckets", "create") == []
    routing = [a for a in second.called("logging", "sinks", "update") if positional(a)[4:]]
    assert routing == [], "the sink already stores into the bucket"


def test_a_service_named_otherwise_than_foreseen_is_excluded_as_soon_as_it_is_deployed(
    checkout: Deployer,
) -> None:
    checkout.state.write_text(json.dumps({"service_names": {"chat_message": "chat-message-x7"}}))
    run = checkout.run("--project", PROJECT)
    assert run.returncode == 0, run.stderr + run.stdout

    calls = [c["argv"] for c in run.calls if c["tool"] == "gcloud"]
    excluded = [i for i, a in enumerate(calls) if a in exclusion_updates(calls)]
    deploys = [i for i, a in enumerate(calls) if positional(a)[:2] == ["functions", "deploy"]]
    chat_deploy = next(i for i in deploys if positional(calls[i])[2] == "chat_message")
    assert len(excluded) == 2 and excluded[0] < deploys[0]
    # The correction follows chat_message's own deployment, before the next function's.
    assert chat_deploy < excluded[1] < min(i for i in deploys if i > chat_deploy)
    assert "WARNING: chat_message's service is chat-message-x7, not chat-message" in run.stdout
    [exclusion] = checkout.model()["exclusions"]
    assert exclusion["filter"].endswith(
        'service_name=("contact-submit" OR "chat-message-x7" OR "access-grant")'
    )


def test_alerts_are_planned_for_alert_email(deployer: Deployer) -> None:
    run = deployer.dry()
    assert run.returncode == 0, run.stderr
    metrics = run.gcloud("logging", "metrics", "create")
    assert [positional(a)[3] for a in metrics] == [
        "factoryops_delivery_failed",
        "factoryops_sweep_retention_ok",
        "factoryops_sweep_deliveries_ok",
        "factoryops_forward_budget_spent",
    ]
    assert 'jsonPayload.tasks:"retention"' in (flag(metrics[1], "log-filter") or "")
    channel = run.gcloud("beta", "monitoring", "channels", "create")
    assert len(channel) == 1
    assert flag(channel[0], "channel-labels") == "email_address=ops@factoryopsai.com"
    assert flag(channel[0], "type") == "email"
    creates = run.gcloud("alpha", "monitoring", "policies", "create")
    updates = run.gcloud("alpha", "monitoring", "policies", "update")
    assert len(creates) == len(updates) == 5
    shown = shown_policies(run)
    assert [p["displayName"] for p in shown] == [
        "FactoryOps AI: a delivery failed",
        "FactoryOps AI: no successful nightly retention run",
        "FactoryOps AI: no successful deliveries run in 30 minutes",
        "FactoryOps AI: a function answered 5xx",
        "FactoryOps AI: emails held by the hourly budget",
    ]
    for policy in shown:
        assert policy["notificationChannels"] == ["<channel-name>"]
    server_errors = shown[3]["conditions"][0]["conditionThreshold"]["filter"]
    assert 'metric.type="run.googleapis.com/request_count"' in server_errors
    assert 'metric.labels.response_code_class="5xx"' in server_errors
    for name in FUNCTIONS:
        assert f'"<{name}-service>"' in server_errors


def test_without_alert_email_the_plan_says_loudly_there_are_no_alerts(deployer: Deployer) -> None:
    deployer.settings(**{k: v for k, v in SETTINGS.items() if k != "ALERT_EMAIL"})
    run = deployer.dry()
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("WARNING: ALERT_EMAIL is not set") == 2  # the header, the step
    assert run.gcloud("logging", "metrics") == []
    assert run.gcloud("beta", "monitoring") == [] and run.gcloud("alpha") == []


def test_a_first_run_sets_up_logs_and_alerts_and_a_second_updates_them(
    first_run: FirstRun,
) -> None:
    model, checkout = first_run.model, first_run.deployer
    assert [
        "serviceAccount:123456789012-compute@developer.gserviceaccount.com",
        "roles/cloudbuild.builds.builder",
    ] in model["project_bindings"]
    [exclusion] = model["exclusions"]
    assert exclusion["filter"].endswith(
        'service_name=("contact-submit" OR "chat-message" OR "access-grant")'
    )
    assert sorted(model["log_metrics"]) == [
        "factoryops_delivery_failed",
        "factoryops_forward_budget_spent",
        "factoryops_sweep_deliveries_ok",
        "factoryops_sweep_retention_ok",
    ]
    [channel] = model["channels"].values()
    assert channel["labels"] == "email_address=ops@factoryopsai.com"
    assert len(model["policies"]) == 5
    for policy in model["policies"].values():
        assert policy["notificationChannels"] == list(model["channels"])

    second = checkout.run("--project", PROJECT)
    assert second.returncode == 0, second.stderr + second.stdout
    after = checkout.model()
    assert len(after["exclusions"]) == 1 and len(after["channels"]) == 1
    assert len(after["policies"]) == 5 and len(after["log_metrics"]) == 4
    assert len(second.called("logging", "sinks", "update")) == 1
    assert all(flag(a, "update-exclusion") for a in second.called("logging", "sinks", "update"))
    assert second.called("logging", "metrics", "create") == []
    assert len(second.called("logging", "metrics", "update")) == 4
    assert second.called("beta", "monitoring", "channels", "create") == []
    assert second.called("alpha", "monitoring", "policies", "create") == []
    assert len(second.called("alpha", "monitoring", "policies", "update")) == 5


# -- --verify ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Deployer:
    """A project deployed once, its functions answering on this machine."""
    deployer = make_checkout(tmp_path_factory.mktemp("live"))
    root = deployer.env["GOOGLE_APIS_STANDIN"] + "/functions"
    deployer.state.write_text(json.dumps({"function_root": root}))
    run = deployer.run("--project", PROJECT)
    assert run.returncode == 0, run.stderr + run.stdout
    return deployer


def live_copy(live: Deployer, tmp_path: Path, root: Path | None = None, **change: Any) -> Deployer:
    """The live project's model, for one test to change, behind its own stand-ins; `root`,
    a checkout of the test's own (the live one is shared)."""
    deployer = make_deployer(tmp_path, root or live.root)
    text = live.state.read_text()
    here = deployer.env["GOOGLE_APIS_STANDIN"] + "/functions"
    model = json.loads(text.replace(json.loads(text)["function_root"], here))
    model.update(change)
    deployer.state.write_text(json.dumps(model))
    deployer.env["VERIFY_WAIT_SECONDS"] = "1"
    return deployer


def rows(run: Run) -> dict[str, tuple[str, str]]:
    """The verify table: result and details by check."""
    lines = run.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("check "))
    found = {}
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        match = re.match(r"(.+?)\s{2,}(pass|FAIL)\s+(.*)$", line)
        assert match, line
        found[match[1]] = (match[2], match[3])
    return found


def test_verify_passes_on_a_fresh_deployment(live: Deployer, tmp_path: Path) -> None:
    deployer = live_copy(live, tmp_path)
    run = deployer.run("--project", PROJECT, "--verify")
    assert run.returncode == 0, run.stdout + run.stderr
    table = rows(run)
    assert len(table) == 21
    assert table["logs stored in asia-south1"] == (
        "pass",
        "the _Default sink stores into factoryops-logs",
    )
    assert all(result == "pass" for result, _ in table.values()), table
    assert f"All {len(table)} checks passed." in run.stdout
    assert table["team_console: GET /api/config"][1] == (
        f"200, Google sign-in, client id {SETTINGS['TEAM_OAUTH_CLIENT_ID']}"
    )
    assert table["team_console: GET /api/me without a token"][1] == "401 unauthenticated"
    assert table["team_console: GET / (page, CSP)"][1] == (
        "200 text/html with a Content-Security-Policy"
    )
    http = [c["argv"] for c in run.calls if c["tool"] == "http"]
    console = [["GET", f"{CONSOLE} {path}"] for path in ("/api/config", "/api/me", "/")]
    public = [[m, fn] for fn in PUBLIC for m in ("OPTIONS", "POST")]
    assert sorted(http) == sorted([*public, *console, ["POST", FORWARDER], ["POST", SWEEP]])
    for trigger in manifest.TRIGGERS:
        assert table[f"eventarc trigger {trigger.name}: active"] == (
            "pass",
            f"{trigger.event.rsplit('.', 1)[1]} on {trigger.document} -> forward-record",
        )
    assert table[f"{FORWARDER}: refuses a call without a token"][0] == "pass"
    # The sweep trusts the signature Cloud Run checked: Cloud Run's front end refuses
    # a call without a token before the function sees it.
    assert table[f"{SWEEP}: refuses a call without a token"] == (
        "pass",
        "403 from Cloud Run: only the scheduler's account may invoke it",
    )
    assert len(run.called("scheduler", "jobs", "run", "retention-sweep-deliveries")) == 1
    # Nothing is changed but the sweep's run.
    changing = ("create", "update", "deploy", "add-iam-policy-binding", "enable")
    assert not [c for c in run.calls if set(positional(c["argv"])) & set(changing)]
    assert [c for c in run.calls if c["tool"] == "rest" and "GET" not in c["argv"]] == []


def with_trigger(model: dict[str, Any], name: str, **fields: Any) -> dict[str, Any]:
    """The model's triggers, one of them changed."""
    triggers = json.loads(json.dumps(model["triggers"]))
    triggers[name]["trigger"].update(fields)
    return dict(triggers)


def break_rules(model: dict[str, Any]) -> dict[str, Any]:
    live_name = model["rules_release"]
    source = {"files": [{"name": "firestore.rules", "content": "rules_version = '2';\n"}]}
    return {"rulesets": {**model["rulesets"], live_name: source}}


@pytest.mark.parametrize(
    ("fault", "check", "advice"),
    [
        (
            lambda m: {"function_faults": {"chat_message": "post_500"}},
            "chat_message: empty POST",
            "answered 500 internal: gcloud functions logs read chat_message --region=asia-south1",
        ),
        (
            lambda m: {"function_faults": {"access_grant": "cors"}},
            "access_grant: CORS preflight",
            "https://factoryopsai.com not allowed (Access-Control-Allow-Origin: none): is it in"
            " ALLOWED_ORIGINS?",
        ),
        (
            break_rules,
            "security rules: live release = firestore.rules",
            "differs from firestore.rules: run ./deploy.sh to publish",
        ),
        (
            lambda m: {"default_sink": GLOBAL_DEFAULT_BUCKET},
            "logs stored in asia-south1",
            f"the _Default sink stores into {GLOBAL_DEFAULT_BUCKET}: run ./deploy.sh",
        ),
        (
            lambda m: {"exclusions": []},
            "request logs of the public functions excluded",
            "no exclusion factoryops-visitor-request-logs on the _Default sink: run ./deploy.sh",
        ),
        (
            lambda m: {"sweep_outcome": "crm_unavailable"},
            "sweep: run by Cloud Scheduler, ok logged",
            "no success line within 1 s; the sweep's warnings say why",
        ),
        (
            lambda m: {"ttl": m["ttl"][1:]},
            f"TTL policies: ACTIVE on {len(TTL_GROUPS)} groups",
            f"not active: {TTL_GROUPS[0]} (none)",
        ),
        (
            lambda m: (
                {"composite_indexes": [["chat_sessions", "collection"]]}
                | {"index_state": "CREATING"}
            ),
            "composite indexes: 0 READY",
            "0 ready of 0 declared (1 creating); 'creating' takes some minutes after a deployment",
        ),
        (
            lambda m: {"function_faults": {CONSOLE: "me_open"}},
            "team_console: GET /api/me without a token",
            "answered 200, not 401 unauthenticated: gcloud functions logs read team_console",
        ),
        (
            lambda m: {"function_faults": {CONSOLE: "no_csp"}},
            "team_console: GET / (page, CSP)",
            "no Content-Security-Policy header",
        ),
        (
            lambda m: {"triggers": {k: v for k, v in m["triggers"].items() if "chat" not in k}},
            "eventarc trigger forward-chat-sessions: active",
            "missing: run ./deploy.sh",
        ),
        (
            lambda m: {"triggers": with_trigger(m, "forward-chat-sessions", serviceAccount="")},
            "eventarc trigger forward-chat-sessions: active",
            f"delivers as no account, not {TRIGGER_ACCOUNT}: run ./deploy.sh",
        ),
        (
            lambda m: {"triggers": with_trigger(m, "forward-contact-submissions", eventFilters=[])},
            "eventarc trigger forward-contact-submissions: active",
            "database filter none, not (default); document filter none, not"
            " contact_submissions/{record} (path pattern); type filter none, not"
            " google.cloud.firestore.document.v1.written: run ./deploy.sh",
        ),
        (
            lambda m: {
                "trigger_conditions": {
                    "forward-contact-submissions": {
                        "destination": {"code": "PERMISSION_DENIED", "message": "no invoker"}
                    }
                }
            },
            "eventarc trigger forward-contact-submissions: active",
            "Eventarc reports destination: PERMISSION_DENIED no invoker: gcloud eventarc triggers"
            " describe forward-contact-submissions --location=asia-south1",
        ),
        (
            lambda m: {"function_faults": {FORWARDER: "open"}},
            "forward_record: refuses a call without a token",
            "answered 400, not 403: it must be deployed with --no-allow-unauthenticated",
        ),
        (
            lambda m: {"function_faults": {SWEEP: "open"}},
            "retention_sweep: refuses a call without a token",
            "answered 401, not 403: it must be deployed with --no-allow-unauthenticated:"
            " run ./deploy.sh --only retention_sweep",
        ),
    ],
    ids=[
        "post-500",
        "cors",
        "rules",
        "logs-global",
        "exclusion",
        "no-success-line",
        "ttl",
        "index-building",
        "open-api",
        "no-csp",
        "no-trigger",
        "trigger-account",
        "trigger-filters",
        "trigger-failing",
        "forwarder-open",
        "sweep-open",
    ],
)
def test_verify_names_each_failure_and_what_to_look_at(
    live: Deployer, tmp_path: Path, fault: Any, check: str, advice: str
) -> None:
    deployer = live_copy(live, tmp_path, **fault(live.model()))
    run = deployer.run("--project", PROJECT, "--verify")
    assert run.returncode == 1, run.stdout + run.stderr
    table = rows(run)
    failed = {name: detail for name, (result, detail) in table.items() if result == "FAIL"}
    assert list(failed) == [check], table
    assert advice in failed[check]
    assert "1 of 21 checks failed." in run.stdout


@pytest.mark.parametrize(("built", "result"), [(5, "pass"), (4, "FAIL")])
def test_verify_checks_each_declared_composite_index_is_built(
    live: Deployer, tmp_path: Path, built: int, result: str
) -> None:
    spec = json.loads((ROOT / "firestore.indexes.json").read_text())
    declared = len(spec["indexes"])
    root = tmp_path / "checkout"
    shutil.copytree(live.root, root)
    (root / "firestore.indexes.json").write_text(json.dumps(spec))
    deployer = live_copy(live, tmp_path, root, composite_indexes=[["chat_sessions", "x"]] * built)
    run = deployer.run("--project", PROJECT, "--verify")
    outcome, detail = rows(run)[f"composite indexes: {declared} READY"]
    assert declared == 5 and outcome == result
    if result == "FAIL":
        assert detail.startswith("4 ready of 5 declared (1 not created)")


def test_verify_notices_a_job_whose_token_the_sweep_refuses(live: Deployer, tmp_path: Path) -> None:
    deployer = live_copy(live, tmp_path)
    model = deployer.model()
    model["jobs"]["retention-sweep-deliveries"] = [
        "--oidc-token-audience=https://x.invalid" if a.startswith("--oidc-token-audience=") else a
        for a in model["jobs"]["retention-sweep-deliveries"]
    ]
    deployer.state.write_text(json.dumps(model))
    run = deployer.run("--project", PROJECT, "--verify")
    assert run.returncode == 1
    failed = {name for name, (result, _) in rows(run).items() if result == "FAIL"}
    assert failed == {
        "scheduler job retention-sweep-deliveries: OIDC token",
        "sweep: run by Cloud Scheduler, ok logged",
    }
    assert "audience https://x.invalid, not the sweep's URL" in run.stdout


def test_verify_dry_run_prints_its_checks_and_runs_nothing(deployer: Deployer) -> None:
    run = deployer.dry("--verify")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("# deploy.sh --verify plan (dry run")
    assert run.gcloud("scheduler", "jobs", "run", "retention-sweep-deliveries")
    reads = run.gcloud("logging", "read")
    assert len(reads) == 1
    assert 'jsonPayload.message="sweep finished" AND jsonPayload.outcome="ok"' in reads[0][2]
    assert [c[0] for c in run.commands() if c[0] in ("OPTIONS", "POST")] == [
        *["OPTIONS", "POST"] * 3,
        "POST",  # the forwarder, without a token
        "POST",  # the sweep, without a token
    ]
    described = [positional(a)[3] for a in run.gcloud("eventarc", "triggers", "describe")]
    assert described == [t.name for t in manifest.TRIGGERS]
    assert [c for c in run.commands() if c[0] == "GET" and CONSOLE in c[1]] == [
        ["GET", f"<{CONSOLE}-uri>{path}"] for path in ("/api/config", "/api/me", "/")
    ]
    assert "Dry run: nothing was run." in run.stdout


def test_verify_compares_the_consoles_client_id_with_the_settings(
    live: Deployer, tmp_path: Path
) -> None:
    deployer = live_copy(live, tmp_path)
    deployer.settings(
        **{**SETTINGS, "TEAM_OAUTH_CLIENT_ID": "5678-new.apps.googleusercontent.com"},
        **deployer.secret_files(),
    )
    run = deployer.run("--project", PROJECT, "--verify")
    assert run.returncode == 1
    failed = {name: detail for name, (result, detail) in rows(run).items() if result == "FAIL"}
    assert failed == {
        "team_console: GET /api/config": f"client id {SETTINGS['TEAM_OAUTH_CLIENT_ID']}, not"
        " deploy.env's TEAM_OAUTH_CLIENT_ID: run ./deploy.sh"
    }

    # A console that does not start answers 5xx, whatever is asked.
    deployer.settings(**SETTINGS, **deployer.secret_files())
    model = deployer.model()
    model["function_faults"] = {CONSOLE: "unready"}
    deployer.state.write_text(json.dumps(model))
    run = deployer.run("--project", PROJECT, "--verify")
    failed = {name: detail for name, (result, detail) in rows(run).items() if result == "FAIL"}
    assert sorted(failed) == sorted(
        f"team_console: {c}"
        for c in ("GET /api/config", "GET /api/me without a token", "GET / (page, CSP)")
    )
    assert (
        "are TEAM_OAUTH_CLIENT_ID and TEAM_EMAILS set?" in failed["team_console: GET /api/config"]
    )


def test_verify_takes_no_only(deployer: Deployer) -> None:
    run = deployer.run("--project", PROJECT, "--verify", "--only", SWEEP)
    assert run.returncode == 2 and "--verify checks everything" in run.stderr
