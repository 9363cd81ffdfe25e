"""The Google Sheets CRM: one row per lead event.

Rows go through the Sheets API v4 `values.append` (RAW, INSERT_ROWS) with the
function's service account, or to an Apps Script web app (CRM_BACKEND=apps_script).
Every cell that a spreadsheet could read as a formula is prefixed with `'`, since the
sheet may be exported to CSV and opened elsewhere. Rows are found again by `record_id`,
email or `received_at` for retention and privacy requests (see "Reading, finding...").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import astuple, dataclass, fields
from typing import Any

from factoryops import store
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


def _http(timeout: float) -> Any:
    """This thread's authorised HTTP client (httplib2 is not thread-safe)."""
    cache = getattr(_local, "https", None)
    if cache is None:
        cache = _local.https = {}
    cfg = settings()
    key = (cfg.sheets_endpoint, timeout)
    if key not in cache:
        import google.auth
        import google_auth_httplib2
        import httplib2
        from google.auth.credentials import AnonymousCredentials

        if cfg.sheets_is_google:
            credentials, _ = google.auth.default(scopes=SCOPES)
        else:
            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        cache[key] = google_auth_httplib2.AuthorizedHttp(
            credentials, http=httplib2.Http(timeout=timeout)
        )
    return cache[key]


def sheets_service(timeout: float) -> Any:
    """A Sheets API client for this thread, on this thread's HTTP client."""
    cache = getattr(_local, "services", None)
    if cache is None:
        cache = _local.services = {}
    cfg = settings()
    key = (cfg.sheets_endpoint, timeout)
    if key not in cache:
        from googleapiclient.discovery import build

        cache[key] = build(
            "sheets",
            "v4",
            http=_http(timeout),
            client_options={"api_endpoint": cfg.sheets_endpoint},
            static_discovery=True,
            cache_discovery=False,
        )
    return cache[key]


_values_cache: dict[tuple[str, float], Any] = {}
_values_lock = threading.Lock()


def _values(timeout: float) -> Any:
    """The `spreadsheets().values()` collection that appends rows, built once per process
    and shared by its threads, each of which executes requests on its own HTTP client
    (`execute(http=...)`, googleapiclient's way to share a service between threads).

    googleapiclient writes a docstring for every method of a collection when it builds
    it, and those of `spreadsheets` (batchUpdate, create, get) run to 55 MB: 0.27 s of
    CPU, and memory that a thread's malloc arena keeps. So this client is built from the
    bundled discovery document cut down to `values.append`, all the request path calls.
    """
    cfg = settings()
    key = (cfg.sheets_endpoint, timeout)
    with _values_lock:
        if key not in _values_cache:
            import json

            from googleapiclient.discovery import build_from_document
            from googleapiclient.discovery_cache import get_static_doc

            document = json.loads(get_static_doc("sheets", "v4"))
            spreadsheets = document["resources"]["spreadsheets"]
            append = spreadsheets["resources"]["values"]["methods"]["append"]
            document["resources"] = {
                "spreadsheets": {"resources": {"values": {"methods": {"append": append}}}}
            }
            service = build_from_document(
                document, http=_http(timeout), client_options={"api_endpoint": cfg.sheets_endpoint}
            )
            _values_cache[key] = service.spreadsheets().values()
        return _values_cache[key]


SHEETS = "sheets"
APPS_SCRIPT = "apps_script"


def _sheets_error(exc: Exception) -> DownstreamError:
    """A Sheets API client failure as a DownstreamError: a 4xx other than 408/429 is final."""
    from googleapiclient.errors import HttpError

    if isinstance(exc, DownstreamError):
        return exc
    if isinstance(exc, HttpError):
        return DownstreamError.from_status(SHEETS, int(exc.resp.status))
    return DownstreamError.unreachable(SHEETS, exc)


def append(row: Row, *, timeout: float) -> None:
    """Append one lead row to the CRM; raise DownstreamError."""
    cfg = settings()
    if cfg.crm_backend == "apps_script":
        _apps_script(
            {"action": "append", "row": dict(zip(COLUMNS, row.cells(), strict=True))}, timeout
        )
        return
    try:
        _values(timeout).append(
            spreadsheetId=cfg.crm_spreadsheet_id,
            range=sheet_range(),
            valueInputOption="RAW",
            insertDataOption="INSERT_ROWS",
            body={"majorDimension": "ROWS", "values": [row.cells()]},
        ).execute(http=_http(timeout), num_retries=0)
    except Exception as exc:
        raise _sheets_error(exc) from None


def _apps_script(payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POST a JSON action to the Apps Script web app, which answers JSON `{"ok": ...}`."""
    import requests

    try:
        response = requests.post(settings().crm_apps_script_url, json=payload, timeout=timeout)
    except requests.RequestException as exc:
        raise DownstreamError.unreachable(APPS_SCRIPT, exc) from None
    if response.status_code != 200:
        raise DownstreamError.from_status(APPS_SCRIPT, response.status_code)
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        raise DownstreamError(APPS_SCRIPT, "answered non-JSON", retryable=True) from None
    if not body.get("ok"):
        raise DownstreamError(APPS_SCRIPT, "refused the action", retryable=False)
    return body


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
    cfg = settings()
    try:
        result = (
            sheets_service(timeout)
            .spreadsheets()
            .values()
            .get(spreadsheetId=cfg.crm_spreadsheet_id, range=sheet_range(), majorDimension="ROWS")
            .execute(num_retries=2)
        )
    except Exception as exc:
        raise _sheets_error(exc) from None
    return _rows_from(result.get("values", []))


def _sheet_id(timeout: float) -> int:
    cfg = settings()
    try:
        meta = (
            sheets_service(timeout)
            .spreadsheets()
            .get(spreadsheetId=cfg.crm_spreadsheet_id, fields="sheets.properties(sheetId,title)")
            .execute(num_retries=2)
        )
    except Exception as exc:
        raise _sheets_error(exc) from None
    for sheet in meta.get("sheets", []):
        properties = sheet.get("properties", {})
        if properties.get("title") == cfg.crm_sheet_name:
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
        try:
            sheets_service(timeout).spreadsheets().batchUpdate(
                spreadsheetId=cfg.crm_spreadsheet_id, body={"requests": requests}
            ).execute(num_retries=0)
        except Exception as exc:
            raise _sheets_error(exc) from None
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
            try:
                sheets_service(timeout).spreadsheets().values().update(
                    spreadsheetId=cfg.crm_spreadsheet_id,
                    range=sheet_range(f"A{row.number}:H{row.number}"),
                    valueInputOption="RAW",
                    body={"majorDimension": "ROWS", "values": [cells]},
                ).execute(num_retries=2)
            except Exception as exc:
                raise _sheets_error(exc) from None
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
