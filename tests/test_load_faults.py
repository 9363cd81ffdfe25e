"""Bounded load and fault tests of contact_submit over loopback HTTP.

The function is served by a threaded WSGI server in this process (the app that
functions-framework builds from functions/contact_submit/main.py) and driven by a pool
of HTTP clients. Sizes are fixed and small enough for a shared two-core machine; no
test asserts a time except the generous bound on how soon service returns after an
outage.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from devstack import emulator as emulator_mod
from devstack import proofs
from tests.conftest import ROOT, load

pytestmark = pytest.mark.load

CLIENTS = 16
SUBMISSIONS = 240
REPEATS = 3
"""Each Idempotency-Key is sent this many times, at once, with the same body."""
OUTAGE_BOUND = 60.0
"""Seconds within which service must return once Firestore is back (gRPC reconnects
with backoff)."""
GENEROUS_LIMIT = {"CONTACT_RATE_LIMIT": "1000000/60"}


def _visitor(n: int) -> dict[str, str]:
    """Submission n comes from its own address, as visitors of the site do (one address
    sending dozens at once is a rate-limit matter, not a load test)."""
    return {"X-Forwarded-For": f"198.18.{n // 250 % 250}.{n % 250 + 1}"}


_PROOFS: dict[int, str] = {}
"""Submission n's proof of work: its repeats carry the same, as the site script's do."""
_PROOFS_LOCK = threading.Lock()


@pytest.fixture(autouse=True)
def _fresh_proofs() -> Iterator[None]:
    _PROOFS.clear()
    yield


def _body(n: int) -> dict[str, str]:
    with _PROOFS_LOCK:
        if n not in _PROOFS:
            _PROOFS[n] = proofs.solved()
    return {
        "name": f"Load Tester {n}",
        "email": f"load{n}@plant.example",
        "company": "Loopback Works",
        "message": f"Submission number {n}.",
        "altcha": _PROOFS[n],
    }


@contextlib.contextmanager
def serving(name: str) -> Iterator[str]:
    """The function behind a threaded HTTP server on a loopback port."""
    server = make_server("127.0.0.1", 0, load(name), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


class Client:
    """HTTP clients, one session per thread. Like the site's script, a client that is
    told 503 tries again with the same Idempotency-Key (sooner than Retry-After asks,
    to keep the test short); `unavailable` counts those answers."""

    RETRIES = 10

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._lock = threading.Lock()
        self.unavailable = 0

    def post(
        self, body: dict[str, Any], headers: dict[str, str] | None = None, *, retry: bool = True
    ) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        for _ in range(self.RETRIES):
            response = session.post(self.url, json=body, headers=headers or {}, timeout=60)
            if response.status_code != 503 or not retry:
                return response
            assert int(response.headers["Retry-After"]) > 0
            with self._lock:
                self.unavailable += 1
            time.sleep(0.5)
        return response


def stored(db: Any) -> list[dict[str, Any]]:
    return [{"id": d.id, **d.to_dict()} for d in db.collection("contact_submissions").stream()]


# -- concurrent repeats of Idempotency-Keys -------------------------------------------


def test_concurrent_repeats_of_each_idempotency_key_store_and_send_it_once(
    db: Any, standins: Any, configure: Callable[..., None], forwarder: Any
) -> None:
    configure(**GENEROUS_LIMIT)
    keys = SUBMISSIONS // REPEATS
    # The repeats of a key sit side by side in the queue, so they are in flight together.
    jobs = [(k, f"load-key-{k}") for k in range(keys) for _ in range(REPEATS)]
    started = time.monotonic()
    with serving("contact_submit") as url, ThreadPoolExecutor(CLIENTS) as pool:
        client = Client(url)
        responses = list(
            pool.map(
                lambda job: client.post(
                    _body(job[0]), {"Idempotency-Key": job[1], **_visitor(job[0])}
                ),
                jobs,
            )
        )

    print(
        f"{SUBMISSIONS} posts of {SUBMISSIONS // REPEATS} keys by {CLIENTS} clients in "
        f"{time.monotonic() - started:.1f} s; 503s retried: {client.unavailable}"
    )
    statuses = collections.Counter(r.status_code for r in responses)
    assert statuses == {201: SUBMISSIONS}, statuses
    ids_by_key: dict[str, set[str]] = collections.defaultdict(set)
    for (_, key), response in zip(jobs, responses, strict=True):
        ids_by_key[key].add(response.json()["id"])
    assert all(len(ids) == 1 for ids in ids_by_key.values())
    records = stored(db)
    assert len(records) == keys
    assert {r["id"] for r in records} == {ids.pop() for ids in ids_by_key.values()}
    assert len(list(db.collection("idempotency_keys").stream())) == keys
    forwarder.settle(timeout=120)
    sent = collections.Counter(e["template_params"]["record_id"] for e in standins.state.emails)
    assert set(sent.values()) == {1} and len(sent) == keys
    rows = collections.Counter(row[2] for row in standins.crm.rows())
    assert set(rows.values()) == {1} and len(rows) == keys


# -- downstream outage, then recovery and one sweep -----------------------------------


def test_with_emailjs_and_the_crm_down_every_submission_is_stored_and_sent_once_on_their_return(
    db: Any,
    standins: Any,
    configure: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    forwarder: Any,
) -> None:
    from factoryops import deliveries, store
    from factoryops.sweep import DELIVERY_SOURCES

    configure(**GENEROUS_LIMIT)
    # Down, not busy: a 429 or 503 would be waited out by forward_record itself.
    standins.state.fail["emailjs"] = "500"
    standins.crm.fail("500")
    count = 100
    with serving("contact_submit") as url, ThreadPoolExecutor(CLIENTS) as pool:
        client = Client(url)
        responses = list(
            pool.map(
                lambda n: client.post(_body(n), {"Idempotency-Key": f"k{n}", **_visitor(n)}),
                range(count),
            )
        )

    print(f"{count} posts with the downstreams failing; 503s retried: {client.unavailable}")
    forwarder.settle(timeout=120)
    assert [r.status_code for r in responses] == [201] * count
    records = stored(db)
    assert {r["id"] for r in records} == {r.json()["id"] for r in responses}
    for record in records:
        for channel in ("email", "crm"):
            assert record["deliveries"][channel]["state"] == "pending"
            # Tried at once; on a slow machine an event for the record's other channel
            # may come after the first backoff and try it once more.
            assert record["deliveries"][channel]["attempts"] >= 1
    assert standins.state.emails == [] and standins.crm.rows() == []

    standins.state.fail.clear()
    standins.crm.fail(None)
    # The sweep runs after every backoff has run out (the first is at most 36 s).
    later = store.now() + dt.timedelta(hours=1)
    monkeypatch.setattr(store, "now", lambda: later)
    counts = deliveries.run_due(DELIVERY_SOURCES)
    # The sweep's own writes are events too (the contact trigger is `written`), so
    # forward_record may take a record's other channel before the sweep reaches it.
    forwarder.settle(timeout=120)

    assert (counts.retrying, counts.failed) == (0, 0) and counts.sent <= 2 * count
    emailed = collections.Counter(e["template_params"]["record_id"] for e in standins.state.emails)
    appended = collections.Counter(row[2] for row in standins.crm.rows())
    ids = {r["id"] for r in records}
    assert emailed == dict.fromkeys(ids, 1)
    assert appended == dict.fromkeys(ids, 1)
    for record in stored(db):
        assert record["deliveries"]["email"]["state"] == "sent"
        assert record["deliveries"]["crm"]["state"] == "sent"

    again = deliveries.run_due(DELIVERY_SOURCES)
    assert (again.sent, again.retrying, again.failed) == (0, 0, 0)
    assert len(standins.state.emails) == count and len(standins.crm.rows()) == count


# -- Firestore stopped mid-run ---------------------------------------------------------


@pytest.fixture
def own_emulator(tmp_path: Path) -> Iterator[list[emulator_mod.Emulator]]:
    """An emulator this test may stop and restart on the same port; the session's one
    is left alone. The list holds whichever process is current."""
    running = [emulator_mod.start(log_path=tmp_path / "own-emulator.log")]
    yield running
    running[-1].stop()


def test_an_emulator_whose_free_port_is_taken_before_it_binds_starts_on_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = int(held.getsockname()[1])
        # The first port found free is another process's by the time the emulator binds.
        offered = iter([taken])
        real = emulator_mod.free_port
        monkeypatch.setattr(emulator_mod, "free_port", lambda: next(offered, None) or real())
        started = emulator_mod.start(log_path=tmp_path / "emulator.log")
        try:
            assert started.port != taken
            assert b"BindException" in (tmp_path / "emulator.log").read_bytes()
        finally:
            started.stop()


def test_firestore_stopped_mid_run_gives_503_sends_nothing_partial_and_service_resumes(
    own_emulator: list[emulator_mod.Emulator],
    standins: Any,
    configure: Callable[..., None],
    tmp_path: Path,
) -> None:
    first = own_emulator[0]
    configure(FIRESTORE_EMULATOR_HOST=first.address, **GENEROUS_LIMIT)
    results: list[tuple[int, dict[str, Any], dict[str, str]]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def submitter(client: Client, worker: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            response = client.post(_body(worker * 100_000 + n), _visitor(worker), retry=False)
            with lock:
                results.append((response.status_code, response.json(), dict(response.headers)))

    with serving("contact_submit") as url:
        client = Client(url)
        workers = [
            threading.Thread(target=submitter, args=(client, w), daemon=True) for w in range(8)
        ]
        for worker in workers:
            worker.start()
        _wait_for(lambda: sum(1 for r in results if r[0] == 201) >= 40, 60, "a first 201s")
        first.stop()
        stopped_at = len(results)
        _wait_for(lambda: sum(1 for r in results[stopped_at:] if r[0] == 503) >= 16, 90, "503s")
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
        during = results[stopped_at:]

        restarted = emulator_mod.start(
            port=first.port, log_path=tmp_path / "own-emulator-again.log"
        )
        own_emulator.append(restarted)
        deadline = time.monotonic() + OUTAGE_BOUND
        while True:
            response = client.post(_body(999_999), retry=False)
            if response.status_code == 201:
                break
            assert response.status_code == 503, response.text
            assert time.monotonic() < deadline, "service did not return after Firestore did"
            time.sleep(0.5)
        resumed_id = response.json()["id"]
        after = [client.post(_body(1_000_000 + n)) for n in range(5)]

    statuses = collections.Counter(status for status, _, _ in results)
    print(f"Firestore stopped after {stopped_at} answers; all answers {dict(statuses)}")
    assert set(statuses) <= {201, 503}, statuses
    assert statuses[503] >= 16
    for status, body, headers in results:
        if status == 503:
            assert body == {
                "error": {
                    "code": "unavailable",
                    "message": "The service is briefly unavailable; try again shortly.",
                }
            }
            assert int(headers["Retry-After"]) > 0
    # Whatever reached EmailJS or the CRM belongs to a submission answered 201.
    answered = {body["id"] for status, body, _ in results if status == 201}
    emailed = [e["template_params"]["record_id"] for e in standins.state.emails]
    appended = [row[2] for row in standins.crm.rows()]
    stored_before_restart = set(emailed) - {resumed_id} - {r.json()["id"] for r in after}
    assert stored_before_restart <= answered
    assert set(appended) - {resumed_id} - {r.json()["id"] for r in after} <= answered
    assert len(emailed) == len(set(emailed)) and len(appended) == len(set(appended))
    assert any(status == 503 for status, _, _ in during)
    assert [r.status_code for r in after] == [201] * 5

    from factoryops import store

    kept = {d.id for d in store.client().collection("contact_submissions").stream()}
    assert {resumed_id, *(r.json()["id"] for r in after)} <= kept


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds:.0f} s for {what}"
        time.sleep(0.1)


# -- bodies too large or too slow, over a raw socket, against gunicorn ------------------

BIG_SENT = 64 * 1024 * 1024
"""What the client actually sends of an 800 MiB body it declares (enough to show whether
the server reads it)."""
BODY_BOUND = 10.0 + 8.0
"""The server's body deadline (edge.BODY_SECONDS) and gunicorn's bounded drain, with slack."""


@contextlib.contextmanager
def gunicorn_serving(name: str, emulator: Any, tmp_path: Path, **env: str) -> Iterator[Any]:
    """The function as functions-framework serves it in production (gunicorn, gthread)."""
    from devstack.functions import serve

    environ = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "lib"),
        "GOOGLE_CLOUD_PROJECT": "demo-factoryops-test",
        "FIRESTORE_EMULATOR_HOST": emulator.address,
        **env,
    }
    served = serve(name, env=environ, log=tmp_path / f"{name}.log")
    try:
        served.wait_until_serving(timeout=60)
        yield served
    finally:
        served.stop()


def _worker_peak_kib(served: Any) -> int:
    """The gunicorn worker's peak resident memory (VmHWM), in KiB."""
    children = Path(f"/proc/{served.process.pid}/task/{served.process.pid}/children")
    worker = int(children.read_text().split()[0])
    for line in Path(f"/proc/{worker}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _raw_request(port: int, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=BODY_BOUND + 10)
    sock.sendall(head.encode())
    return sock


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_an_oversized_body_costs_no_memory_beyond_the_limit_and_its_connection_is_closed(
    emulator: Any, tmp_path: Path
) -> None:
    with gunicorn_serving("contact_submit", emulator, tmp_path) as served:
        port = int(served.url.rsplit(":", 1)[1].strip("/"))
        before = _worker_peak_kib(served)
        sock = _raw_request(
            port,
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {800 * 1024 * 1024}\r\n\r\n",
        )

        def send_body() -> None:
            chunk = b"[" * 65536
            with contextlib.suppress(OSError):
                for _ in range(BIG_SENT // len(chunk)):
                    sock.sendall(chunk)

        sender = threading.Thread(target=send_body, daemon=True)
        sender.start()
        started = time.monotonic()
        answer = _answer(sock)
        closed_after = time.monotonic() - started
        sender.join(timeout=30)
        sock.close()
        grown = _worker_peak_kib(served) - before

    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"code":"payload_too_large"' in answer
    assert closed_after < BODY_BOUND, "the server closed the connection instead of reading on"
    assert grown < 16 * 1024, f"the worker's peak memory grew by {grown} KiB"


def test_bodies_that_never_arrive_hold_a_worker_only_for_a_bounded_time(
    emulator: Any, tmp_path: Path
) -> None:
    threads = 2
    with gunicorn_serving("contact_submit", emulator, tmp_path, THREADS=str(threads)) as served:
        port = int(served.url.rsplit(":", 1)[1].strip("/"))
        head = (
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n" + '{"name": "'
        )
        stalled = [_raw_request(port, head) for _ in range(threads)]
        time.sleep(1)  # every thread is now waiting for a body that will not come
        started = time.monotonic()
        preflight = requests.options(served.url, timeout=BODY_BOUND + 10)
        served_after = time.monotonic() - started
        answers = [_answer(sock) for sock in stalled]
        for sock in stalled:
            sock.close()

    assert preflight.status_code == 204
    assert served_after < BODY_BOUND, "a stalled body held its thread past the deadline"
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
        assert b"did not arrive in time" in answer


HANG_BOUND = 5.5
"""Seconds within which a request answers while Firestore hangs: its one deadline
(store.REQUEST_DEADLINE) and the answer, with slack for a busy machine."""


def test_a_hanging_firestore_gets_a_503_within_one_deadline_and_nothing_goes_downstream(
    own_emulator: list[emulator_mod.Emulator], standins: Any, configure: Callable[..., None]
) -> None:
    emulator = own_emulator[0]
    configure(FIRESTORE_EMULATOR_HOST=emulator.address, **GENEROUS_LIMIT)
    chat_body = {
        "email": "hang@plant.example",
        "page": "/",
        "text": "hello?",
        "altcha": proofs.solved(),
    }
    with serving("contact_submit") as contact_url, serving("chat_message") as chat_url:
        assert requests.post(contact_url, json=_body(1), timeout=30).status_code == 201
        standins.reset()
        emulator.pause()  # alive, answering nothing
        try:
            answers = []
            keyed = {"Idempotency-Key": "hang-1"}
            for url, body in ((contact_url, _body(2)), (chat_url, chat_body)):
                started = time.monotonic()
                response = requests.post(url, json=body, headers=keyed, timeout=60)
                answers.append((response, time.monotonic() - started))
        finally:
            emulator.resume()

    for response, took in answers:
        assert response.status_code == 503, response.text
        assert int(response.headers["Retry-After"]) > 0
        assert took < HANG_BOUND, f"answered after {took:.1f} s"
    assert standins.state.emails == [] and standins.crm.rows() == []
