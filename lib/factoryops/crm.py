"""The Google Sheets CRM: one row per lead event.

Rows go to an Apps Script web app bound to the sheet (CRM_BACKEND=apps_script), each
request signed with CRM_APPS_SCRIPT_KEY (see "The Apps Script web app"), or through the
Sheets API v4 `values.append` (RAW, INSERT_ROWS) with the function's service account
(CRM_BACKEND=sheets). Every cell that a spreadsheet could read as a formula is prefixed
with `'`, since the sheet may be exported to CSV and opened elsewhere. Rows are found
again by `record_id`, email or `received_at` for retention and privacy requests (see
"Reading, finding...").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import astuple, dataclass, fields
from typing import Any

from factoryops import keys, store
from factoryops.config import settings
from factoryops.errors import DownstreamError

SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_local = threading.local()


@dataclass(frozen=True)
class Row:
    received_at: str
    source: str
    record_id: str
    name: str
    email: str
    company: str
    message: str
    page: str

    def cells(self) -> list[str]:
        return [neutralise(str(value)) for value in astuple(self)]


COLUMNS = tuple(f.name for f in fields(Row))


def neutralise(cell: str) -> str:
    """Make a cell read as text: a leading `= + - @`, tab, CR or LF gets a `'`."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def sheet_range(columns: str = "A:H") -> str:
    name = settings().crm_sheet_name.replace("'", "''")
    return f"'{name}'!{columns}"


# -- the Sheets API v4 over REST ------------------------------------------------------
#
# Each call is one request on google-auth's AuthorizedSession, which adds and refreshes
# the service account's token. (google-api-python-client would build a client from the
# API's discovery document first: 0.3 s of a cold start and tens of MiB, for five URLs.)


def _credentials() -> Any:
    """The service account's credentials, or none for a local stand-in."""
    import google.auth

    if not settings().sheets_is_google:
        return None
    with _credentials_lock:
        if "default" not in _credentials_cache:
            _credentials_cache["default"], _ = google.auth.default(scopes=SCOPES)
        return _credentials_cache["default"]


_credentials_cache: dict[str, Any] = {}
_credentials_lock = threading.Lock()


def _session() -> Any:
    """This thread's HTTP session to the Sheets API (a requests session is not shared
    between threads)."""
    key = settings().sheets_endpoint
    sessions: dict[str, Any] = getattr(_local, "sessions", None) or {}
    _local.sessions = sessions
    if key not in sessions:
        import requests
        from google.auth.transport.requests import AuthorizedSession

        credentials = _credentials()
        if credentials is None:
            sessions[key] = requests.Session()
        else:
            sessions[key] = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
    return sessions[key]


def _sheets(
    method: str, path: str, timeout: float, *, retry: bool = False, **kwargs: Any
) -> dict[str, Any]:
    """One Sheets API call on the configured spreadsheet (`path` follows its id, e.g.
    `/values/A1:append`); raise DownstreamError. With `retry` (for calls that are safe to
    repeat: reads and overwrites), a retryable failure is tried again for a while."""
    if retry:
        from google.api_core import exceptions
        from google.api_core import retry as api_retry

        policy = api_retry.Retry(
            predicate=lambda exc: isinstance(exc, DownstreamError) and exc.retryable,
            initial=0.5,
            maximum=2.0,
            timeout=RETRY_DEADLINE,
        )
        try:
            return dict(policy(_sheets)(method, path, timeout, **kwargs))
        except exceptions.RetryError as exc:
            raise exc.cause from None  # the last DownstreamError
    import requests

    cfg = settings()
    spreadsheet = urllib.parse.quote(cfg.crm_spreadsheet_id, safe="")
    url = f"{cfg.sheets_endpoint.rstrip('/')}/v4/spreadsheets/{spreadsheet}{path}"
    try:
        response = _session().request(method, url, timeout=timeout, **kwargs)
    except requests.RequestException as exc:
        raise DownstreamError.unreachable(SHEETS, exc) from None
    if not 200 <= response.status_code < 300:
        raise DownstreamError.from_status(SHEETS, response.status_code)
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        raise DownstreamError(SHEETS, "answered non-JSON", retryable=True) from None
    return body


RETRY_DEADLINE = 5.0
"""Seconds a repeatable Sheets call is retried for, across attempts."""


def _values_path(a1: str, verb: str = "") -> str:
    return f"/values/{urllib.parse.quote(a1, safe='')}{verb}"


SHEETS = "sheets"
APPS_SCRIPT = "apps_script"


def append(row: Row, *, timeout: float, may_have_landed: bool = False) -> None:
    """Append one lead row to the CRM, once per record_id; raise DownstreamError.

    The Apps Script web app looks for the record_id itself before appending. Through the
    Sheets API, a retry whose earlier attempt may have landed (`may_have_landed`) reads
    the sheet first and leaves a row that is already there alone.
    """
    if settings().crm_backend == "apps_script":
        _apps_script(
            {"action": "append", "row": dict(zip(COLUMNS, row.cells(), strict=True))}, timeout
        )
        return
    if may_have_landed and find_rows(Match(record_ids=frozenset({row.record_id})), timeout=timeout):
        return
    _sheets(
        "POST",
        _values_path(sheet_range(), ":append"),
        timeout,
        params={"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
        json={"majorDimension": "ROWS", "values": [row.cells()]},
    )


# -- the Apps Script web app ---------------------------------------------------------
#
# The web app's URL is reachable without sign-in, so every request carries proof that it
# comes from the functions: `ts` (Unix seconds) and `sig`, the hex HMAC-SHA256 keyed by
# CRM_APPS_SCRIPT_KEY over `ts`, a newline and the exact body, both as query parameters
# (doPost sees no request headers). The script refuses a request that is unsigned,
# wrongly signed, or whose `ts` is more than 5 minutes from its own clock, so a captured
# request stops working within minutes. Its refusals carry a `code`:
#
#     {"ok": false, "error": "...", "code": "no_key" | "unsigned" | "bad_signature" | "stale"}
#
# A stale refusal is a clock that drifted and worth retrying; the others are final.

STALE = "stale"


def sign(body: str, *, timestamp: int, key: bytes) -> str:
    """The `sig` of a request: what the web app recomputes from `ts` and the body."""
    message = f"{timestamp}\n{body}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _now() -> int:
    return int(time.time())


def _apps_script(payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POST a signed JSON action to the Apps Script web app, which answers JSON `{"ok": ...}`."""
    import requests

    key = keys.crm_apps_script()
    # Serialised once and sent as these bytes, so the signature covers what arrives.
    # ASCII only (json.dumps escapes the rest): the script reads the body as text, and
    # ASCII is the same text in every charset it might assume.
    body = json.dumps(payload, allow_nan=False)
    timestamp = _now()
    try:
        response = requests.post(
            settings().crm_apps_script_url,
            params={"ts": str(timestamp), "sig": sign(body, timestamp=timestamp, key=key)},
            data=body.encode("ascii"),
            headers={"Content-Type": "application/json"},
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise DownstreamError.unreachable(APPS_SCRIPT, exc) from None
    if response.status_code != 200:
        raise DownstreamError.from_status(APPS_SCRIPT, response.status_code)
    try:
        answer: dict[str, Any] = response.json()
    except ValueError:
        raise DownstreamError(APPS_SCRIPT, "answered non-JSON", retryable=True) from None
    if not answer.get("ok"):
        code = str(answer.get("code") or "")
        detail = str(answer.get("error") or "")
        if code:
            raise DownstreamError(
                APPS_SCRIPT, f"refused the request: {code}", retryable=code == STALE, detail=detail
            )
        raise DownstreamError(APPS_SCRIPT, "refused the action", retryable=False, detail=detail)
    return answer


# Reading, finding, changing and deleting rows (retention and privacy requests) ------
#
# Rows are found by a `Match`: by `record_id`, by email (case-insensitively) or by a
# `received_at` before a given time. With the Sheets API the rows are read with
# `values.get`, changed with `values.update` and deleted bottom-up with one
# `batchUpdate` of `deleteDimension` requests; since those address rows by position, a
# Firestore lease (`store.lease`, `locks/crm_sheet`) keeps two such read-then-change runs
# (a sweep and a privacy request) from shifting rows under each other. Appends need no lease: they
# only add rows below the ones read. The Apps Script web app gets the same work as the
# actions `rows`, `delete` and `update`, which it runs under its own LockService:
#
#     {"action": "rows"}                          -> {"ok": true, "rows": [[...], ...]}
#     {"action": "delete", "match": M}            -> {"ok": true, "deleted": n}
#     {"action": "update", "match": M, "set": S}  -> {"ok": true, "updated": n}
#
# where M is `Match.payload()` and S maps column names to new cell values.

SHEET_LOCK = "crm_sheet"
LOCK_HOLD = dt.timedelta(seconds=120)
LOCK_WAIT = 30.0
ADMIN_TIMEOUT = 30.0
"""Seconds for one Sheets call made by the sweep or a privacy command."""


@dataclass(frozen=True)
class SheetRow:
    number: int
    """The row's 1-based number in the sheet."""
    cells: tuple[str, ...]
    """The stored cells, padded to `COLUMNS`."""

    def value(self, column: str) -> str:
        return as_entered(self.cells[COLUMNS.index(column)])

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.number, **{c: self.value(c) for c in COLUMNS}}


def as_entered(cell: str) -> str:
    """A cell as it was before `neutralise`."""
    if cell.startswith("'") and cell[1:].startswith(_FORMULA_START):
        return cell[1:]
    return cell


def _timestamp(value: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Match:
    """Which rows an operation touches: any row that meets one of the conditions."""

    record_ids: frozenset[str] = frozenset()
    email_keys: frozenset[str] = frozenset()
    received_before: dt.datetime | None = None

    def __bool__(self) -> bool:
        return bool(self.record_ids or self.email_keys or self.received_before)

    def __call__(self, row: SheetRow) -> bool:
        if self.record_ids and row.value("record_id") in self.record_ids:
            return True
        if self.email_keys and row.value("email").strip().lower() in self.email_keys:
            return True
        if self.received_before is not None:
            received = _timestamp(row.value("received_at"))
            return received is not None and received < self.received_before
        return False

    def payload(self) -> dict[str, Any]:
        before = self.received_before
        return {
            "record_ids": sorted(self.record_ids),
            "email_keys": sorted(self.email_keys),
            "received_before": None if before is None else before.astimezone(dt.UTC).isoformat(),
        }


def _rows_from(values: list[list[Any]]) -> list[SheetRow]:
    width = len(COLUMNS)
    return [
        SheetRow(number, tuple((["" if v is None else str(v) for v in raw] + [""] * width)[:width]))
        for number, raw in enumerate(values, start=1)
    ]


def _sheets_rows(timeout: float) -> list[SheetRow]:
    params = {"majorDimension": "ROWS"}
    result = _sheets("GET", _values_path(sheet_range()), timeout, params=params, retry=True)
    return _rows_from(result.get("values", []))


def _sheet_id(timeout: float) -> int:
    fields = {"fields": "sheets.properties(sheetId,title)"}
    meta = _sheets("GET", "", timeout, params=fields, retry=True)
    for sheet in meta.get("sheets", []):
        properties = sheet.get("properties", {})
        if properties.get("title") == settings().crm_sheet_name:
            return int(properties["sheetId"])
    raise DownstreamError(SHEETS, "has no sheet named CRM_SHEET_NAME", retryable=False)


def read_rows(*, timeout: float = ADMIN_TIMEOUT) -> list[SheetRow]:
    """Every row of the CRM sheet, header included; [] when no CRM is configured."""
    cfg = settings()
    if not cfg.crm_configured:
        return []
    if cfg.crm_backend == "apps_script":
        return _rows_from(_apps_script({"action": "rows"}, timeout).get("rows", []))
    return _sheets_rows(timeout)


def find_rows(match: Match, *, timeout: float = ADMIN_TIMEOUT) -> list[SheetRow]:
    if not match:
        return []
    return [row for row in read_rows(timeout=timeout) if match(row)]


def delete_rows(match: Match, *, timeout: float = ADMIN_TIMEOUT) -> int:
    """Delete every matching row, bottom-up; returns how many were deleted."""
    cfg = settings()
    if not match or not cfg.crm_configured:
        return 0
    if cfg.crm_backend == "apps_script":
        body = _apps_script({"action": "delete", "match": match.payload()}, timeout)
        return int(body.get("deleted", 0))
    with _sheet_lock():
        numbers = [row.number for row in _sheets_rows(timeout) if match(row)]
        if not numbers:
            return 0
        sheet_id = _sheet_id(timeout)
        requests = [
            {
                "deleteDimension": {
                    "range": {
                        "sheetId": sheet_id,
                        "dimension": "ROWS",
                        "startIndex": first - 1,
                        "endIndex": last,
                    }
                }
            }
            for first, last in _runs_bottom_up(numbers)
        ]
        _sheets("POST", ":batchUpdate", timeout, json={"requests": requests})
    return len(numbers)


def _runs_bottom_up(numbers: list[int]) -> list[tuple[int, int]]:
    """Consecutive row numbers as (first, last) runs, lowest run last, so that each
    deletion leaves the positions of the runs still to delete unchanged."""
    runs: list[tuple[int, int]] = []
    for number in sorted(set(numbers), reverse=True):
        if runs and runs[-1][0] == number + 1:
            runs[-1] = (number, runs[-1][1])
        else:
            runs.append((number, number))
    return runs


def update_rows(match: Match, changes: dict[str, str], *, timeout: float = ADMIN_TIMEOUT) -> int:
    """Set the given columns of every matching row; returns how many rows changed."""
    cfg = settings()
    unknown = set(changes) - set(COLUMNS)
    if unknown:
        raise ValueError(f"not CRM columns: {', '.join(sorted(unknown))}")
    if not match or not changes or not cfg.crm_configured:
        return 0
    if cfg.crm_backend == "apps_script":
        payload = {
            "action": "update",
            "match": match.payload(),
            "set": {column: neutralise(value) for column, value in changes.items()},
        }
        return int(_apps_script(payload, timeout).get("updated", 0))
    count = 0
    with _sheet_lock():
        for row in _sheets_rows(timeout):
            if not match(row):
                continue
            cells = [
                neutralise(changes[column]) if column in changes else cell
                for column, cell in zip(COLUMNS, row.cells, strict=True)
            ]
            _sheets(
                "PUT",
                _values_path(sheet_range(f"A{row.number}:H{row.number}")),
                timeout,
                params={"valueInputOption": "RAW"},
                json={"majorDimension": "ROWS", "values": [cells]},
                retry=True,
            )
            count += 1
    return count


@contextlib.contextmanager
def _sheet_lock() -> Iterator[None]:
    """Hold the lease on the sheet's row positions; a busy sheet is a retryable failure."""
    try:
        with store.lease(SHEET_LOCK, hold=LOCK_HOLD, wait=LOCK_WAIT):
            yield
    except store.LeaseBusy:
        raise DownstreamError(SHEETS, "busy with another change", retryable=True) from None
