"""The Makefile installs what each command needs and no more."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent


def _plan(target: str) -> str:
    """What `make TARGET` would run, without running it."""
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_make_dev_installs_java_and_node_but_neither_the_browser_nor_shellcheck() -> None:
    plan = _plan("dev-deps")
    assert "default-jre-headless" in plan
    assert "nodejs" in plan
    assert "chromium" not in plan
    assert "shellcheck" not in plan


def test_make_test_installs_the_browser_and_shellcheck_too() -> None:
    plan = _plan("test-deps")
    for package in ("default-jre-headless", "nodejs", "chromium", "shellcheck"):
        assert package in plan


def test_make_bench_installs_the_browser_but_not_shellcheck() -> None:
    plan = _plan("bench-deps")
    for package in ("default-jre-headless", "nodejs", "chromium"):
        assert package in plan
    assert "shellcheck" not in plan


def test_make_dev_and_make_test_each_ask_for_their_own_packages() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "dev: venv dev-deps" in makefile
    assert "test: venv test-deps" in makefile
    assert "bench: venv bench-deps" in makefile
