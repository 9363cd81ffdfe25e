"""Shared fixtures: the real Firestore emulator, the network-edge stand-ins, the CRM web
app (the real apps_script/Code.gs under Node.js), the apps.

The emulator and the web app are started once per session on free ports; the emulator
is cleared before every test that uses it, the web app's sheet emptied before every test
that uses `standins`. The environment is saved and restored around every test.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from factoryops import config, logs

from devstack import emulator as emulator_mod
from devstack.apps_script import AppsScript
from devstack.standins import StandIns

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "demo-factoryops-test"

LAYERS = ("unit", "emulator", "rules", "browser", "node", "deploy", "bundle", "fuzz", "load")
"""The test layers (pyproject.toml describes each). A module of a heavier layer says so
with `pytestmark`; any other test is `emulator` when it uses the emulator, `node` when
it uses the CRM web app (both when both), else `unit`."""
FIXTURE_LAYERS = (("emulator", {"emulator", "db"}), ("node", {"apps_script", "standins"}))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(layer) for layer in LAYERS):
            continue
        fixtures = set(getattr(item, "fixturenames", ()))
        layers = [layer for layer, needs in FIXTURE_LAYERS if needs & fixtures]
        for layer in layers or ["unit"]:
            item.add_marker(layer)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[emulator_mod.Emulator]:
    log_path = tmp_path_factory.mktemp("emulator") / "firestore-emulator.log"
    running = emulator_mod.start(log_path=log_path)
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def environment() -> Iterator[None]:
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("EMAILJS_", "CRM_", "SWEEP_")) or name in (
            "ALLOWED_ORIGINS",
            "CONTACT_REDIRECT_URL",
            "RATE_LIMIT_KEY",
            "FIRESTORE_EMULATOR_HOST",
        ):
            del os.environ[name]
    os.environ["GOOGLE_CLOUD_PROJECT"] = PROJECT
    config.reset()
    yield
    os.environ.clear()
    os.environ.update(saved)
    config.reset()


@pytest.fixture
def db(emulator: emulator_mod.Emulator) -> Any:
    """A Firestore client on the emulator, which starts each test empty."""
    os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.address
    config.reset()
    emulator.clear(PROJECT)
    from factoryops import store

    return store.client()


@pytest.fixture(scope="session")
def apps_script() -> Iterator[AppsScript]:
    """The CRM web app: apps_script/Code.gs in one Node.js server for the session."""
    running = AppsScript().start()
    yield running
    running.stop()


@pytest.fixture
def standins(apps_script: AppsScript) -> Iterator[StandIns]:
    """The EmailJS stand-in and the CRM web app (`.crm`, its sheet empty), with the
    functions' configuration pointing at both."""
    apps_script.reset()
    running = StandIns(crm=apps_script).start()
    os.environ.update(running.env())
    running.state.slow_seconds = 6.0
    config.reset()
    yield running
    running.stop()


@pytest.fixture
def configure() -> Callable[..., None]:
    """Set environment variables for this test and re-read the configuration."""

    def apply(**values: str | None) -> None:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        config.reset()

    return apply


@pytest.fixture
def function_client() -> Callable[[str], Any]:
    """A Flask test client for a function, loaded by path as functions-framework does."""
    import functions_framework

    def make(name: str) -> Any:
        app = functions_framework.create_app(
            target=name, source=str(ROOT / "functions" / name / "main.py")
        )
        return app.test_client()

    return make


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Every log line of the test, formatted as production formats it."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logs.logger()
    yield buffer
    root.removeHandler(handler)
    root.setLevel(previous)
