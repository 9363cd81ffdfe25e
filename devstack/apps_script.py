"""The CRM web app for the local stack and the tests: the real `apps_script/Code.gs`, run
under Node.js by `devstack/apps_script_server.js` with an in-memory sheet (its header
lists the routes). The functions reach it exactly as they reach the deployed web app:
signed posts to CRM_APPS_SCRIPT_URL, with the key the script holds as its
CRM_APPS_SCRIPT_KEY property.

    python -m devstack.apps_script [--port N] [--key K]

prints `CRM_APPS_SCRIPT_URL=<url>` and `CRM_APPS_SCRIPT_KEY=<key>` (random unless given)
and serves until Ctrl-C. Tests, `make dev` and bench/ use `AppsScript`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

SERVER = Path(__file__).resolve().parent / "apps_script_server.js"
STOP_GRACE = 10
"""Seconds the server has to exit after SIGTERM before it is killed."""
START_TIMEOUT = 30
"""Seconds the server has to say where it listens."""


class AppsScriptError(RuntimeError):
    pass


class AppsScript:
    """The script's web app on a loopback port, in a Node.js process of its own."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", *, key: str | None = None) -> None:
        self.host = host
        self.port = port
        self.key = key or secrets.token_urlsafe(32)
        """The script's CRM_APPS_SCRIPT_KEY property, which the functions sign with."""
        self.url = ""
        """The web app's URL (CRM_APPS_SCRIPT_URL); set by `start`."""
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> AppsScript:
        node = shutil.which("node")
        if node is None:
            raise AppsScriptError(
                "Node.js is not installed: the CRM web app (apps_script/Code.gs) runs under node"
            )
        command = [node, str(SERVER), "--host", self.host, "--port", str(self.port)]
        # The key reaches the script through the environment, never a command line.
        env = {**os.environ, "CRM_APPS_SCRIPT_KEY": self.key}
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            start_new_session=True,
        )
        assert self._process.stdout is not None
        # The server's first line says where it listens (the port may have been 0).
        ready, _, _ = select.select([self._process.stdout], [], [], START_TIMEOUT)
        line = self._process.stdout.readline() if ready else ""
        _, found, url = line.strip().partition("listening on ")
        if not found:
            self.stop()
            raise AppsScriptError(f"the Apps Script server did not start: {line.strip()!r}")
        self.url = url
        self.port = int(url.split(":")[2].split("/")[0])
        return self

    def wait(self) -> None:
        """Until the server exits."""
        if self._process is not None:
            self._process.wait()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """The configuration that points the functions at this web app."""
        return {"CRM_APPS_SCRIPT_URL": self.url, "CRM_APPS_SCRIPT_KEY": self.key}

    # -- control routes ----------------------------------------------------------------

    def _call(self, method: str, route: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + route,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def rows(self) -> list[list[str]]:
        """The sheet's rows as it holds them, a header row first when there is one."""
        rows: list[list[str]] = self._call("GET", "/_rows")["rows"]
        return rows

    def seed(self, rows: list[list[str]]) -> None:
        """Add rows below the last, as plain text (as people and older versions left them)."""
        self._call("POST", "/_rows", {"rows": rows})

    def fail(self, mode: str | None, *, seconds: float | None = None) -> None:
        """Fail every later request: "500", "503", "429", "timeout" (answered after
        `seconds`), or None to stop failing."""
        body: dict[str, Any] = {"mode": mode}
        if seconds is not None:
            body["seconds"] = seconds
        self._call("POST", "/_fail", body)

    def delay(self, seconds: float) -> None:
        """Make each request wait this long before the script runs (the real one: ~1.5 s)."""
        self._call("POST", "/_delay", {"seconds": seconds})

    def hold_lock(self, held: bool) -> None:
        """Whether another execution holds the script's lock: doPost then throws."""
        self._call("POST", "/_lock", {"held": held})

    def properties(self, **values: str | None) -> None:
        """Set (or, with None, remove) script properties, e.g. CRM_APPS_SCRIPT_KEY."""
        self._call("POST", "/_properties", values)

    def requests(self) -> int:
        """How many requests have reached the web app since the last reset."""
        count: int = self._call("GET", "/_stats")["requests"]
        return count

    def reset(self) -> None:
        """An empty sheet, the key it started with, no failure, delay or held lock."""
        self._call("POST", "/_reset", {})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8086)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--key", help="the script's CRM_APPS_SCRIPT_KEY (default: random)")
    args = parser.parse_args()
    # Ctrl-C and SIGTERM both stop the server, even when started in the background.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    script = AppsScript(args.port, args.host, key=args.key).start()
    for name, value in script.env().items():
        print(f"{name}={value}", flush=True)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            script.wait()
    finally:
        script.stop()


if __name__ == "__main__":
    main()
