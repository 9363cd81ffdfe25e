"""The spam scorer over its corpus (tests/spam_corpus.py): how many of the customers'
posts it would quarantine, how many of the spam, and which spam got through, with its
score and signals; and its slowest time on hostile 5,000-character messages (patterns
that once took time growing with the square of the text) against the corpus's longest.

`PYTHONPATH=lib .venv/bin/python bench/spam_corpus.py`, or `python -m bench.spam_corpus`;
SPAM_THRESHOLD, when set, is the threshold scored against.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    # Run as a file, the script's own folder is on the path, not the repository's.
    sys.path[:0] = [str(ROOT), str(ROOT / "lib")]
    from factoryops import spam
    from factoryops.config import settings

    from tests.spam_corpus import HAM, SPAM

    threshold = settings().spam_threshold
    ham = [spam.assess(**post) for post in HAM]
    caught = [spam.assess(**post) for post in SPAM]
    held = [index for index, found in enumerate(ham) if found.spam]
    missed = [index for index, found in enumerate(caught) if not found.spam]
    print(f"threshold {threshold}")
    print(f"ham quarantined {len(held)}/{len(HAM)}" + (f": {held}" if held else ""))
    rate = (len(SPAM) - len(missed)) / len(SPAM)
    print(f"spam quarantined {len(SPAM) - len(missed)}/{len(SPAM)} ({rate:.1%})")
    for index in missed:
        print(f"  missed SPAM[{index}]: score {caught[index].score} ({caught[index].reason})")
    print(f"highest ham score {max(found.score for found in ham)}")
    print(f"lowest spam score {min(found.score for found in caught)}")
    longest = max((*HAM, *SPAM), key=lambda post: len(post["message"]))
    baseline = _slowest(spam.assess, [longest["message"]])
    hostile = _slowest(spam.assess, [(unit * 5000)[:5000] for unit in HOSTILE])
    print(
        f"slowest hostile message {hostile * 1000:.1f} ms, the corpus's longest"
        f" ({len(longest['message'])} characters) {baseline * 1000:.1f} ms:"
        f" {hostile / baseline:.1f}x"
    )


HOSTILE = ("a(.)", "a[.]", "a[dot]", "a(dot)", "a.", "www.", "http://", "x ", "@a.", "-a")
"""Units a hostile message repeats."""


def _slowest(assess: Callable[..., Any], messages: list[str], rounds: int = 5) -> float:
    """The slowest of the messages' best times over `rounds`, in seconds."""
    worst = 0.0
    for message in messages:
        best = float("inf")
        for _ in range(rounds):
            started = time.perf_counter()
            assess(name="A", company="", message=message)
            best = min(best, time.perf_counter() - started)
        worst = max(worst, best)
    return worst


if __name__ == "__main__":
    main()
