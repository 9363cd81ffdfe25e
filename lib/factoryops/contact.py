"""contact_submit: store a visitor's contact form and answer.

The request only stores: the record, its deliveries pending, in one commit (with the
Idempotency-Key's stored answer, when there is one). The forwarding function sends the
email and appends the CRM row once the record is written (forwarding.py), so EmailJS and
the CRM are not imported on the request path.
"""

from __future__ import annotations

from dataclasses import dataclass

from factoryops import deliveries, hours, logs, proof, quarantine, store
from factoryops.config import CONTACT, settings
from factoryops.documents import ContactFields, ContactSubmission
from factoryops.edge import Endpoint, JsonResponse, ParsedRequest, Staged
from factoryops.validation import (
    COMPANY,
    EMAIL,
    MESSAGE,
    NAME,
    Email,
    Field,
    check,
    search_terms,
)

HONEYPOT = "website"
SPEC: dict[str, Field] = {"name": NAME, "email": EMAIL, "company": COMPANY, "message": MESSAGE}


@dataclass(frozen=True)
class ContactForm:
    name: str
    email: Email
    company: str
    message: str
    honeypot: bool
    solved: proof.Solved | None
    """The site script's proof of work; None for a post without one (quarantined)."""


def validate(request: ParsedRequest) -> ContactForm:
    trap = request.body.get(HONEYPOT)
    values = check(request.body, SPEC, ignore=(HONEYPOT, proof.FIELD))
    return ContactForm(
        name=values["name"],
        email=values["email"],
        company=values["company"],
        message=values["message"],
        honeypot=bool(trap.strip()) if isinstance(trap, str) else trap is not None,
        solved=proof.check(request.body),
    )


def quarantined_because(form: ContactForm) -> str | None:
    """Why the post goes to the quarantine rather than the inbox; None when it does not:
    its honeypot is filled, it came without the proof of work, or its content reads as
    spam."""
    if form.honeypot:
        return quarantine.HONEYPOT
    if form.solved is None:
        return quarantine.NO_PROOF
    # Imported here: its vocabulary's one pattern takes some milliseconds to compile,
    # which a cold start need not wait for.
    from factoryops import spam

    verdict = spam.assess(name=form.name, company=form.company, message=form.message)
    return verdict.reason if verdict.spam else None


def email_params(submission: ContactSubmission, record_id: str) -> dict[str, str]:
    """The contact email's template parameters: the notice's fields and the record's id."""
    return {
        "record_id": record_id,
        "name": submission.name,
        "email": submission.email,
        "reply_to": submission.email,
        "company": submission.company,
        "message": submission.message,
        "received_at": store.rfc3339(submission.created_at) or "",
    }


def senders(record: deliveries.Record) -> dict[str, deliveries.Sender]:
    """The contact email and the CRM row, rebuilt from the stored submission."""
    from factoryops import crm, mailer

    submission = ContactSubmission.from_snapshot(record)
    params = email_params(submission, record.id)
    row = crm.Row(
        received_at=params["received_at"],
        source="contact",
        record_id=record.id,
        name=submission.name,
        email=submission.email,
        company=submission.company,
        message=submission.message,
        page="",
    )

    def send_email(attempt: deliveries.Attempt) -> None:
        template = settings().emailjs_contact_template_id
        mailer.send(template_id=template, params=params, timeout=attempt.timeout)

    def send_row(attempt: deliveries.Attempt) -> None:
        crm.append(row, timeout=attempt.timeout)

    return {"email": send_email, "crm": send_row}


DELIVERIES = deliveries.DeliverySource(
    name="contact", collection=store.CONTACT_SUBMISSIONS, senders=senders
)


def stage(request: ParsedRequest, form: ContactForm) -> Staged:
    """The submission's one write, for the edge to commit. A post for the quarantine (a
    filled honeypot among them) takes the same path, the same commit and the same answer
    as any other, so neither its answer nor its time tells a bot it was held."""
    batch = store.client().batch()
    cfg = settings()
    enabled = {"email": cfg.emailjs_configured, "crm": cfg.crm_configured}
    ref = store.collection(store.CONTACT_SUBMISSIONS).document()
    submission = ContactSubmission(
        name=form.name,
        email=form.email.address,
        email_key=form.email.key,
        company=form.company,
        message=form.message,
        search_terms=search_terms(form.name, form.company),
        expire_at=store.expire_at(),
        deliveries=deliveries.initial(enabled),
    )
    stored_fields = submission.to_dict()
    reason = quarantined_because(form)
    if reason is not None:
        # Stored and answered as any post, but with no deliveries: never sent on.
        stored_fields.pop(ContactFields.DELIVERIES, None)
        stored_fields |= quarantine.fields(reason)
    batch.create(ref, stored_fields)
    answer = _received(request, ref.id)

    def stored(results: list[object]) -> JsonResponse:
        if reason is None:
            logs.record_stored(kind=DELIVERIES.name, record_id=ref.id)
        else:
            logs.record_quarantined(kind=DELIVERIES.name, record_id=ref.id, reason=_why(form))
        return answer

    return Staged(batch, answer, stored, solved=form.solved)


def _why(form: ContactForm) -> str:
    """A quarantined post's reason as its log line names it (never its words)."""
    if form.honeypot:
        return "honeypot"
    return "proof" if form.solved is None else "content"


def _received(request: ParsedRequest, record_id: str) -> JsonResponse:
    body = {"id": record_id, "status": "received", "team": hours.team()}
    redirect = settings().contact_redirect_url
    if request.form and request.prefers_html and redirect:
        return JsonResponse(303, body, {"Location": redirect})
    return JsonResponse(201, body)


ENDPOINT: Endpoint[ContactForm] = Endpoint(
    function=CONTACT,
    methods=("POST",),
    validate=validate,
    stage=stage,
    rate_limit=lambda request: settings().contact_rate_limit,
    accepts_form=True,
    challenges=True,
)
