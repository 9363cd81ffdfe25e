"""Each function, staged exactly as deploy.sh stages it, imports and serves on its own.

The staged folder is served by functions-framework in a subprocess whose import path
holds only that folder and the installed dependencies (no `lib/`, no editable install),
so a missing file or an import from outside the bundle fails here, not in production.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devstack import proofs
from devstack.functions import serve
from tests.conftest import PROJECT, ROOT

pytestmark = pytest.mark.bundle

FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/main.py"))


def _solved(base: str) -> str:
    """A proof of work for the bundle's own challenge: the bundle ships the library."""
    with urllib.request.urlopen(base.rstrip("/") + "/challenge", timeout=20) as response:
        return proofs.solve(json.loads(response.read()))


def _contact(base: str, seed: Any) -> None:
    body = {"name": "Bundle Test", "email": "bundle@example.com", "message": "hello"}
    status, answer = _post(base, {**body, "altcha": _solved(base)})
    assert status == 201 and answer["status"] == "received"


def _chat(base: str, seed: Any) -> None:
    start = {"email": "bundle@example.com", "page": "/", "text": "hello"}
    status, started = _post(base, {**start, "altcha": _solved(base)})
    assert status == 201 and [m["author"] for m in started["messages"]] == ["visitor"]
    session = {"X-Chat-Session": started["session_id"]}
    status, added = _post(base, {"text": "still there?"}, session)
    assert status == 201 and added["message"]["author"] == "visitor"
    poll = urllib.request.Request(base, headers=session, method="GET")
    with urllib.request.urlopen(poll, timeout=20) as response:
        thread = json.loads(response.read())
    assert thread["status"] == "open"
    assert [m["text"] for m in thread["messages"]] == ["hello", "still there?"]


def _access(base: str, seed: Any) -> None:
    from factoryops import grants

    created = grants.create(lead="Bundle Test", sections="pricing,demo", max_uses=1, no_email=True)
    status, body = _post(base, {"token": created.token})
    assert status == 200
    receipt = body.pop("receipt")
    assert body == {"unlocked": True, "sections": ["pricing", "demo"], "expires_at": None}
    status, again = _post(base, {"token": created.token, "receipt": receipt})
    assert status == 200 and again["unlocked"] is True, "the browser that holds the use"
    status, body = _post(base, {"token": created.token})
    assert status == 403 and body["error"]["code"] == "access_denied"


def _sweep(base: str, seed: Any) -> None:
    import datetime as dt

    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=731)
    seed.collection("contact_submissions").document("expired").set(
        {"email_key": "bundle@example.com", "created_at": old, "expire_at": old}
    )
    status, body = _post(base, {"dry_run": True})
    assert status == 200 and body["deleted"]["contact_submissions"] == 1
    status, body = _post(base, {})
    assert status == 200 and body["dry_run"] is False
    assert body["deleted"]["contact_submissions"] == 1
    assert not seed.collection("contact_submissions").document("expired").get().exists


def _console(base: str, seed: Any) -> None:
    with urllib.request.urlopen(base, timeout=20) as page:
        assert page.status == 200 and "Content-Security-Policy" in page.headers
        assert b"console.js" in page.read()
    request = urllib.request.Request(base + "api/me")
    try:
        urllib.request.urlopen(request, timeout=20)
    except urllib.error.HTTPError as exc:
        assert exc.code == 401 and json.loads(exc.read())["error"]["code"] == "unauthenticated"
    else:
        raise AssertionError("the API answered without a token")


def _forward(base: str, seed: Any) -> None:
    import datetime as dt

    from factoryops import deliveries, store
    from factoryops.documents import ContactSubmission

    from devstack import eventarc

    now = dt.datetime.now(dt.UTC)
    ref = seed.collection(store.CONTACT_SUBMISSIONS).document("bundle-forward")
    submission = ContactSubmission(
        name="Bundle Test",
        email="bundle@example.com",
        email_key="bundle@example.com",
        company="",
        message="hello",
        search_terms=["bundle", "test"],
        expire_at=now + dt.timedelta(days=1),
        deliveries=deliveries.initial({"email": True, "crm": False}),
    )
    ref.create(submission.to_dict())
    path = f"{store.CONTACT_SUBMISSIONS}/{ref.id}"
    headers = eventarc.event_headers(
        event_type=eventarc.CREATED, project=seed.project, path=path, at=now
    )
    event = urllib.request.Request(
        base, data=eventarc.event_body(ref.get()), headers=headers, method="POST"
    )
    with urllib.request.urlopen(event, timeout=30) as response:
        assert response.status in (200, 204)
    # The protobuf event was read, the record leased and the send tried: EmailJS is
    # unreachable here (UNREACHABLE), so the attempt is recorded for the sweep.
    email = (ref.get().to_dict() or {})["deliveries"]["email"]
    assert email["state"] == "pending" and email["attempts"] == 1, email


def _unreachable() -> str:
    """A local URL nothing listens on: no bundle reaches the real EmailJS."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v1.0/email/send"


UNREACHABLE = _unreachable()

# One request per function that proves it serves from its bundle: name -> check(url, seed).
SMOKE: dict[str, Callable[[str, Any], None]] = {
    "contact_submit": _contact,
    "access_grant": _access,
    "chat_message": _chat,
    "retention_sweep": _sweep,
    "team_console": _console,
    "forward_record": _forward,
}


def _post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def stage(name: str, dest: Path) -> None:
    subprocess.run([str(ROOT / "deploy.sh"), "--stage", name, str(dest)], check=True)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_staged_bundle_holds_only_main_the_shared_package_and_requirements(
    name: str, tmp_path: Path
) -> None:
    stage(name, tmp_path)
    # The console serves its own page, from beside the package.
    page = ["console_page"] if name == "team_console" else []
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        *page,
        "factoryops",
        "main.py",
        "requirements.txt",
    ]
    assert (tmp_path / "requirements.txt").read_text() == (ROOT / "requirements.txt").read_text()
    assert (tmp_path / "factoryops" / "__init__.py").exists()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_staged_bundle_serves_from_its_own_folder(
    name: str, tmp_path: Path, emulator: Any, db: Any
) -> None:
    assert name in SMOKE, f"add a smoke request for {name} to SMOKE"
    bundle = tmp_path / name
    stage(name, bundle)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        # -S skips site-packages' .pth files (the editable install of lib/); the
        # dependencies come from site-packages named explicitly, the code from the bundle.
        "PYTHONPATH": os.pathsep.join([str(bundle), sysconfig.get_paths()["purelib"]]),
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "FIRESTORE_EMULATOR_HOST": emulator.address,
        "SWEEP_AUTH": "off",
        "TEAM_OAUTH_CLIENT_ID": "bundle.apps.googleusercontent.com",
        "TEAM_EMAILS": "team@factoryopsai.com",
        "EMAILJS_ENDPOINT": UNREACHABLE,
    }
    served = serve(
        name,
        env=env,
        log=tmp_path / "server.log",
        source="main.py",
        cwd=bundle,
        python_flags=["-S"],
    )
    try:
        served.wait_until_serving(timeout=30)
        SMOKE[name](served.url, db)
        probe = subprocess.run(
            [sys.executable, "-S", "-c", "import factoryops; print(factoryops.__file__)"],
            cwd=bundle,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert Path(probe.stdout.strip()).is_relative_to(bundle)
    finally:
        served.stop()
