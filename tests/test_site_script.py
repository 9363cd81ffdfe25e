"""What the site script costs a visitor to download (the browser tests run it)."""

from __future__ import annotations

import pytest

from devstack import site

pytestmark = pytest.mark.unit


def test_the_proof_of_work_adds_at_most_its_budget_to_what_a_visitor_downloads() -> None:
    sizes = site.gzipped_sizes()
    added = sum(sizes.values()) - site.SCRIPT_BEFORE_SOLVER_GZIP
    assert added <= site.SOLVER_BUDGET_GZIP, f"{sizes}: {added} bytes added"
