"""retention_sweep: the nightly retention run and the delivery retries.

Cloud Scheduler calls the function with a Google-signed OIDC ID token. The token is
checked before anything of the request is read (the endpoint's `authenticate`):
signature against Google's certificates, expiry, audience (SWEEP_AUDIENCE), issuer, and
that the caller is the scheduler's service account (SWEEP_INVOKER) with a verified
email. No token or a bad one is 401; a good token of another caller is 403.
Deployed, the sweep is private: Cloud Run's IAM check verifies the token's signature and
forwards it with the signature replaced by a marker, so SWEEP_AUTH=iam (set by
deploy.sh) checks the claims of such a token and nothing less (`tokens.verify`).
SWEEP_AUTH=off is accepted only with the emulator (config refuses it otherwise), and the
function refuses to start when the check would be impossible (`check_startup`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from factoryops import contact, deliveries, errors, grants, logs, retention, store, tokens
from factoryops.chat import forward, nudge, replies, thread
from factoryops.config import SWEEP, SWEEP_AUTH_IAM, SWEEP_AUTH_OFF, ConfigError, settings
from factoryops.documents import SweepRun, SweepRunFields
from factoryops.edge import Endpoint, JsonResponse, ParsedRequest
from factoryops.validation import Choices, Field, Flag, check

TASKS = ("retention", "deliveries")
SPEC: dict[str, Field] = {"tasks": Choices(TASKS), "dry_run": Flag()}
DELIVERY_SOURCES: tuple[deliveries.DeliverySource, ...] = (
    contact.DELIVERIES,
    forward.DELIVERIES,
    nudge.NUDGES,
    replies.REPLIES,
    grants.NOTES,
)
"""Everything that is delivered downstream: records forwarded by email and to the CRM,
the nudges to the team's inbox, reply emails and transcripts to visitors, and the
notes that a lead opened their link."""
RUNS_KEPT_DAYS = 90
"""How long a `sweep_runs` record is kept: enough to see a quarter's history."""


def check_startup() -> None:
    """Raise ConfigError unless the sweep can authenticate its caller (or may skip it)."""
    cfg = settings()
    if cfg.sweep_auth == SWEEP_AUTH_OFF:
        return
    if not cfg.sweep_audience:
        raise ConfigError("SWEEP_AUDIENCE", "required unless SWEEP_AUTH is off (the function URL)")
    if not cfg.sweep_invoker:
        raise ConfigError("SWEEP_INVOKER", "required unless SWEEP_AUTH is off (the scheduler's SA)")


# -- authentication -------------------------------------------------------------------


def authenticate(headers: Mapping[str, str]) -> tokens.Caller | None:
    """The caller once its ID token checks out (None with SWEEP_AUTH off); raise
    Unauthenticated (no or bad token), AccessDenied (another caller) or Unavailable
    (certificates unreachable)."""
    cfg = settings()
    if cfg.sweep_auth == SWEEP_AUTH_OFF:
        return None
    check_startup()
    return tokens.caller(
        headers,
        audience=cfg.sweep_audience,
        certs_url=cfg.sweep_certs_url,
        allowed=(cfg.sweep_invoker,),
        function=SWEEP,
        refusal="This caller may not run the sweep.",
        checked_by_cloud_run=cfg.sweep_auth == SWEEP_AUTH_IAM,
    )


# -- the endpoint ---------------------------------------------------------------------


@dataclass(frozen=True)
class SweepRequest:
    tasks: tuple[str, ...] = TASKS
    dry_run: bool = False


def validate(request: ParsedRequest) -> SweepRequest:
    values = check(request.body, SPEC)
    return SweepRequest(tasks=values["tasks"], dry_run=values["dry_run"])


class CrmUnavailable(errors.Unavailable):
    message = "The CRM could not be reached; the records it holds rows for were kept."

    def __init__(self) -> None:
        super().__init__(retry_after=300)


@dataclass
class SweepResult:
    request: SweepRequest
    deleted: retention.Deleted = field(default_factory=retention.Deleted)
    deliveries: deliveries.SweepCounts = field(default_factory=deliveries.SweepCounts)
    crm_error: str | None = None
    """Why the CRM rows could not be deleted; their records were kept for the next run."""

    def body(self) -> dict[str, Any]:
        """The 200 answer: what was deleted and delivered (or held for a later hour's
        email budget), or would be."""
        counts = self.deliveries
        return {
            "dry_run": self.request.dry_run,
            "deleted": self.deleted.as_dict(),
            "deliveries": {
                "sent": counts.sent,
                "retrying": counts.retrying,
                "failed": counts.failed,
                "held": counts.held,
            },
        }


def run(request: SweepRequest) -> SweepResult:
    """Run the requested tasks; retention first, so nothing past the window is sent.

    A CRM failure does not stop the rest of the work; it is reported in `crm_error`.
    Every run that is not a dry run leaves a `sweep_runs` record: its tasks, counts and
    outcome (`ok`, `crm_unavailable`, or `failed` when it stopped on an error), no
    personal data.
    """
    result = SweepResult(request)
    started = store.now()
    outcome = "failed"
    try:
        if "retention" in request.tasks:
            retained = retention.run(dry_run=request.dry_run)
            result.deleted = retained.deleted
            result.crm_error = retained.crm_error
        if "deliveries" in request.tasks:
            result.deliveries = deliveries.run_due(DELIVERY_SOURCES, dry_run=request.dry_run)
            if not request.dry_run:
                thread.forget_presence(store.now())  # logs, never raises
        outcome = "ok" if result.crm_error is None else "crm_unavailable"
    finally:
        if not request.dry_run:
            _record(result, outcome, started)
    logs.sweep_finished(
        dry_run=request.dry_run,
        tasks=request.tasks,
        outcome=outcome,
        deleted=result.deleted.as_dict(),
        deliveries=result.deliveries.as_dict(),
    )
    return result


def _record(result: SweepResult, outcome: str, started: dt.datetime) -> None:
    """The run's `sweep_runs` record, for `siteadmin status`; a failure to write it never
    fails the run, whose work is done."""
    finished = store.now()
    record = SweepRun(
        tasks=list(result.request.tasks),
        outcome=outcome,
        deleted=result.deleted.as_dict(),
        deliveries=result.deliveries.as_dict(),
        started_at=started,
        finished_at=finished,
        expire_at=finished + dt.timedelta(days=RUNS_KEPT_DAYS),
    )
    try:
        store.collection(store.SWEEP_RUNS).add(record.to_dict(), **store.call_options())
    except Exception as exc:
        logs.sweep_run_not_recorded(error=exc)


def recent_runs(*, limit: int = 300) -> list[SweepRun]:
    """The latest `sweep_runs` records, newest first (a day of deliveries runs and more)."""
    from google.cloud import firestore

    query = (
        store.collection(store.SWEEP_RUNS)
        .order_by(SweepRunFields.STARTED_AT, direction=firestore.Query.DESCENDING)
        .limit(limit)
    )
    return [SweepRun.from_snapshot(snap) for snap in query.stream(**store.call_options())]


def handle(request: ParsedRequest, sweep: SweepRequest) -> JsonResponse:
    result = run(sweep)
    if result.crm_error is not None:
        raise CrmUnavailable()
    return JsonResponse(200, result.body())


ENDPOINT: Endpoint[SweepRequest] = Endpoint(
    function=SWEEP,
    methods=("POST",),
    validate=validate,
    handle=handle,
    body_optional=True,
    # A sweep is idempotent by nature; replaying a stored answer would skip the work.
    idempotent_methods=(),
    authenticate=authenticate,
    # A run takes as long as its work; each Firestore call keeps its own bound.
    deadline=None,
    startup=check_startup,
)
