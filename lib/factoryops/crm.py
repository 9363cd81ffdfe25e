"""The Google Sheets CRM: one row per lead event, kept by the Apps Script web app.

`apps_script/Code.gs`, bound to the CRM sheet, is the one backend: the privacy notice
says the rows are "appended via Google Apps Script". This module is its one client. Each
request is a JSON action posted to CRM_APPS_SCRIPT_URL and signed with
CRM_APPS_SCRIPT_KEY (see "The wire"): `append` adds a lead's row (once per record_id),
and `rows`, `delete` and `update` find rows again by `record_id`, email or `received_at`
for retention and privacy requests (see "Reading, finding..."). Every cell that a
spreadsheet could read as a formula is prefixed with `'`, since the sheet may be
exported to CSV and opened elsewhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import astuple, dataclass, fields
from typing import Any

from factoryops import keys
from factoryops.config import settings
from factoryops.errors import DownstreamError

APPS_SCRIPT = "apps_script"
"""The service named in a DownstreamError (and so in a delivery's `last_error`)."""
STALE = "stale"
"""The refusal of a request whose `ts` is too far from the script's clock."""
NONCE_BYTES = 16
"""A request's nonce: this many random bytes, sent as 32 hex digits (what the script accepts)."""
ADMIN_TIMEOUT = 30.0
"""Seconds for one request made by the sweep or a privacy command."""
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


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


def as_entered(cell: str) -> str:
    """A cell as it was before `neutralise`."""
    if cell.startswith("'") and cell[1:].startswith(_FORMULA_START):
        return cell[1:]
    return cell


# -- the wire ------------------------------------------------------------------------
#
# The web app's URL is reachable without sign-in, so every request carries proof that it
# comes from the functions, as query parameters (doPost sees no request headers): `ts`
# (Unix seconds), `nonce` (32 random hex digits, new for each request) and `sig`, the hex
# HMAC-SHA256 keyed by CRM_APPS_SCRIPT_KEY over `ts`, `nonce` and the exact body, one
# newline between each. The script refuses a request that is unsigned, wrongly signed,
# or whose `ts` is more than 60 seconds from its own clock; and one whose nonce it has
# seen within that time, so a captured request cannot be sent again. Its refusals carry
# a `code`:
#
#     {"ok": false, "error": "...",
#      "code": "no_key" | "unsigned" | "bad_signature" | "stale" | "replayed"}
#
# A stale refusal is a clock that drifted (or a request that took long to arrive) and
# worth retrying; the others are final, as is `{"ok": false, "error": ...}` without a
# code (an action it can never carry out). `replayed` is final because this client never
# sends a nonce twice: a copy of its request reached the script first, and the team
# should hear of it (the delivery fails, its `last_error` names the code). What may pass
# (its lock busy, a Sheets failure) makes the script throw, and the web app then answers
# an error page that is not JSON: worth retrying.
#
# Every attempt is a new call of `_apps_script`, signed then with a new `ts` and nonce, so
# a retry is never taken for a copy. Within one call the script runs once: the web app
# answers the POST with a 302 to a one-time URL on script.googleusercontent.com that
# holds the answer, and `requests` follows it with a GET, which runs no script and
# carries neither the query nor the body.


def sign(body: str, *, timestamp: int, nonce: str, key: bytes) -> str:
    """The `sig` of a request: what the web app recomputes from `ts`, `nonce` and the body."""
    message = f"{timestamp}\n{nonce}\n{body}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _now() -> int:
    return int(time.time())


def _nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def _apps_script(payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POST a signed JSON action to the Apps Script web app, which answers JSON `{"ok": ...}`."""
    import requests

    key = keys.crm_apps_script()
    # Serialised once and sent as these bytes, so the signature covers what arrives.
    # ASCII only (json.dumps escapes the rest): the script reads the body as text, and
    # ASCII is the same text in every charset it might assume.
    body = json.dumps(payload, allow_nan=False)
    timestamp, nonce = _now(), _nonce()
    signature = sign(body, timestamp=timestamp, nonce=nonce, key=key)
    try:
        response = requests.post(
            settings().crm_apps_script_url,
            params={"ts": str(timestamp), "nonce": nonce, "sig": signature},
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


def append(row: Row, *, timeout: float) -> None:
    """Append one lead row to the CRM; raise DownstreamError.

    The script looks for the row's record_id under its lock before appending, so a retry
    whose earlier attempt landed (its answer lost on the way back) adds no second row.
    """
    _apps_script({"action": "append", "row": dict(zip(COLUMNS, row.cells(), strict=True))}, timeout)


# -- reading, finding, changing and deleting rows (retention and privacy requests) ----
#
# Rows are found by a `Match`: by `record_id`, by email (case-insensitively) or by a
# `received_at` before a given time. The script reads, deletes (bottom-up) and changes
# them under its own LockService lock, so a sweep and a privacy request never shift
# rows under each other:
#
#     {"action": "rows"}                          -> {"ok": true, "rows": [[...], ...]}
#     {"action": "delete", "match": M}            -> {"ok": true, "deleted": n}
#     {"action": "update", "match": M, "set": S}  -> {"ok": true, "updated": n}
#
# where M is `Match.payload()` and S maps column names to new cell values.


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


def read_rows(*, timeout: float = ADMIN_TIMEOUT) -> list[SheetRow]:
    """Every row of the CRM sheet, header included; [] when no CRM is configured."""
    if not settings().crm_configured:
        return []
    return _rows_from(_apps_script({"action": "rows"}, timeout).get("rows", []))


def find_rows(match: Match, *, timeout: float = ADMIN_TIMEOUT) -> list[SheetRow]:
    if not match:
        return []
    return [row for row in read_rows(timeout=timeout) if match(row)]


def delete_rows(match: Match, *, timeout: float = ADMIN_TIMEOUT) -> int:
    """Delete every matching row; returns how many were deleted."""
    if not match or not settings().crm_configured:
        return 0
    body = _apps_script({"action": "delete", "match": match.payload()}, timeout)
    return int(body.get("deleted", 0))


def update_rows(match: Match, changes: dict[str, str], *, timeout: float = ADMIN_TIMEOUT) -> int:
    """Set the given columns of every matching row; returns how many rows changed."""
    unknown = set(changes) - set(COLUMNS)
    if unknown:
        raise ValueError(f"not CRM columns: {', '.join(sorted(unknown))}")
    if not match or not changes or not settings().crm_configured:
        return 0
    payload = {
        "action": "update",
        "match": match.payload(),
        "set": {column: neutralise(value) for column, value in changes.items()},
    }
    return int(_apps_script(payload, timeout).get("updated", 0))
