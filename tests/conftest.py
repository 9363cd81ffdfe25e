"""Shared fixtures: the real Firestore emulator, the network-edge stand-ins, the CRM web
app (the real apps_script/Code.gs under Node.js), the apps.

The emulator and the web app are started once per session on free ports; the emulator
is cleared before every test that uses it, the web app's sheet emptied before every test
that uses `standins`. The environment is saved and restored around every test.

Each test module declares its layer with `pytestmark` (pyproject.toml lists the layers);
collection fails for a test whose declaration does not match the fixtures it uses.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
from factoryops import config, logs

from devstack import emulator as emulator_mod
from devstack.apps_script import AppsScript
from devstack.eventarc import Eventarc
from devstack.standins import StandIns

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient
    from google.cloud import firestore
    from werkzeug.test import TestResponse

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "demo-factoryops-test"

LAYERS = ("unit", "emulator", "rules", "browser", "node", "deploy", "bundle", "fuzz", "load")
"""The test layers (pyproject.toml describes each); every test module declares its own."""
NEEDS = {
    "emulator": frozenset({"emulator", "db"}),
    "node": frozenset({"apps_script", "standins", "forwarder"}),
}
"""The fixtures that need the emulator or Node running, by the layer a test using them
declares. The other heavier layers start what they need themselves, and say so."""


def undeclared(item: pytest.Item) -> str | None:
    """What `item`'s layer declaration lacks, or None when it matches what it uses."""
    declared = [layer for layer in LAYERS if item.get_closest_marker(layer)]
    if not declared:
        return (
            f"{item.nodeid} declares no layer: give its module"
            f" `pytestmark = pytest.mark.<layer>`, one of {', '.join(LAYERS)}"
        )
    fixtures = set(getattr(item, "fixturenames", ()))
    used = {layer: sorted(needs & fixtures) for layer, needs in NEEDS.items() if needs & fixtures}
    if "unit" in declared:
        if used:
            names = ", ".join(name for names in used.values() for name in names)
            return (
                f"{item.nodeid} is marked unit, which needs nothing running, but uses {names}:"
                f" declare {' and '.join(used)} instead"
            )
        if len(declared) > 1:
            others = ", ".join(declared[1:])
            return f"{item.nodeid} is marked unit and {others}: unit needs nothing running"
        return None
    if set(declared) - set(NEEDS):  # rules, browser, ...: the layer brings what it needs
        return None
    missing = [layer for layer in used if layer not in declared]
    if missing:
        names = ", ".join(name for layer in missing for name in used[layer])
        marks = " and ".join(f"pytest.mark.{layer}" for layer in missing)
        return f"{item.nodeid} uses {names}: add {marks} to its module's pytestmark"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    problems = [problem for item in items if (problem := undeclared(item))]
    if problems:
        raise pytest.UsageError("test layers:\n" + "\n".join(problems))


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[emulator_mod.Emulator]:
    log_path = tmp_path_factory.mktemp("emulator") / "firestore-emulator.log"
    running = emulator_mod.start(log_path=log_path)
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def environment() -> Iterator[None]:
    """Every setting config declares unset, but the project (the tests' own); the whole
    environment restored after the test."""
    saved = dict(os.environ)
    for setting in config.declared():
        os.environ.pop(setting.env, None)
    os.environ["GOOGLE_CLOUD_PROJECT"] = PROJECT
    config.reset()
    _SOLUTIONS.clear()
    yield
    os.environ.clear()
    os.environ.update(saved)
    config.reset()


@pytest.fixture
def db(emulator: emulator_mod.Emulator) -> firestore.Client:
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


class Configure(Protocol):
    """`configure(NAME="value", OTHER=None)`: set NAME, unset OTHER."""

    def __call__(self, **values: str | None) -> None: ...


@pytest.fixture
def configure() -> Configure:
    """Set environment variables for this test and re-read the configuration."""

    def apply(**values: str | None) -> None:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        config.reset()

    return apply


def load(function: str) -> Flask:
    """A function's app, loaded by path as functions-framework loads it."""
    import functions_framework

    app: Flask = functions_framework.create_app(
        target=function, source=str(ROOT / "functions" / function / "main.py")
    )
    return app


PROVED = (config.CONTACT, config.CHAT)
"""The functions whose posts carry the site script's proof of work (proof.py)."""


_SOLUTIONS: dict[str, str] = {}
_SOLUTIONS_LOCK = threading.Lock()


@functools.cache
def _proving_client() -> type[FlaskClient]:
    from factoryops import proof
    from flask.testing import FlaskClient

    from devstack import proofs

    class ProvingClient(FlaskClient):
        """Posts as the site script does: a JSON contact form or chat start carries a
        solved proof of work, unless its body names `altcha` itself; a repeat under the
        same Idempotency-Key carries the same one, as the script's retry does."""

        def open(self, *args: Any, **kwargs: Any) -> Any:
            body = kwargs.get("json")
            headers = kwargs.get("headers") or {}
            if (
                kwargs.get("method") == "POST"
                and isinstance(body, dict)
                and proof.FIELD not in body
                and "session_id" not in body
                and "X-Chat-Session" not in headers
            ):
                key = headers.get("Idempotency-Key")
                if key is None:
                    solution = proofs.solved()
                else:
                    repeat = json.dumps([key, body], sort_keys=True)
                    with _SOLUTIONS_LOCK:
                        solution = _SOLUTIONS.setdefault(repeat, proofs.solved())
                kwargs["json"] = {**body, proof.FIELD: solution}
            return super().open(*args, **kwargs)

    return ProvingClient


class FunctionClient(Protocol):
    """`function_client(name)`: a test client of the function; `proving=False` for one
    that posts only what the test gives it (the tests of the proof of work itself)."""

    def __call__(self, function: str, *, proving: bool = True) -> FlaskClient: ...


@pytest.fixture
def function_client() -> FunctionClient:
    """A Flask test client for a function, by its name."""

    def make(function: str, *, proving: bool = True) -> FlaskClient:
        app = load(function)
        if proving and function in PROVED:
            app.test_client_class = _proving_client()
        return app.test_client()

    return make


@pytest.fixture
def client(request: pytest.FixtureRequest, function_client: FunctionClient) -> FlaskClient:
    """The test client of the function its module names, `FUNCTION = "contact_submit"`.
    The module declares what the function needs set up first, such as
    `pytest.mark.usefixtures("db", "standins")` in its pytestmark."""
    function = getattr(request.module, "FUNCTION", None)
    assert function, f"{request.module.__name__} uses `client`: name its function in FUNCTION"
    return function_client(function)


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


@dataclass
class Forwarder:
    """forward_record, served over HTTP, and (unless `alone`) the local Eventarc stand-in
    that calls it for every record written."""

    url: str
    engine: Eventarc | None

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until every write so far has been forwarded."""
        assert self.engine is not None, "this forwarder has no event engine"
        assert self.engine.settle(timeout=timeout), "events still in flight"


def _serve_forwarder(alone: bool) -> Iterator[Forwarder]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, load("forward_record"), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/"
    engine = None if alone else Eventarc(target=url, project=PROJECT).start()
    try:
        yield Forwarder(url, engine)
    finally:
        if engine is not None:
            engine.stop()
        server.shutdown()
        thread.join()


@pytest.fixture
def forwarder(db: firestore.Client, standins: StandIns) -> Iterator[Forwarder]:
    """What production runs after a visitor's request: each written record reaches
    forward_record as Eventarc's CloudEvent, and its deliveries go to the stand-ins (a
    test that checks what was forwarded calls `forwarder.settle()` first)."""
    yield from _serve_forwarder(alone=False)


@pytest.fixture
def forwarder_alone(db: firestore.Client, standins: StandIns) -> Iterator[Forwarder]:
    """forward_record with no event engine: a test posts the events itself."""
    yield from _serve_forwarder(alone=True)


class SettledClient:
    """A function's test client whose every POST returns once what it stored has been
    forwarded, as a visitor's next step would find it."""

    def __init__(self, client: FlaskClient, forwarder: Forwarder) -> None:
        self._client = client
        self._forwarder = forwarder

    def post(self, *args: Any, **kwargs: Any) -> TestResponse:
        response = self._client.post(*args, **kwargs)
        self._forwarder.settle()
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def settled_client(forwarder: Forwarder, client: FlaskClient) -> SettledClient:
    """`client`, each POST of which returns once what it stored has been forwarded."""
    return SettledClient(client, forwarder)
