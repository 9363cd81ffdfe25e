"""EmailJS over its REST API (`POST /api/v1.0/email/send`), for server-side sends.

EmailJS answers plain text (`OK`), allows about one request per second, and needs
"API for non-browser applications" enabled for the account. Every send first takes a
unit of the hour's forwarding budget (budget.py): past FORWARD_BUDGET an hour, the email
is held rather than sent.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from factoryops import budget
from factoryops.config import settings
from factoryops.errors import DownstreamError

if TYPE_CHECKING:
    import requests

SERVICE = "emailjs"
_HEADER_UNSAFE = re.compile(r"[\r\n\x00]")
HEADER_PARAMS = frozenset(
    {
        "reply_to",
        "to_email",
        "from_name",
        "from_email",
        "subject",
        "name",
        "email",
        "company",
        "to_name",
    }
)
_local = threading.local()


def header_safe(value: str) -> str:
    """Strip CR, LF and NUL, which could otherwise inject a mail header."""
    return _HEADER_UNSAFE.sub("", value)


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        import requests

        session = requests.Session()
        _local.session = session
    return session


def send(*, template_id: str, params: Mapping[str, str], timeout: float) -> None:
    """Send one email through the configured EmailJS template; raise DownstreamError, or
    budget.Spent (nothing sent) when the hour's budget is used up."""
    import requests

    cfg = settings()
    template_params = {
        key: header_safe(value) if key in HEADER_PARAMS else value for key, value in params.items()
    }
    payload = {
        "service_id": cfg.emailjs_service_id,
        "template_id": template_id,
        "user_id": cfg.emailjs_public_key,
        "accessToken": cfg.emailjs_private_key,
        "template_params": template_params,
    }
    budget.take()
    try:
        response = _session().post(cfg.emailjs_endpoint, json=payload, timeout=timeout)
    except requests.RequestException as exc:
        raise DownstreamError.unreachable(SERVICE, exc) from None
    if response.status_code == 200:
        return
    # The body is EmailJS's own short text; keep a bounded, single-line copy.
    detail = header_safe(response.text[:120])
    raise DownstreamError.from_status(SERVICE, response.status_code, detail)
