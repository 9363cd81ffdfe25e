"""`siteadmin` with nothing running: the commands its help lists (each command against
the emulator: test_cli_grants.py, test_cli_chats.py, test_privacy.py, test_status.py)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from factoryops.cli import main

pytestmark = pytest.mark.unit


def test_grants_is_listed_in_siteadmin_help() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "grants" in result.stdout
    sub = CliRunner().invoke(main, ["grants", "--help"])
    assert {"create", "list", "revoke"} <= set(sub.stdout.split())
