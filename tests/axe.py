"""axe-core in the browser tests: the WCAG 2.0, 2.1 and 2.2 rules of levels A and AA.

The engine is the npm package `axe-core`, pinned in package-lock.json and installed by
`make test` (`npm ci`) into node_modules; it is evaluated into the page through the
DevTools protocol, as a test tool, so the page keeps its own strict Content Security
Policy and serves no copy of it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from tests.conftest import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa")
"""The tags of every rule for WCAG 2.0, 2.1 and 2.2 at levels A and AA."""
BEST_PRACTICE = ("best-practice",)
"""axe's rules beyond WCAG's letter that make a page easy to find one's way in with a
screen reader: one `h1` per page, headings in order, content in landmarks."""


@functools.cache
def _source() -> str:
    if not AXE.exists():
        raise FileNotFoundError(f"{AXE.relative_to(ROOT)} is missing: `make test` installs it")
    return AXE.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Violation:
    """One rule broken, with the elements that break it (their CSS selectors)."""

    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        where = ", ".join(self.targets)
        return f"{self.rule} ({self.impact}): {self.help}, at {where}"


_RUN = """async (tags) => {
  const result = await axe.run(document, { runOnly: { type: 'tag', values: tags } });
  return result.violations.map((v) => ({
    rule: v.id,
    impact: v.impact || '',
    help: v.help,
    targets: v.nodes.map((n) => n.target.join(' ')),
  }));
}"""


def violations(page: Any, tags: tuple[str, ...] = WCAG_AA) -> list[Violation]:
    """What axe finds wrong on the page as it stands, against WCAG 2.x A and AA (or
    the rules of other `tags`, such as BEST_PRACTICE)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_source() + "\n;undefined")
    found = page.evaluate(_RUN, list(tags))
    return [Violation(v["rule"], v["impact"], v["help"], tuple(v["targets"])) for v in found]


def summary(found: list[Violation]) -> str:
    """A line per rule broken, for an assertion's message and the closing note."""
    return "\n".join(str(v) for v in found) or "no violations"
