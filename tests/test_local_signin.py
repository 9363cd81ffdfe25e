"""The local sign-in stand-in and `make dev`'s console wiring, without a browser.

The stand-in's token goes through the very check the console makes (`tokens.verify`
against the certificates at TEAM_CERTS_URL); the browser tests drive it from the page.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from factoryops import errors, tokens

from devstack import run, signin
from devstack.standins import CERTS_PATH, StandIns

pytestmark = pytest.mark.unit

CONSOLE = "http://127.0.0.1:8086"


@pytest.fixture
def local() -> Iterator[StandIns]:
    running = StandIns().start()
    running.signin_env(CONSOLE)
    tokens.forget_certificates()
    yield running
    running.stop()
    tokens.forget_certificates()


def call(
    url: str, *, body: Any = None, origin: str = CONSOLE, method: str = "POST", cookie: str = ""
) -> Any:
    """(status, headers, parsed body) of one request, as a browser on `origin` sends it
    (with the stand-in's `cookie`, when given)."""
    headers = {"Origin": origin, "Content-Type": "application/json"}
    if cookie:
        headers["Cookie"] = cookie
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, response.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, None


def credential(standins: StandIns, email: str) -> str:
    status, headers, body = call(standins.url + signin.ISSUE_PATH, body={"email": email})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == CONSOLE
    return str(body["credential"])


def test_a_signed_in_address_passes_the_consoles_token_check_with_googles_claims(
    local: StandIns,
) -> None:
    token = credential(local, "Dev@FactoryOps.local")

    claims = tokens.verify(
        token,
        audience=signin.LOCAL_CLIENT_ID,
        certs_url=local.signin_env(CONSOLE)["TEAM_CERTS_URL"],
        function="team_console",
    )
    assert claims["iss"] == "https://accounts.google.com"
    assert claims["email"] == "Dev@FactoryOps.local"
    assert claims["email_verified"] is True
    assert claims["exp"] - claims["iat"] == 3600


def test_its_tokens_fail_against_the_sweeps_certificates_and_another_audience(
    local: StandIns,
) -> None:
    token = credential(local, "dev@factoryops.local")
    console_certs = local.signin_env(CONSOLE)["TEAM_CERTS_URL"]

    with pytest.raises(errors.Unauthenticated):
        tokens.verify(
            token, audience=signin.LOCAL_CLIENT_ID, certs_url=local.url + CERTS_PATH, function="x"
        )
    with pytest.raises(errors.Unauthenticated):
        tokens.verify(token, audience="another-client", certs_url=console_certs, function="x")


def test_only_the_consoles_page_may_ask_for_a_token(local: StandIns) -> None:
    url = local.url + signin.ISSUE_PATH
    status, headers, _ = call(url, method="OPTIONS")
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == CONSOLE
    assert "Content-Type" in headers["Access-Control-Allow-Headers"]

    status, headers, body = call(
        url, body={"email": "dev@factoryops.local"}, origin="http://x.test"
    )
    assert status == 403 and body is None
    assert "Access-Control-Allow-Origin" not in headers
    assert call(url, origin="http://x.test", method="OPTIONS")[0] == 403
    assert call(url, body={"email": "not an address"})[0] == 400


def test_its_token_names_the_member_as_googles_does_from_the_address(local: StandIns) -> None:
    certs = local.signin_env(CONSOLE)["TEAM_CERTS_URL"]
    names = {}
    for address in ("priya.k@factoryops.example", "sam+ops@x.example", "jo-ann@x.example"):
        token = credential(local, address)
        claims = tokens.verify(
            token, audience=signin.LOCAL_CLIENT_ID, certs_url=certs, function="team_console"
        )
        names[address] = claims["name"]

    assert names == {
        "priya.k@factoryops.example": "Priya",
        "sam+ops@x.example": "Sam",
        "jo-ann@x.example": "Jo",
    }


def test_a_browser_that_signed_in_gets_a_fresh_token_without_asking_until_it_signs_out(
    local: StandIns,
) -> None:
    auto = local.url + signin.AUTO_PATH
    status, headers, _ = call(local.url + signin.ISSUE_PATH, body={"email": "dev@x.example"})
    assert status == 200
    assert headers["Access-Control-Allow-Credentials"] == "true"
    set_cookie = headers["Set-Cookie"]
    for attribute in ("HttpOnly", "SameSite=Lax", f"Path={signin.COOKIE_PATH}"):
        assert attribute in set_cookie
    assert "dev@x.example" not in set_cookie  # a random handle, not the address
    cookie = set_cookie.split(";")[0]

    status, headers, body = call(auto, cookie=cookie)
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == CONSOLE
    assert headers["Access-Control-Allow-Credentials"] == "true"
    certs = local.signin_env(CONSOLE)["TEAM_CERTS_URL"]
    claims = tokens.verify(
        body["credential"], audience=signin.LOCAL_CLIENT_ID, certs_url=certs, function="x"
    )
    assert claims["email"] == "dev@x.example"

    assert call(auto)[0] == 204  # no cookie: nobody to sign in
    assert call(auto, cookie=cookie, origin="http://x.test")[0] == 403
    status, headers, _ = call(local.url + signin.FORGET_PATH, cookie=cookie)
    assert status == 204
    assert "Max-Age=0" in headers["Set-Cookie"]
    assert call(auto, cookie=cookie)[0] == 204


def test_make_dev_points_the_console_at_the_local_sign_in_and_lets_in_the_dev_team(
    local: StandIns, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TEAM_EMAILS", "TEAM_OAUTH_CLIENT_ID", "TEAM_CERTS_URL", "EMAILJS_SERVICE_ID"):
        monkeypatch.delenv(name, raising=False)

    env = run.environment(local)

    assert env["TEAM_EMAILS"] == run.DEV_TEAM
    assert env["TEAM_OAUTH_CLIENT_ID"] == signin.LOCAL_CLIENT_ID
    assert env["TEAM_CERTS_URL"] == f"http://localhost:{local.port}{signin.CERTS_PATH}"
    assert env["EMAILJS_NOTIFY_TEMPLATE_ID"]  # so that the team's nudges are sent
    assert local.state.signin.origins == [
        f"http://localhost:{run.PORTS['team_console']}",
        f"http://127.0.0.1:{run.PORTS['team_console']}",
    ]
    monkeypatch.setenv("TEAM_EMAILS", "me@plant.example")
    assert run.environment(local)["TEAM_EMAILS"] == "me@plant.example"


class _Sweep(BaseHTTPRequestHandler):
    bodies: ClassVar[list[Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        data = b'{"deliveries": {"sent": 1}}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_make_devs_clock_runs_the_deliveries_task_as_cloud_scheduler_would(
    tmp_path: Path,
) -> None:
    _Sweep.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sweep)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log = tmp_path / "clock.log"
    clock = run.DeliveriesClock(f"http://127.0.0.1:{server.server_address[1]}/", log, every=0.05)
    try:
        clock.start()
        deadline = time.monotonic() + 30
        while len(_Sweep.bodies) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        clock.stop()
        server.shutdown()
        server.server_close()

    assert _Sweep.bodies[:2] == [{"tasks": ["deliveries"]}] * 2
    assert '200 {"deliveries": {"sent": 1}}' in log.read_text()
