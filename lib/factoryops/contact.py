"""contact_submit: store a visitor's contact form, then forward it."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

from factoryops import crm, deliveries, logs, mailer, store
from factoryops.config import settings
from factoryops.edge import Call, Endpoint, Reply
from factoryops.validation import COMPANY_MAX, EMAIL_MAX, MESSAGE_MAX, NAME_MAX, Email, Field, check

FUNCTION = "contact_submit"
HONEYPOT = "website"
SPEC = {
    "name": Field(NAME_MAX),
    "email": Field(EMAIL_MAX, kind="email"),
    "company": Field(COMPANY_MAX, required=False),
    "message": Field(MESSAGE_MAX, kind="text"),
}


@dataclass(frozen=True)
class ContactForm:
    name: str
    email: Email
    company: str
    message: str
    honeypot: bool


def validate(call: Call) -> ContactForm:
    trap = call.body.get(HONEYPOT)
    values = check(call.body, SPEC, ignore=(HONEYPOT,))
    return ContactForm(
        name=values["name"],
        email=values["email"],
        company=values["company"],
        message=values["message"],
        honeypot=bool(trap.strip()) if isinstance(trap, str) else trap is not None,
    )


def _email_job(data: dict[str, Any], record_id: str) -> deliveries.Send:
    def send(timeout: float) -> None:
        mailer.send(
            template_id=settings().emailjs_contact_template_id,
            params={
                "record_id": record_id,
                "name": data["name"],
                "email": data["email"],
                "reply_to": data["email"],
                "company": data.get("company", ""),
                "message": data["message"],
                "received_at": store.rfc3339(data["created_at"]) or "",
            },
            timeout=timeout,
        )

    return send


def _crm_job(data: dict[str, Any], record_id: str) -> deliveries.Send:
    row = crm.Row(
        received_at=store.rfc3339(data["created_at"]) or "",
        source="contact",
        record_id=record_id,
        name=data["name"],
        email=data["email"],
        company=data.get("company", ""),
        message=data["message"],
        page="",
    )
    return lambda timeout: crm.append(row, timeout=timeout)


def jobs(snapshot: deliveries.Record) -> dict[str, deliveries.Send]:
    data = snapshot.to_dict() or {}
    return {"email": _email_job(data, snapshot.id), "crm": _crm_job(data, snapshot.id)}


KIND = deliveries.register(
    deliveries.Kind(name="contact", collection=store.CONTACT_SUBMISSIONS, jobs=jobs)
)


def act(call: Call, form: ContactForm) -> Reply:
    if form.honeypot:
        logs.honeypot_tripped(function=FUNCTION)
        return _received(call, _decoy_id())
    from google.cloud import firestore

    cfg = settings()
    enabled = {"email": cfg.emailjs_configured, "crm": cfg.crm_configured}
    ref = store.client().collection(store.CONTACT_SUBMISSIONS).document()
    record = {
        "name": form.name,
        "email": form.email.address,
        "email_key": form.email.key,
        "company": form.company,
        "message": form.message,
        "created_at": firestore.SERVER_TIMESTAMP,
        "expire_at": store.expire_at(),
        "deliveries": deliveries.initial(enabled, lease_id=deliveries.new_lease_id()),
    }
    result = ref.create(record, **store.call_options())
    logs.record_stored(kind="contact", record_id=ref.id)
    channels = [c for c, on in enabled.items() if on]
    if channels:
        stored = {**record, "created_at": result.update_time}
        deliveries.attempt_new(
            kind=KIND, ref=ref, snapshot=deliveries.Fresh(ref.id, stored), channels=channels
        )
    return _received(call, ref.id)


def _decoy_id() -> str:
    """An id shaped like Firestore's automatic ones, so a bot cannot tell it was dropped."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


def _received(call: Call, record_id: str) -> Reply:
    body = {"id": record_id, "status": "received"}
    redirect = settings().contact_redirect_url
    if call.form and call.prefers_html and redirect:
        return Reply(303, body, {"Location": redirect})
    return Reply(201, body)


ENDPOINT: Endpoint[ContactForm] = Endpoint(
    function=FUNCTION,
    methods=("POST",),
    validate=validate,
    act=act,
    rate_limit=lambda: settings().contact_rate_limit,
    accepts_form=True,
)
