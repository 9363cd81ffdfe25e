"""Proofs of work for the tests and benchmarks that post as the site script does: a
challenge signed with the functions' key (keys.altcha(): this process's own on the
emulator, or ALTCHA_HMAC_KEY where served functions share it), solved by the `altcha`
library as a browser would."""

from __future__ import annotations

import time
from typing import Any

EASY = 16
"""The counter of a challenge made here: a few hashes to find, the same check."""


def solved(*, counter: int = EASY, expires_in: float = 600.0, key: bytes | None = None) -> str:
    """The `altcha` field of a request: a fresh challenge's solution."""
    import altcha
    from factoryops import keys

    made = altcha.create_challenge(
        "SHA-256",
        1,
        counter=counter,
        expires_at=int(time.time() + expires_in),
        hmac_secret=key if key is not None else keys.altcha(),
    )
    return solve(made.to_dict())


def solve(challenge: dict[str, Any]) -> str:
    """The `altcha` field for a challenge a function answered (`GET /challenge`)."""
    import altcha

    made = altcha.Challenge.from_dict(challenge)
    solution = altcha.solve_challenge(made)
    assert solution is not None, "the challenge was not solved in time"
    return altcha.Payload(made, solution).to_base64()


def main(argv: list[str]) -> int:
    """`python -m devstack.proofs URL`: fetch a challenge from a function's `/challenge`
    and print its solution, for a post sent by hand (docs/development.md)."""
    import json
    import urllib.request

    if len(argv) != 1:
        print("usage: python -m devstack.proofs http://127.0.0.1:8081/challenge")
        return 2
    url = argv[0] if "://" in argv[0] else f"http://{argv[0]}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        print(solve(json.load(answer)))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
