"""apps_script/Code.gs's refusals of a request that is not the functions' own, word for
word, as the tests of the script and of its client expect them."""

from __future__ import annotations

from typing import Any

NO_KEY: dict[str, Any] = {
    "ok": False,
    "code": "no_key",
    "error": "the script property CRM_APPS_SCRIPT_KEY is not set, so no request is accepted",
}
UNSIGNED: dict[str, Any] = {
    "ok": False,
    "code": "unsigned",
    "error": "the request is not signed (ts, sig and a nonce of 32 hex digits)",
}
BAD_SIGNATURE: dict[str, Any] = {
    "ok": False,
    "code": "bad_signature",
    "error": "the signature does not match the request",
}
STALE: dict[str, Any] = {
    "ok": False,
    "code": "stale",
    "error": "the request's ts is more than 60 seconds from the script's clock",
}
REPLAYED: dict[str, Any] = {
    "ok": False,
    "code": "replayed",
    "error": "the request's nonce was used before: it is a copy",
}
