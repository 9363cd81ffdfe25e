"""The proof of work that keeps bots out of the inbox: ALTCHA challenges and their check.

`GET <function>/challenge` answers a challenge (the JSON the ALTCHA widget's
`challengeurl` expects: `{"parameters": {...}, "signature": ...}`), made and checked by
the `altcha` library (its v2 format): the visitor's browser must find the counter whose
SHA-256 key starts as the challenge says, which takes it `ALTCHA_COMPLEXITY` hashes at
most (half of them on average), and takes the server one hash to check. The counter may
be any below ALTCHA_COMPLEXITY: a floor would be known to a bot too, which would start
counting there and leave the browsers, counting from 0, to pay for it. A challenge is
signed with ALTCHA_HMAC_KEY and expires after CHALLENGE_TTL. The site script solves it in
a Web Worker while the visitor types (web/factoryops-pow.js) and sends the solution, the
widget's base64 payload, in the field `altcha`.

A solution is good once: `spend` adds to the request's own commit the creation of a
document named by a hash of the challenge's signature, so a second request with the same
solution fails its commit whole (edge.py answers it `challenge_failed`), and that
document expires when the challenge does. No cookie, no fingerprint, no request to anyone
else: the challenge holds random bytes, an expiry and nothing of the visitor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from factoryops import errors, keys, store
from factoryops.config import settings
from factoryops.documents import SpentChallenge

FIELD = "altcha"
"""The request field that carries the solution (the ALTCHA widget's name)."""
PATH = "/challenge"
"""Where a function answers challenges: the end of its URL's path (the function's own
path on Cloud Functions, `/contact_submit/challenge` where a router keeps the name)."""
ALGORITHM = "SHA-256"
CHALLENGE_TTL = dt.timedelta(minutes=10)
PAYLOAD_MAX = 2048
"""Characters of a solution's payload; the site's are about 500."""


@dataclass(frozen=True)
class Solved:
    """A solution that checked out: what `spend` records."""

    spent_id: str
    expires: dt.datetime


def challenge() -> dict[str, Any]:
    """A new signed challenge, as the widget's `challengeurl` answers it."""
    import altcha

    expires = int(time.time() + CHALLENGE_TTL.total_seconds())
    made = altcha.create_challenge(
        ALGORITHM,
        1,
        counter=secrets.randbelow(settings().altcha_complexity),
        expires_at=expires,
        hmac_secret=keys.altcha(),
    )
    return dict(made.to_dict())


def check(body: dict[str, Any]) -> Solved | None:
    """The request's solution, checked: None when it carries none; raises
    ChallengeFailed when it is malformed, forged, wrong or expired. Whether it was used
    before is known only at the commit (`spend`)."""
    import altcha

    raw = body.get(FIELD)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > PAYLOAD_MAX:
        raise errors.ChallengeFailed(challenge())
    try:
        payload = altcha.Payload.from_base64(raw)
        result = altcha.verify_solution(payload, keys.altcha())
    except Exception:  # anything that is not a payload the library reads
        raise errors.ChallengeFailed(challenge()) from None
    expires_at = payload.challenge.parameters.expires_at
    if not result.verified or not isinstance(expires_at, int):
        raise errors.ChallengeFailed(challenge())
    signature = str(payload.challenge.signature)
    return Solved(
        spent_id=hashlib.sha256(signature.encode()).hexdigest(),
        expires=dt.datetime.fromtimestamp(expires_at, dt.UTC),
    )


def require(body: dict[str, Any]) -> Solved:
    """`check` for a request that cannot go on without a proof of work: one that carries
    none is refused with ChallengeRequired."""
    solved = check(body)
    if solved is None:
        raise errors.ChallengeRequired(challenge())
    return solved


def spend(batch: Any, solved: Solved | None) -> None:
    """Record the solution as used, in the commit that stores what it let in: a create,
    which fails the whole commit when the solution was used before."""
    if solved is None:
        return
    ref = store.collection(store.SPENT_CHALLENGES).document(solved.spent_id)
    batch.create(ref, SpentChallenge(expire_at=solved.expires).to_dict())
