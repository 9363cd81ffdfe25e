"""The secret keys of the keyed hashes: from the settings, random per process on the
emulator, and (the privacy-trace key, for `siteadmin`) from Secret Manager; and the CRM
web app's signing key, from its launcher."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from factoryops import keys
from factoryops.config import ConfigError

from devstack.apps_script import AppsScript
from devstack.standins import StandIns

pytestmark = pytest.mark.unit


@pytest.fixture
def secret_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A local stand-in of Secret Manager's REST `versions/latest:access`, and anonymous
    credentials in place of application default credentials."""
    import google.auth
    from google.auth.credentials import AnonymousCredentials

    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            if (
                self.path
                != "/v1/projects/demo-trace/secrets/PRIVACY_TRACE_KEY/versions/latest:access"
            ):
                self.send_response(404)
                self.end_headers()
                return
            data = base64.b64encode(b"key-from-secret-manager").decode()
            body = json.dumps({"name": "x/versions/3", "payload": {"data": data}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(keys, "MANAGER_API", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setattr(google.auth, "default", lambda scopes=None: (AnonymousCredentials(), None))
    monkeypatch.setattr(keys, "_fetched", {})
    yield asked
    server.shutdown()


def test_a_set_key_is_used_as_given(configure: Callable[..., None]) -> None:
    configure(RATE_LIMIT_KEY="rate-key", PRIVACY_TRACE_KEY="trace-key")
    assert keys.rate_limit() == b"rate-key" and keys.privacy_trace() == b"trace-key"


def test_on_the_emulator_an_unset_key_is_random_per_process_and_stable(
    configure: Callable[..., None],
) -> None:
    configure(FIRESTORE_EMULATOR_HOST="127.0.0.1:8080")
    assert keys.rate_limit() == keys.rate_limit() != keys.privacy_trace()
    assert len(keys.rate_limit()) == 32


def test_outside_the_emulator_an_unset_rate_limit_key_fails_naming_it() -> None:
    with pytest.raises(ConfigError) as caught:
        keys.rate_limit()
    assert caught.value.name == "RATE_LIMIT_KEY"


def test_siteadmin_reads_the_trace_key_from_secret_manager_once(
    configure: Callable[..., None], secret_manager: list[str]
) -> None:
    configure(GOOGLE_CLOUD_PROJECT="demo-trace")
    assert keys.privacy_trace() == b"key-from-secret-manager"
    assert keys.privacy_trace() == b"key-from-secret-manager"
    assert len(secret_manager) == 1


def test_a_trace_key_secret_manager_will_not_give_fails_naming_it_and_how_to_fix(
    configure: Callable[..., None], secret_manager: list[str]
) -> None:
    configure(GOOGLE_CLOUD_PROJECT="demo-other")
    with pytest.raises(ConfigError) as caught:
        keys.privacy_trace()
    assert caught.value.name == "PRIVACY_TRACE_KEY"
    assert "404" in str(caught.value) and "secretAccessor" in str(caught.value)


def test_a_keyed_hash_depends_on_the_key_and_separates_its_parts() -> None:
    one = keys.keyed_hash(b"k1", "a", "bc")
    assert one != keys.keyed_hash(b"k2", "a", "bc")
    assert one != keys.keyed_hash(b"k1", "ab", "c")
    assert len(one) == 64


def test_the_web_apps_key_comes_from_its_launcher_and_reaches_the_functions() -> None:
    given = AppsScript(key="a-key-of-its-own")
    assert given.env()["CRM_APPS_SCRIPT_KEY"] == "a-key-of-its-own"
    first, second = AppsScript(), AppsScript()
    assert first.key != second.key
    assert first.env()["CRM_APPS_SCRIPT_KEY"] == first.key
    assert StandIns(crm=first).env()["CRM_APPS_SCRIPT_KEY"] == first.key
