"""Local stand-ins for the network edge: EmailJS, the Sheets API v4, an Apps Script web
app. They speak the real wire formats over HTTP, so the project's real client code
runs against them, and they record what they receive. The Apps Script stand-in checks
each request's signature as apps_script/Code.gs does, with its own key
(`State.apps_script_key`), which `StandIns.env()` hands to the functions.

Control endpoints (for tests and `make dev`):
    GET  /_standins/records              what EmailJS and the sheet received
    POST /_standins/fail {"emailjs": MODE, "sheets": MODE}   MODE: null, "500",
         "429", "400", "timeout" (answer after `slow_seconds`)
    POST /_standins/reset                forget everything
    GET  /oauth2/v1/certs                `State.certs`: Google's x509 certs format
                                         ({key id: PEM}), for verifying test OIDC tokens

The team console's local sign-in (`signin.py`) is served here too: `/signin/token` and
`/signin/certs`, which `StandIns.signin_env()` points the console at.

Run alone: `python -m devstack.standins --port 8085`; the Apps Script stand-in then
verifies with CRM_APPS_SCRIPT_KEY from the environment, or a random key it prints.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devstack import signin

EMAILJS_PATH = "/api/v1.0/email/send"
APPS_SCRIPT_PATH = "/macros/s/standin/exec"
CERTS_PATH = "/oauth2/v1/certs"
COLUMNS = ("received_at", "source", "record_id", "name", "email", "company", "message", "page")
_VALUES = re.compile(r"^/v4/spreadsheets/([^/]+)/values/([^:]+?)(:append)?$")
_BATCH = re.compile(r"^/v4/spreadsheets/([^/:]+):batchUpdate$")
_META = re.compile(r"^/v4/spreadsheets/([^/:]+)$")
SIGNATURE_WINDOW = 300
"""Seconds a signed request's `ts` may be from the stand-in's clock, as in Code.gs."""
# Code.gs's refusals of a request that is not the functions' own, word for word.
NO_KEY = {
    "ok": False,
    "code": "no_key",
    "error": "the script property CRM_APPS_SCRIPT_KEY is not set, so no request is accepted",
}
UNSIGNED = {"ok": False, "code": "unsigned", "error": "the request is not signed (ts and sig)"}
BAD_SIGNATURE = {
    "ok": False,
    "code": "bad_signature",
    "error": "the signature does not match the request",
}
STALE = {
    "ok": False,
    "code": "stale",
    "error": "the request's ts is more than 5 minutes from the script's clock",
}


@dataclass
class State:
    emails: list[dict[str, Any]] = field(default_factory=list)
    sheets: dict[str, list[list[str]]] = field(default_factory=dict)
    sheet_ids: dict[str, int] = field(default_factory=dict)
    spreadsheet_id: str = ""
    certs: dict[str, str] = field(default_factory=dict)
    certs_max_age: int = 21600
    requests: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[str, str | None] = field(default_factory=dict)
    slow_seconds: float = 8.0
    apps_script_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    """The Apps Script stand-in's CRM_APPS_SCRIPT_KEY property; empty: it refuses all."""
    clock: Callable[[], float] = time.time
    """The Apps Script stand-in's clock, which a signed request's `ts` must be near."""
    signin: signin.Issuer = field(default_factory=signin.Issuer)
    """The team console's local sign-in."""
    lock: threading.RLock = field(default_factory=threading.RLock)

    def rows(self, sheet: str = "Leads") -> list[list[str]]:
        with self.lock:
            return [list(r) for r in self.sheets.get(sheet, [])]

    def sheet(self, title: str) -> list[list[str]]:
        if title not in self.sheets:
            self.sheets[title] = []
            self.sheet_ids[title] = len(self.sheet_ids) + 1
        return self.sheets[title]

    def reset(self) -> None:
        with self.lock:
            self.emails.clear()
            self.sheets.clear()
            self.sheet_ids.clear()
            self.requests.clear()
            self.fail.clear()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "emails": list(self.emails),
                "sheets": {k: list(v) for k, v in self.sheets.items()},
            }


def _sheet_title(a1: str) -> str:
    title, _, _ = a1.rpartition("!") if "!" in a1 else (a1, "", "")
    if title.startswith("'") and title.endswith("'"):
        title = title[1:-1].replace("''", "'")
    return title


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

    def _google_error(self, status: int, message: str) -> None:
        statuses = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}
        self._send(
            status,
            {
                "error": {
                    "code": status,
                    "message": message,
                    "status": statuses.get(status, "INTERNAL"),
                }
            },
        )

    def _failing(self, service: str) -> bool:
        mode = self.state.fail.get(service)
        if not mode:
            return False
        if mode == "timeout":
            time.sleep(self.state.slow_seconds)
            mode = "503"
        status = int(mode)
        if service == "emailjs":
            self._send(status, "The service is unavailable", "text/plain")
        else:
            self._google_error(status, "The service is currently unavailable.")
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
        if self._failing("sheets"):
            return
        if match := _VALUES.match(path):
            title = _sheet_title(urllib.parse.unquote(match.group(2)))
            with self.state.lock:
                rows = [list(r) for r in self.state.sheet(title)]
            body: dict[str, Any] = {
                "range": f"'{title}'!A1:H{max(1, len(rows))}",
                "majorDimension": "ROWS",
            }
            if rows:
                body["values"] = rows
            self._send(200, body)
            return
        if match := _META.match(path):
            with self.state.lock:
                self.state.sheet("Leads")
                sheets = [
                    {"properties": {"sheetId": sid, "title": title, "index": i}}
                    for i, (title, sid) in enumerate(self.state.sheet_ids.items())
                ]
            self._send(200, {"spreadsheetId": match.group(1), "sheets": sheets})
            return
        self._google_error(404, "Requested entity was not found.")

    def do_PUT(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        body = self._body() or {}
        if self._failing("sheets"):
            return
        match = _VALUES.match(path)
        if not match or match.group(3):
            self._google_error(404, "Requested entity was not found.")
            return
        a1 = urllib.parse.unquote(match.group(2))
        title = _sheet_title(a1)
        start = re.search(r"!?[A-Z]+(\d+)", a1.rpartition("!")[2])
        first = int(start.group(1)) - 1 if start else 0
        with self.state.lock:
            rows = self.state.sheet(title)
            for offset, values in enumerate(body.get("values", [])):
                while len(rows) <= first + offset:
                    rows.append([])
                rows[first + offset] = [str(v) for v in values]
        count = len(body.get("values", []))
        self._send(200, {"spreadsheetId": match.group(1), "updatedRange": a1, "updatedRows": count})

    def do_OPTIONS(self) -> None:
        # Only the sign-in is called from a browser: the console's page, cross-origin.
        path = urllib.parse.urlsplit(self.path).path
        origin = self.headers.get("Origin")
        if path != signin.ISSUE_PATH or not self.state.signin.allows(origin):
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
        return {"Access-Control-Allow-Origin": str(origin), "Vary": "Origin"}

    def _signin_token(self, body: Any) -> None:
        cors = self._signin_cors()
        if not cors:
            self._send(403, {"error": "not an allowed origin"})
            return
        email = body.get("email") if isinstance(body, dict) else None
        if not signin.looks_like_address(email):
            self._send(400, {"error": "give an email address"}, headers=cors)
            return
        self._send(200, {"credential": self.state.signin.token(str(email))}, headers=cors)

    def do_POST(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        path, query = parts.path, urllib.parse.parse_qs(parts.query)
        if path == APPS_SCRIPT_PATH:
            with self.state.lock:
                self.state.requests.append(("POST", path))
            self._apps_script(self._raw(), query)
            return
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
        if path == "/_standins/reset":
            self.state.reset()
            self._send(200, {})
            return
        if path == EMAILJS_PATH:
            self._emailjs(body)
            return
        if path == signin.ISSUE_PATH:
            self._signin_token(body)
            return
        if self._failing("sheets"):
            return
        if (match := _VALUES.match(path)) and match.group(3):
            self._append(match.group(1), urllib.parse.unquote(match.group(2)), query, body or {})
            return
        if match := _BATCH.match(path):
            self._batch_update(match.group(1), body or {})
            return
        self._google_error(404, "Requested entity was not found.")

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
        with self.state.lock:
            self.state.emails.append(body)
        self._send(200, "OK", "text/plain")

    def _append(
        self, spreadsheet_id: str, a1: str, query: dict[str, list[str]], body: dict[str, Any]
    ) -> None:
        if query.get("valueInputOption", [""])[0] not in ("RAW", "USER_ENTERED"):
            self._google_error(400, "Invalid valueInputOption")
            return
        values = body.get("values")
        if not isinstance(values, list) or not all(isinstance(r, list) for r in values):
            self._google_error(400, "Invalid values")
            return
        title = _sheet_title(a1)
        with self.state.lock:
            rows = self.state.sheet(title)
            start = len(rows) + 1
            rows.extend([[str(c) for c in r] for r in values])
            end = len(rows)
        updated = f"'{title}'!A{start}:H{end}"
        self._send(
            200,
            {
                "spreadsheetId": spreadsheet_id,
                "tableRange": f"'{title}'!A1:H{max(1, start - 1)}",
                "updates": {
                    "spreadsheetId": spreadsheet_id,
                    "updatedRange": updated,
                    "updatedRows": len(values),
                    "updatedColumns": max((len(r) for r in values), default=0),
                    "updatedCells": sum(len(r) for r in values),
                },
            },
        )

    def _batch_update(self, spreadsheet_id: str, body: dict[str, Any]) -> None:
        replies: list[dict[str, Any]] = []
        with self.state.lock:
            titles = {sid: title for title, sid in self.state.sheet_ids.items()}
            for request in body.get("requests", []):
                delete = request.get("deleteDimension")
                if not delete:
                    self._google_error(400, "Only deleteDimension is supported by the stand-in")
                    return
                rng = delete["range"]
                title = titles.get(rng.get("sheetId"))
                if title is None or rng.get("dimension") != "ROWS":
                    self._google_error(400, "Invalid range")
                    return
                rows = self.state.sheets[title]
                start, end = int(rng["startIndex"]), int(rng["endIndex"])
                if not 0 <= start < end <= len(rows):
                    self._google_error(400, "Range out of bounds")
                    return
                del rows[start:end]
                replies.append({})
        self._send(200, {"spreadsheetId": spreadsheet_id, "replies": replies})

    def _apps_script(self, raw: bytes, query: dict[str, list[str]]) -> None:
        if self._failing("sheets"):
            return
        # The web app sees the body as text and the query's first values as e.parameter.
        contents = raw.decode("utf-8", errors="replace")
        parameter = {name: values[0] for name, values in query.items()}
        refused = _script_refusal(
            self.state.apps_script_key, contents, parameter, now=self.state.clock()
        )
        if refused is not None:
            self._send(200, refused)
            return
        try:
            body = json.loads(contents)
        except ValueError:
            self._send(200, {"ok": False, "error": "the body is not JSON"})
            return
        if not isinstance(body, dict):
            self._send(200, {"ok": False, "error": "the body is not a JSON object"})
            return
        action = body.get("action")
        with self.state.lock:
            rows = self.state.sheet("Leads")
            if action == "append" and isinstance(body.get("row"), dict):
                # As the script: idempotent by record_id.
                cells = [str(v) for v in body["row"].values()]
                record = cells[COLUMNS.index("record_id")]
                landed = any(len(r) > 2 and r[2] == record for r in rows)
                if not landed:
                    rows.append(cells)
                self._send(200, {"ok": True, "appended": not landed})
            elif action == "rows":
                self._send(200, {"ok": True, "rows": [list(r) for r in rows]})
            elif action == "delete" and isinstance(body.get("match"), dict):
                doomed = [i for i, row in enumerate(rows) if _script_match(body["match"], row)]
                for index in reversed(doomed):
                    del rows[index]
                self._send(200, {"ok": True, "deleted": len(doomed)})
            elif (
                action == "update"
                and isinstance(body.get("set"), dict)
                and set(body["set"]) <= set(COLUMNS)
            ):
                changes = {COLUMNS.index(k): str(v) for k, v in body["set"].items()}
                updated = 0
                for row in rows:
                    if _script_match(body.get("match") or {}, row):
                        row.extend([""] * (len(COLUMNS) - len(row)))
                        for index, value in changes.items():
                            row[index] = value
                        updated += 1
                self._send(200, {"ok": True, "updated": updated})
            else:
                self._send(200, {"ok": False, "error": "unsupported action"})


def _script_refusal(
    key: str, contents: str, parameter: dict[str, str], *, now: float
) -> dict[str, Any] | None:
    """Code.gs's `refusal_`: why a request is not the functions' own, or None."""
    if not key:
        return NO_KEY
    ts, sig = parameter.get("ts", ""), parameter.get("sig", "")
    if not ts or not sig:
        return UNSIGNED
    message = f"{ts}\n{contents}".encode()
    expected = hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sig.lower()):
        return BAD_SIGNATURE
    if not re.fullmatch(r"[0-9]{1,15}", ts) or abs(now - int(ts)) > SIGNATURE_WINDOW:
        return STALE
    return None


def _script_match(match: dict[str, Any], row: list[str]) -> bool:
    """The row selection an Apps Script `delete`/`update` action performs."""

    def cell(column: str) -> str:
        index = COLUMNS.index(column)
        value = row[index] if index < len(row) else ""
        neutralised = value[:1] == "'" and value[1:2] != "" and value[1:2] in "=+-@\t\r\n"
        return value[1:] if neutralised else value

    if cell("record_id") in (match.get("record_ids") or []):
        return True
    if cell("email").strip().lower() in (match.get("email_keys") or []):
        return True
    before = match.get("received_before")
    if before:
        try:
            received = dt.datetime.fromisoformat(cell("received_at"))
        except ValueError:
            return False
        if received.tzinfo is None:
            received = received.replace(tzinfo=dt.UTC)
        return received < dt.datetime.fromisoformat(before)
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: State) -> None:
        super().__init__(address, _Handler)
        self.state = state


class StandIns:
    """The stand-ins on a loopback port, served from a background thread."""

    def __init__(
        self, port: int = 0, host: str = "127.0.0.1", *, apps_script_key: str | None = None
    ) -> None:
        self.state = State()
        if apps_script_key is not None:
            self.state.apps_script_key = apps_script_key
        self._server = _Server((host, port), self.state)
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self, *, nudges: bool = False) -> dict[str, str]:
        """The configuration that points the project's clients here; with `nudges`, also
        the template of the team's nudge, which schedules one after a visitor's later
        message (`make dev` wants them; most tests would only see them pending)."""
        return {
            **({"EMAILJS_NOTIFY_TEMPLATE_ID": "template_notify"} if nudges else {}),
            "EMAILJS_ENDPOINT": self.url + EMAILJS_PATH,
            "EMAILJS_SERVICE_ID": "service_local",
            "EMAILJS_PUBLIC_KEY": "public_local",
            "EMAILJS_PRIVATE_KEY": "private_local",
            "EMAILJS_CONTACT_TEMPLATE_ID": "template_contact",
            "EMAILJS_CHAT_TEMPLATE_ID": "template_chat",
            "CRM_BACKEND": "sheets",
            "CRM_SPREADSHEET_ID": "local-crm",
            "CRM_SHEET_NAME": "Leads",
            "SHEETS_ENDPOINT": self.url + "/",
            "CRM_APPS_SCRIPT_URL": self.url + APPS_SCRIPT_PATH,
            "CRM_APPS_SCRIPT_KEY": self.state.apps_script_key,
        }

    def signin_env(self, *console_origins: str) -> dict[str, str]:
        """The console's sign-in settings that point it at the local sign-in here, whose
        token endpoint then answers pages from `console_origins`."""
        self.state.signin.origins = [o.rstrip("/") for o in console_origins]
        return {
            "TEAM_OAUTH_CLIENT_ID": self.state.signin.audience,
            "TEAM_CERTS_URL": self.url + signin.CERTS_PATH,
        }

    def start(self) -> StandIns:
        self._thread.start()
        return self

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
    key = os.environ.get("CRM_APPS_SCRIPT_KEY", "").strip()
    standins = StandIns(args.port, args.host, apps_script_key=key or None)
    print(f"stand-ins listening on {standins.url}", flush=True)
    if not key:
        # A local, throwaway key: the functions pointed here need it to sign.
        print(f"CRM_APPS_SCRIPT_KEY={standins.state.apps_script_key}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        standins._server.serve_forever()


if __name__ == "__main__":
    main()
