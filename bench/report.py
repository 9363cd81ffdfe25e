"""One table for every benchmark: measured value, baseline, ratio and budget."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    name: str
    measured: float
    baseline: float | None
    unit: str
    budget: str
    ok: bool
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.measured / self.baseline


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value `fraction` of the way up the sorted values (0.95: the p95)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit in ("MiB", "KiB"):
        return f"{value:.1f} {unit}"
    if unit == "docs/s":
        return f"{value:,.0f} docs/s"
    return f"{value:g} {unit}".strip()


def line(row: Row) -> str:
    ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
    verdict = "ok" if row.ok else "OVER"
    cells = [
        row.name,
        _number(row.measured, row.unit),
        _number(row.baseline, row.unit),
        ratio,
        row.budget,
        verdict,
        row.note,
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| benchmark | measured | baseline | ratio | budget | verdict | note |\n"
    "|---|---|---|---|---|---|---|"
)


def table(rows: Iterable[Row]) -> str:
    return "\n".join([HEADER, *(line(row) for row in rows)])
