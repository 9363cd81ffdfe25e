"""The Google Sheets CRM: one row per lead event (DESIGN §4).

Rows go through the Sheets API v4 `values.append` (RAW, INSERT_ROWS) with the
function's service account, or to an Apps Script web app (CRM_BACKEND=apps_script).
Every cell that a spreadsheet could read as a formula is prefixed with `'`, since the
sheet may be exported to CSV and opened elsewhere.
"""

from __future__ import annotations

import threading
from dataclasses import astuple, dataclass, fields
from typing import Any

from factoryops.config import settings
from factoryops.deliveries import DeliveryError

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
RECORD_ID_COLUMN = COLUMNS.index("record_id")


def neutralise(cell: str) -> str:
    """Make a cell read as text: a leading `= + - @`, tab, CR or LF gets a `'`."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def sheet_range(columns: str = "A:H") -> str:
    name = settings().crm_sheet_name.replace("'", "''")
    return f"'{name}'!{columns}"


def sheets_service(timeout: float) -> Any:
    """A Sheets API client for this thread (httplib2 is not thread-safe)."""
    cache = getattr(_local, "services", None)
    if cache is None:
        cache = _local.services = {}
    cfg = settings()
    key = (cfg.sheets_endpoint, timeout)
    if key not in cache:
        import google.auth
        import google_auth_httplib2
        import httplib2
        from google.auth.credentials import AnonymousCredentials
        from googleapiclient.discovery import build

        if cfg.sheets_is_google:
            credentials, _ = google.auth.default(scopes=SCOPES)
        else:
            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout))
        cache[key] = build(
            "sheets",
            "v4",
            http=http,
            client_options={"api_endpoint": cfg.sheets_endpoint},
            static_discovery=True,
            cache_discovery=False,
        )
    return cache[key]


def classify(exc: Exception, what: str) -> DeliveryError:
    """Turn a client failure into a DeliveryError: 4xx other than 408/429 is final."""
    from googleapiclient.errors import HttpError

    if isinstance(exc, HttpError):
        status = int(exc.resp.status)
        retryable = status >= 500 or status in (408, 429)
        return DeliveryError(f"{what} {status}", retryable=retryable)
    return DeliveryError(f"{what} {type(exc).__name__}", retryable=True)


def append(row: Row, *, timeout: float) -> None:
    """Append one lead row to the CRM; raise DeliveryError."""
    cfg = settings()
    if cfg.crm_backend == "apps_script":
        _apps_script(
            {"action": "append", "row": dict(zip(COLUMNS, row.cells(), strict=True))}, timeout
        )
        return
    try:
        sheets_service(timeout).spreadsheets().values().append(
            spreadsheetId=cfg.crm_spreadsheet_id,
            range=sheet_range(),
            valueInputOption="RAW",
            insertDataOption="INSERT_ROWS",
            body={"majorDimension": "ROWS", "values": [row.cells()]},
        ).execute(num_retries=0)
    except DeliveryError:
        raise
    except Exception as exc:
        raise classify(exc, "sheets") from None


def _apps_script(payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POST a JSON action to the Apps Script web app, which answers JSON `{"ok": ...}`."""
    import requests

    try:
        response = requests.post(settings().crm_apps_script_url, json=payload, timeout=timeout)
    except requests.RequestException as exc:
        raise DeliveryError(f"apps script {type(exc).__name__}", retryable=True) from None
    if response.status_code != 200:
        retryable = response.status_code >= 500 or response.status_code in (408, 429)
        raise DeliveryError(f"apps script {response.status_code}", retryable=retryable)
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        raise DeliveryError("apps script answered non-JSON", retryable=True) from None
    if not body.get("ok"):
        raise DeliveryError("apps script refused the action", retryable=False)
    return body
