"""forward_record: a stored record's deliveries, run as soon as Eventarc reports its write.

The visitor's request stores the record with its deliveries pending and answers; it
never waits on EmailJS or the CRM. Eventarc then calls this function with the written
document, as a CloudEvent whose data is a protobuf `DocumentEventData` (the pattern of
Firebase's firestore-send-email). What the event says only decides whether there is
anything to do; the delivery itself goes through the leases of deliveries.py, which
read the document again, so a repeated or late event sends nothing twice, and an event
for a record erased meanwhile sends nothing. A send that is throttled (EmailJS's one a
second, the Apps Script web app's limit on executions) is tried again here with
backoff; any other failure is left to the sweep's `deliveries` task, as is whatever
this function did not finish.

Triggers (deploy.sh): `written` on contact_submissions (a quarantined post is sent once
the team releases it, as an update: quarantine.py) and on chat_sessions (a chat's first
message may come after its start, as an update of the session).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from factoryops import contact, deliveries, logs, store
from factoryops.chat import forward
from factoryops.config import FORWARDER, settings
from factoryops.documents import DeliveryFields, ForwardedFields

if TYPE_CHECKING:
    from cloudevents.http import CloudEvent

EVENT_PREFIX = "google.cloud.firestore.document.v1."
EVENT_TYPES = ("created", "written")
SOURCES: dict[str, deliveries.DeliverySource] = {
    source.collection: source for source in (contact.DELIVERIES, forward.DELIVERIES)
}
"""The forwarded records, by the collection that holds them."""


@dataclass(frozen=True)
class Written:
    """The document an event names, and the delivery states it was written with."""

    collection: str
    doc_id: str
    states: dict[str, tuple[str, dt.datetime | None]]
    """Per channel: its state and when it is due (None when not due at all)."""


def ready() -> None:
    """At an instance's start: read and check the settings, log them redacted."""
    logs.config_loaded(function=FORWARDER, settings=settings().redacted())


class Unavailable(Exception):
    """Firestore could not be reached: the event is answered 500, so Eventarc delivers it
    again. It carries no text, since a client error's text may quote a document path."""


def receive(event: CloudEvent) -> None:
    """forward_record's body: `handle`, with every failure logged by its class alone. An
    outage is raised as `Unavailable` (Eventarc retries); anything else is acknowledged,
    since a retry would fail alike for a day, and the sweep is the backstop."""
    try:
        handle(event)
    except Exception as exc:
        if store.is_outage(exc):
            logs.firestore_unavailable(function=FORWARDER, error=exc)
            raise Unavailable() from None
        logs.request_failed(function=FORWARDER)


def handle(event: CloudEvent) -> dict[str, str | None]:
    """Run the due deliveries of the record `event` reports; returns the state each
    channel it tried ended in."""
    kind = str(event["type"])
    if not kind.startswith(EVENT_PREFIX) or kind[len(EVENT_PREFIX) :] not in EVENT_TYPES:
        logs.event_ignored(function=FORWARDER, reason="event type")
        return {}
    written = decode(event.data)
    if written is None:
        logs.event_ignored(function=FORWARDER, reason="no document")
        return {}
    source = SOURCES.get(written.collection)
    if source is None:
        logs.event_ignored(function=FORWARDER, reason="collection")
        return {}
    now = store.now()
    due = [
        channel
        for channel in source.channels
        if channel in written.states
        and written.states[channel][0] in (deliveries.PENDING, deliveries.PROCESSING)
        and (due_at := written.states[channel][1]) is not None
        and due_at <= now
    ]
    if not due:
        return {}
    ref = store.collection(source.collection).document(written.doc_id)
    return deliveries.forward_now(source, ref, due)


def decode(data: Any) -> Written | None:
    """The document a `DocumentEventData` carries, or None when it carries none (a
    deletion) or is not one of ours."""
    from google.events.cloud.firestore import DocumentEventData

    if not isinstance(data, bytes | bytearray):
        return None
    try:
        message = DocumentEventData.deserialize(bytes(data))
    except Exception:  # not the protobuf Eventarc sends
        return None
    document = message.value
    if not document.name:
        return None
    _, marker, path = document.name.partition("/documents/")
    collection, _, doc_id = path.partition("/")
    if not marker or not doc_id or "/" in doc_id:
        return None
    states: dict[str, tuple[str, dt.datetime | None]] = {}
    if ForwardedFields.DELIVERIES in document.fields:
        held = document.fields[ForwardedFields.DELIVERIES].map_value.fields
        for channel, value in held.items():
            fields = value.map_value.fields
            state = fields.get(DeliveryFields.STATE)
            due = fields.get(DeliveryFields.DUE_AT)
            states[channel] = (
                "" if state is None else state.string_value,
                None if due is None else _timestamp(due),
            )
    return Written(collection, doc_id, states)


def _timestamp(value: Any) -> dt.datetime | None:
    if "timestamp_value" not in value:
        return None
    stamp: dt.datetime = value.timestamp_value
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
