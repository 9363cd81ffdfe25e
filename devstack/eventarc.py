"""A local stand-in for Eventarc's Firestore triggers.

It listens to the emulator (Firestore's real-time listeners) and, for each document
written in a watched collection, POSTs a CloudEvent to the local forwarding function as
Eventarc does: binary content mode, the `ce-*` attributes Firestore's events carry
(`source`, `subject`, `document`, `database`, `namespace`, `project`, `location`), and a
protobuf `google.events.cloud.firestore.v1.DocumentEventData` body (`value`, and for a
`written` event of an update, `old_value`). Like Eventarc with retry on, it delivers an
event again, with backoff, while the function answers an error; like an Eventarc trigger
with bounded instances, at most `concurrency` events are in flight at once.

Documents that exist when a watch starts are not events (Eventarc reports writes, not
contents), so `start()` returns once each watch has read its current contents.

    python -m devstack.eventarc --target http://127.0.0.1:8087/   # FIRESTORE_EMULATOR_HOST set
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

CREATED = "google.cloud.firestore.document.v1.created"
WRITTEN = "google.cloud.firestore.document.v1.written"
DATA_SCHEMA = (
    "https://github.com/googleapis/google-cloudevents/blob/main/proto/google/events/cloud/"
    "firestore/v1/data.proto"
)
LOCATION = "asia-south1"


@dataclass(frozen=True)
class Trigger:
    """One Eventarc trigger: the event type and the collection it watches."""

    event_type: str
    collection: str


TRIGGERS = (Trigger(WRITTEN, "contact_submissions"), Trigger(WRITTEN, "chat_sessions"))
"""What deploy.sh creates: see lib/factoryops/forwarding.py."""


def event_body(snapshot: Any, old: Any = None) -> bytes:
    """`DocumentEventData` for a document as a listener saw it, serialised as Eventarc
    sends it. The Firestore client's own encoder builds the `Document`: its wire format is
    the one `google.events` reads."""
    from google.cloud.firestore_v1 import _helpers
    from google.cloud.firestore_v1.types import document as firestore_document
    from google.events.cloud.firestore import Document, DocumentEventData

    def document(snap: Any) -> Any:
        encoded = firestore_document.Document(
            name=snap.reference._document_path,
            fields=_helpers.encode_dict(snap.to_dict() or {}),
            create_time=snap.create_time,
            update_time=snap.update_time,
        )
        return Document.deserialize(firestore_document.Document.serialize(encoded))

    data = DocumentEventData(value=document(snapshot))
    if old is not None:
        data.old_value = document(old)
    return bytes(DocumentEventData.serialize(data))


def event_headers(*, event_type: str, project: str, path: str, at: dt.datetime) -> dict[str, str]:
    """The binary-mode headers of a Firestore event about `path` (`collection/id`)."""
    from cloudevents.conversion import to_binary
    from cloudevents.http import CloudEvent

    event = CloudEvent(
        {
            "id": str(uuid.uuid4()),
            "source": f"//firestore.googleapis.com/projects/{project}/databases/(default)",
            "type": event_type,
            "specversion": "1.0",
            "datacontenttype": "application/protobuf",
            "dataschema": DATA_SCHEMA,
            "subject": f"documents/{path}",
            "time": at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "location": LOCATION,
            "project": project,
            "database": "(default)",
            "namespace": "(default)",
            "document": path,
        },
        b"",
    )
    headers, _ = to_binary(event, data_marshaller=lambda data: data)
    return dict(headers)


@dataclass
class Eventarc:
    """Watches the emulator and delivers each write as a CloudEvent to `target`."""

    target: str
    project: str
    emulator_host: str = ""
    """The emulator to watch; empty: FIRESTORE_EMULATOR_HOST, as the client reads it."""
    triggers: tuple[Trigger, ...] = TRIGGERS
    concurrency: int = 8
    attempts: int = 6
    """Deliveries of one event at most (the first and its retries)."""
    delivered: list[tuple[str, int]] = field(default_factory=list)
    """(document path, status) of each delivery attempt, for tests."""
    _client: Any = None
    _watches: list[Any] = field(default_factory=list)
    _seen: dict[str, Any] = field(default_factory=dict)
    _pool: ThreadPoolExecutor | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pending: int = 0
    _last_activity: float = 0.0
    _idle: threading.Condition = field(default_factory=threading.Condition)

    def start(self, timeout: float = 30.0) -> Eventarc:
        import os

        from google.cloud import firestore

        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="eventarc")
        saved = os.environ.get("FIRESTORE_EMULATOR_HOST")
        if self.emulator_host:  # the client reads it when it opens its channel
            os.environ["FIRESTORE_EMULATOR_HOST"] = self.emulator_host
        try:
            self._client = client = firestore.Client(project=self.project)
            for trigger in self.triggers:
                loaded = threading.Event()
                watch = client.collection(trigger.collection).on_snapshot(
                    self._callback(trigger, loaded)
                )
                self._watches.append(watch)
                if not loaded.wait(timeout):
                    raise RuntimeError(f"the emulator did not answer a watch on {trigger}")
        finally:
            if saved is None:
                os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
            else:
                os.environ["FIRESTORE_EMULATOR_HOST"] = saved
        return self

    def stop(self) -> None:
        for watch in self._watches:
            with contextlib.suppress(Exception):
                watch.unsubscribe()
        self._watches.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def settle(self, *, quiet: float = 0.5, timeout: float = 60.0) -> bool:
        """Wait until every write in a watched collection has been reported by the
        listeners and delivered, and nothing new has been seen for `quiet` seconds;
        False if that took longer than `timeout`. A busy emulator can report a write
        seconds after it was made, so quiet alone is not enough: the watched collections
        are read, and a settle waits for the listeners to catch up with what they hold."""
        started = time.monotonic()
        deadline = started + timeout
        with self._idle:
            while True:
                idle_for = time.monotonic() - max(self._last_activity, started)
                if self._pending == 0 and idle_for >= quiet:
                    activity = self._last_activity
                    self._idle.release()
                    try:
                        behind = self._behind()
                    finally:
                        self._idle.acquire()
                    if not behind and self._pending == 0 and self._last_activity == activity:
                        return True
                    idle_for = 0.0
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, quiet - idle_for if self._pending == 0 else quiet))

    def _behind(self) -> bool:
        """Whether a watched collection holds a document, or a version of one, that the
        listeners have not reported yet."""
        for trigger in self.triggers:
            for snapshot in (
                self._client.collection(trigger.collection).select(["__name__"]).stream()
            ):
                with self._lock:
                    seen = self._seen.get(snapshot.reference.path)
                if seen is None or seen.update_time < snapshot.update_time:
                    return True
        return False

    def _callback(self, trigger: Trigger, loaded: threading.Event) -> Callable[..., None]:
        def on_snapshot(_docs: Any, changes: Any, read_time: Any) -> None:
            initial = not loaded.is_set()
            for change in changes:
                snapshot = change.document
                path = snapshot.reference.path
                kind = change.type.name
                with self._lock:
                    old = self._seen.get(path)
                written = kind == "ADDED" or (kind == "MODIFIED" and trigger.event_type == WRITTEN)
                if written and not initial:
                    self._submit(trigger.event_type, snapshot, old if kind == "MODIFIED" else None)
                # Seen only once its event is pending, so that settle() never finds a
                # write reported but not yet on its way.
                with self._lock:
                    if kind == "REMOVED":
                        self._seen.pop(path, None)
                    else:
                        self._seen[path] = snapshot
            loaded.set()

        return on_snapshot

    def _submit(self, event_type: str, snapshot: Any, old: Any) -> None:
        path = snapshot.reference.path
        body = event_body(snapshot, old)
        at = snapshot.update_time or dt.datetime.now(dt.UTC)
        headers = event_headers(event_type=event_type, project=self.project, path=path, at=at)
        with self._idle:
            self._pending += 1
            self._last_activity = time.monotonic()
        assert self._pool is not None
        self._pool.submit(self._deliver, path, headers, body)

    def _deliver(self, path: str, headers: dict[str, str], body: bytes) -> None:
        import requests

        try:
            for attempt in range(self.attempts):
                try:
                    status = requests.post(self.target, data=body, headers=headers, timeout=300)
                    code = status.status_code
                except requests.RequestException:
                    code = 0
                with self._lock:
                    self.delivered.append((path, code))
                if 200 <= code < 300:
                    return
                time.sleep(min(30.0, 0.5 * 2**attempt))
        finally:
            with self._idle:
                self._pending -= 1
                self._last_activity = time.monotonic()
                self._idle.notify_all()


def main() -> None:
    import os

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", required=True, help="the forwarding function's URL")
    parser.add_argument("--project", default=os.environ.get("GOOGLE_CLOUD_PROJECT", ""))
    args = parser.parse_args()
    engine = Eventarc(target=args.target, project=args.project).start()
    print(f"eventarc stand-in delivering to {args.target}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    engine.stop()


if __name__ == "__main__":
    main()
