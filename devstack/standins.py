"""Local stand-ins for the network edge: EmailJS, Google's OIDC certificates and the team
console's sign-in. They speak the real wire formats over HTTP, so the project's real
client code runs against them, and they record what they receive. The CRM is not a
stand-in: `devstack/apps_script.py` runs the real `apps_script/Code.gs` under Node.js,
and `StandIns(crm=...)` hands its URL and key to the functions with the rest.

Control endpoints (for tests and `make dev`):
    GET  /_standins/records              what EmailJS received
    POST /_standins/fail {"emailjs": MODE}   MODE: null, "500", "429", "400", "timeout"
                                         (answer 504 after `slow_seconds`)
    POST /_standins/limit {"per_second": N|null, "delay": S}   EmailJS's own limit: at
                                         most N sends a second, the rest answered 429;
                                         each send answered after S seconds
    POST /_standins/reset                forget everything
    GET  /oauth2/v1/certs                `State.certs`: Google's x509 certs format
                                         ({key id: PEM}), for verifying test OIDC tokens

The team console's local sign-in (`signin.py`) is served here too: `/signin/token`,
`/signin/auto`, `/signin/forget` and `/signin/certs`, which `StandIns.signin_env()`
points the console at.

Run alone: `python -m devstack.standins --port 8085`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookies
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from devstack import signin

if TYPE_CHECKING:
    from devstack.apps_script import AppsScript

EMAILJS_PATH = "/api/v1.0/email/send"
CERTS_PATH = "/oauth2/v1/certs"
UNBOUNDED_BUDGET = 1_000_000
"""FORWARD_BUDGET for the functions that send here (`StandIns.env`)."""


@dataclass
class State:
    emails: list[dict[str, Any]] = field(default_factory=list)
    certs: dict[str, str] = field(default_factory=dict)
    certs_max_age: int = 21600
    requests: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[str, str | None] = field(default_factory=dict)
    slow_seconds: float = 8.0
    emails_per_second: float | None = None
    """EmailJS's rate limit (about one a second on its plans); None: no limit."""
    email_delay: float = 0.0
    """Seconds EmailJS takes to answer a send (about 0.4 s over the internet)."""
    last_send: float = 0.0
    signin: signin.Issuer = field(default_factory=signin.Issuer)
    """The team console's local sign-in."""
    lock: threading.RLock = field(default_factory=threading.RLock)

    def reset(self) -> None:
        with self.lock:
            self.emails.clear()
            self.requests.clear()
            self.fail.clear()
            self.emails_per_second = None
            self.email_delay = 0.0
            self.last_send = 0.0
        self.signin.forget()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"emails": list(self.emails)}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing -------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self.server.state

    def _raw(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _body(self) -> Any:
        raw = self._raw()
        if not raw:
            return None
        return json.loads(raw)

    def _send(
        self,
        status: int,
        body: Any,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _failing(self, service: str) -> bool:
        mode = self.state.fail.get(service)
        if not mode:
            return False
        if mode == "timeout":
            # As a gateway that gave up waiting: not the service saying it is busy.
            time.sleep(self.state.slow_seconds)
            mode = "504"
        self._send(int(mode), "The service is unavailable", "text/plain")
        return True

    # -- routes ---------------------------------------------------------------------

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        with self.state.lock:
            self.state.requests.append(("GET", path))
        if path == "/_standins/records":
            self._send(200, self.state.snapshot())
            return
        if path in (CERTS_PATH, signin.CERTS_PATH):
            with self.state.lock:
                certs = dict(self.state.certs)
                max_age = self.state.certs_max_age
            if path == signin.CERTS_PATH:
                certs = self.state.signin.certificates()
            # As Google serves them: cacheable for a few hours.
            caching = f"public, max-age={max_age}, must-revalidate, no-transform"
            self._send(200, certs, headers={"Cache-Control": caching})
            return
        self._send(404, "Not Found", "text/plain")

    def do_OPTIONS(self) -> None:
        # Only the sign-in is called from a browser: the console's page, cross-origin.
        path = urllib.parse.urlsplit(self.path).path
        origin = self.headers.get("Origin")
        if path not in signin.BROWSER_PATHS or not self.state.signin.allows(origin):
            self._send(403, "Not an allowed origin", "text/plain")
            return
        preflight = {
            **self._signin_cors(),
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600",
        }
        self._send(204, "", "text/plain", preflight)

    def _signin_cors(self) -> dict[str, str]:
        origin = self.headers.get("Origin")
        if not self.state.signin.allows(origin):
            return {}
        # With credentials: the page's calls carry the stand-in's cookie, as Google's do.
        return {
            "Access-Control-Allow-Origin": str(origin),
            "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin",
        }

    def _signin_handle(self) -> str | None:
        """The handle in the stand-in's cookie, if the browser sent one."""
        jar = http.cookies.SimpleCookie()
        with contextlib.suppress(http.cookies.CookieError):
            jar.load(self.headers.get("Cookie") or "")
        morsel = jar.get(signin.COOKIE)
        return morsel.value if morsel is not None else None

    def _signin(self, path: str, body: Any) -> None:
        cors = self._signin_cors()
        if not cors:
            self._send(403, {"error": "not an allowed origin"})
            return
        issuer = self.state.signin
        if path == signin.AUTO_PATH:
            remembered = issuer.recall(self._signin_handle())
            if remembered is None:
                self._send(204, "", "text/plain", cors)
                return
            self._send(200, {"credential": issuer.token(remembered)}, headers=cors)
            return
        if path == signin.FORGET_PATH:
            issuer.forget(self._signin_handle())
            self._send(204, "", "text/plain", {**cors, "Set-Cookie": signin.expired_cookie()})
            return
        email = body.get("email") if isinstance(body, dict) else None
        if not signin.looks_like_address(email):
            self._send(400, {"error": "give an email address"}, headers=cors)
            return
        remember = {"Set-Cookie": signin.cookie(issuer.remember(str(email)))}
        self._send(200, {"credential": issuer.token(str(email))}, headers={**cors, **remember})

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        try:
            body = self._body()
        except ValueError:
            self._send(400, "Invalid JSON", "text/plain")
            return
        with self.state.lock:
            self.state.requests.append(("POST", path))
        if path == "/_standins/fail":
            with self.state.lock:
                self.state.fail.update(body or {})
            self._send(200, {"fail": self.state.fail})
            return
        if path == "/_standins/limit" and isinstance(body, dict):
            with self.state.lock:
                self.state.emails_per_second = body.get("per_second")
                self.state.email_delay = float(body.get("delay") or 0.0)
            self._send(200, {})
            return
        if path == "/_standins/reset":
            self.state.reset()
            self._send(200, {})
            return
        if path == EMAILJS_PATH:
            self._emailjs(body)
            return
        if path in signin.BROWSER_PATHS:
            self._signin(path, body)
            return
        self._send(404, "Not Found", "text/plain")

    def _emailjs(self, body: Any) -> None:
        if self._failing("emailjs"):
            return
        if not isinstance(body, dict):
            self._send(400, "The JSON payload is invalid", "text/plain")
            return
        for key in ("service_id", "template_id", "user_id"):
            if not body.get(key):
                self._send(400, f"The {key} parameter is required", "text/plain")
                return
        params = body.get("template_params") or {}
        if not isinstance(params, dict):
            self._send(400, "The template_params is invalid", "text/plain")
            return
        time.sleep(self.state.email_delay)
        with self.state.lock:
            rate = self.state.emails_per_second
            now = time.monotonic()
            if rate and now - self.state.last_send < 1 / rate:
                throttled = True
            else:
                throttled = False
                self.state.last_send = now
                self.state.emails.append(body)
        if throttled:
            self._send(429, "Too Many Requests", "text/plain")
            return
        self._send(200, "OK", "text/plain")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: State) -> None:
        super().__init__(address, _Handler)
        self.state = state


class StandIns:
    """The stand-ins on a loopback port, served from a background thread."""

    def __init__(
        self, port: int = 0, host: str = "127.0.0.1", *, crm: AppsScript | None = None
    ) -> None:
        self.state = State()
        self.crm = crm
        """The CRM web app the functions are pointed at (`env`), when there is one; its
        lifetime is its own (tests share one across the session)."""
        self._server = _Server((host, port), self.state)
        self.host = host
        self.port = int(self._server.server_address[1])
        # A short poll: `stop` waits for it, and tests start and stop a server each.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self, *, scheduled: bool = False) -> dict[str, str]:
        """The configuration that points the project's clients here and at `crm`; with
        `scheduled`, also what schedules later emails: the team's nudge after a visitor's
        later message, and the visitor's reply email after an unseen team reply
        (`make dev` wants them; most tests would only see them pending).

        This EmailJS has no plan to spend, and tests and benchmarks send more in an hour
        than a real plan's FORWARD_BUDGET, so the budget here is out of reach; the budget's
        own tests set theirs (tests/test_budget.py). `make dev` takes only the EmailJS and
        CRM settings from here, and so keeps the real default."""
        later = {
            "EMAILJS_NOTIFY_TEMPLATE_ID": "template_notify",
            "EMAILJS_REPLY_TEMPLATE_ID": "template_reply",
            "TEAM_INBOX": "team@factoryops.local",
        }
        return {
            **(later if scheduled else {}),
            "EMAILJS_ENDPOINT": self.url + EMAILJS_PATH,
            "EMAILJS_SERVICE_ID": "service_local",
            "EMAILJS_PUBLIC_KEY": "public_local",
            "EMAILJS_PRIVATE_KEY": "private_local",
            "EMAILJS_CONTACT_TEMPLATE_ID": "template_contact",
            "EMAILJS_CHAT_TEMPLATE_ID": "template_chat",
            "FORWARD_BUDGET": str(UNBOUNDED_BUDGET),
            **(self.crm.env() if self.crm is not None else {}),
        }

    def reset(self) -> None:
        """Forget what EmailJS received and any failure; empty the CRM's sheet."""
        self.state.reset()
        if self.crm is not None:
            self.crm.reset()

    def signin_env(self, *console_origins: str, host: str | None = None) -> dict[str, str]:
        """The console's sign-in settings that point it at the local sign-in here, whose
        token endpoint then answers pages from `console_origins`. `host` is the name the
        console reaches it by (default: the address it listens on): the console's own
        host name, so that the sign-in's cookie goes with the page's calls."""
        self.state.signin.origins = [o.rstrip("/") for o in console_origins]
        base = self.url if host is None else f"http://{host}:{self.port}"
        return {
            "TEAM_OAUTH_CLIENT_ID": self.state.signin.audience,
            "TEAM_CERTS_URL": base + signin.CERTS_PATH,
        }

    def start(self) -> StandIns:
        self._thread.start()
        return self

    def limit_emails(self, *, per_second: float | None, delay: float = 0.0) -> None:
        """EmailJS's rate limit and answer time, as `/_standins/limit` sets them."""
        with self.state.lock:
            self.state.emails_per_second = per_second
            self.state.email_delay = delay

    def crm_rows(self) -> list[list[str]]:
        """The CRM sheet's rows, header first (none without a CRM)."""
        return self.crm.rows() if self.crm is not None else []

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8085)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    standins = StandIns(args.port, args.host)
    print(f"stand-ins listening on {standins.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        standins._server.serve_forever()


if __name__ == "__main__":
    main()
